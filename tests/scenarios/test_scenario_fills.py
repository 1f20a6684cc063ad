"""Scenarios around fills the user channel never delivered, and limits while they are missing."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import trio
import trio.testing
from scenario_world import wait_until, world, yes_no

from aqbot.core.lifecycle import OrderState
from aqbot.core.types import Side
from aqbot.sim.faults import WsAction

D = Decimal


async def test_dropped_fill_found_by_periodic_reconcile(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    """Every user message is dropped while a taker fills our BUY: the bot cannot see it, yet (L1) its
    BUY stays reserved, so nothing more is bought; the periodic reconciliation (20 s here) finds it."""
    with trio.fail_after(900):
        async with world(tmp_path, max_position=D(10), reconcile_interval=20.0) as w:
            yes, no = yes_no(w)
            core = w.bot.hub.core
            await wait_until(
                w, lambda: any(o.token == yes and o.state is OrderState.LIVE for o in core.open_orders())
            )
            bid = next(o for o in core.open_orders(yes) if o.side is Side.BUY)
            w.faults.ws = lambda channel, key, now_ms: WsAction("drop") if channel == "user" else None
            # the taker buys NO at 1 - bid: a cross-asset match against our BUY YES
            reply = w.taker.limit(no, "BUY", str(1 - bid.price), "10", now_ms=w.now_ms())
            assert reply.ok
            filled_at = trio.current_time()
            await trio.sleep(5)
            assert w.true_position(yes) == D(10)  # the exchange filled us ...
            assert w.held(yes) == D(0)  # ... the bot has not heard of it ...
            assert core.token_exposure(yes).worst == D(10)  # ... but its reservation still covers it
            w.faults.ws = lambda channel, key, now_ms: None
            found = await wait_until(w, lambda: w.held(yes) == D(10), limit=120)
            assert found - filled_at <= 21.0
            assert core.exposure.remaining(bid.order_id) == D(0)  # fully matched: nothing left reserved
            assert core.token_exposure(yes).worst <= D(10)
            # The order itself ends FILLED once a reconciliation past the grace period no longer lists it
            # (a requote may have sent a cancel that answered "already canceled or matched": UNKNOWN).
            order = core.order(bid.order_id)
            assert order is not None
            await wait_until(w, lambda: order.state is OrderState.FILLED, limit=50)
            await trio.sleep(5)
            assert w.max_seen(yes) <= D(10)  # L2, from the exchange's own books
            assert w.held(yes) == w.true_position(yes)
