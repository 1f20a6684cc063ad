"""The composition root with ``[ledger] writer = "process"`` against the loopback simulator (real sockets,
real clock): the bot quotes, shuts down cleanly, the child writer is gone and the ledger is complete."""

from __future__ import annotations

import functools
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
import trio
from child_procs import ledger_children

from aqbot.app import ExchangeConnectors, run_bot
from aqbot.core.lifecycle import OrderState
from aqbot.io.ledger import LedgerStore
from aqbot.run import params_for_sim
from aqbot.sim.runner import SimConfig, run_loopback_simulator


@pytest.mark.e2e
async def test_bot_with_the_process_writer_quotes_and_stops_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(run_loopback_simulator, SimConfig(seed=4, markets=1, tick_ms=50))
            params = params_for_sim(sim, path, max_position=Decimal(30))
            params = attrs.evolve(params, ledger_writer="process")
            bot = functools.partial(run_bot, params, ExchangeConnectors.simulator(sim))
            async with trio.open_nursery() as bot_nursery:
                handle = await bot_nursery.start(bot)
                assert len(ledger_children()) == 1
                core = handle.hub.core
                seen = handle.hub.version
                while not any(o.state is OrderState.LIVE for o in core.open_orders()):
                    seen = await handle.hub.wait_changed(seen)
                handle.request_shutdown()
            assert sim.engine.open_orders(params.creds.api_key) == []
            nursery.cancel_scope.cancel()
    assert ledger_children() == []
    with LedgerStore.open(path) as store:
        report = store.verify()
        assert report.ok, report.problems
        types = [e.type for e in store.iter_events()]
    assert types[0] == "startup"
    assert "command.place" in types
    assert types[-1] == "shutdown"  # the last row recorded is durable: the writer drained at exit


@pytest.mark.e2e
async def test_a_forced_stop_with_the_process_writer_still_writes_the_shutdown_row(tmp_path: Path) -> None:
    """Cancelled from outside (a second Ctrl-C): the orders are cancelled at the exchange, the child writer
    takes the last rows (the last-resort DELETE, snapshot, shutdown) before it is stopped, and is reaped."""
    path = tmp_path / "ledger.sqlite3"
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(run_loopback_simulator, SimConfig(seed=4, markets=1, tick_ms=50))
            params = attrs.evolve(
                params_for_sim(sim, path, max_position=Decimal(30)), ledger_writer="process"
            )
            bot = functools.partial(run_bot, params, ExchangeConnectors.simulator(sim))
            async with trio.open_nursery() as bot_nursery:
                handle = await bot_nursery.start(bot)
                core = handle.hub.core
                seen = handle.hub.version
                while not any(o.state is OrderState.LIVE for o in core.open_orders()):
                    seen = await handle.hub.wait_changed(seen)
                bot_nursery.cancel_scope.cancel()
            assert sim.engine.open_orders(params.creds.api_key) == []
            nursery.cancel_scope.cancel()
    assert ledger_children() == []
    with LedgerStore.open(path) as store:
        report = store.verify()
        assert report.ok, report.problems
        types = [e.type for e in store.iter_events()]
    assert types[-2:] == ["snapshot", "shutdown"]
    assert "command.cancel" in types
