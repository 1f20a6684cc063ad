"""The ``aqbot run`` command: parser wiring, configuration errors exit 2 with one line, secrets unseen."""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import TypeVar

import attrs
import pytest
import trio
import trio.testing

from aqbot.app import ExchangeConnectors
from aqbot.config import AlertsConfig
from aqbot.io.ws import ChannelSpec
from aqbot.io.ws_user import user_subscribe_frame
from aqbot.run import add_run_parser, main_with_alerts, params_for_sim, refresh_market_specs, run_command
from aqbot.sim.runner import SimConfig, run_inprocess_simulator

T = TypeVar("T")
D = Decimal


async def inline(fn: Callable[[], T]) -> T:
    await trio.lowlevel.checkpoint()
    return fn()


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="aqbot")
    add_run_parser(root.add_subparsers(dest="command"))
    return root


def test_parser_wires_handler() -> None:
    """``run --config FILE [--dry-run]`` parses and carries its handler."""
    args = parser().parse_args(["run", "--config", "bot.toml", "--dry-run"])
    assert args.config == Path("bot.toml")
    assert args.dry_run
    assert args.handler is run_command


def test_missing_credentials_exit_2_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A config with a market but no credentials: exit 2, one line on stderr."""
    for name in ("AQBOT_PRIVATE_KEY", "AQBOT_API_KEY", "AQBOT_API_SECRET", "AQBOT_API_PASSPHRASE"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "bot.toml"
    config.write_text('[[markets]]\ncondition_id = "0x' + "a" * 64 + '"\nyes_token = "1"\nno_token = "2"\n')
    code = run_command(parser().parse_args(["run", "--config", str(config)]))
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith("aqbot run: ")


def test_no_market_is_a_config_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without [[markets]] there is nothing to quote: exit 2 naming the field."""
    config = tmp_path / "bot.toml"
    config.write_text("dry_run = true\n")
    assert run_command(parser().parse_args(["run", "--config", str(config)])) == 2
    assert "markets" in capsys.readouterr().err


def test_user_subscribe_frame_never_in_repr() -> None:
    """The subscribe frame holds the raw API secret: the channel spec's repr must not show it."""
    frame = user_subscribe_frame("key", "SUPER-SECRET-VALUE", "PASSPHRASE-VALUE", ["0xm"])
    assert "SUPER-SECRET-VALUE" in frame  # the exchange needs it (PROTOCOL 2.3) ...
    spec = ChannelSpec("user", lambda: None, frame, lambda raw: [])  # type: ignore[arg-type,return-value]
    assert "SUPER-SECRET-VALUE" not in repr(spec)  # ... nobody else sees it
    assert "PASSPHRASE-VALUE" not in repr(spec)


async def test_main_with_alerts_forced_stop_cancels_at_exchange(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    """The full ``main`` path (signal watcher, alert fan-out, bot) cancelled from outside: the forced
    stop's shielded cleanup still cancels every order at the exchange."""
    config = SimpleNamespace(alerts=AlertsConfig(), telegram_token=None)
    with trio.fail_after(300):
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(run_inprocess_simulator, SimConfig(seed=3, markets=1))
            params = params_for_sim(sim, tmp_path / "l.sqlite3", max_position=Decimal(30))
            owner = params.creds.api_key
            async with trio.open_nursery() as bot:
                connectors = ExchangeConnectors.simulator(sim)
                bot.start_soon(
                    functools.partial(main_with_alerts, params, connectors, config, offload=inline)
                )
                await trio.sleep(20)  # virtual time: startup, reconciliation, quotes resting
                assert sim.engine.open_orders(owner)
                bot.cancel_scope.cancel()
            assert sim.engine.open_orders(owner) == []
            nursery.cancel_scope.cancel()


async def test_market_specs_come_from_the_exchange(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    """Tick size, min size and neg-risk are read from /book (a wrong neg-risk would break signing)."""
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(run_inprocess_simulator, SimConfig(seed=3, markets=2))
            params = params_for_sim(sim, tmp_path / "l.sqlite3")
            wrong = attrs.evolve(
                params,
                markets=tuple(
                    attrs.evolve(
                        m, tick_size=Decimal("0.1"), neg_risk=not m.neg_risk, min_order_size=Decimal(1)
                    )
                    for m in params.markets
                ),
            )
            fixed = await refresh_market_specs(wrong, ExchangeConnectors.simulator(sim))
            nursery.cancel_scope.cancel()
    assert fixed.markets == params.markets


async def test_bot_params_repr_hides_secrets(autojump_clock: trio.testing.MockClock, tmp_path: Path) -> None:
    """BotParams (logged on errors, shown in tracebacks) never shows the API secret, passphrase or key."""
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(run_inprocess_simulator, SimConfig(seed=3, markets=1))
            text = repr(params_for_sim(sim, tmp_path / "l.sqlite3"))
            acct = sim.accounts[0]
            nursery.cancel_scope.cancel()
    assert acct.creds.secret not in text
    assert acct.creds.passphrase not in text
    assert acct.private_key[2:] not in text
