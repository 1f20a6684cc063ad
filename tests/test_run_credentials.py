"""``aqbot run`` with only the private key: the L2 API credentials are derived with L1 auth (PROTOCOL 2.1)
from the simulator's ``/auth/derive-api-key`` and the bot quotes with them; the secrets stay out of logs."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
import trio
import trio.testing

from aqbot.app import ExchangeConnectors
from aqbot.config import load_config
from aqbot.errors import SecretsError
from aqbot.run import api_creds_for, market_specs_from_config, params_from_config, run_live
from aqbot.secrets import DEFAULT_REGISTRY, redact_text
from aqbot.sim.runner import SimConfig, SimHandle, run_inprocess_simulator

T = TypeVar("T")


async def inline(fn: Callable[[], T]) -> T:
    await trio.lowlevel.checkpoint()
    return fn()


def write_config(sim: SimHandle, tmp_path: Path, *, chain_id: int | None = None) -> Path:
    """A live-run configuration for the simulator's first market and account 0 (no credentials)."""
    acct = sim.accounts[0]
    market = sim.info.markets[0]
    lines = [
        "[endpoints]",
        f"chain_id = {chain_id or sim.info.chain_id}",
        "[account]",
        f'funder = "{acct.funder}"',
        f"signature_type = {acct.signature_type}",
        "[limits]",
        "max_position = 30",
        "[ledger]",
        f'path = "{tmp_path / "ledger.sqlite3"}"',
        'writer = "thread"',  # MockClock: a child's answer would be timed on the virtual clock
        "[[markets]]",
        f'condition_id = "{market["condition_id"]}"',
        f'yes_token = "{market["tokens"][0]["token_id"]}"',
        f'no_token = "{market["tokens"][1]["token_id"]}"',
    ]
    path = tmp_path / "bot.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def key_only_env(sim: SimHandle) -> dict[str, str]:
    return {"AQBOT_PRIVATE_KEY": sim.accounts[0].private_key}


async def test_run_with_only_the_private_key_derives_and_quotes(
    autojump_clock: trio.testing.MockClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """No AQBOT_API_*: `run` derives the account's API key from the simulator and its quotes rest there."""
    caplog.set_level(logging.DEBUG)
    with trio.fail_after(300):
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(run_inprocess_simulator, SimConfig(seed=5, markets=1))
            acct = sim.accounts[0]
            config = load_config(write_config(sim, tmp_path), key_only_env(sim))
            assert config.credentials is not None
            assert not config.credentials.has_api_credentials
            markets = market_specs_from_config(config)
            with pytest.raises(SecretsError):
                params_from_config(config, markets)  # nothing to sign L2 with until derived
            connectors = ExchangeConnectors.simulator(sim)
            api = await api_creds_for(config, connectors)
            assert (api.api_key, api.secret, api.passphrase) == (
                acct.creds.api_key,
                acct.creds.secret,
                acct.creds.passphrase,
            )
            assert {api.secret, api.passphrase} <= DEFAULT_REGISTRY.values()
            async with trio.open_nursery() as bot:
                bot.start_soon(functools.partial(run_live, config, markets, connectors, offload=inline))
                await trio.sleep(20)  # virtual time: derive, startup, reconciliation, quotes resting
                assert sim.engine.open_orders(acct.api_key)
                bot.cancel_scope.cancel()
            assert sim.engine.open_orders(acct.api_key) == []
            nursery.cancel_scope.cancel()
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert f"API key {acct.api_key} derived with L1 auth" in text
    assert acct.creds.secret not in text
    assert acct.creds.passphrase not in text
    assert redact_text(acct.creds.secret) == "***"


async def test_refused_l1_signature_is_a_credentials_error(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    """Signed for the wrong chain: the exchange answers 401 and `run` reports a credentials problem
    (exit 2 in the command) naming the chain id, with nothing secret in the message."""
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(run_inprocess_simulator, SimConfig(seed=5, markets=1))
            config = load_config(write_config(sim, tmp_path, chain_id=80002), key_only_env(sim))
            with pytest.raises(SecretsError) as caught:
                await api_creds_for(config, ExchangeConnectors.simulator(sim))
            nursery.cancel_scope.cancel()
    message = str(caught.value)
    assert "401" in message
    assert "80002" in message
    assert sim.accounts[0].private_key[2:] not in message


def test_configured_api_credentials_are_used_as_given(tmp_path: Path) -> None:
    """With AQBOT_API_* set, nothing is derived: the parameters carry exactly the configured values."""
    env: dict[str, Any] = {
        "AQBOT_PRIVATE_KEY": "0x" + "11" * 32,
        "AQBOT_API_KEY": "k-123",
        "AQBOT_API_SECRET": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA==",
        "AQBOT_API_PASSPHRASE": "pass-phrase-value",
    }
    path = tmp_path / "bot.toml"
    path.write_text('[[markets]]\ncondition_id = "0x' + "a" * 64 + '"\nyes_token = "1"\nno_token = "2"\n')
    config = load_config(path, env)
    params = params_from_config(config, market_specs_from_config(config))
    assert (params.creds.api_key, params.creds.secret, params.creds.passphrase) == (
        "k-123",
        env["AQBOT_API_SECRET"],
        "pass-phrase-value",
    )
    assert params.core.owner == "k-123"
    assert Decimal(params.core.limits.max_position) == Decimal(100)
