"""``aqbot run --config FILE [--dry-run]``: quote live markets with the configured account.

:func:`add_run_parser` registers the subcommand (the lead wires it into :mod:`aqbot.cli`);
:func:`run_command` is its handler. :func:`params_from_config` turns a validated
:class:`~aqbot.config.Config` plus the markets' exchange facts into :class:`~aqbot.app.BotParams`;
:func:`params_for_sim` does the same for an account of a running simulator (paper runs and tests).

Exit codes (aqbot.cli): 0 clean stop, 2 bad configuration or credentials (one line on stderr naming the
field), 1 a runtime failure that stopped the bot.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import httpx2
import trio

from aqbot.app import BotParams, BotTimers, ExchangeConnectors, main
from aqbot.auth.keys import SigningKey
from aqbot.auth.l2 import ApiCreds
from aqbot.auth.order import SignatureType
from aqbot.auth.signer import OrderSigner
from aqbot.core.config import CoreConfig
from aqbot.core.exposure import Limits
from aqbot.core.strategy import SkewedMidStrategy, StrategyConfig
from aqbot.core.types import MarketSpec
from aqbot.errors import AqbotError, AuthError, ConfigError, SecretsError
from aqbot.io.alerts import Alerter, alert_callback, build_sinks, run_alerter
from aqbot.io.metrics import AqbotMetrics, make_aqbot_metrics
from aqbot.io.observe import StormThresholds
from aqbot.io.quoter import QuoterConfig
from aqbot.io.ratelimit import RateLimiter
from aqbot.io.rest import RestTransport
from aqbot.io.rest_api import ClobApi
from aqbot.secrets import DEFAULT_REGISTRY
from aqbot.tools.keys_cmd import DERIVE_TIMEOUT, derive_api_creds

log = logging.getLogger(__name__)


def add_run_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``run`` on an ``argparse`` subparsers object; returns the new parser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "run",
        help="quote the configured markets (live)",
        description="Run the bot against the configured exchange. Ctrl-C once: cancel orders and stop; "
        "twice: force.",
    )
    parser.add_argument("--config", required=True, type=Path, metavar="FILE", help="TOML configuration")
    parser.add_argument("--dry-run", action="store_true", help="quote and sign, never send an order")
    parser.set_defaults(handler=run_command)
    return parser


def _secret(value: Any) -> str:
    return str(value.reveal()) if hasattr(value, "reveal") else str(value)


def strategy_of(config: Any) -> SkewedMidStrategy:
    """The default strategy from the ``[strategy]`` section."""
    s = config.strategy
    return SkewedMidStrategy(
        StrategyConfig(
            half_spread_ticks=s.half_spread_ticks,
            size=s.size,
            max_levels=s.max_levels,
            level_step_ticks=s.level_step_ticks,
            skew_per_share=s.skew_per_share,
            max_skew=s.max_skew,
            max_book_age=config.timers.market_data_stale,
            quote_both_tokens=s.quote_both_tokens,
            target_rewards=s.target_rewards,
        )
    )


def core_config_of(config: Any, owner: str, funder: str, markets: tuple[MarketSpec, ...]) -> CoreConfig:
    """Limits and limit-contract timing from the ``[limits]``, ``[halt]`` and ``[timers]`` sections."""
    per_token = tuple(
        (token, m.max_position)
        for m in config.markets
        if m.max_position is not None
        for token in (m.yes_token, m.no_token)
        if token is not None
    )
    lim = config.limits
    return CoreConfig(
        limits=Limits(lim.max_position, lim.max_market_notional, lim.max_global_notional, per_token),
        owner=owner, funder=funder, grace=config.timers.snapshot_grace,
        protection_window=config.timers.protection_window,
        position_mismatch_syncs=config.halt.position_mismatch_syncs,
        halt_on_ws_gaps=config.halt.halt_on_ws_gaps,
        ws_gap_reconcile_attempts=config.halt.ws_gap_reconcile_attempts,
        ws_gap_recovery_interval=config.halt.ws_gap_recovery_interval_seconds,
        reconcile_interval=config.timers.reconcile_interval, daily_loss_limit=lim.daily_loss_limit,
    )  # fmt: skip


def timers_of(config: Any) -> BotTimers:
    t = config.timers
    return BotTimers(
        heartbeat_interval=t.heartbeat_interval, ws_ping_interval=t.ws_ping_interval, ws_stale=t.ws_stale,
        position_sync_interval=t.position_sync_interval, shutdown_grace=t.shutdown_grace,
    )  # fmt: skip


def signing_key_of(config: Any) -> SigningKey:
    """The signer key from the credentials (``AQBOT_PRIVATE_KEY``, env or key file).

    Raises:
        SecretsError: no private key, or an invalid one (the message never contains it).
    """
    creds = config.credentials
    if creds is None:
        raise SecretsError(
            "AQBOT_PRIVATE_KEY is required for `run` (AQBOT_API_KEY/SECRET/PASSPHRASE are derived from it "
            "when not set)"
        )
    return SigningKey.from_hex(_secret(creds.private_key))


def storms_of(config: Any) -> StormThresholds:
    """The storm-alert thresholds of ``[alerts]``."""
    a = config.alerts
    return StormThresholds(
        a.reconnect_storm_gaps, a.reconnect_storm_window, a.refusal_storm_count, a.refusal_storm_window
    )


def params_from_config(
    config: Any, markets: tuple[MarketSpec, ...], *, dry_run: bool = False, api: ApiCreds | None = None
) -> BotParams:
    """BotParams for a live run. ``markets`` carry the exchange's tick sizes (see :func:`market_specs`).

    ``api``: the L2 credentials (from :func:`api_creds_for`); ``None`` takes them from the configuration.

    Raises:
        SecretsError: the private key is missing, or ``api`` is ``None`` and the configuration holds no
            API credentials (derive them with :func:`api_creds_for`).
        ConfigError: an invalid account setting.
    """
    key = signing_key_of(config)
    creds = config.credentials
    if api is None:
        if not creds.has_api_credentials:
            raise SecretsError("no API credentials: set AQBOT_API_KEY/SECRET/PASSPHRASE or derive them")
        api = ApiCreds(_secret(creds.api_key), _secret(creds.api_secret), _secret(creds.api_passphrase))
    account = config.account
    signer = OrderSigner(
        key,
        config.endpoints.chain_id,
        funder=account.funder,
        signature_type=SignatureType(account.signature_type),
    )
    return BotParams(
        markets=markets,
        core=core_config_of(config, api.api_key, signer.maker, markets),
        strategy=strategy_of(config),
        creds=api,
        address=key.address,
        signer=signer,
        ledger_path=Path(config.ledger.path),
        ledger_synchronous=config.ledger.synchronous,
        ledger_writer=config.ledger.writer,
        max_order_error_rate=config.halt.max_order_error_rate,
        quoter=QuoterConfig(requote_interval=config.strategy.requote_interval),
        timers=timers_of(config),
        dry_run=dry_run or config.dry_run,
        metrics=config.metrics,
        storms=storms_of(config),
    )


def market_specs_from_config(config: Any) -> tuple[MarketSpec, ...]:
    """Markets from ``[[markets]]`` (condition id and both token ids are required for a live run).

    The tick size defaults to 0.01; the quoter uses the tick the exchange's book announces once known.
    """
    specs = []
    for i, m in enumerate(config.markets):
        if not m.enabled:
            continue
        if m.condition_id is None or m.yes_token is None or m.no_token is None:
            raise ConfigError(f"markets[{i}]", "condition_id, yes_token and no_token are required for `run`")
        specs.append(MarketSpec(m.condition_id, m.yes_token, m.no_token, Decimal("0.01")))
    if not specs:
        raise ConfigError("markets", "no enabled market to quote")
    return tuple(specs)


def params_for_sim(
    handle: Any,
    ledger_path: Path,
    *,
    account: int = 0,
    max_position: Decimal = Decimal(20),
    strategy: StrategyConfig | None = None,
    markets: int | None = None,
    seed: int = 0,
    ledger_synchronous: str = "FULL",
    timers: BotTimers | None = None,
    **core_overrides: Any,
) -> BotParams:
    """BotParams trading simulator account ``account`` on the simulator's markets (paper runs, tests)."""
    acct = handle.accounts[account]
    key = SigningKey.from_hex(acct.private_key)
    signer = OrderSigner(
        key, handle.info.chain_id, funder=acct.funder, signature_type=SignatureType(acct.signature_type)
    )
    specs = tuple(
        MarketSpec(
            str(m["condition_id"]),
            str(m["tokens"][0]["token_id"]),
            str(m["tokens"][1]["token_id"]),
            Decimal(str(m["tick_size"])),
            Decimal(str(m["min_order_size"])),
            bool(m["neg_risk"]),
        )
        for m in handle.info.markets[:markets]
    )
    core = CoreConfig(limits=Limits(max_position), owner=acct.api_key, funder=signer.maker, **core_overrides)
    return BotParams(
        markets=specs,
        core=core,
        strategy=SkewedMidStrategy(strategy or StrategyConfig(half_spread_ticks=2, size=Decimal(10))),
        creds=acct.creds,
        address=key.address,
        signer=signer,
        ledger_path=ledger_path,
        seed=seed,
        ledger_synchronous=ledger_synchronous,
        timers=timers or BotTimers(),
    )


async def refresh_market_specs(params: BotParams, connectors: ExchangeConnectors) -> BotParams:
    """Fill each market's tick size, minimum order size and neg-risk flag from the exchange's ``/book``.

    ``neg_risk`` selects the exchange contract an order is signed for: a wrong value makes every order
    fail signature checks, so a live run never trusts the configuration for it.
    """
    transport = connectors.http_transport() if connectors.http_transport else None
    async with httpx2.AsyncClient(base_url=connectors.clob_url, transport=transport) as http:
        api = ClobApi(RestTransport(http, RateLimiter()))
        specs = []
        for spec in params.markets:
            book = await api.book(spec.yes_token)
            specs.append(
                attrs.evolve(
                    spec,
                    tick_size=book.tick_size if book.tick_size is not None else spec.tick_size,
                    min_order_size=book.min_order_size
                    if book.min_order_size is not None
                    else spec.min_order_size,
                    neg_risk=book.neg_risk if book.neg_risk is not None else spec.neg_risk,
                )
            )
    return attrs.evolve(params, markets=tuple(specs))


async def main_with_alerts(
    params: BotParams, connectors: ExchangeConnectors, config: Any, **run_bot_kw: Any
) -> None:
    """:func:`aqbot.app.main` with the configured alert sinks (Telegram, webhook; log only when none).

    ``run_bot_kw`` goes to :func:`aqbot.app.run_bot` (tests pass an inline ``offload``).
    """
    metrics = make_aqbot_metrics()
    async with httpx2.AsyncClient() as http, trio.open_nursery() as nursery:
        sinks = build_sinks(config.alerts, config.telegram_token, http)
        dropped = functools.partial(_alert_dropped, metrics)
        alerter: Alerter = await nursery.start(
            functools.partial(run_alerter, sinks, config.alerts, on_drop=dropped)
        )
        params = await refresh_market_specs(params, connectors)
        await main(params, connectors, alert=alert_callback(alerter), metrics=metrics, **run_bot_kw)
        with trio.move_on_after(config.alerts.delivery_timeout):
            await alerter.drain()  # the shutdown alert leaves before the sinks stop
        nursery.cancel_scope.cancel()


def _alert_dropped(metrics: AqbotMetrics, sink: str) -> None:
    metrics.alerts_dropped_total.inc(sink=sink)


async def api_creds_for(config: Any, connectors: ExchangeConnectors) -> ApiCreds:
    """The L2 API credentials: the configured ones, else derived from the private key with L1 auth.

    Derivation is what py-clob-client's ``create_or_derive_api_creds`` does (PROTOCOL 2.1): ``GET
    /auth/derive-api-key`` for nonce 0 and, when the exchange has no key yet, ``POST /auth/api-key``
    (:func:`aqbot.tools.keys_cmd.derive_api_creds`, shared with ``aqbot keys derive``). The secret and
    passphrase are registered with the redaction registry and never logged; only the API key (an
    identifier) is.

    Raises:
        SecretsError: no private key, or the exchange refused the L1 signature (401).
        ExchangeError, TransportError, WireError: the exchange could not be asked.
        trio.TooSlowError: the derivation took longer than :data:`DERIVE_TIMEOUT`.
    """
    key = signing_key_of(config)
    creds = config.credentials
    if creds.has_api_credentials:
        return ApiCreds(_secret(creds.api_key), _secret(creds.api_secret), _secret(creds.api_passphrase))
    transport = connectors.http_transport() if connectors.http_transport else None
    chain_id = config.endpoints.chain_id
    with trio.fail_after(DERIVE_TIMEOUT):
        async with httpx2.AsyncClient(base_url=connectors.clob_url, transport=transport) as http:
            try:
                api, how = await derive_api_creds(http, key, chain_id, wall_clock=connectors.wall_clock)
            except AuthError:
                raise SecretsError(
                    f"the exchange refused the L1 signature of {key.address} (401): check "
                    f"endpoints.chain_id ({chain_id}) and the clock, or set AQBOT_API_KEY/SECRET/PASSPHRASE"
                ) from None
    DEFAULT_REGISTRY.register(api.secret)  # redacted from every log line from now on
    DEFAULT_REGISTRY.register(api.passphrase)
    log.info("API key %s %s with L1 auth for signer %s", api.api_key, how, key.address)
    return api


async def run_live(
    config: Any,
    markets: tuple[MarketSpec, ...],
    connectors: ExchangeConnectors,
    *,
    dry_run: bool = False,
    **run_bot_kw: Any,
) -> None:
    """``aqbot run`` inside Trio: credentials (derived when needed), parameters, then the bot with its
    alert sinks (:func:`main_with_alerts`). ``run_bot_kw`` goes to :func:`aqbot.app.run_bot`."""
    api = await api_creds_for(config, connectors)
    params = params_from_config(config, markets, dry_run=dry_run, api=api)
    await main_with_alerts(params, connectors, config, **run_bot_kw)


def run_command(args: argparse.Namespace) -> int:
    """The ``run`` handler: load the configuration, build the bot, run it until stopped."""
    from aqbot.config import load_config

    try:
        config = load_config(args.config, os.environ)
        markets = market_specs_from_config(config)
        if config.credentials is not None and config.credentials.has_api_credentials:
            params_from_config(config, markets, dry_run=args.dry_run)  # validate before any network call
        else:
            signing_key_of(config)
    except (ConfigError, SecretsError) as exc:
        print(f"aqbot run: {exc}", file=sys.stderr)
        return 2
    endpoints = config.endpoints
    connectors = ExchangeConnectors.network(endpoints.clob_url, endpoints.ws_url, endpoints.data_api_url)
    failures: list[str] = []
    credentials: list[str] = []
    try:
        trio.run(functools.partial(run_live, config, markets, connectors, dry_run=args.dry_run))
    except* SecretsError as group:
        credentials.extend(str(e) for e in group.exceptions)
    except* (AqbotError, trio.TooSlowError) as group:
        failures.extend(str(e) or type(e).__name__ for e in group.exceptions)
    if credentials:
        print(f"aqbot run: {credentials[0]}", file=sys.stderr)
        return 2
    if failures:
        print(f"aqbot run: stopped: {failures[0]}", file=sys.stderr)
        return 1
    return 0
