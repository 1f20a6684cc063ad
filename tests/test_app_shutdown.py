"""The composition root's exit paths against the in-process simulator (memory streams, MockClock): a forced
stop (the caller cancels, as a second Ctrl-C does) and a ledger writer that dies."""

from __future__ import annotations

import functools
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import trio
import trio.testing

from aqbot.app import ExchangeConnectors, run_bot
from aqbot.core.lifecycle import OrderState
from aqbot.io.ledger import LedgerStore
from aqbot.run import params_for_sim
from aqbot.sim.runner import SimConfig, run_inprocess_simulator

T = TypeVar("T")


async def inline(fn: Callable[[], T]) -> T:
    """Run the ledger's blocking calls inline: no thread in flight, so the autojump clock stays exact."""
    await trio.lowlevel.checkpoint()
    return fn()


async def test_forced_stop_still_records_the_last_resort_cancels_and_the_shutdown_row(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    """The caller cancels the bot while orders rest: the shielded ``finally`` cancels them at the exchange
    (``DELETE /orders``), and its rows (the cancel answer's order transitions, the final snapshot, the
    ``shutdown`` row) reach the ledger: the pump and the writer must still be running when it records."""
    ledger = tmp_path / "ledger.sqlite3"
    with trio.fail_after(300):
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(run_inprocess_simulator, SimConfig(seed=3, markets=1))
            params = params_for_sim(sim, ledger, max_position=Decimal(30), ledger_synchronous="NORMAL")
            owner = params.creds.api_key
            bot = functools.partial(run_bot, params, ExchangeConnectors.simulator(sim), offload=inline)
            async with trio.open_nursery() as bot_nursery:
                handle = await bot_nursery.start(bot)
                seen = handle.hub.version
                while not any(o.state is OrderState.LIVE for o in handle.hub.core.open_orders()):
                    seen = await handle.hub.wait_changed(seen)
                live = {o.order_id for o in handle.hub.core.open_orders() if o.state is OrderState.LIVE}
                bot_nursery.cancel_scope.cancel()  # forced: no graceful part
            assert sim.engine.open_orders(owner) == []  # the last-resort cancels went out
            nursery.cancel_scope.cancel()
    with LedgerStore.open(ledger) as store:
        report = store.verify()
        assert report.ok, report.problems
        events = store.query()
    types = [e.type for e in events]
    assert types[-1] == "shutdown"
    assert types[-2] == "snapshot"
    sent = [set(e.payload["order_ids"]) for e in events if e.type == "command.cancel"]
    assert sent
    assert live <= sent[-1]  # the last-resort DELETE is in the ledger, not only at the exchange
