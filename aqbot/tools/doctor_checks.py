"""The network checks of ``aqbot doctor``, each one ``ok:``/``FAIL:`` line saying precisely what to fix.

Against the configured endpoints, through the runtime's own REST client (:mod:`aqbot.io.rest`,
:mod:`aqbot.io.rest_api`), in order:

1. ``GET /time``: reachable, and the local clock's skew (L2 signatures carry a timestamp);
2. ``GET /version`` is 2 (the order version aqbot signs);
3. ``GET /clob-markets/{condition_id}`` per configured market: exists, its tokens are the configured ones,
   accepting orders, tick size, neg-risk flag, ``strategy.size`` >= the minimum order size;
   then, when no API credentials are configured, derives them from the private key with L1 auth exactly as
   ``aqbot run`` does at startup (:func:`aqbot.tools.keys_cmd.derive_api_creds`), so the checks below run
   with the credentials the bot would use;
4. ``GET /balance-allowance`` (L2) for COLLATERAL: the API credentials are accepted (a 401 means re-derive),
   the funder's pUSD balance, and its allowances for the exchanges (and the neg-risk adapter when a
   configured market is neg-risk); then CONDITIONAL per configured token (balance, CTF approvals);
5. the Data API's ``/positions`` answers for the funder;
6. the user WebSocket accepts the credentials (subscribe, then ``PING`` answered by ``PONG``);
7. only with ``--heartbeat``: ``POST /v1/heartbeats`` round trip. This STARTS the exchange's dead-man
   switch for the API key: every open order of the key is cancelled 10 s later unless heartbeats go on.

Each step is bounded by ``Doctor.step_seconds`` (``--step-seconds``): one that does not answer in time is a
FAIL line and the next step still runs.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from decimal import Decimal
from typing import Any

import attrs
import httpx2
import trio
import trio_websocket

from aqbot.auth.keys import SigningKey
from aqbot.auth.l2 import ApiCreds
from aqbot.auth.order import EXCHANGES
from aqbot.config import Config
from aqbot.errors import AuthError, ExchangeError, TransportError, WireError
from aqbot.io.ratelimit import RateLimiter
from aqbot.io.rest import RestTransport
from aqbot.io.rest_api import ORDER_VERSION, ClobApi, CredsSigner
from aqbot.io.ws_user import user_subscribe_frame
from aqbot.secrets import DEFAULT_REGISTRY
from aqbot.tools.config_cmd import Check
from aqbot.tools.keys_cmd import derive_api_creds

log = logging.getLogger(__name__)

# Bound on each check (a step that does not answer in time is a FAIL line; the next step still runs).
STEP_SECONDS = 10.0
# |server - local| above this many seconds fails the clock check.
MAX_SKEW = 5.0
NEG_RISK_ADAPTER = "0xadA2005600Dec949baf300f4C6120000bDB6eAab"
UNITS = Decimal(1_000_000)
REDERIVE = "re-derive with `aqbot keys derive --out KEYFILE` and update AQBOT_API_* or account.key_file"

WsOpener = Callable[[str], AbstractAsyncContextManager[trio_websocket.WebSocketConnection]]


@attrs.define
class Doctor:
    """The state shared by the checks of one run."""

    config: Config
    creds: ApiCreds | None
    address: str | None
    checks: list[Check] = attrs.Factory(list)
    key: SigningKey | None = attrs.field(default=None, repr=False)
    step_seconds: float = STEP_SECONDS
    neg_risk: bool = False
    tokens: list[str] = attrs.Factory(list)

    def ok(self, text: str) -> None:
        self.checks.append(Check(True, text))

    def fail(self, text: str) -> None:
        self.checks.append(Check(False, text))

    @property
    def funder(self) -> str | None:
        return self.config.account.funder or self.address


def _json(content: bytes) -> Any:
    return json.loads(content, parse_float=Decimal)


async def _step(doctor: Doctor, what: str, body: Callable[[], Any]) -> bool:
    """Run one check bounded by ``doctor.step_seconds``; a timeout or a failure is a FAIL line."""
    with trio.move_on_after(doctor.step_seconds) as scope:
        try:
            await body()
        except AuthError:
            doctor.fail(f"API credentials rejected: {REDERIVE} (401 on {what})")
            return False
        except TransportError as exc:
            doctor.fail(f"{what}: no usable answer ({exc}): check the endpoint URL and the network")
            return False
        except (ExchangeError, WireError) as exc:
            doctor.fail(f"{what}: {exc}")
            return False
    if scope.cancelled_caught:
        doctor.fail(
            f"{what}: no answer within {doctor.step_seconds:g} s: check the endpoint URL and the network"
        )
        return False
    return True


async def derive_creds(doctor: Doctor, http: httpx2.AsyncClient, wall_clock: Callable[[], float]) -> None:
    """The API credentials ``aqbot run`` would derive at startup (``GET /auth/derive-api-key``, else
    ``POST /auth/api-key``); the secret and passphrase are registered for redaction, never printed."""
    assert doctor.key is not None
    chain_id = doctor.config.endpoints.chain_id
    creds, how = await derive_api_creds(http, doctor.key, chain_id, wall_clock=wall_clock)
    DEFAULT_REGISTRY.register(creds.secret)
    DEFAULT_REGISTRY.register(creds.passphrase)
    doctor.creds = creds
    doctor.ok(f"API key {creds.api_key} {how} with L1 auth for {doctor.key.address} (as `aqbot run` does)")


async def check_time(doctor: Doctor, clob: ClobApi, wall_clock: Callable[[], float]) -> None:
    server = await clob.server_time()
    skew = float(server) - wall_clock()
    if abs(skew) > MAX_SKEW:
        doctor.fail(
            f"local clock is {skew:+.1f} s off the exchange's: sync it (e.g. `timedatectl set-ntp true` or "
            "chrony); L1/L2 signatures carry a timestamp"
        )
    else:
        doctor.ok(f"CLOB {doctor.config.endpoints.clob_url} reachable; clock skew {skew:+.1f} s")


async def check_version(doctor: Doctor, clob: ClobApi) -> None:
    try:
        await clob.check_version()
    except ExchangeError as exc:
        doctor.fail(f"{exc}: this aqbot cannot trade there (upgrade aqbot or check endpoints.clob_url)")
        return
    doctor.ok(f"GET /version is {ORDER_VERSION} (CLOB V2 orders)")


async def check_markets(doctor: Doctor, rest: RestTransport) -> None:
    config = doctor.config
    for i, m in enumerate(config.markets):
        if not m.enabled or m.condition_id is None:
            continue
        try:
            response = await rest.request("GET", f"/clob-markets/{m.condition_id}", idempotent=True)
        except ExchangeError as exc:
            if exc.status == 404:
                doctor.fail(
                    f"markets[{i}].condition_id {m.condition_id} is not a market of "
                    f"{config.endpoints.clob_url}: check the id"
                )
                continue
            raise
        info = _json(response.content)
        tokens = [str(t.get("t")) for t in info.get("t", []) if isinstance(t, Mapping)]
        neg_risk = bool(info.get("nr", False))
        doctor.neg_risk |= neg_risk
        tick, min_size = Decimal(str(info.get("mts", "0"))), Decimal(str(info.get("mos", "0")))
        problems = []
        for name in ("yes_token", "no_token"):
            configured = getattr(m, name)
            if configured is not None and configured not in tokens:
                problems.append(
                    f"markets[{i}].{name} is not a token of this market (the exchange lists "
                    f"{', '.join(tokens)})"
                )
        if info.get("ao") is False:
            problems.append("the market is not accepting orders")
        size = config.strategy_for(m).size
        if min_size and size < min_size:
            problems.append(
                f"strategy.size {size} is below the market's minimum order size {min_size}: raise it"
            )
        doctor.tokens.extend(t for t in tokens if t)
        facts = f"tick {tick}, neg_risk {str(neg_risk).lower()}, min size {min_size}"
        if problems:
            doctor.fail(f"markets[{i}] {m.condition_id[:12]}…: {'; '.join(problems)} ({facts})")
        else:
            doctor.ok(f"markets[{i}] {m.condition_id[:12]}…: {facts}, accepting orders")


def _spenders(doctor: Doctor) -> dict[str, str]:
    contracts = EXCHANGES.get(doctor.config.endpoints.chain_id, EXCHANGES[137])
    spenders = {"the CTF exchange": contracts.exchange}
    if doctor.neg_risk:
        spenders["the neg-risk exchange"] = contracts.neg_risk_exchange
        spenders["the neg-risk adapter"] = NEG_RISK_ADAPTER
    return spenders


def _allowance(answer: Mapping[str, Any], spender: str) -> Decimal:
    allowances = answer.get("allowances")
    if isinstance(allowances, Mapping):
        for key, value in allowances.items():
            if str(key).lower() == spender.lower():
                return Decimal(str(value))
        return Decimal(0)
    return Decimal(str(answer.get("allowance", "0")))


async def check_balances(doctor: Doctor, rest: RestTransport) -> None:
    sig = str(doctor.config.account.signature_type)
    response = await rest.request(
        "GET",
        "/balance-allowance",
        params={"asset_type": "COLLATERAL", "signature_type": sig},
        auth=True,
        idempotent=True,
    )
    answer = _json(response.content)
    doctor.ok("API credentials accepted (L2 request answered)")
    balance = Decimal(str(answer.get("balance", "0"))) / UNITS
    if balance <= 0:
        doctor.fail(f"funder {doctor.funder} holds 0 pUSD: deposit pUSD (wrap USDC.e) before trading")
    else:
        doctor.ok(f"funder {doctor.funder} holds {balance} pUSD")
    for role, spender in _spenders(doctor).items():
        if _allowance(answer, spender) <= 0:
            doctor.fail(
                f"no pUSD allowance from {doctor.funder} to {role} {spender}: approve pUSD for it "
                "(docs/live-trading.md, allowances)"
            )
        else:
            doctor.ok(f"pUSD allowance to {role} {spender} is set")
    for token in doctor.tokens:
        response = await rest.request(
            "GET",
            "/balance-allowance",
            params={"asset_type": "CONDITIONAL", "token_id": token, "signature_type": sig},
            auth=True,
            idempotent=True,
        )
        answer = _json(response.content)
        shares = Decimal(str(answer.get("balance", "0"))) / UNITS
        missing = [role for role, spender in _spenders(doctor).items() if _allowance(answer, spender) <= 0]
        if missing:
            doctor.fail(
                f"token {token[:12]}…: no outcome-token (CTF) approval for {', '.join(missing)}: "
                "setApprovalForAll on the Conditional Tokens contract, or aqbot cannot SELL"
            )
        else:
            doctor.ok(f"token {token[:12]}…: {shares} shares held, CTF approvals set")


async def check_data_api(doctor: Doctor, data: RestTransport) -> None:
    response = await data.request(
        "GET",
        "/positions",
        params={"user": str(doctor.funder), "sizeThreshold": "0", "limit": "500"},
        idempotent=True,
    )
    rows = _json(response.content)
    count = len(rows) if isinstance(rows, list) else 0
    doctor.ok(
        f"Data API {doctor.config.endpoints.data_api_url} answers ({count} position row(s) for the funder)"
    )


async def check_user_ws(doctor: Doctor, ws_connect: WsOpener) -> None:
    creds = doctor.creds
    assert creds is not None
    cids = [m.condition_id for m in doctor.config.markets if m.enabled and m.condition_id]
    frame = user_subscribe_frame(creds.api_key, creds.secret, creds.passphrase, cids)
    try:
        async with ws_connect(doctor.config.endpoints.user_ws_url) as ws:
            await ws.send_message(frame)
            await ws.send_message("PING")
            while (await ws.get_message()) != "PONG":
                pass
    except trio_websocket.ConnectionClosed as exc:
        reason = exc.reason
        if reason is not None and reason.code == 1008:
            doctor.fail(f"user WebSocket refused the API credentials ({reason.reason}): {REDERIVE}")
        else:
            doctor.fail(
                f"user WebSocket {doctor.config.endpoints.user_ws_url} closed ({reason}): check "
                "endpoints.ws_url and the network"
            )
        return
    except (trio_websocket.HandshakeError, OSError) as exc:
        doctor.fail(
            f"user WebSocket {doctor.config.endpoints.user_ws_url}: cannot connect ({exc}): check "
            "endpoints.ws_url"
        )
        return
    doctor.ok("user WebSocket accepted the subscription (PING answered)")


async def check_heartbeat(doctor: Doctor, clob: ClobApi) -> None:
    start = trio.current_time()
    answer = await clob.post_heartbeat("")
    took = (trio.current_time() - start) * 1000
    if answer.accepted:
        doctor.ok(
            f"heartbeat round trip {took:.0f} ms (the dead-man switch is now running for this key: its "
            "orders are cancelled 10 s after the last heartbeat)"
        )
    else:
        doctor.ok(
            f"heartbeat endpoint answers ({took:.0f} ms); a chain is already running for this key "
            "(a bot is beating)"
        )


async def run_checks(
    doctor: Doctor,
    *,
    transport: Callable[[], httpx2.AsyncBaseTransport] | None = None,
    ws_connect: WsOpener = trio_websocket.open_websocket_url,
    wall_clock: Callable[[], float] = time.time,
    heartbeat: bool = False,
    websocket: bool = True,
) -> list[Check]:
    """Run the network checks; returns the lines they produced (also in ``doctor.checks``)."""
    e = doctor.config.endpoints
    signer = CredsSigner(doctor.creds, doctor.address or "") if doctor.creds is not None else None
    async with (
        httpx2.AsyncClient(base_url=e.clob_url, transport=transport() if transport else None) as http,
        httpx2.AsyncClient(
            base_url=e.data_api_url, transport=transport() if transport else None
        ) as data_http,
    ):
        limiter = RateLimiter()
        rest = RestTransport(http, limiter, signer, random.Random(0), wall_clock)
        clob = ClobApi(rest)
        clob = ClobApi(rest)
        data = RestTransport(data_http, limiter, None, random.Random(1), wall_clock, data_api=True)
        if not await _step(doctor, "GET /time", lambda: check_time(doctor, clob, wall_clock)):
            return doctor.checks
        await _step(doctor, "GET /version", lambda: check_version(doctor, clob))
        await _step(doctor, "GET /clob-markets", lambda: check_markets(doctor, rest))
        await _step(doctor, "GET /positions (Data API)", lambda: check_data_api(doctor, data))
        if doctor.creds is None and doctor.key is not None:
            derive = "derive the API credentials (L1)"
            await _step(doctor, derive, lambda: derive_creds(doctor, http, wall_clock))
        creds = doctor.creds  # derived just now when none were configured
        if creds is None:
            doctor.fail(f"authenticated checks skipped: no API credentials ({REDERIVE})")
            return doctor.checks
        signer = CredsSigner(creds, doctor.address or "")
        rest = RestTransport(http, limiter, signer, random.Random(0), wall_clock)
        clob = ClobApi(rest)
        if not await _step(doctor, "GET /balance-allowance", lambda: check_balances(doctor, rest)):
            return doctor.checks
        if websocket:
            await _step(doctor, "user WebSocket", lambda: check_user_ws(doctor, ws_connect))
        if heartbeat:
            await _step(doctor, "POST /v1/heartbeats", lambda: check_heartbeat(doctor, clob))
    return doctor.checks
