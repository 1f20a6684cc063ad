"""A ledger that cannot be written halts quoting (LEDGER_FAILURE); nothing is lost when it recovers."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import trio
import trio.testing
from scenario_world import wait_until, world

from aqbot.core.halts import HaltReason
from aqbot.core.lifecycle import OrderState
from aqbot.io.ledger import LedgerStore

D = Decimal
T = TypeVar("T")


async def test_ledger_disk_error_halts_then_recovers(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    """Writes fail for 30 s (disk full): LEDGER_FAILURE latches, the quotes are cancelled and nothing new is
    placed; once writes succeed the halt clears, quoting resumes, and the ledger verifies (no hole)."""
    failing = False

    async def flaky(fn: Callable[[], T]) -> T:
        await trio.lowlevel.checkpoint()
        if failing:
            raise OSError(28, "No space left on device")
        return fn()

    with trio.fail_after(900):
        async with world(tmp_path, max_position=D(20), offload=flaky) as w:
            core = w.bot.hub.core
            market = w.params.markets[0].condition_id
            await wait_until(w, lambda: any(o.state is OrderState.LIVE for o in core.open_orders()))
            failing = True
            await wait_until(w, lambda: HaltReason.LEDGER_FAILURE in core.can_quote(market, 0).reasons)
            halted_at = w.now_ms()
            await wait_until(w, lambda: w.sim.engine.open_orders(w.owner) == [], limit=30)
            await trio.sleep(30)
            created = [int(o["created_at"]) * 1000 for o in w.sim.engine.open_orders(w.owner)]
            assert all(t < halted_at for t in created)  # nothing placed while the ledger failed
            failing = False
            await wait_until(w, lambda: core.can_quote(market, 0).allowed, limit=60)
            await wait_until(w, lambda: any(o.state is OrderState.LIVE for o in core.open_orders()), limit=60)
    with LedgerStore.open(w.ledger_path) as store:
        report = store.verify()
        types = [e.type for e in store.query()]
    assert report.ok, report
    assert "halt" in types
    assert "resume" in types
