"""Adversarial reconciliations, gaps and restarts against the limit contract (DESIGN sections 1, 3, 4).

REST snapshots that race placements, gaps that end after a reconciliation began, a crash in the middle of a
placement, and a restart that meets fills it never heard of. Passing tests are regression tests for handled
attacks; ``xfail(strict=True)`` tests are bugs (see docs/review-limits.md).
"""

from __future__ import annotations

import pytest
from adv_helpers import (
    CONFIG,
    LIMIT,
    MARKET,
    YES,
    ZERO,
    D,
    buy,
    buy_allowed,
    cancels,
    maker_trade,
    oid,
    order_ev,
    ready,
    reconcile,
    row,
    worst,
)

from aqbot.core.engine import Core
from aqbot.core.events import (
    Channel,
    OrderEventType,
    OrdersSnapshot,
    PlacementAnswer,
    TradeEvent,
    TradeStatus,
)
from aqbot.core.halts import HaltReason
from aqbot.core.lifecycle import OrderState
from aqbot.core.snapshot import restore, snapshot
from aqbot.core.types import Side

S = TradeStatus


def _reasons(core: Core, now: float) -> tuple[HaltReason, ...]:
    return core.can_quote(YES, now).reasons


# --- grace and in-flight placements -------------------------------------------------------------------


def test_snapshot_younger_than_grace_keeps_a_missing_order() -> None:
    core = ready()
    o = buy(core, 1, now=1.0)
    reconcile(core, 5.9)  # 4.9 s after the placement: the order may not be visible yet
    order = core.order(o)
    assert order is not None
    assert order.state is OrderState.LIVE
    assert worst(core) == LIMIT


def test_snapshot_taken_while_the_post_is_in_flight_keeps_it() -> None:
    """The snapshot is applied while the POST is still unanswered: the order may rest at any moment."""
    core = ready()
    o = oid(1)
    assert core.place(o, YES, Side.BUY, D("0.5"), D(10), 0.0).ok
    reconcile(core, 30.0)  # far past grace, but the POST has not returned
    assert worst(core) == LIMIT
    core.on_placement_answer(PlacementAnswer(o, True, o, "live"), 31.0)
    assert worst(core) == LIMIT


def test_absent_order_is_resolved_with_the_trades_of_the_snapshot() -> None:
    core = ready()
    o = buy(core, 1, now=1.0)
    reconcile(core, 10.0, trades=(maker_trade("t1", [(o, "7")], S.MINED),))
    order = core.order(o)
    assert order is not None
    assert order.state is OrderState.UNKNOWN  # absent once, 7 of 10 listed: the other 3 stay reserved (D1)
    e = core.token_exposure(YES)
    assert (e.held, e.open_buy) == (D(7), D(3))
    reconcile(core, 16.0, trades=(maker_trade("t1", [(o, "7")], S.MINED),))  # absent again, past grace
    assert order.state is OrderState.CANCELED
    assert (e.held, e.open_buy) == (D(7), ZERO)
    core.on_trade_event(maker_trade("t1", [(o, "7")], S.CONFIRMED), 11.0)  # the late WS copy
    assert e.held == D(7)


# B1 (docs/review-limits.md): fixed in e2526c0, kept as a regression test.
def test_snapshot_begun_while_the_post_was_in_flight_does_not_release_it() -> None:
    """POST sent at 0, snapshot begun at 6 (not resting yet), answer 'live' at 8, snapshot applied at 8.5.

    The exchange put the order on the book between 6 and 8, so its absence from the snapshot proves nothing;
    the core releases it anyway (``last_action_at`` is still the send time, 6 s > grace before the start).
    """
    core = ready()
    o = oid(1)
    assert core.place(o, YES, Side.BUY, D("0.5"), D(10), 0.0).ok
    recon_id, _ = core.begin_reconciliation(6.0)
    core.on_placement_answer(PlacementAnswer(o, True, o, "live"), 8.0)
    core.on_reconciliation(recon_id, OrdersSnapshot(6.0), None, 8.5)
    assert worst(core) == LIMIT  # before the fix: 0, and the quoter may send another BUY of 10
    assert not buy_allowed(core, 2, D(10), 8.6)


# B4 (docs/review-limits.md): fixed in e2526c0, kept as a regression test.
def test_order_released_by_absence_then_listed_open_is_reserved_again() -> None:
    """Absence past grace resolved it (or a stale read did); a newer snapshot lists it open with 2 matched.

    The exchange may still fill the other 8: ``worst`` must cover them, or a cancel must be on its way.
    """
    core = ready()
    o = buy(core, 1, now=1.0)
    reconcile(core, 10.0)
    reconcile(core, 16.0)
    assert worst(core) == ZERO  # resolved by absence (two snapshots, D1), by the rules
    out = reconcile(core, 20.0, rows=(row(o, "2"),))
    assert core.token_exposure(YES).held == D(2)  # handled: the fill is counted
    assert worst(core) == LIMIT or o in cancels(out)  # before the fix: 2, no cancel; 8 more can fill


# --- gaps -----------------------------------------------------------------------------------------------


def test_reconciliation_begun_before_the_gap_ended_does_not_clear_it() -> None:
    core = ready()
    core.on_channel_down(Channel.USER, 10.0, "disconnect")
    recon_id, _ = core.begin_reconciliation(11.0)  # begun while the channel is still down
    core.on_channel_up(Channel.USER, 12.0)
    core.on_reconciliation(recon_id, OrdersSnapshot(11.0), None, 13.0)
    assert HaltReason.RECONCILE_PENDING in _reasons(core, 13.0)
    assert not buy_allowed(core, 1, D(1), 13.0)
    reconcile(core, 14.0)
    assert core.can_quote(YES, 14.0).allowed


def test_point_gap_during_a_reconciliation_needs_a_newer_one() -> None:
    """An inconsistency (size_matched going down) while a reconciliation is in flight, at the same instant."""
    core = ready()
    o = buy(core, 1, now=1.0)
    core.on_order_event(order_ev(o, "3"), 2.0)
    recon_id, _ = core.begin_reconciliation(5.0)
    core.on_order_event(order_ev(o, "2"), 5.0)  # goes down: a gap at the same ``now``
    core.on_reconciliation(recon_id, OrdersSnapshot(5.0, (row(o, "3"),)), None, 5.0)
    assert HaltReason.RECONCILE_PENDING in _reasons(core, 5.0)
    reconcile(core, 5.0, rows=(row(o, "3"),))
    assert core.can_quote(YES, 5.0).allowed
    assert worst(core) == LIMIT


def test_gap_halt_cancels_resting_buys_without_releasing_them() -> None:
    core = ready()
    o = buy(core, 1, now=1.0)
    out = core.on_channel_down(Channel.USER, 2.0, "disconnect")
    assert o in cancels(out)
    assert worst(core) == LIMIT


def test_snapshot_older_than_its_reconciliation_is_refused() -> None:
    core = ready()
    recon_id, _ = core.begin_reconciliation(10.0)
    with pytest.raises(ValueError, match="before reconciliation began"):
        core.on_reconciliation(recon_id, OrdersSnapshot(9.0), None, 11.0)


def test_incomplete_snapshot_resolves_nothing() -> None:
    core = ready()
    o = buy(core, 1, now=1.0)
    core.on_channel_gap(Channel.USER, 2.0, "decode failure")
    recon_id, _ = core.begin_reconciliation(20.0)
    core.on_reconciliation(recon_id, OrdersSnapshot(20.0, complete=False), None, 21.0)
    order = core.order(o)
    assert order is not None
    assert not order.state.terminal
    assert worst(core) == LIMIT
    assert HaltReason.RECONCILE_PENDING in _reasons(core, 21.0)


def test_three_failed_reconciliations_latch_until_a_newer_one_completes() -> None:
    core = ready()
    core.on_channel_gap(Channel.USER, 1.0, "decode failure")
    for n in range(3):
        recon_id, _ = core.begin_reconciliation(2.0 + n)
        core.on_reconciliation_failed(recon_id, 2.5 + n, "503")
    assert HaltReason.WS_GAP_UNRESOLVED in _reasons(core, 6.0)
    reconcile(core, 40.0)
    assert core.can_quote(YES, 40.0).allowed


# --- restarts ---------------------------------------------------------------------------------------------


def test_restart_mid_post_keeps_the_reservation_until_a_snapshot_past_grace() -> None:
    core = ready()
    o = oid(1)
    assert core.place(o, YES, Side.BUY, D("0.5"), D(6), 1.0).ok
    partial = buy(core, 2, "4", now=1.0)
    core.on_trade_event(maker_trade("t1", [(partial, "1")]), 1.5)
    data = snapshot(core)
    again, _ = restore(CONFIG, [MARKET], data, 100.0)
    order = again.order(o)
    assert order is not None
    assert order.state is OrderState.UNKNOWN
    assert worst(again) == LIMIT
    assert not again.can_quote(YES, 100.0).allowed  # startup gap: nothing before a newer reconciliation
    again.on_channel_up(Channel.USER, 101.0)
    reconcile(again, 102.0, rows=(row(partial, "1", "4"),))  # within grace of the restart
    assert worst(again) == LIMIT
    reconcile(again, 110.0, rows=(row(partial, "1", "4"),))
    assert order.state is OrderState.UNKNOWN  # absent once past grace: a second snapshot must confirm (D1)
    assert worst(again) == LIMIT
    reconcile(again, 116.0, rows=(row(partial, "1", "4"),))
    assert order.state is OrderState.CANCELED
    assert worst(again) == D(4)


def test_failed_after_restart_reverses_a_fill_applied_before_it() -> None:
    core = ready()
    o = buy(core, 1, now=1.0)
    core.on_trade_event(maker_trade("t1", [(o, "10")]), 2.0)
    core.on_order_event(order_ev(o, "10", "MATCHED"), 2.0)
    again, _ = restore(CONFIG, [MARKET], snapshot(core), 50.0)
    again.on_trade_event(maker_trade("t1", [(o, "10")], S.FAILED), 51.0)
    e = again.token_exposure(YES)
    assert (e.held, e.unsettled_buy) == (ZERO, ZERO)
    again.on_trade_event(maker_trade("t1", [(o, "10")], S.FAILED), 52.0)  # duplicate: once only
    assert e.held == ZERO


def test_restart_adopts_an_order_placed_after_the_last_snapshot() -> None:
    """The order still rests: the startup reconciliation adopts it with its full remaining reservation."""
    core = ready()
    data = snapshot(core)
    buy(core, 1, now=1.0)
    again, _ = restore(CONFIG, [MARKET], data, 50.0)
    again.on_channel_up(Channel.USER, 51.0)
    reconcile(again, 52.0, rows=(row(oid(1), "3"),))
    e = again.token_exposure(YES)
    assert (e.held, e.open_buy) == (D(3), D(7))


# B2 (docs/review-limits.md): fixed in e2526c0, kept as a regression test.
def test_restart_counts_fills_of_an_order_placed_after_the_last_snapshot() -> None:
    """Snapshot, then BUY 10, filled, crash before the next snapshot (the WS events were lost with it).

    The startup reconciliation sees the order gone from /data/orders and its trade in /data/trades. The
    core logs 'trade for unknown order' and counts nothing: held 0, the gate opens, and a new BUY of 10 is
    allowed while the exchange already credits 10 (L2: 20 > 10).
    """
    core = ready()
    data = snapshot(core)
    buy(core, 1, now=1.0)
    again, _ = restore(CONFIG, [MARKET], data, 50.0)
    again.on_channel_up(Channel.USER, 51.0)
    reconcile(again, 52.0, trades=(maker_trade("t1", [(oid(1), "10")], S.CONFIRMED),))
    assert again.token_exposure(YES).held == LIMIT or not again.can_quote(YES, 52.0).allowed
    assert not buy_allowed(again, 2, D(10), 52.0)


MATCHED_AT = 1_767_000_000.0  # the exchange's clock (a trade's ``match_time``, unix s)


def _bought_then_sold(core: Core) -> TradeEvent:
    """BUY 10 filled and CONFIRMED, then SELL 10 filled and CONFIRMED: held 0. Returns the sell trade."""
    b = buy(core, 1, now=1.0)
    core.on_trade_event(maker_trade("tb", [(b, "10")], S.CONFIRMED, match_time=MATCHED_AT), 1.0)
    core.on_order_event(order_ev(b, "10", "MATCHED"), 1.0)
    s = oid(2)
    assert core.place(s, YES, Side.SELL, D("0.6"), D(10), 2.0).ok
    core.on_placement_answer(PlacementAnswer(s, True, s, "live"), 2.0)
    sold = maker_trade("ts", [(s, "10")], S.CONFIRMED, price="0.6", side=Side.SELL, match_time=MATCHED_AT + 1)
    core.on_trade_event(sold, 2.0)
    core.on_order_event(order_ev(s, "10", "MATCHED", price="0.6", side=Side.SELL), 2.0)
    assert core.token_exposure(YES).held == ZERO
    return sold


def _forgotten(core: Core) -> tuple[TradeEvent, float]:
    """:func:`_bought_then_sold`, both orders pruned, then their ids forgotten (``prune_horizon``)."""
    sold = _bought_then_sold(core)
    t = 2.0 + CONFIG.prune_after + 1
    reconcile(core, t, trades=(sold,))  # prunes both orders (terminal, every fill CONFIRMED)
    assert core.order(oid(2)) is None
    t += CONFIG.prune_horizon + 1
    reconcile(core, t)
    assert not core.tracker.pruned
    return sold, t


# N1 (docs/review-limits.md): fixed, kept as a regression test.
def test_rest_trade_of_a_pruned_order_is_not_counted_again() -> None:
    """The reconciler re-reads trades since ``watermark - 600 s``: with no newer trade on the market, the
    same old trades come back on every reconciliation, also after their orders were pruned and after the
    pruned ids were forgotten (``prune_horizon``). Counting the SELL again would make held -10, and the
    quoter could then BUY 20 with a limit of 10. The core does not adopt a REST trade of an unknown order
    that matched before the newest trade it had seen when a forgotten order was pruned."""
    core = ready()
    sold, t = _forgotten(core)
    for at in (t + 1, t + 2):
        reconcile(core, at, trades=(sold,))
    assert core.order(oid(2)) is None
    assert core.token_exposure(YES).held == ZERO
    assert not buy_allowed(core, 3, D(11), t + 3)


def test_a_lost_orders_newer_rest_trade_still_counts_after_ids_were_forgotten() -> None:
    """B2 stays fixed next to N1: a REST trade of an order the core never knew that matched after every
    forgotten order's fills is an order lost in a crash, and its fill counts."""
    core = ready()
    _, t = _forgotten(core)
    lost = maker_trade("tl", [(oid(7), "4")], S.CONFIRMED, match_time=MATCHED_AT + 2)
    reconcile(core, t + 1, trades=(lost,))
    assert core.token_exposure(YES).held == D(4)
    # without a match_time the trade is not judged either: it counts
    bare = maker_trade("tb2", [(oid(8), "3")], S.CONFIRMED)
    reconcile(core, t + 2, trades=(bare,))
    assert core.token_exposure(YES).held == D(7)


def test_the_forgotten_orders_bound_survives_a_restart() -> None:
    """The bound is exchange time, kept in the snapshot as it is (a replay does not rebase it)."""
    core = ready()
    sold, _ = _forgotten(core)
    again, _ = restore(CONFIG, [MARKET], snapshot(core), 50.0)
    assert again.tracker.forgotten_match == MATCHED_AT + 1
    again.on_channel_up(Channel.USER, 51.0)
    reconcile(again, 52.0, trades=(sold,))
    assert again.token_exposure(YES).held == ZERO


# B4, user-channel case (docs/review-limits.md): fixed, kept as a regression test.
def test_order_released_by_absence_then_shown_alive_on_the_user_channel() -> None:
    """Resolved by absence, then the user channel sends an UPDATE (LIVE, 2 matched) for it: the other 8
    may still fill, so they must be reserved (or a cancel sent)."""
    core = ready()
    o = buy(core, 1, now=1.0)
    reconcile(core, 10.0)
    reconcile(core, 16.0)
    assert worst(core) == ZERO
    out = core.on_order_event(order_ev(o, "2", "LIVE"), 17.0)
    assert core.token_exposure(YES).held == D(2)
    assert worst(core) == LIMIT or o in cancels(out)


# D1 (docs/review-limits.md): fixed (two-snapshot absence), kept as a regression test.
def test_absent_order_whose_trade_is_not_in_rest_yet() -> None:
    """The order filled fully at the exchange; /data/orders no longer lists it, but /data/trades and the
    user channel have not shown the trade yet. Rule 3 as written releases the 10 with held 0: the quoter
    places a new BUY 10, then the trade arrives (held 10 + open 10 = 20). Fixed: an order absent from one
    snapshot keeps its reservation until a *second* snapshot (begun after the first was applied, past
    grace) still misses it, or a terminal user-channel event arrives."""
    core = ready()
    o = buy(core, 1, now=1.0)
    reconcile(core, 10.0)  # absent, no trade yet: before the fix, CANCELED and released
    allowed = buy_allowed(core, 2, D(10), 10.5)
    core.on_trade_event(maker_trade("t1", [(o, "10")]), 11.0)
    assert not allowed
    assert worst(core) <= LIMIT
    reconcile(core, 12.0, trades=(maker_trade("t1", [(o, "10")]),))  # the trades caught up: FILLED at once
    order = core.order(o)
    assert order is not None
    assert order.state is OrderState.FILLED
    assert core.token_exposure(YES).held == LIMIT


def _pruned_after_absence(core: Core) -> tuple[str, float]:
    """A BUY resolved CANCELED by absence (no fill), then pruned: returns its id and the time after."""
    o = buy(core, 1, now=1.0)
    reconcile(core, 10.0)
    reconcile(core, 16.0)  # the second snapshot that misses it (D1)
    t = 16.0 + CONFIG.prune_after + 1
    reconcile(core, t)
    assert core.order(o) is None
    assert o in core.tracker.pruned
    return o, t


# N4 (docs/review-limits.md): fixed, kept as a regression test.
def test_pruned_order_listed_open_again_is_reserved_or_cancelled() -> None:
    """The absence was wrong (a lagging listing): 10 minutes later /data/orders lists it open. The Defect
    halts new BUYs on the token, but the order itself can still fill 10 with ``worst`` blind to it."""
    core = ready()
    o, t = _pruned_after_absence(core)
    out = reconcile(core, t + 1, rows=(row(o, "0"),))
    assert worst(core) == LIMIT or o in cancels(out)


# N5 (docs/review-limits.md): fixed, kept as a regression test.
def test_new_trade_of_a_pruned_order_counts() -> None:
    """A trade id never seen before, for a pruned order, is not a late duplicate: the order was alive. The
    user channel and the REST trades both drop it (``pruned`` short-circuits before the fill key)."""
    core = ready()
    o, t = _pruned_after_absence(core)
    core.on_trade_event(maker_trade("t-new", [(o, "4")], S.MATCHED), t + 1)
    reconcile(core, t + 2, trades=(maker_trade("t-new", [(o, "4")], S.MINED),))
    assert core.token_exposure(YES).held == D(4)


# N6 (docs/review-limits.md): fixed, kept as a regression test.
def test_stale_rest_row_after_a_ws_cancellation_does_not_halt_for_ever() -> None:
    """The user channel confirms the cancel at 10; /data/orders (a lagging replica) still lists the order in
    a snapshot begun at 10.5. Re-reserving and cancelling it is the safe answer; latching DEFECT (which
    nothing clears, not even a restart) is not: the next snapshot agrees and the cancel is confirmed."""
    core = ready()
    o = buy(core, 1, now=1.0)
    core.on_order_event(order_ev(o, "0", "CANCELED", OrderEventType.CANCELLATION), 10.0)
    reconcile(core, 10.5, rows=(row(o, "0"),))
    assert worst(core) == LIMIT  # handled: reserved again while the listing says it may rest
    core.on_order_event(order_ev(o, "0", "CANCELED", OrderEventType.CANCELLATION), 11.0)
    reconcile(core, 30.0)
    assert worst(core) == ZERO
    assert core.can_quote(YES, 30.0).allowed


@pytest.mark.xfail(
    strict=True,
    reason="BUG: one trade with an absurd match_time (the wire accepts up to year 5138: '99999999999') "
    "raises newest_match for good; once the pruned ids are forgotten it is the forgotten_match bound, and "
    "every later REST trade of an order lost in a crash 'matched before' it: never adopted, its fill never "
    "counted (B2 back), and the bound is kept in the snapshot",
)
def test_an_absurd_match_time_does_not_hide_a_lost_orders_fills() -> None:
    """As the test above, but the BUY's trade carries a garbage match_time (a far future, which the wire
    layer accepts: "99999999999"): the lost order's fill at a real time must still count once the pruned
    ids are forgotten."""
    core = ready()
    b = buy(core, 1, now=1.0)
    core.on_trade_event(maker_trade("tb", [(b, "10")], S.CONFIRMED, match_time=99_999_999_999.0), 1.0)
    core.on_order_event(order_ev(b, "10", "MATCHED"), 1.0)
    t = 2.0 + CONFIG.prune_after + 1
    reconcile(core, t)  # prunes the BUY (terminal, its fill CONFIRMED)
    assert core.order(b) is None
    t += CONFIG.prune_horizon + 1
    reconcile(core, t)
    assert not core.tracker.pruned
    lost = maker_trade("tl", [(oid(7), "4")], S.CONFIRMED, match_time=MATCHED_AT + 2)
    reconcile(core, t + 1, trades=(lost,))
    assert core.token_exposure(YES).held == D(14)
