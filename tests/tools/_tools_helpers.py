"""Shared helpers of the tool tests: a synthetic ledger with known numbers, a real in-process run, the CLI."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
import trio
import trio.testing
from _tools_synthetic import ORDER_1, ORDER_2, ORDER_3, T0, TOKEN_A, TOKEN_B, synthetic_events

from aqbot.app import ExchangeConnectors, run_bot
from aqbot.cli import main
from aqbot.io.ledger import LedgerStore
from aqbot.io.ledger_events import LedgerEvent
from aqbot.run import params_for_sim
from aqbot.sim.runner import SimConfig, run_inprocess_simulator

T = TypeVar("T")


def write_ledger(path: Path, events: Sequence[LedgerEvent]) -> Path:
    with LedgerStore.open(path, synchronous="NORMAL") as store:
        store.append_batch(events)
    return path


def synthetic_ledger(path: Path) -> Path:
    return write_ledger(path, synthetic_events())


async def _inline(fn: Callable[[], T]) -> T:
    await trio.lowlevel.checkpoint()
    return fn()


def real_ledger(path: Path, *, seconds: float = 300.0, faults: str = "mild", seed: int = 3) -> Path:
    """A ledger written by the real bot quoting the in-process simulator for ``seconds`` (virtual time)."""

    async def run() -> None:
        with trio.fail_after(seconds + 120):
            async with trio.open_nursery() as nursery:
                sim = await nursery.start(
                    run_inprocess_simulator, SimConfig(seed=seed, markets=1, faults=faults)
                )
                params = params_for_sim(sim, path, max_position=Decimal(50), ledger_synchronous="NORMAL")
                bot = functools.partial(run_bot, params, ExchangeConnectors.simulator(sim), offload=_inline)
                async with trio.open_nursery() as bot_nursery:
                    handle = await bot_nursery.start(bot)
                    await trio.sleep(seconds)
                    handle.request_shutdown()
                nursery.cancel_scope.cancel()

    trio.run(run, clock=trio.testing.MockClock(autojump_threshold=0))
    return path


def run_cli(argv: Sequence[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``aqbot ARGV`` in process: (exit code, stdout, stderr). argparse's SystemExit becomes its code."""
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 2
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def sim_config_text(
    handle: Any, *, account: int = 1, key_file: Path | None = None, markets: int = 2, extra: str = ""
) -> str:
    """A live-trading TOML config pointing at a running simulator (its markets, account ``account``)."""
    info = handle.info
    acct = handle.accounts[account]
    text = (
        f'[endpoints]\nclob_url = "{info.rest_url}"\nws_url = "{info.ws_url.rstrip("/")}/ws/"\n'
        f'data_api_url = "{info.data_api_url}"\nchain_id = {info.chain_id}\n'
        f'[account]\nfunder = "{acct.funder}"\nsignature_type = {acct.signature_type}\n'
    )
    if key_file is not None:
        text += f'key_file = "{key_file}"\n'
    for m in info.markets[:markets]:
        text += (
            f'[[markets]]\ncondition_id = "{m["condition_id"]}"\nyes_token = "{m["tokens"][0]["token_id"]}"\n'
            f'no_token = "{m["tokens"][1]["token_id"]}"\n'
        )
    return text + extra


def sim_key_file(
    path: Path, handle: Any, *, account: int = 1, secret: str | None = None, api: bool = True
) -> Path:
    """A 0600 key file with the simulator account's private key and (unless ``api`` is false) its API
    credentials."""
    acct = handle.accounts[account]
    creds = acct.creds
    text = f"AQBOT_PRIVATE_KEY={acct.private_key}\n"
    if api:
        text += (
            f"AQBOT_API_KEY={creds.api_key}\n"
            f"AQBOT_API_SECRET={secret or creds.secret}\nAQBOT_API_PASSPHRASE={creds.passphrase}\n"
        )
    path.write_text(text)
    path.chmod(0o600)
    return path


__all__ = [
    "ORDER_1",
    "ORDER_2",
    "ORDER_3",
    "T0",
    "TOKEN_A",
    "TOKEN_B",
    "real_ledger",
    "run_cli",
    "sim_config_text",
    "sim_key_file",
    "synthetic_events",
    "synthetic_ledger",
    "write_ledger",
]
