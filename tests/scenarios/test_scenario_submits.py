"""Ambiguous submits: the answer is lost, the order may or may not rest; the reservation holds until
the exchange's own records say which."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import trio
import trio.testing
from scenario_world import wait_until, world

from aqbot.core.lifecycle import OrderState
from aqbot.core.orders import Order
from aqbot.sim.faults import RestAction

D = Decimal


@pytest.mark.parametrize("applied", [True, False])
async def test_lost_answer_keeps_reservation_until_reconciled(
    autojump_clock: trio.testing.MockClock, tmp_path: Path, applied: bool
) -> None:
    """The first placement's answer is lost (applied or not): the orders go UNKNOWN with their
    reservations; the next reconciliation past the grace period shows the truth (LIVE, or gone and
    released); worst never exceeds the limit."""
    lost: list[str] = []

    def lose_first_post(method: str, path: str, now_ms: int) -> RestAction | None:
        if method == "POST" and path in ("/order", "/orders") and not lost:
            lost.append(path)
            return RestAction("timeout_applied" if applied else "timeout_not_applied")
        return None

    with trio.fail_after(900):
        async with world(
            tmp_path,
            max_position=D(10),
            reconcile_interval=20.0,
            before_bot=lambda sim, faults: setattr(faults, "rest", lose_first_post),
        ) as w:
            core = w.bot.hub.core
            owner = w.owner

            def lost_orders() -> list[Order]:
                orders = core.tracker.orders.values()
                return [o for o in orders if any("submit failed" in h for h in o.history)]

            await wait_until(w, lambda: bool(lost_orders()))
            lost_now = lost_orders()
            on_exchange = {o["id"] for o in w.sim.engine.open_orders(owner)}
            assert [(o.order_id in on_exchange) for o in lost_now] == [applied] * len(lost_now)
            for order in lost_now:
                # applied: the user channel already showed it resting (LIVE); not applied: UNKNOWN.
                # Either way it keeps its whole reservation until the exchange confirms otherwise.
                assert order.state is (OrderState.LIVE if applied else OrderState.UNKNOWN)
                assert core.exposure.remaining(order.order_id) == order.original_size
            if not applied:
                await wait_until(w, lambda: all(o.state.terminal for o in lost_now), limit=60)
                for order in lost_now:
                    assert order.state is OrderState.CANCELED
                    assert core.exposure.remaining(order.order_id) == D(0)
            for token in (t for m in w.params.markets for t in m.tokens):
                assert core.token_exposure(token).worst <= D(10)
                assert w.max_seen(token) <= D(10)
