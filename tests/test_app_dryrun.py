"""Dry run against the in-process simulator: orders are reserved, signed and logged, never sent."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import attrs
import trio
import trio.testing

from aqbot.app import ExchangeConnectors, run_bot
from aqbot.io.ledger import LedgerStore
from aqbot.run import params_for_sim
from aqbot.sim.runner import SimConfig, run_inprocess_simulator

T = TypeVar("T")


async def inline(fn: Callable[[], T]) -> T:
    """The ledger's blocking calls inline (no thread in flight under the autojump clock)."""
    await trio.lowlevel.checkpoint()
    return fn()


async def test_dry_run_signs_and_logs_but_never_sends(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.sqlite3"
    with trio.fail_after(600):
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(run_inprocess_simulator, SimConfig(seed=3, markets=1))
            params = params_for_sim(sim, ledger, max_position=Decimal(50), ledger_synchronous="NORMAL")
            params = attrs.evolve(params, dry_run=True)
            bot = functools.partial(run_bot, params, ExchangeConnectors.simulator(sim), offload=inline)
            async with trio.open_nursery() as bot_nursery:
                handle = await bot_nursery.start(bot)
                await trio.sleep(20)
                state = handle.state()
                assert state.quotes == ()
                assert all(t.worst == t.held for t in state.tokens)
                assert state.health.heartbeat_last_ok is None
                assert state.health.placed == 0
                assert state.health.rejected >= 1
                assert sim.engine.open_orders(params.creds.api_key) == []
                handle.request_shutdown()
            nursery.cancel_scope.cancel()
    with LedgerStore.open(ledger) as store:
        events = store.query()
    types = {e.type for e in events}
    assert "command.place" not in types
    assert "command.cancel" not in types
    dry = [e for e in events if e.type == "dryrun.order"]
    assert dry
    dry_ids = {e.payload["order_id"] for e in dry}
    maker = params.signer.maker.lower()
    for e in dry:
        wire = json.loads(str(e.payload["wire"]))
        assert wire["order"]["signature"].startswith("0x")
        assert wire["order"]["maker"].lower() == maker
        assert wire["owner"] == params.creds.api_key
    text = "".join(json.dumps(e.payload, default=str) for e in events)
    assert params.creds.secret not in text
    assert params.creds.passphrase not in text
    released = [e for e in events if e.type == "reservation" and e.payload.get("delta", "0").startswith("-")]
    assert released
    assert all(sim.engine.order_state(str(e.payload["order_id"])) is None for e in dry)
    assert params.creds.api_key not in sim.engine.heartbeats
    answers = [e for e in events if e.type == "order.state" and e.payload.get("order_id") in dry_ids]
    rejected = {e.payload["order_id"] for e in answers if e.payload.get("new") == "REJECTED"}
    assert rejected == dry_ids
