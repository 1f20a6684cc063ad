"""The PnL book (average cost, reversals, marks, the UTC day) and the DAILY_LOSS halt it drives."""

from __future__ import annotations

import json
from decimal import Decimal

import attrs
import pytest
from core_helpers import CONFIG, NO, YES, D, kinds, live_buy, maker_trade, oid, order_event, ready_core
from hypothesis import given
from hypothesis import strategies as st

from aqbot.core.engine import Core
from aqbot.core.events import OrdersSnapshot, PlacementAnswer, PositionRow, PositionsSnapshot, TradeStatus
from aqbot.core.facts import CancelOrder, HaltCleared, HaltRaised
from aqbot.core.halts import HaltReason, Scope
from aqbot.core.lifecycle import OrderState
from aqbot.core.pnl import DAY_SECONDS, QUANTUM, PnlBook, utc_day
from aqbot.core.snapshot import restore, snapshot
from aqbot.core.types import Side

S = TradeStatus
DAY = 20_000 * DAY_SECONDS  # a UTC midnight (2024-10-04)
LIMITED = attrs.evolve(CONFIG, daily_loss_limit=D(2))


# --- the book's arithmetic ----------------------------------------------------------------------------


def test_average_cost_realizes_on_sells_and_marks_the_rest() -> None:
    book = PnlBook()
    book.fill(YES, D(10), D("0.40"))
    book.fill(YES, D(10), D("0.60"))
    t = book.tokens[YES]
    assert (t.position, t.cost, t.average) == (D(20), D("10.00"), D("0.5"))
    assert t.unrealized == 0  # never marked: valued at cost
    book.fill(YES, D(-5), D("0.70"))
    assert (t.position, t.cost, t.realized) == (D(15), D("7.5"), D("1.0"))
    book.mark(YES, D("0.45"))
    assert t.unrealized == D("-0.75")
    assert book.total() == D("0.25")
    book.fill(YES, D(-15), D("0.30"))  # closes: the whole remaining cost goes
    assert (t.position, t.cost, t.realized, t.unrealized) == (0, 0, D("-2.0"), 0)


def test_a_fill_crossing_zero_realizes_the_close_and_opens_the_rest() -> None:
    book = PnlBook()
    book.fill(YES, D(5), D("0.40"))
    book.fill(YES, D(-8), D("0.50"))
    t = book.tokens[YES]
    assert (t.position, t.cost, t.realized) == (D(-3), D("-1.50"), D("0.50"))
    book.fill(YES, D(3), D("0.45"))  # buys the short back: +0.15
    assert (t.position, t.cost, t.realized) == (0, 0, D("0.65"))


def test_reversed_buy_takes_its_own_cost_back_and_realizes_nothing() -> None:
    book = PnlBook()
    book.fill(YES, D(10), D("0.40"))
    book.fill(YES, D(10), D("0.60"))
    book.reverse(YES, D(10), D("0.40"))
    t = book.tokens[YES]
    assert (t.position, t.cost, t.realized) == (D(10), D("6.00"), 0)
    book.reverse(YES, D(10), D("0.60"))
    assert (t.position, t.cost, t.realized) == (0, 0, 0)


def test_reversed_sell_restores_shares_at_average_and_takes_back_its_realized() -> None:
    book = PnlBook()
    book.fill(YES, D(10), D("0.40"))
    book.fill(YES, D(-4), D("0.50"))
    t = book.tokens[YES]
    assert t.realized == D("0.40")
    book.reverse(YES, D(-4), D("0.50"))
    assert (t.position, t.cost, t.realized) == (D(10), D("4.00"), 0)


def test_position_adjustments_book_no_pnl_at_their_price() -> None:
    book = PnlBook()
    book.fill(YES, D(10), D("0.40"))
    book.adjust(YES, D(-4), D("0.99"))  # removed at the average cost, whatever the price
    t = book.tokens[YES]
    assert (t.position, t.cost, t.realized) == (D(6), D("2.40"), 0)
    book.mark(YES, D("0.50"))
    book.adjust(YES, D(4), D("0.50"))  # added at the mark: no PnL at that instant
    assert t.unrealized == D("0.60")


def test_utc_day_roll_resets_the_baseline_once_per_day() -> None:
    book = PnlBook()
    assert book.daily() is None
    assert book.roll(DAY + 10)
    assert (book.day, book.baseline, book.daily()) == (utc_day(DAY), 0, 0)
    book.fill(YES, D(10), D("0.50"))
    book.mark(YES, D("0.40"))
    assert not book.roll(DAY + DAY_SECONDS - 1)  # same day
    assert book.daily() == D("-1.00")
    assert not book.roll(DAY - 5)  # a wall clock stepping back never re-opens a day
    assert book.roll(DAY + DAY_SECONDS)  # midnight: the loss so far is the new baseline
    assert (book.baseline, book.daily(), book.total()) == (D("-1.00"), 0, D("-1.00"))


# --- a Hypothesis property: whatever the sequence, realized + unrealized = cash + position * mark -----

PRICE = st.integers(1, 99).map(lambda c: Decimal(c) / 100)
QTY = st.integers(1, 500).map(lambda c: Decimal(c) / 10)
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("buy"), QTY, PRICE),
        st.tuples(st.just("sell"), QTY, PRICE),
        st.tuples(st.just("reverse"), st.integers(0, 1000), st.just(D(0))),
        st.tuples(st.just("mark"), st.just(D(0)), PRICE),
        st.tuples(st.just("adjust"), st.integers(-50, 50).map(Decimal), PRICE),
    ),
    max_size=40,
)


@given(OPS, PRICE)
def test_total_pnl_is_cash_plus_marked_position(
    ops: list[tuple[str, Decimal, Decimal]], mark: Decimal
) -> None:
    book = PnlBook()
    standing: list[tuple[Decimal, Decimal]] = []  # fills not reversed: (signed qty, price)
    adjusted, adjusted_value = D(0), D(0)  # shares moved by adjustments, and the value booked for them
    for kind, qty, price in ops:
        if kind in ("buy", "sell"):
            signed = qty if kind == "buy" else -qty
            book.fill(YES, signed, price)
            standing.append((signed, price))
        elif kind == "reverse" and standing:
            signed, price = standing.pop(int(qty) % len(standing))
            book.reverse(YES, signed, price)
        elif kind == "mark":
            book.mark(YES, price)
        elif kind == "adjust" and qty != 0:
            t = book.token(YES)
            if qty > 0 or t.position <= 0:
                adjusted_value -= qty * price
            else:  # removed at the average cost
                part = (t.cost * -qty / t.position).quantize(QUANTUM)
                adjusted_value += t.cost if -qty >= t.position else part
            adjusted += qty
            book.adjust(YES, qty, price)
    book.mark(YES, mark)
    t = book.token(YES)
    cash = -sum((q * p for q, p in standing), start=D(0))
    assert t.position == sum((q for q, _ in standing), start=D(0)) + adjusted
    # Exact (adjustments count as bought or sold at the value booked for them).
    assert book.total() == cash + adjusted_value + t.position * mark
    if t.position == 0:
        assert t.cost == 0
        assert t.unrealized == 0


@given(st.lists(st.tuples(QTY, PRICE), min_size=1, max_size=20), PRICE)
def test_reversing_every_fill_returns_total_pnl_to_zero(
    fills: list[tuple[Decimal, Decimal]], mark: Decimal
) -> None:
    book = PnlBook()
    signed = [(q if i % 3 else -q, p) for i, (q, p) in enumerate(fills)]
    for q, p in signed:
        book.fill(YES, q, p)
    book.mark(YES, mark)
    for q, p in reversed(signed):
        book.reverse(YES, q, p)
    t = book.token(YES)
    assert (t.position, t.cost, book.total()) == (0, 0, 0)


# --- the core: fills are booked, DAILY_LOSS latches, clears at the next UTC day ---------------------


def buy_fill(core: Core, n: int, amount: str, price: str, status: S = S.MATCHED, now: float = 2.0) -> None:
    core.on_trade_event(maker_trade(f"t{n}", [(oid(n), amount)], status, price=price), now)


def test_core_books_fills_at_the_order_price_and_reverses_failed_ones() -> None:
    core = ready_core()
    live_buy(core, 1, size="10", price="0.50")
    buy_fill(core, 1, "4", "0.50")
    t = core.pnl.tokens[YES]
    assert (t.position, t.cost) == (D(4), D("2.00"))
    core.on_trade_event(maker_trade("t1", [(oid(1), "4")], S.FAILED, price="0.50"), 3.0)
    assert (t.position, t.cost, t.realized) == (0, 0, 0)
    core.on_trade_event(maker_trade("t1", [(oid(1), "4")], S.FAILED, price="0.50"), 3.0)  # once only
    assert t.position == 0 == core.token_exposure(YES).held


def test_sell_fills_realize_against_the_average_cost() -> None:
    core = ready_core()
    live_buy(core, 1, size="10", price="0.40")
    buy_fill(core, 1, "10", "0.40", S.CONFIRMED)
    assert core.place(oid(2), YES, Side.SELL, D("0.55"), D(6), 3.0).ok
    core.on_placement_answer(PlacementAnswer(oid(2), True, oid(2), "live"), 3.0)
    core.on_trade_event(maker_trade("t2", [(oid(2), "6")], price="0.55", side=Side.SELL), 4.0)
    assert core.pnl.realized() == D("0.90")
    assert core.pnl.tokens[YES].position == D(4) == core.token_exposure(YES).held


def test_daily_loss_latches_cancels_and_blocks_then_clears_at_utc_midnight() -> None:
    core = ready_core(LIMITED)
    out = core.mark({}, 1.0, DAY + 3600)  # first wall time: the day's baseline
    assert core.pnl.day == utc_day(DAY)
    assert out.facts == []
    live_buy(core, 1, size="10", price="0.60")
    buy_fill(core, 1, "10", "0.60", S.CONFIRMED)
    live_buy(core, 2, size="5", price="0.40", token=NO)
    out = core.mark({YES: D("0.45")}, 5.0, DAY + 7200)  # -1.50: under the limit
    assert out.facts == []
    assert core.can_quote(YES, 5.0).allowed
    out = core.mark({YES: D("0.39")}, 6.0, DAY + 7201)  # -2.10 <= -2
    assert kinds(out)[0] == "HaltRaised"
    raised = out.facts[0]
    assert isinstance(raised, HaltRaised)
    assert raised.scope == Scope.global_()
    assert raised.reason is HaltReason.DAILY_LOSS
    assert "daily PnL -2.1000" in raised.detail
    assert {c.order_id for c in out.commands if isinstance(c, CancelOrder)} == {oid(1), oid(2)}
    assert core.order(oid(2)).state is OrderState.CANCEL_REQUESTED  # type: ignore[union-attr]
    assert core.can_quote(NO, 6.0).reasons == (HaltReason.DAILY_LOSS,)
    refused = core.place(oid(3), NO, Side.BUY, D("0.40"), D(1), 6.0)
    assert not refused.ok
    assert "DAILY_LOSS" in (refused.refused or "")
    # Latched: a recovery within the day does not clear it, and it is raised once.
    assert core.mark({YES: D("0.70")}, 7.0, DAY + 9000).facts == []
    assert not core.can_quote(YES, 7.0).allowed
    with pytest.raises(ValueError, match="core only"):
        core.clear_halt(HaltReason.DAILY_LOSS, Scope.global_(), 7.0)
    with pytest.raises(ValueError, match="core only"):
        core.set_halt(HaltReason.DAILY_LOSS, Scope.global_(), 7.0)
    out = core.mark({YES: D("0.39")}, 8.0, DAY + DAY_SECONDS - 1)  # 23:59:59, still the same day
    assert out.facts == []
    assert not core.can_quote(YES, 8.0).allowed
    out = core.mark({YES: D("0.39")}, 9.0, DAY + DAY_SECONDS)  # 00:00:00 UTC: a new day, a new baseline
    assert out.facts == [HaltCleared(HaltReason.DAILY_LOSS, Scope.global_())]
    assert core.pnl.daily() == 0
    assert core.pnl.baseline == D("-2.10")
    assert core.can_quote(YES, 9.0).allowed


def test_a_fill_between_marks_can_raise_daily_loss_at_once() -> None:
    core = ready_core(LIMITED)
    core.mark({YES: D("0.20")}, 1.0, DAY)
    live_buy(core, 1, size="10", price="0.50")
    out = core.on_trade_event(maker_trade("t1", [(oid(1), "10")], price="0.50"), 2.0)  # -3.00 at 0.20
    assert any(isinstance(f, HaltRaised) and f.reason is HaltReason.DAILY_LOSS for f in out.facts)
    assert [c for c in out.commands if isinstance(c, CancelOrder)]  # the filled order's rest is cancelled


def test_no_limit_no_wall_time_no_halt() -> None:
    core = ready_core()  # daily_loss_limit None
    core.mark({YES: D("0.01")}, 1.0, DAY)
    live_buy(core, 1, size="10", price="0.90")
    buy_fill(core, 1, "10", "0.90")
    assert core.pnl.daily() == D("-8.90")
    assert core.can_quote(YES, 2.0).allowed
    limited = ready_core(LIMITED)  # limit set, but no wall time yet: no day, no baseline
    live_buy(limited, 1, size="10", price="0.90")
    buy_fill(limited, 1, "10", "0.90")
    assert limited.pnl.daily() is None
    assert limited.can_quote(YES, 2.0).allowed


def test_positions_api_adjustment_is_booked_at_the_mark() -> None:
    core = ready_core()
    core.mark({YES: D("0.30")}, 1.0, DAY)
    snap = PositionsSnapshot(100.0, (PositionRow(YES, D(5), D("0.50")),))
    core.on_positions(snap, 100.0)
    t = core.pnl.tokens[YES]
    assert core.token_exposure(YES).held == D(5) == t.position
    assert (t.cost, t.unrealized) == (D("1.50"), 0)


def test_restart_within_the_day_keeps_the_loss_and_the_halt() -> None:
    core = ready_core(LIMITED)
    core.mark({}, 1.0, DAY + 60)
    live_buy(core, 1, size="10", price="0.60")
    buy_fill(core, 1, "10", "0.60")
    core.mark({YES: D("0.50")}, 3.0, DAY + 120)  # -1.00
    data = json.loads(json.dumps(snapshot(core)))
    again, _ = restore(LIMITED, [core.markets[m] for m in core.markets], data, 50.0)
    assert again.pnl == core.pnl
    assert again.pnl.daily() == D("-1.00")
    # The restarted process sees a lower bid the same day: the loss since midnight counts, not since restart.
    out = again.mark({YES: D("0.39")}, 51.0, DAY + 500)
    assert any(isinstance(f, HaltRaised) and f.reason is HaltReason.DAILY_LOSS for f in out.facts)
    data = json.loads(json.dumps(snapshot(again)))
    third, _ = restore(LIMITED, [core.markets[m] for m in core.markets], data, 60.0)
    assert not third.can_quote(YES, 60.0).allowed  # latched through a second restart
    assert third.mark({}, 61.0, DAY + 600).facts == []
    out = third.mark({}, 62.0, DAY + DAY_SECONDS + 5)
    assert HaltCleared(HaltReason.DAILY_LOSS, Scope.global_()) in out.facts


def test_restore_of_a_snapshot_without_pnl_starts_an_empty_book() -> None:
    core = ready_core()
    data = json.loads(json.dumps(snapshot(core)))
    del data["pnl"]
    again, _ = restore(CONFIG, [core.markets[m] for m in core.markets], data, 5.0)
    assert again.pnl == PnlBook()


def test_every_path_that_moves_held_is_booked() -> None:
    """Order-event fills, trades, a SELL FAILED after CONFIRMED, a REST trade of an order lost in a crash,
    positions-API raise and lower, restore: after each, the book's position is exactly ``held``."""
    core = ready_core()

    def synced() -> None:
        for token in (YES, NO):
            book = core.pnl.tokens.get(token)
            assert (book.position if book else 0) == core.token_exposure(token).held

    live_buy(core, 1, size="10", price="0.40")
    core.on_order_event(order_event(oid(1), "4", size="10", price="0.40"), 2.0)  # size_matched only
    synced()
    buy_fill(core, 1, "10", "0.40", S.CONFIRMED)  # the trade brings matched to 10
    synced()
    assert core.place(oid(2), YES, Side.SELL, D("0.60"), D(5), 3.0).ok
    core.on_placement_answer(PlacementAnswer(oid(2), True, oid(2), "live"), 3.0)
    sell = maker_trade("t2", [(oid(2), "5")], S.CONFIRMED, price="0.60", side=Side.SELL)
    core.on_trade_event(sell, 4.0)
    synced()
    assert core.pnl.realized() == D("1.00")
    core.on_trade_event(attrs.evolve(sell, status=S.FAILED), 5.0)  # FAILED after CONFIRMED: shares back
    synced()
    assert core.pnl.realized() == 0
    lost = maker_trade("t9", [(oid(9), "3")], S.CONFIRMED, price="0.30", token=NO)  # placed, then crash
    rid, _ = core.begin_reconciliation(10.0)
    core.on_reconciliation(rid, OrdersSnapshot(10.0, (), (lost,)), None, 10.0)
    synced()
    assert core.pnl.tokens[NO].cost == D("0.90")
    later = 500.0  # past the protection window
    core.mark({YES: D("0.35")}, later, DAY)
    core.on_positions(PositionsSnapshot(later, (PositionRow(YES, D(12)), PositionRow(NO, D(3)))), later)
    synced()  # raised by 2 YES at the mark: no PnL
    assert core.token_exposure(YES).held == D(12)
    for n, side, size, price in ((1, Side.BUY, "10", "0.40"), (2, Side.SELL, "5", "0.60")):
        cancelled = order_event(oid(n), size, "CANCELED", size=size, price=price, side=side)
        core.on_order_event(cancelled, later)  # no open order may explain the API's figure
    lower = PositionsSnapshot(later + 1, (PositionRow(YES, D(7)), PositionRow(NO, D(3))))
    core.on_positions(lower, later + 1)
    assert core.token_exposure(YES).held == D(7)
    synced()  # lowered by 5 at the average cost
    data = json.loads(json.dumps(snapshot(core)))
    core, _ = restore(CONFIG, [core.markets[m] for m in core.markets], data, later + 2)
    synced()
