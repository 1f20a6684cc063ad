"""The composition root's exit paths against the in-process simulator (memory streams, MockClock): a forced
stop (the caller cancels, as a second Ctrl-C does) and a ledger writer that dies."""

from __future__ import annotations

import functools
import logging
import signal
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import pytest
import trio
import trio.testing

from aqbot.app import ExchangeConnectors, main, run_bot
from aqbot.core.lifecycle import OrderState
from aqbot.io import ledger_writer
from aqbot.io.ledger import LedgerStore
from aqbot.io.ledger_events import LedgerRow
from aqbot.run import params_for_sim
from aqbot.sim.runner import SimConfig, run_inprocess_simulator

T = TypeVar("T")


def leaves(group: BaseException) -> list[BaseException]:
    if isinstance(group, BaseExceptionGroup):
        return [leaf for e in group.exceptions for leaf in leaves(e)]
    return [group]


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


async def test_a_crashed_ledger_writer_stops_the_bot_but_its_orders_are_still_cancelled(
    autojump_clock: trio.testing.MockClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bug in the writer (an error that is no write error) ends the writer: the bot stops with it, but its
    ``finally`` still cancels every order at the exchange, and the rows it could not write are counted in
    an error log, not dropped silently."""
    ledger = tmp_path / "ledger.sqlite3"
    armed = False
    real_append = ledger_writer.append_rows

    def append_rows(store: LedgerStore, first_seq: int, rows: list[LedgerRow]) -> int:
        if armed:
            raise TypeError("a bug in the writer")
        return real_append(store, first_seq, rows)

    monkeypatch.setattr(ledger_writer, "append_rows", append_rows)
    with trio.fail_after(300):
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(run_inprocess_simulator, SimConfig(seed=3, markets=1))
            params = params_for_sim(sim, ledger, max_position=Decimal(30), ledger_synchronous="NORMAL")
            owner = params.creds.api_key
            bot = functools.partial(run_bot, params, ExchangeConnectors.simulator(sim), offload=inline)
            with pytest.raises(BaseExceptionGroup) as raised:  # noqa: PT012 (the bot runs in the block)
                async with trio.open_nursery() as bot_nursery:
                    handle = await bot_nursery.start(bot)
                    seen = handle.hub.version
                    while not any(o.state is OrderState.LIVE for o in handle.hub.core.open_orders()):
                        seen = await handle.hub.wait_changed(seen)
                    armed = True
            assert sim.engine.open_orders(owner) == []  # the last-resort cancels went out
            nursery.cancel_scope.cancel()
    assert any(isinstance(e, TypeError) for e in leaves(raised.value)), raised.value
    unwritten = handle.hub.sink.buffered  # the finally's rows among them (DELETE, snapshot, shutdown)
    assert unwritten >= 3
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(f"{unwritten} row(s) never reached the ledger writer" in e for e in errors), errors


async def test_forced_stop_sends_the_last_resort_cancels_without_waiting_for_confirmations(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    """On a forced stop the canceller and the user channel stop with the quoters: no cancel is sent and
    none confirmed, so the markets' cleanup must not wait ``cleanup_grace`` for confirmations (orders
    resting meanwhile) before the last-resort ``DELETE``."""
    ledger = tmp_path / "ledger.sqlite3"
    with trio.fail_after(300):
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(run_inprocess_simulator, SimConfig(seed=3, markets=1))
            params = params_for_sim(sim, ledger, max_position=Decimal(30), ledger_synchronous="NORMAL")
            assert params.quoter.cleanup_grace >= 1.0
            owner = params.creds.api_key
            bot = functools.partial(run_bot, params, ExchangeConnectors.simulator(sim), offload=inline)
            async with trio.open_nursery() as bot_nursery:
                handle = await bot_nursery.start(bot)
                seen = handle.hub.version
                while not any(o.state is OrderState.LIVE for o in handle.hub.core.open_orders()):
                    seen = await handle.hub.wait_changed(seen)
                assert not any(o.post_in_flight for o in handle.hub.core.open_orders())
                stopped = trio.current_time()
                bot_nursery.cancel_scope.cancel()
            assert sim.engine.open_orders(owner) == []
            assert trio.current_time() - stopped < 1.0  # virtual time: the sim answers within milliseconds
            nursery.cancel_scope.cancel()


async def test_a_signal_during_startup_stops_the_bot(tmp_path: Path) -> None:
    """SIGINT/SIGTERM before the first reconciliation (startup can wait long on an exchange that is down)
    stops the bot through the same path as later, instead of Python's default (SIGTERM: killed outright,
    no cleanup; SIGINT: a KeyboardInterrupt)."""
    in_startup, release = trio.Event(), trio.Event()
    leaked: list[int] = []

    async def held_offload(fn: Callable[[], T]) -> T:
        if not in_startup.is_set():  # the startup replay: the bot waits here
            in_startup.set()
            await release.wait()
        await trio.lowlevel.checkpoint()
        return fn()

    previous = signal.signal(signal.SIGTERM, lambda signum, frame: leaked.append(signum))
    try:
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                sim = await nursery.start(run_inprocess_simulator, SimConfig(seed=3, markets=1))
                params = params_for_sim(sim, tmp_path / "l.sqlite3", ledger_synchronous="NORMAL")
                stopped = trio.Event()

                async def run_main() -> None:
                    await main(params, ExchangeConnectors.simulator(sim), offload=held_offload)
                    stopped.set()

                nursery.start_soon(run_main)
                await in_startup.wait()
                signal.raise_signal(signal.SIGTERM)
                with trio.move_on_after(5):
                    await stopped.wait()
                release.set()  # (a signal missed: the startup goes on, and the test ends)
                assert leaked == []
                assert stopped.is_set()
                nursery.cancel_scope.cancel()
    finally:
        signal.signal(signal.SIGTERM, previous)
