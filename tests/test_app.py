"""The composition root against the in-process simulator (memory streams, MockClock)."""

from __future__ import annotations

import functools
from decimal import Decimal
from pathlib import Path

import trio
import trio.testing

from collections.abc import Callable
from typing import TypeVar

from aqbot.app import ExchangeConnectors, run_bot
from aqbot.io.ledger import LedgerStore
from aqbot.run import params_for_sim
from aqbot.sim.runner import SimConfig, run_inprocess_simulator


T = TypeVar("T")


async def inline(fn: Callable[[], T]) -> T:
    """Run the ledger's blocking calls inline: no thread in flight, so the autojump clock stays exact."""
    await trio.lowlevel.checkpoint()
    return fn()


async def test_quotes_then_shuts_down_cleanly(autojump_clock: trio.testing.MockClock, tmp_path: Path) -> None:
    """Startup reconciles before quoting; quotes rest on the exchange; shutdown cancels them all."""
    with trio.fail_after(600):
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(run_inprocess_simulator, SimConfig(seed=3, markets=1))
            params = params_for_sim(sim, tmp_path / "ledger.sqlite3", max_position=Decimal(50))
            connectors = ExchangeConnectors.simulator(sim)
            async with trio.open_nursery() as bot_nursery:
                handle = await bot_nursery.start(functools.partial(run_bot, params, connectors, offload=inline))
                state = handle.state()
                assert state.health.reconcile_last_ok is not None
                await trio.sleep(30)
                state = handle.state()
                print(state)
                assert state.quotes, "the bot rests quotes"
                resting = [q for q in state.quotes if q.state == "LIVE"]
                assert resting
                handle.request_shutdown()
            final = handle.state()
            assert all(q.state == "UNKNOWN" for q in final.quotes)
            nursery.cancel_scope.cancel()
    with LedgerStore.open(tmp_path / "ledger.sqlite3") as store:
        types = {e.type for e in store.query()}
    assert {"snapshot", "ws.user.raw", "command.place", "reservation", "shutdown"} <= types
