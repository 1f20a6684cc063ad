"""Order tracking through the Core facade: placement answers, order events, cancels, REST snapshots."""

from __future__ import annotations

from decimal import Decimal

import pytest
from core_helpers import NO, YES, D, kinds, live_buy, oid, order_event, ready_core

from aqbot.core.engine import Core
from aqbot.core.events import (
    CancelAnswer,
    OpenOrderRow,
    OrderEventType,
    OrdersSnapshot,
    PlacementAnswer,
    SubmitFailed,
    TradeEvent,
)
from aqbot.core.facts import CancelOrder, Defect, GapOpened, OrderAdopted, Reconcile
from aqbot.core.halts import HaltReason, Scope
from aqbot.core.lifecycle import OrderState
from aqbot.core.types import OrderType, Side


def test_place_reserves_and_refuses_over_limit() -> None:
    core = ready_core()
    result = core.place(oid(1), YES, Side.BUY, D("0.5"), D(6), 1.0)
    assert result.ok
    assert kinds(result.outcome) == ["ReservationChanged"]
    assert core.order(oid(1)).state is OrderState.PENDING_SUBMIT  # type: ignore[union-attr]
    refused = core.place(oid(2), YES, Side.BUY, D("0.5"), D(5), 1.0)
    assert not refused.ok
    assert refused.refused is not None
    assert refused.refused.startswith("L1")
    assert kinds(refused.outcome) == ["ReserveRefused"]
    assert core.place(oid(1), YES, Side.BUY, D("0.5"), D(1), 1.0).refused == f"duplicate order id {oid(1)}"


def test_place_refused_while_halted() -> None:
    core = ready_core()
    core.set_halt(HaltReason.MANUAL, Scope.market(core.market_of(YES)), 1.0, "operator")
    result = core.place(oid(1), NO, Side.BUY, D("0.5"), D(1), 1.0)
    assert result.refused == "halted: MANUAL"


@pytest.mark.parametrize(
    "answer",
    [
        PlacementAnswer(oid(1), True, oid(1), "live"),
        PlacementAnswer(oid(1), True, oid(1), "matched"),
        PlacementAnswer(oid(1), True, oid(1), "delayed"),
        PlacementAnswer(oid(1), True, oid(1).upper().replace("0X", "0x"), "LIVE"),
    ],
)
def test_accepted_answers(answer: PlacementAnswer) -> None:
    core = ready_core()
    core.place(oid(1), YES, Side.BUY, D("0.5"), D(4), 1.0)
    core.on_placement_answer(answer, 1.1)
    order = core.order(oid(1))
    assert order is not None
    assert order.state is OrderState.LIVE
    assert core.token_exposure(YES).open_buy == D(4)


@pytest.mark.parametrize(
    "answer",
    [
        PlacementAnswer(oid(1), False, "", "", "not enough balance / allowance"),
        PlacementAnswer(oid(1), True, "", "", "invalid post-only order: order crosses book"),  # batch leg
        PlacementAnswer(oid(1), False, "", "", "invalid order", http_status=400),
        PlacementAnswer(oid(1), True, oid(1), "unmatched"),
    ],
)
def test_definitive_rejections_release_everything(answer: PlacementAnswer) -> None:
    core = ready_core()
    core.place(oid(1), YES, Side.BUY, D("0.5"), D(4), 1.0)
    out = core.on_placement_answer(answer, 1.1)
    assert core.order(oid(1)).state is OrderState.REJECTED  # type: ignore[union-attr]
    assert core.token_exposure(YES).open_buy == D(0)
    assert "ReservationChanged" in kinds(out)


@pytest.mark.parametrize(
    "answer",
    [
        PlacementAnswer(oid(1), False, "", "", "", http_status=503),
        PlacementAnswer(oid(1), False, "", "", "", http_status=408),
        PlacementAnswer(oid(1), True, oid(1), "weird-new-status"),
    ],
)
def test_ambiguous_answers_keep_the_reservation(answer: PlacementAnswer) -> None:
    core = ready_core()
    core.place(oid(1), YES, Side.BUY, D("0.5"), D(4), 1.0)
    core.on_placement_answer(answer, 1.1)
    assert core.order(oid(1)).state is OrderState.UNKNOWN  # type: ignore[union-attr]
    assert core.token_exposure(YES).open_buy == D(4)


def test_submit_failure_is_unknown_and_keeps_reservation() -> None:
    core = ready_core()
    core.place(oid(1), YES, Side.BUY, D("0.5"), D(4), 1.0)
    core.on_submit_failed(SubmitFailed(oid(1), "ConnectionTerminated"), 3.0)
    order = core.order(oid(1))
    assert order is not None
    assert order.state is OrderState.UNKNOWN
    assert order.last_action_at == 3.0
    assert core.token_exposure(YES).open_buy == D(4)


def test_answer_with_another_id_is_a_defect() -> None:
    core = ready_core()
    core.place(oid(1), YES, Side.BUY, D("0.5"), D(4), 1.0)
    out = core.on_placement_answer(PlacementAnswer(oid(1), True, oid(9), "live"), 1.1)
    assert "Defect" in kinds(out)
    assert core.order(oid(1)).state is OrderState.UNKNOWN  # type: ignore[union-attr]
    assert HaltReason.DEFECT in core.can_quote(YES, 1.1).reasons
    assert core.can_quote(NO, 1.1).allowed  # the defect halts its token only


def test_answers_for_unknown_orders_are_global_defects() -> None:
    core = ready_core()
    out = core.on_placement_answer(PlacementAnswer(oid(7), True, oid(7), "live"), 1.0)
    assert any(isinstance(f, Defect) and f.token == "" for f in out.facts)
    assert HaltReason.DEFECT in core.can_quote(NO, 1.0).reasons
    out = core.on_submit_failed(SubmitFailed(oid(8)), 1.0)
    assert "Defect" in kinds(out)


def test_event_before_answer_attaches_to_the_order() -> None:
    core = ready_core()
    core.place(oid(1), YES, Side.BUY, D("0.5"), D(10), 1.0)
    core.on_order_event(order_event(oid(1), "3", kind=OrderEventType.PLACEMENT), 1.05)
    order = core.order(oid(1))
    assert order is not None
    assert order.state is OrderState.LIVE
    assert core.token_exposure(YES).held == D(3)
    assert core.token_exposure(YES).open_buy == D(7)
    core.on_placement_answer(PlacementAnswer(oid(1), True, oid(1), "live"), 1.1)
    assert order.state is OrderState.LIVE


def test_rejection_after_exchange_evidence_is_a_defect_and_keeps_reservation() -> None:
    core = ready_core()
    core.place(oid(1), YES, Side.BUY, D("0.5"), D(10), 1.0)
    core.on_order_event(order_event(oid(1), "0"), 1.05)
    core.request_cancel([oid(1)], 1.06)
    out = core.on_placement_answer(PlacementAnswer(oid(1), False, "", "", "nope"), 1.1)
    assert "Defect" in kinds(out)
    assert core.token_exposure(YES).open_buy == D(10)


@pytest.mark.parametrize(
    ("status", "kind", "matched", "state"),
    [
        ("CANCELED", OrderEventType.CANCELLATION, "4", OrderState.CANCELED),
        ("CANCELED_MARKET_RESOLVED", OrderEventType.CANCELLATION, "0", OrderState.CANCELED),
        ("CANCELED_order couldn't be fully filled. FOK orders are fully filled or killed.",
         OrderEventType.CANCELLATION, "0", OrderState.CANCELED),
        ("INVALID", OrderEventType.UPDATE, "2", OrderState.CANCELED),
        ("MATCHED", OrderEventType.UPDATE, "10", OrderState.FILLED),
        ("MATCHED", OrderEventType.UPDATE, "9.997714", OrderState.CANCELED),  # partial / residue
        ("UNMATCHED", OrderEventType.UPDATE, "0", OrderState.CANCELED),
        ("LIVE", OrderEventType.CANCELLATION, "1", OrderState.CANCELED),
    ],
)  # fmt: skip
def test_terminal_order_events_count_size_matched_and_release_the_rest(
    status: str, kind: OrderEventType, matched: str, state: OrderState
) -> None:
    core = ready_core()
    live_buy(core, 1)
    core.on_order_event(order_event(oid(1), matched, status, kind), 2.0)
    assert core.order(oid(1)).state is state  # type: ignore[union-attr]
    e = core.token_exposure(YES)
    assert e.held == D(matched)
    assert e.open_buy == D(0)
    assert e.worst == D(matched)
    assert e.unsettled_buy == D(matched)  # no CONFIRMED trade yet: not sellable (L3)
    assert e.sellable == D(0)


def test_gtd_expiry_arrives_as_cancellation() -> None:
    core = ready_core()
    core.place(oid(1), YES, Side.BUY, D("0.5"), D(10), 1.0, order_type=OrderType.GTD, expiration=100.0)
    event = order_event(oid(1), "0", "CANCELED", OrderEventType.CANCELLATION)
    expired = type(event)(*[getattr(event, f) for f in ("order_id", "token", "side", "price", "original_size",
                            "size_matched", "status", "type")], order_type=OrderType.GTD, expiration=100.0,
                          timestamp=100.5)  # fmt: skip
    core.on_order_event(expired, 2.0)
    assert core.order(oid(1)).state is OrderState.EXPIRED  # type: ignore[union-attr]
    assert core.token_exposure(YES).open_buy == D(0)


def test_size_matched_is_cumulative_and_a_decrease_opens_a_gap() -> None:
    core = ready_core()
    live_buy(core, 1)
    core.on_order_event(order_event(oid(1), "3"), 2.0)
    core.on_order_event(order_event(oid(1), "5"), 2.1)
    assert core.token_exposure(YES).held == D(5)
    out = core.on_order_event(order_event(oid(1), "4"), 2.2)
    assert any(isinstance(f, GapOpened) and "went down" in f.reason for f in out.facts)
    assert any(isinstance(c, Reconcile) for c in out.commands)
    assert core.token_exposure(YES).held == D(5)  # never lowered
    assert HaltReason.RECONCILE_PENDING in core.can_quote(YES, 2.2).reasons
    assert [c.order_id for c in out.commands if isinstance(c, CancelOrder)] == [oid(1)]


def test_event_for_an_unknown_order_adopts_it_and_opens_a_gap() -> None:
    core = ready_core()
    out = core.on_order_event(order_event(oid(5), "2", size="6"), 2.0)
    assert any(isinstance(f, OrderAdopted) for f in out.facts)
    assert any(isinstance(f, GapOpened) for f in out.facts)
    e = core.token_exposure(YES)
    assert (e.held, e.open_buy) == (D(2), D(4))


def test_event_in_an_unknown_token_is_a_defect() -> None:
    core = ready_core()
    out = core.on_order_event(order_event(oid(5), "0", token="999"), 2.0)
    assert "Defect" in kinds(out)


def test_event_contradicting_the_order_is_a_defect() -> None:
    core = ready_core()
    live_buy(core, 1)
    out = core.on_order_event(order_event(oid(1), "0", size="11"), 2.0)
    assert "Defect" in kinds(out)
    assert core.token_exposure(YES).open_buy == D(10)


def test_exchange_life_in_a_rejected_order_is_a_defect() -> None:
    core = ready_core()
    core.place(oid(1), YES, Side.BUY, D("0.5"), D(4), 1.0)
    core.on_placement_answer(PlacementAnswer(oid(1), False, "", "", "no"), 1.1)
    out = core.on_order_event(order_event(oid(1), "0", size="4"), 2.0)
    assert "Defect" in kinds(out)
    assert HaltReason.DEFECT in core.can_quote(YES, 2.0).reasons


def test_cancel_answers_never_release() -> None:
    core = ready_core()
    live_buy(core, 1)
    out = core.request_cancel([oid(1)], 2.0)
    assert [type(c).__name__ for c in out.commands] == ["CancelOrder"]
    core.on_cancel_answer(CancelAnswer(canceled=(oid(1),)), 2.1)
    assert core.order(oid(1)).state is OrderState.CANCEL_REQUESTED  # type: ignore[union-attr]
    assert core.token_exposure(YES).open_buy == D(10)
    core.on_cancel_answer(CancelAnswer(not_canceled=((oid(1), "order not found"),)), 2.2)
    assert core.order(oid(1)).state is OrderState.UNKNOWN  # type: ignore[union-attr]
    assert core.token_exposure(YES).open_buy == D(10)
    core.on_cancel_answer(CancelAnswer(canceled=(oid(99),), not_canceled=((oid(98), "x"),)), 2.3)  # ignored
    # The DESIGN example: 4 filled before the cancel; CANCELLATION releases exactly 10 - 4.
    core.on_order_event(order_event(oid(1), "4", "CANCELED", OrderEventType.CANCELLATION), 2.4)
    e = core.token_exposure(YES)
    assert (e.held, e.open_buy, e.worst) == (D(4), D(0), D(4))


def test_request_cancel_ignores_terminal_and_unknown_ids() -> None:
    core = ready_core()
    live_buy(core, 1)
    core.on_order_event(order_event(oid(1), "10", "MATCHED"), 2.0)
    assert core.request_cancel([oid(1), oid(2)], 2.1).commands == []


def test_rest_snapshot_grace_rule() -> None:
    core = ready_core()
    live_buy(core, 1, now=10.0)
    core.request_cancel([oid(1)], 12.0)  # last local action at 12
    recon, _ = core.begin_reconciliation(15.0)
    core.on_reconciliation(recon, OrdersSnapshot(15.0), None, 15.5)  # 3 s after: too young
    assert core.order(oid(1)).state is OrderState.CANCEL_REQUESTED  # type: ignore[union-attr]
    assert core.token_exposure(YES).open_buy == D(10)
    recon, _ = core.begin_reconciliation(17.5)
    core.on_reconciliation(recon, OrdersSnapshot(17.5, complete=False), None, 18.0)  # incomplete: nothing
    assert core.token_exposure(YES).open_buy == D(10)
    recon, _ = core.begin_reconciliation(17.5)
    core.on_reconciliation(recon, OrdersSnapshot(17.5), None, 18.0)  # absent once: not over yet (D1)
    assert core.order(oid(1)).state is OrderState.UNKNOWN  # type: ignore[union-attr]
    assert core.token_exposure(YES).open_buy == D(10)
    recon, _ = core.begin_reconciliation(23.0)
    core.on_reconciliation(recon, OrdersSnapshot(23.0), None, 23.0)  # not more than grace after the first
    assert core.token_exposure(YES).open_buy == D(10)
    recon, _ = core.begin_reconciliation(23.5)
    core.on_reconciliation(recon, OrdersSnapshot(23.5), None, 23.5)  # the second, past grace: over
    assert core.order(oid(1)).state is OrderState.CANCELED  # type: ignore[union-attr]
    assert core.token_exposure(YES).open_buy == D(0)


def test_rest_snapshot_never_resolves_a_post_in_flight() -> None:
    core = ready_core()
    core.place(oid(1), YES, Side.BUY, D("0.5"), D(4), 1.0)
    core.request_cancel([oid(1)], 1.0)
    recon, _ = core.begin_reconciliation(100.0)
    core.on_reconciliation(recon, OrdersSnapshot(100.0), None, 100.0)
    assert core.token_exposure(YES).open_buy == D(4)


def test_rest_snapshot_takes_the_larger_matched_and_resolves_filled() -> None:
    core = ready_core()
    live_buy(core, 1, now=1.0)
    core.on_order_event(order_event(oid(1), "6"), 2.0)
    row = OpenOrderRow(oid(1), YES, Side.BUY, D("0.5"), D(10), D(5))  # lagging REST
    recon, _ = core.begin_reconciliation(20.0)
    core.on_reconciliation(recon, OrdersSnapshot(20.0, (row,)), None, 20.0)
    assert core.token_exposure(YES).held == D(6)
    from core_helpers import maker_trade

    trades = (maker_trade("t1", [(oid(1), "10")]),)
    recon, _ = core.begin_reconciliation(30.0)
    core.on_reconciliation(recon, OrdersSnapshot(30.0, (), trades), None, 30.0)
    order = core.order(oid(1))
    assert order is not None
    assert order.state is OrderState.FILLED
    assert core.token_exposure(YES).held == D(10)


def test_rest_snapshot_adopts_unknown_open_orders_and_flags_limit_breach() -> None:
    core = ready_core()
    live_buy(core, 1, size="8")
    rows = (
        OpenOrderRow(oid(7), YES, Side.BUY, D("0.5"), D(5), D(0)),
        OpenOrderRow(oid(1), YES, Side.BUY, D("0.5"), D(8), D(0)),
    )
    recon, _ = core.begin_reconciliation(20.0)
    out = core.on_reconciliation(recon, OrdersSnapshot(20.0, rows), None, 20.0)
    assert "OrderAdopted" in kinds(out)
    assert core.token_exposure(YES).worst == D(13)
    assert HaltReason.LIMIT_BREACH in core.can_quote(NO, 20.0).reasons  # cancel everything
    cancels = {c.order_id for c in out.commands if isinstance(c, CancelOrder)}
    assert cancels == {oid(1), oid(7)}
    core.on_order_event(order_event(oid(7), "0", "CANCELED", OrderEventType.CANCELLATION, size="5"), 21.0)
    assert HaltReason.LIMIT_BREACH not in core.can_quote(NO, 21.0).reasons


def test_rest_row_shows_a_rejected_order_open_is_a_defect() -> None:
    core = ready_core()
    core.place(oid(1), YES, Side.BUY, D("0.5"), D(4), 1.0)
    core.on_placement_answer(PlacementAnswer(oid(1), False, "", "", "no"), 1.1)
    row = OpenOrderRow(oid(1), YES, Side.BUY, D("0.5"), D(4), D(0))
    recon, _ = core.begin_reconciliation(20.0)
    out = core.on_reconciliation(recon, OrdersSnapshot(20.0, (row,)), None, 20.0)
    assert "Defect" in kinds(out)


def test_rest_row_in_unknown_token_and_mismatch_are_defects() -> None:
    core = ready_core()
    live_buy(core, 1)
    rows = (
        OpenOrderRow(oid(8), "999", Side.BUY, D("0.5"), D(4), D(0)),
        OpenOrderRow(oid(1), YES, Side.SELL, D("0.5"), D(10), D(0)),
    )
    recon, _ = core.begin_reconciliation(20.0)
    out = core.on_reconciliation(recon, OrdersSnapshot(20.0, rows), None, 20.0)
    assert kinds(out).count("Defect") == 2


def test_reconciliation_argument_errors() -> None:
    core = ready_core()
    with pytest.raises(ValueError, match="not begun"):
        core.on_reconciliation(99, OrdersSnapshot(1.0), None, 1.0)
    recon, _ = core.begin_reconciliation(5.0)
    with pytest.raises(ValueError, match="before reconciliation"):
        core.on_reconciliation(recon, OrdersSnapshot(4.0), None, 5.0)


def test_grace_counts_from_the_placement_answer() -> None:
    core = ready_core()
    core.place(oid(1), YES, Side.BUY, D("0.5"), D(10), 0.0)
    recon, _ = core.begin_reconciliation(6.0)  # begun while the POST is in flight
    core.on_placement_answer(PlacementAnswer(oid(1), True, oid(1), "live"), 8.0)
    core.on_reconciliation(recon, OrdersSnapshot(6.0), None, 8.5)
    assert core.token_exposure(YES).open_buy == D(10)


def test_rejected_order_with_exchange_life_is_revived_reserved_and_cancelled() -> None:
    core = ready_core()
    core.place(oid(1), YES, Side.BUY, D("0.5"), D(10), 1.0)
    core.on_placement_answer(PlacementAnswer(oid(1), False, "", "", "nope", 400), 1.1)
    from core_helpers import maker_trade

    out = core.on_trade_event(maker_trade("t1", [(oid(1), "4")]), 2.0)
    assert "Defect" in kinds(out)
    order = core.order(oid(1))
    assert order is not None
    assert order.state is OrderState.UNKNOWN
    e = core.token_exposure(YES)
    assert (e.held, e.open_buy) == (D(4), D(6))
    assert oid(1) in {c.order_id for c in out.commands if isinstance(c, CancelOrder)}


def test_order_resolved_by_absence_then_listed_by_a_newer_snapshot_is_revived() -> None:
    core = ready_core()
    live_buy(core, 1, now=1.0)
    for at in (10.0, 16.0):  # absent from two snapshots (review D1): over
        recon, _ = core.begin_reconciliation(at)
        core.on_reconciliation(recon, OrdersSnapshot(at), None, at)
    assert core.token_exposure(YES).worst == D(0)
    row = OpenOrderRow(oid(1), YES, Side.BUY, D("0.5"), D(10), D(2))
    stale, _ = core.begin_reconciliation(16.0)  # begun at the same instant: not newer, ignored
    core.on_reconciliation(stale, OrdersSnapshot(16.0, (row,)), None, 16.0)
    assert core.order(oid(1)).state is OrderState.CANCELED  # type: ignore[union-attr]
    recon, _ = core.begin_reconciliation(20.0)
    out = core.on_reconciliation(recon, OrdersSnapshot(20.0, (row,)), None, 20.0)
    assert "Defect" in kinds(out)
    e = core.token_exposure(YES)
    assert (e.held, e.open_buy, e.worst) == (D(2), D(8), D(10))
    assert oid(1) in {c.order_id for c in out.commands if isinstance(c, CancelOrder)}


def test_rest_trade_of_an_order_lost_in_a_crash_is_counted() -> None:
    from core_helpers import maker_trade

    core = ready_core()
    trades = (maker_trade("t1", [(oid(1), "10")]),)
    recon, _ = core.begin_reconciliation(20.0)
    out = core.on_reconciliation(recon, OrdersSnapshot(20.0, (), trades), None, 20.0)
    assert any(isinstance(f, OrderAdopted) and f.source == "rest-trade" for f in out.facts)
    e = core.token_exposure(YES)
    assert (e.held, e.open_buy) == (D(10), D(0))
    assert not core.place(oid(2), YES, Side.BUY, D("0.5"), D(1), 21.0).ok


def test_lagging_rest_row_after_a_user_channel_fill_is_cancelled_without_a_defect() -> None:
    """MATCHED (full) on the user channel at 5, a snapshot begun at 6 still lists the order with 10 matched:
    nothing is left to fill, the cancel is sent anyway, held is not counted twice and nothing latches."""
    core = ready_core()
    live_buy(core, 1)
    core.on_order_event(order_event(oid(1), "10", "MATCHED"), 5.0)
    recon_id, _ = core.begin_reconciliation(6.0)
    row = OpenOrderRow(oid(1), YES, Side.BUY, D("0.5"), D(10), D(10))
    out = core.on_reconciliation(recon_id, OrdersSnapshot(6.0, (row,)), None, 6.5)
    assert not any(isinstance(f, Defect) for f in out.facts)
    assert oid(1) in [c.order_id for c in out.commands if isinstance(c, CancelOrder)]
    e = core.token_exposure(YES)
    assert (e.held, e.open_buy) == (D(10), D(0))
    assert core.can_quote(YES, 7.0).allowed


# --- absence needs two snapshots (review D1: /data/trades may lag /data/orders) ---------------------------


def _snap(core: Core, begun: float, trades: tuple[TradeEvent, ...] = (), *, at: float | None = None) -> None:
    recon, _ = core.begin_reconciliation(begun)
    core.on_reconciliation(recon, OrdersSnapshot(begun, (), trades), None, begun if at is None else at)


def _state(core: Core, n: int) -> OrderState:
    order = core.order(oid(n))
    assert order is not None
    return order.state


def test_absence_from_one_snapshot_keeps_what_the_trades_do_not_show() -> None:
    from core_helpers import maker_trade

    core = ready_core()
    live_buy(core, 1, now=1.0)
    _snap(core, 10.0, (maker_trade("t1", [(oid(1), "4")]),))
    assert _state(core, 1) is OrderState.UNKNOWN
    e = core.token_exposure(YES)
    assert (e.held, e.open_buy, e.worst) == (D(4), D(6), D(10))
    assert not core.place(oid(2), YES, Side.BUY, D("0.5"), D(1), 11.0).ok  # nothing released
    _snap(core, 15.5)  # a second snapshot, past grace: ended, fills = max(known 4, trades 0)
    assert _state(core, 1) is OrderState.CANCELED
    assert (e.held, e.open_buy) == (D(4), D(0))


def test_absence_with_every_fill_listed_ends_at_once() -> None:
    from core_helpers import maker_trade

    core = ready_core()
    live_buy(core, 1, now=1.0)
    _snap(core, 10.0, (maker_trade("t1", [(oid(1), "6")]), maker_trade("t2", [(oid(1), "4")])))
    assert _state(core, 1) is OrderState.FILLED
    e = core.token_exposure(YES)
    assert (e.held, e.open_buy) == (D(10), D(0))


def test_second_snapshot_begun_before_the_first_was_applied_does_not_confirm() -> None:
    """Two reconciliations in flight: the one begun first is applied first. The other one's REST reads may
    be late (``started_at`` is when its first request went out), but it began before the absence was
    applied: it does not count, however late its reads were."""
    core = ready_core()
    live_buy(core, 1, now=1.0)
    first, _ = core.begin_reconciliation(10.0)
    second, _ = core.begin_reconciliation(10.5)
    core.on_reconciliation(first, OrdersSnapshot(10.0), None, 11.0)
    assert _state(core, 1) is OrderState.UNKNOWN
    core.on_reconciliation(second, OrdersSnapshot(30.0), None, 30.0)
    assert _state(core, 1) is OrderState.UNKNOWN
    assert core.token_exposure(YES).open_buy == D(10)
    _snap(core, 31.0)  # begun after: confirms
    assert _state(core, 1) is OrderState.CANCELED


def test_second_snapshot_must_come_more_than_grace_after_the_first() -> None:
    core = ready_core()
    live_buy(core, 1, now=1.0)
    _snap(core, 10.0, at=10.5)  # absence applied at 10.5
    _snap(core, 12.0)  # begun after, but the trades may still lag: no
    _snap(core, 15.5)  # exactly grace after: no (the grace rule is strict)
    assert _state(core, 1) is OrderState.UNKNOWN
    due = core.next_reconcile_at(15.5)
    assert due is not None
    assert 15.5 < due < 15.501  # the follow-up, not the periodic one at 75.5
    _snap(core, due)
    assert _state(core, 1) is OrderState.CANCELED


@pytest.mark.parametrize(
    ("status", "matched", "state", "held"),
    [("CANCELED", "3", OrderState.CANCELED, D(3)), ("MATCHED", "10", OrderState.FILLED, D(10))],
)
def test_terminal_user_channel_event_ends_a_pending_absence(
    status: str, matched: str, state: OrderState, held: Decimal
) -> None:
    core = ready_core()
    live_buy(core, 1, now=1.0)
    _snap(core, 10.0)
    kind = OrderEventType.CANCELLATION if status == "CANCELED" else OrderEventType.UPDATE
    core.on_order_event(order_event(oid(1), matched, status, kind), 11.0)  # rule 1, unchanged
    assert _state(core, 1) is state
    e = core.token_exposure(YES)
    assert (e.held, e.open_buy) == (held, D(0))
    assert core.next_reconcile_at(11.0) == 70.0  # nothing pending: the periodic schedule


def test_listed_open_again_restarts_the_absence_count() -> None:
    """Absent, then listed open (the absence was a lagging read), then absent again: that is a *first*
    absence again; only the snapshot after it ends the order."""
    core = ready_core()
    live_buy(core, 1, now=1.0)
    _snap(core, 10.0)
    recon, _ = core.begin_reconciliation(16.0)
    row = OpenOrderRow(oid(1), YES, Side.BUY, D("0.5"), D(10), D(0))
    core.on_reconciliation(recon, OrdersSnapshot(16.0, (row,)), None, 16.0)
    assert _state(core, 1) is OrderState.LIVE
    _snap(core, 22.0)
    assert _state(core, 1) is OrderState.UNKNOWN
    assert core.token_exposure(YES).open_buy == D(10)
    _snap(core, 28.0)
    assert _state(core, 1) is OrderState.CANCELED


def test_follow_up_after_a_failed_reconciliation_waits_for_the_recovery_interval() -> None:
    core = ready_core()
    live_buy(core, 1, now=1.0)
    _snap(core, 10.0)
    recon, _ = core.begin_reconciliation(16.0)
    assert core.next_reconcile_at(16.0) is None  # one in flight
    core.on_reconciliation_failed(recon, 16.5, "503")
    assert core.next_reconcile_at(16.5) == 16.5 + 30.0  # not at once, again and again
    _snap(core, 46.5)
    assert _state(core, 1) is OrderState.CANCELED


def test_absent_order_whose_fill_failed_is_not_ended_as_filled() -> None:
    """An order absent from the open listing whose only fill FAILED is not shown filled: the failed shares
    may still fill (the reservation's target is ``size - matched + failed``), so the two-snapshot absence
    rule applies to it, as to any order with fewer fills than its size (found by the core machine: ending
    it FILLED released its room, and a late LIVE event then revived it over the cap)."""
    from core_helpers import maker_trade

    from aqbot.core.events import TradeStatus

    core = ready_core()
    live_buy(core, 1, size="10", now=1.0)
    failed = (maker_trade("t1", [(oid(1), "10")], status=TradeStatus.FAILED),)
    recon, _ = core.begin_reconciliation(20.0)
    core.on_reconciliation(recon, OrdersSnapshot(20.0, (), failed), None, 20.0)
    order = core.order(oid(1))
    assert order is not None
    assert order.state is OrderState.UNKNOWN
    e = core.token_exposure(YES)
    assert (e.held, e.open_buy) == (D(0), D(10))
    assert not core.place(oid(2), YES, Side.BUY, D("0.5"), D(1), 21.0).ok  # the room is not free
    recon, _ = core.begin_reconciliation(30.0)
    core.on_reconciliation(recon, OrdersSnapshot(30.0, (), failed), None, 30.0)  # the second snapshot
    assert order.state is OrderState.CANCELED
    assert core.token_exposure(YES).open_buy == D(0)
