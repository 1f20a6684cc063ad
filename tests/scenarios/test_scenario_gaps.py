"""User-channel gaps: halt, reconcile, resume, and never a quote before the reconciliation completes."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import trio
import trio.testing
from scenario_world import wait_until, world, yes_no

from aqbot.core.halts import HaltReason
from aqbot.core.lifecycle import OrderState
from aqbot.sim.faults import RestAction, WsAction

D = Decimal


async def test_user_disconnect_halts_until_a_newer_reconciliation(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    """The exchange drops the user socket: USER_WS_DOWN halts and cancels the quotes; after the reconnect
    no order is placed until a reconciliation that started after the reconnect has completed."""
    with trio.fail_after(900):
        async with world(tmp_path, max_position=D(20)) as w:
            yes, no = yes_no(w)
            core = w.bot.hub.core
            await wait_until(w, lambda: any(o.state is OrderState.LIVE for o in core.open_orders()))
            fired: list[int] = []

            def disconnect_once(channel: str, key: str, now_ms: int) -> WsAction | None:
                if channel == "user" and not fired:
                    fired.append(now_ms)
                    return WsAction("disconnect")
                return None

            w.faults.ws = disconnect_once
            # any user message triggers it: a small taker fill on our NO bid produces one
            bid = next(o for o in core.open_orders(no) if o.state is OrderState.LIVE)
            assert w.taker.limit(yes, "BUY", str(1 - bid.price), "5", now_ms=w.now_ms()).ok
            await wait_until(w, lambda: not core.can_quote(bid.market, trio.current_time()).allowed)
            reasons = core.can_quote(bid.market, trio.current_time()).reasons
            assert HaltReason.USER_WS_DOWN in reasons or HaltReason.RECONCILE_PENDING in reasons
            await wait_until(w, lambda: core.can_quote(bid.market, trio.current_time()).allowed, limit=120)
            await wait_until(w, lambda: any(o.state is OrderState.LIVE for o in core.open_orders()), limit=60)
            assert w.held(no) == w.true_position(no) == D(5)  # the fill sent as the socket died was found
            assert w.max_seen(yes) <= D(20)
            assert w.max_seen(no) <= D(20)
    events = w.ledger()
    types = [e.type for e in events]
    gap_close = max(i for i, e in enumerate(events) if e.type == "gap.close")
    resolved = next(i for i in range(gap_close, len(events)) if types[i] == "gap.resolve")
    places_between = [i for i in range(gap_close, resolved) if types[i] == "command.place"]
    assert places_between == []  # NO quote between the reconnect and the resolving reconciliation
    assert any(types[i] == "command.place" for i in range(resolved, len(events)))  # quoting resumed


async def test_unresolvable_gap_latches_then_recovers(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    """After a user-channel gap, /data/orders fails for 90 s: three failed reconciliations latch
    WS_GAP_UNRESOLVED (quoting stays off, quotes cancelled); a recovery attempt after the REST comes
    back resolves the gap and quoting resumes."""
    with trio.fail_after(900):
        async with world(tmp_path, max_position=D(20)) as w:
            core = w.bot.hub.core
            market = w.params.markets[0].condition_id
            await wait_until(w, lambda: any(o.state is OrderState.LIVE for o in core.open_orders()))
            start = w.now_ms()
            dropped: list[int] = []

            def drop_one_user_message(channel: str, key: str, now_ms: int) -> WsAction | None:
                if channel == "user" and not dropped:
                    dropped.append(now_ms)
                    return WsAction("disconnect")
                return None

            def orders_down(method: str, path: str, now_ms: int) -> RestAction | None:
                if path == "/data/orders" and now_ms < start + 90_000:
                    return RestAction("error5xx", status=500)
                return None

            w.faults.rest = orders_down
            w.faults.ws = drop_one_user_message
            yes, no = yes_no(w)
            bid = next(o for o in core.open_orders(no) if o.state is OrderState.LIVE)
            # a small fill of our NO bid sends a user message: the socket drops with it (a gap)
            assert w.taker.limit(yes, "BUY", str(1 - bid.price), "5", now_ms=w.now_ms()).ok
            await wait_until(w, lambda: HaltReason.WS_GAP_UNRESOLVED in core.can_quote(market, 0).reasons)
            assert w.now_ms() < start + 90_000
            assert w.sim.engine.open_orders(w.owner) == []  # the latch cancelled the quotes
            await wait_until(w, lambda: core.can_quote(market, trio.current_time()).allowed, limit=300)
            assert w.now_ms() >= start + 90_000
            await wait_until(w, lambda: any(o.state is OrderState.LIVE for o in core.open_orders()), limit=60)
