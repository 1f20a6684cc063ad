"""Adversarial exchange orderings against the limit contract (DESIGN section 1), on the sync Core.

Each test is one way the exchange can misbehave (events before the placement answer, terminal events
before trades, duplicate and reordered trade statuses, cross-asset fills, cancel races) and asserts the
contract: ``worst = held + open_buy`` covers everything the exchange might still credit, a reservation is
released only by a confirmed fact, and a fill counts exactly once. Passing tests are regression tests for
attacks that are handled; ``xfail(strict=True)`` tests are bugs (see docs/review-limits.md).
"""

from __future__ import annotations

import attrs
import pytest
from adv_helpers import (
    CONFIG,
    LIMIT,
    NO,
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

from aqbot.core.events import (
    CancelAnswer,
    OrderEventType,
    PlacementAnswer,
    SubmitFailed,
    TradeStatus,
)
from aqbot.core.exposure import Limits
from aqbot.core.facts import Defect
from aqbot.core.halts import HaltReason, Scope
from aqbot.core.lifecycle import OrderState
from aqbot.core.types import Side

S = TradeStatus
BIG = attrs.evolve(CONFIG, limits=Limits(D(1000)))


def test_fill_and_cancellation_before_the_placement_answer() -> None:
    """The exchange fills 4 and cancels the rest before the POST answer arrives; the answer then says live."""
    core = ready()
    o = oid(1)
    assert core.place(o, YES, Side.BUY, D("0.5"), D(10), 1.0).ok
    core.on_order_event(order_ev(o, "0", "LIVE", OrderEventType.PLACEMENT), 1.01)
    core.on_trade_event(maker_trade("t1", [(o, "4")]), 1.02)
    assert worst(core) == LIMIT  # 4 held + 6 still reserved
    core.on_order_event(order_ev(o, "4", "CANCELED", OrderEventType.CANCELLATION), 1.03)
    assert worst(core) == D(4)
    core.on_placement_answer(PlacementAnswer(o, True, o, "live"), 1.5)  # late, harmless
    order = core.order(o)
    assert order is not None
    assert order.state is OrderState.CANCELED
    assert core.token_exposure(YES).held == D(4)
    assert worst(core) == D(4)


def test_cancellation_with_size_matched_before_the_trade_counts_once() -> None:
    """PROTOCOL 10 #5: CANCELLATION(size_matched=4) first, then the trade, then its status re-sends."""
    core = ready()
    o = buy(core, 1)
    core.on_order_event(order_ev(o, "4", "CANCELED", OrderEventType.CANCELLATION), 2.0)
    e = core.token_exposure(YES)
    assert (e.held, e.open_buy) == (D(4), ZERO)  # released exactly 10 - 4
    for status in (S.MATCHED, S.MINED, S.MATCHED, S.CONFIRMED, S.MINED):
        core.on_trade_event(maker_trade("t1", [(o, "4")], status), 3.0)
    assert (e.held, e.open_buy, e.unsettled_buy) == (D(4), ZERO, ZERO)
    assert buy_allowed(core, 2, D(6), 4.0)
    assert not buy_allowed(core, 3, D("0.01"), 4.0)


def test_delete_answer_canceled_then_the_order_fills() -> None:
    """DESIGN's own example: the DELETE answer says canceled, the fill of 4 arrives late."""
    core = ready()
    o = buy(core, 1)
    core.request_cancel([o], 2.0)
    core.on_cancel_answer(CancelAnswer(canceled=(o,)), 2.1)
    assert worst(core) == LIMIT  # the DELETE answer releases nothing
    assert not buy_allowed(core, 2, D(1), 2.2)
    core.on_trade_event(maker_trade("t1", [(o, "4")]), 2.3)
    core.on_order_event(order_ev(o, "4", "CANCELED", OrderEventType.CANCELLATION), 2.4)
    assert worst(core) == D(4)
    assert buy_allowed(core, 3, D(6), 2.5)
    assert not buy_allowed(core, 4, D("0.01"), 2.5)


@pytest.mark.parametrize("reason", ["already canceled or matched", "order not found"])
def test_not_canceled_keeps_the_reservation(reason: str) -> None:
    core = ready()
    o = buy(core, 1)
    core.request_cancel([o], 2.0)
    core.on_cancel_answer(CancelAnswer(not_canceled=((o, reason),)), 2.1)
    order = core.order(o)
    assert order is not None
    assert order.state is OrderState.UNKNOWN
    assert worst(core) == LIMIT
    reconcile(core, 3.0)  # absent, but within grace of the cancel
    assert worst(core) == LIMIT
    reconcile(core, 8.0, trades=(maker_trade("t1", [(o, "10")], S.MINED),))
    assert order.state is OrderState.FILLED
    assert core.token_exposure(YES).held == LIMIT


def test_matched_with_a_rounding_residue_is_terminal_and_trades_win() -> None:
    """PROTOCOL 5.1: MATCHED with 99.997714/100; the trades then sum to the full 100 (dust)."""
    core = ready(BIG)
    o = buy(core, 1, size="100", price="0.05")
    core.on_order_event(order_ev(o, "99.997714", "MATCHED", size="100", price="0.05"), 2.0)
    e = core.token_exposure(YES)
    assert (e.held, e.open_buy) == (D("99.997714"), ZERO)
    core.on_trade_event(maker_trade("t1", [(o, "100")], price="0.05"), 2.1)
    assert e.held == D(100)  # max(size_matched, trade sum): the larger wins, never double
    core.on_trade_event(maker_trade("t1", [(o, "100")], S.CONFIRMED, price="0.05"), 2.2)
    assert (e.held, e.unsettled_buy) == (D(100), ZERO)


def test_matched_partial_then_canceled_releases_only_the_rest() -> None:
    core = ready()
    o = buy(core, 1)
    core.on_order_event(order_ev(o, "3", "MATCHED"), 2.0)
    assert (core.token_exposure(YES).held, worst(core)) == (D(3), D(3))
    core.on_trade_event(maker_trade("t1", [(o, "3")]), 2.1)
    assert worst(core) == D(3)


def test_one_trade_id_hits_several_of_our_orders() -> None:
    """One taker, one trade id, three of aqbot's makers (two in the same trade message)."""
    core = ready()
    a, b, c = buy(core, 1, "4"), buy(core, 2, "3"), buy(core, 3, "3", price="0.49")
    trade = maker_trade("t1", [(a, "4"), (b, "1")])
    for _ in range(3):
        core.on_trade_event(trade, 2.0)
    core.on_trade_event(maker_trade("t1", [(c, "2")], price="0.49"), 2.1)
    e = core.token_exposure(YES)
    assert e.held == D(7)
    assert e.open_buy == D(3)  # b: 2 left, c: 1 left
    assert worst(core) == LIMIT


def test_cross_asset_maker_fill_counts_in_the_makers_token() -> None:
    """A taker BUYs NO against aqbot's resting BUY YES (a mint): the fill is YES shares."""
    core = ready()
    o = buy(core, 1)
    core.on_trade_event(maker_trade("t1", [(o, "6")], token=YES, side=Side.BUY, taker_token=NO), 2.0)
    assert core.token_exposure(YES).held == D(6)
    assert core.token_exposure(NO).held == ZERO
    assert worst(core) == LIMIT


def test_statuses_reordered_and_failed_after_confirmed_on_other_key() -> None:
    """CONFIRMED before MATCHED, MINED after CONFIRMED: the fill counts once and is settled."""
    core = ready()
    o = buy(core, 1)
    for status in (S.CONFIRMED, S.MATCHED, S.MINED, S.RETRYING, S.CONFIRMED):
        core.on_trade_event(maker_trade("t1", [(o, "5")], status), 2.0)
    e = core.token_exposure(YES)
    assert (e.held, e.open_buy, e.unsettled_buy) == (D(5), D(5), ZERO)


def test_failed_reversal_of_a_live_order_puts_the_size_back_in_the_reservation() -> None:
    """A FAILED fill of a still-resting order: held drops but worst does not (the exchange may re-fill)."""
    core = ready()
    o = buy(core, 1)
    core.on_trade_event(maker_trade("t1", [(o, "4")]), 2.0)
    core.on_order_event(order_ev(o, "4"), 2.0)
    core.on_trade_event(maker_trade("t1", [(o, "4")], S.FAILED), 3.0)
    e = core.token_exposure(YES)
    assert e.held == ZERO
    assert worst(core) == LIMIT
    core.on_trade_event(maker_trade("t1", [(o, "4")], S.MATCHED), 3.1)  # stale re-send after FAILED
    assert (e.held, worst(core)) == (ZERO, LIMIT)


def test_batch_with_some_legs_rejected_releases_only_those() -> None:
    core = ready()
    ids = [oid(n) for n in range(1, 4)]
    for n, order_id in enumerate(ids):
        assert core.place(order_id, YES, Side.BUY, D("0.5"), D(3), 1.0 + n / 100).ok
    core.on_placement_answer(PlacementAnswer(ids[0], True, ids[0], "live"), 1.5)
    core.on_placement_answer(PlacementAnswer(ids[1], True, "", "", "invalid post-only order: crosses"), 1.5)
    core.on_submit_failed(SubmitFailed(ids[2], "leg undecodable"), 1.5)
    assert core.token_exposure(YES).open_buy == D(6)
    assert worst(core) == D(6)


def test_exchange_id_mismatch_keeps_the_reservation() -> None:
    core = ready()
    o = oid(1)
    assert core.place(o, YES, Side.BUY, D("0.5"), D(10), 1.0).ok
    out = core.on_placement_answer(PlacementAnswer(o, True, oid(99), "live"), 1.1)
    assert any(isinstance(f, Defect) for f in out.facts)
    assert worst(core) == LIMIT


def test_dust_overfill_latches_limit_breach_and_cancels_everything() -> None:
    """Trades sum to 10.01 on an order of 10 (cent-tick truncation): worst 10.01 > 10 latches the breach."""
    core = ready()
    a = buy(core, 1, "10")
    b = buy(core, 2, "5", token=NO)
    out = core.on_trade_event(maker_trade("t1", [(a, "10.01")]), 2.0)
    assert core.token_exposure(YES).open_buy == ZERO
    assert not core.can_quote(NO, 2.0).allowed
    assert HaltReason.LIMIT_BREACH in core.can_quote(NO, 2.0).reasons
    assert b in cancels(out)


# --- bugs ---------------------------------------------------------------------------------------------


# B5 (docs/review-limits.md): fixed in e2526c0, kept as a regression test.
def test_fill_of_a_rejected_order_still_counts_in_held() -> None:
    """The exchange answers 400 but the order rested anyway and fills: the shares are ours all the same."""
    core = ready()
    o = oid(1)
    assert core.place(o, YES, Side.BUY, D("0.5"), D(10), 1.0).ok
    core.on_placement_answer(PlacementAnswer(o, False, "", "", "not enough balance", 400), 1.1)
    core.on_trade_event(maker_trade("t1", [(o, "4")]), 2.0)
    assert not core.can_quote(YES, 2.0).allowed  # handled: the contradiction halts the token (DEFECT)
    assert core.token_exposure(YES).held == D(4)  # before the fix: 0 (the credited shares were lost)


# B5 (docs/review-limits.md): fixed in e2526c0, kept as a regression test.
def test_rejected_order_seen_open_is_reserved_and_cancelled() -> None:
    core = ready()
    o = oid(1)
    assert core.place(o, YES, Side.BUY, D("0.5"), D(10), 1.0).ok
    core.on_placement_answer(PlacementAnswer(o, False, "", "", "not enough balance", 400), 1.1)
    out = reconcile(core, 10.0, rows=(row(o, "0"),))
    assert o in cancels(out) or worst(core) == LIMIT


# B7 (docs/review-limits.md): fixed in e2526c0, kept as a regression test.
def test_failed_after_confirmed_is_a_defect_not_a_silent_reversal() -> None:
    """A trade ends CONFIRMED or FAILED, never both: the contradiction must not silently lower held."""
    core = ready()
    o = buy(core, 1)
    core.on_trade_event(maker_trade("t1", [(o, "10")], S.CONFIRMED), 2.0)
    out = core.on_trade_event(maker_trade("t1", [(o, "10")], S.FAILED), 3.0)
    reported = any(isinstance(f, Defect) for f in out.facts)
    assert reported or core.token_exposure(YES).held == LIMIT


def test_cancel_racing_the_post_is_resent_when_the_order_turns_out_live() -> None:
    """A halt cancels a PENDING_SUBMIT order; the DELETE beats the POST ('order not found' -> UNKNOWN); the
    POST then answers live while the halt holds: a new cancel must go out, and nothing is released."""
    core = ready()
    o = oid(1)
    assert core.place(o, YES, Side.BUY, D("0.5"), D(10), 1.0).ok
    out = core.set_halt(HaltReason.MANUAL, Scope.global_(), 1.1, "operator")
    assert o in cancels(out)
    core.on_cancel_answer(CancelAnswer(not_canceled=((o, "order not found"),)), 1.2)
    out = core.on_placement_answer(PlacementAnswer(o, True, o, "live"), 1.3)
    assert o in cancels(out)
    assert worst(core) == LIMIT
