"""The composition root against the in-process simulator (memory streams, MockClock)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import trio
import trio.testing

from aqbot.app import ExchangeConnectors, run_bot
from aqbot.io.ledger import LedgerStore
from aqbot.io.ws import MESSAGE_QUEUE_SIZE, RECEIVE_BUFFER_SIZE, QueuedFrames, batching
from aqbot.run import params_for_sim
from aqbot.sim.runner import SimConfig, run_inprocess_simulator

T = TypeVar("T")


async def inline(fn: Callable[[], T]) -> T:
    """Run the ledger's blocking calls inline: no thread in flight, so the autojump clock stays exact."""
    await trio.lowlevel.checkpoint()
    return fn()


async def test_quotes_then_shuts_down_cleanly(autojump_clock: trio.testing.MockClock, tmp_path: Path) -> None:
    """Startup reconciles before any quote; quotes rest on the exchange; a graceful shutdown leaves no
    order resting on the exchange and a complete ledger."""
    ledger = tmp_path / "ledger.sqlite3"
    with trio.fail_after(600):
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(run_inprocess_simulator, SimConfig(seed=3, markets=1))
            params = params_for_sim(sim, ledger, max_position=Decimal(50), ledger_synchronous="NORMAL")
            bot = functools.partial(run_bot, params, ExchangeConnectors.simulator(sim), offload=inline)
            async with trio.open_nursery() as bot_nursery:
                handle = await bot_nursery.start(bot)
                assert handle.state().health.reconcile_last_ok is not None
                await trio.sleep(20)
                state = handle.state()
                assert any(q.state == "LIVE" for q in state.quotes)
                assert all(t.worst <= t.limit for t in state.tokens)
                assert state.health.heartbeat_last_ok is not None
                handle.request_shutdown()
            assert all(q.state == "UNKNOWN" for q in handle.state().quotes)
            owner = params.creds.api_key
            assert sim.engine.open_orders(owner) == []
            nursery.cancel_scope.cancel()
    with LedgerStore.open(ledger) as store:
        events = store.query()
    types = [e.type for e in events]
    assert {"snapshot", "ws.user.raw", "command.place", "reservation", "shutdown", "halt"} <= set(types)
    first_place = types.index("command.place")
    first_reconciled = next(
        i for i, e in enumerate(events) if e.type == "reconcile.done" and e.payload.get("ok") is True
    )
    assert first_reconciled < first_place
    assert types[-1] == "shutdown"


async def test_bot_connections_queue_frames_for_batches(autojump_clock: trio.testing.MockClock) -> None:
    """Against the simulator the bot opens its WebSockets as in production: trio-websocket queues up to
    ``MESSAGE_QUEUE_SIZE`` frames and the reader can take them in batches (``get_message_nowait``)."""
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(run_inprocess_simulator, SimConfig(seed=3, markets=1))
            connectors = ExchangeConnectors.simulator(sim)
            async with connectors.ws_connect(connectors.ws_base_url + "market") as ws:
                queued = batching(ws)
                assert isinstance(queued, QueuedFrames)
                assert queued.queue.statistics().max_buffer_size == MESSAGE_QUEUE_SIZE
                assert ws._receive_buffer_size == RECEIVE_BUFFER_SIZE
            nursery.cancel_scope.cancel()
