"""Worked examples for the local L2 book (aqbot.core.book)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from aqbot.core.book import (
    BookSnapshot,
    BookStatus,
    InvalidBookUpdate,
    Level,
    LevelChange,
    OrderBook,
    TickSizeChange,
    build_book,
)
from aqbot.core.book_view import effective_top
from aqbot.core.types import Side
from aqbot.errors import WireError

TOK = "111"


def lv(price: str, size: str) -> Level:
    return Level(D(price), D(size))


def snap(bids: list[tuple[str, str]], asks: list[tuple[str, str]], token: str = TOK) -> BookSnapshot:
    return BookSnapshot(token, tuple(lv(p, s) for p, s in bids), tuple(lv(p, s) for p, s in asks))


def chg(side: Side, price: str, size: str, bb: str | None = None, ba: str | None = None) -> LevelChange:
    return LevelChange(
        TOK, side, D(price), D(size), None if bb is None else D(bb), None if ba is None else D(ba)
    )


@pytest.fixture
def book() -> OrderBook:
    # Best-last, as the exchange sends it.
    return build_book(
        snap([("0.45", "30"), ("0.47", "20"), ("0.48", "10")], [("0.55", "5"), ("0.52", "40")]), 1.0
    )


def test_snapshot_order_does_not_matter(book: OrderBook) -> None:
    best_first = build_book(
        snap([("0.48", "10"), ("0.45", "30"), ("0.47", "20")], [("0.52", "40"), ("0.55", "5")]), 1.0
    )
    assert best_first.same_state(book)
    assert book.best_bid() == lv("0.48", "10")
    assert book.best_ask() == lv("0.52", "40")
    assert book.levels(Side.BUY) == [lv("0.48", "10"), lv("0.47", "20"), lv("0.45", "30")]
    assert book.levels(Side.SELL, 1) == [lv("0.52", "40")]


def test_snapshot_skips_zero_levels_and_last_duplicate_wins() -> None:
    b = build_book(snap([("0.40", "0"), ("0.30", "5"), ("0.30", "7")], []), 0.0)
    assert b.levels(Side.BUY) == [lv("0.30", "7")]
    assert b.best_ask() is None
    assert b.mid() is None


def test_snapshot_is_a_full_replace(book: OrderBook) -> None:
    book.apply_snapshot(snap([("0.10", "1")], [("0.90", "2")]), 2.0)
    assert book.levels(Side.BUY) == [lv("0.10", "1")]
    assert book.levels(Side.SELL) == [lv("0.90", "2")]
    assert book.last_update == 2.0


def test_price_change_sets_absolute_size_and_zero_removes(book: OrderBook) -> None:
    assert book.apply_change(chg(Side.BUY, "0.47", "25", "0.48", "0.52"), 2.0) is BookStatus.OK
    assert book.levels(Side.BUY)[1] == lv("0.47", "25")  # 25, not 20 + 25
    assert book.apply_change(chg(Side.BUY, "0.48", "0", "0.47", "0.52"), 3.0) is BookStatus.OK
    assert book.best_bid() == lv("0.47", "25")  # best recomputed after removing the best level
    assert book.apply_change(chg(Side.SELL, "0.50", "3", "0.47", "0.50"), 4.0) is BookStatus.OK
    assert book.best_ask() == lv("0.50", "3")
    assert book.last_update == 4.0
    # Removing a level that is not there is a no-op, not an error.
    assert book.apply_change(chg(Side.SELL, "0.60", "0", "0.47", "0.50"), 5.0) is BookStatus.OK


def test_mismatch_returns_resync_and_invalidates_until_snapshot(book: OrderBook) -> None:
    # The exchange says the best bid is 0.49, the local book says 0.48: a missed message.
    assert book.apply_change(chg(Side.BUY, "0.45", "31", "0.49", "0.52"), 2.0) is BookStatus.RESYNC
    assert not book.valid
    assert "best bid mismatch" in book.resync_reason
    assert book.best_bid() is None
    assert book.best_ask() is None
    assert book.mid() is None
    assert book.levels(Side.BUY) == []
    # Every further change is refused until a snapshot arrives.
    assert book.apply_change(chg(Side.BUY, "0.45", "1", "0.45", "1"), 3.0) is BookStatus.RESYNC
    book.apply_snapshot(snap([("0.49", "1")], [("0.52", "1")]), 4.0)
    assert book.valid
    assert book.resync_reason == ""
    assert book.best_bid() == lv("0.49", "1")


def test_ask_mismatch_detected(book: OrderBook) -> None:
    assert book.apply_change(chg(Side.SELL, "0.55", "6", "0.48", "0.51"), 2.0) is BookStatus.RESYNC
    assert "best ask mismatch" in book.resync_reason


def test_empty_side_conventions_zero_bid_one_ask() -> None:
    b = build_book(snap([], []), 0.0)
    assert (
        b.apply_change(LevelChange(TOK, Side.BUY, D("0.5"), D("200"), D("0.5"), D("1")), 1.0) is BookStatus.OK
    )
    assert b.apply_change(LevelChange(TOK, Side.BUY, D("0.5"), D("0"), D("0"), D("1")), 1.0) is BookStatus.OK
    assert (
        b.apply_change(LevelChange(TOK, Side.SELL, D("0.5"), D("9"), D("0"), D("0.50")), 1.0) is BookStatus.OK
    )
    # A "1" best ask while the local book has an ask is a mismatch.
    assert (
        b.apply_change(LevelChange(TOK, Side.BUY, D("0.4"), D("1"), D("0.4"), D("1")), 1.0)
        is BookStatus.RESYNC
    )


def test_change_without_best_prices_is_not_checked(book: OrderBook) -> None:
    assert book.apply_change(chg(Side.BUY, "0.49", "1"), 2.0) is BookStatus.OK
    assert book.best_bid() == lv("0.49", "1")


def test_apply_changes_verify_each_or_last(book: OrderBook) -> None:
    # Two entries for one token; the first entry's best prices describe the state after the whole message.
    entries = [chg(Side.BUY, "0.49", "1", "0.50", "0.52"), chg(Side.BUY, "0.50", "2", "0.50", "0.52")]
    other = build_book(book.to_snapshot(), 1.0)
    assert other.apply_changes(entries, 2.0, verify_each=False) is BookStatus.OK
    assert other.best_bid() == lv("0.50", "2")
    assert book.apply_changes(entries, 2.0) is BookStatus.RESYNC
    assert not book.valid


def test_tick_size_change_drops_book_until_snapshot(book: OrderBook) -> None:
    assert book.apply(TickSizeChange(TOK, D("0.001")), 2.0) is BookStatus.RESYNC
    assert not book.valid
    assert book.tick_size == D("0.001")
    assert book.levels(Side.BUY) == []
    assert book.best_bid() is None
    assert book.apply(chg(Side.BUY, "0.481", "5"), 3.0) is BookStatus.RESYNC
    assert book.apply(snap([("0.481", "5")], [("0.52", "1")]), 4.0) is BookStatus.OK
    assert book.best_bid() == lv("0.481", "5")


def test_snapshot_records_tick() -> None:
    b = build_book(BookSnapshot(TOK, (), (), tick_size=D("0.01")), 0.0)
    assert b.tick_size == D("0.01")


def test_staleness() -> None:
    b = OrderBook(TOK)
    assert b.is_stale(0.0, 10.0)  # never updated
    b.apply_snapshot(snap([("0.4", "1")], []), 100.0)
    assert not b.is_stale(110.0, 10.0)
    assert b.is_stale(110.5, 10.0)
    b.apply_change(chg(Side.BUY, "0.4", "2"), 110.0)
    assert not b.is_stale(115.0, 10.0)
    b.invalidate("reconnect")
    assert b.is_stale(115.0, 10.0)


def test_mid_microprice_and_depth(book: OrderBook) -> None:
    assert book.mid() == D("0.50")
    # (0.48 * 40 + 0.52 * 10) / 50: leans toward the thin bid.
    assert book.microprice() == D("0.488")
    assert book.size_at_or_better(Side.BUY, D("0.47")) == D(30)
    assert book.size_at_or_better(Side.SELL, D("0.55")) == D(45)
    assert book.price_for_depth(Side.BUY, D(25)) == D("0.47")
    assert book.price_for_depth(Side.BUY, D(61)) is None
    # Cutoff mid for 25 shares: bid side reaches 25 at 0.47, ask side at 0.52.
    assert book.cutoff_mid(D(25)) == D("0.495")
    assert book.cutoff_mid(D(1000)) is None
    assert not book.is_crossed()


@pytest.mark.parametrize(
    "bad",
    [
        chg(Side.BUY, "0", "1"),
        chg(Side.BUY, "1", "1"),
        chg(Side.BUY, "1.5", "1"),
        chg(Side.SELL, "0.5", "-1"),
        LevelChange(TOK, Side.SELL, D("NaN"), D(1)),
        LevelChange(TOK, Side.SELL, D("0.5"), D("Infinity")),
    ],
)
def test_malformed_change_raises_and_invalidates(book: OrderBook, bad: LevelChange) -> None:
    with pytest.raises(InvalidBookUpdate) as exc:
        book.apply_change(bad, 2.0)
    assert isinstance(exc.value, WireError)
    assert not book.valid


def test_malformed_snapshot_leaves_book_invalid(book: OrderBook) -> None:
    with pytest.raises(InvalidBookUpdate):
        book.apply_snapshot(snap([("0.4", "1"), ("0.3", "-2")], []), 2.0)
    assert not book.valid
    with pytest.raises(InvalidBookUpdate):
        book.apply_snapshot(BookSnapshot(TOK, (), (), tick_size=D(0)), 2.0)
    with pytest.raises(InvalidBookUpdate):
        book.apply_tick_size_change(TickSizeChange(TOK, D(1)), 2.0)


def test_input_for_another_token_is_refused(book: OrderBook) -> None:
    with pytest.raises(InvalidBookUpdate):
        book.apply_change(LevelChange("222", Side.BUY, D("0.4"), D(1)), 2.0)
    with pytest.raises(InvalidBookUpdate):
        book.apply_snapshot(snap([], [], token="222"), 2.0)
    assert book.valid  # a routing bug is not the book's fault


def test_crossed_snapshot_is_flagged() -> None:
    b = build_book(snap([("0.55", "1")], [("0.50", "1")]), 0.0)
    assert b.is_crossed()


def test_effective_top_mirrors_complement() -> None:
    yes = build_book(snap([("0.45", "10")], [("0.55", "10")]), 0.0)
    # NO bids at 0.47 = YES asks at 0.53 (better than 0.55); NO asks at 0.55 = YES bids at 0.45 (same price).
    no = build_book(snap([("0.47", "7")], [("0.55", "12")], token="222"), 0.0)
    top = effective_top(yes, no)
    assert top is not None
    assert top.bid == lv("0.45", "12")  # same price in both books: mirrored liquidity, not added
    assert top.ask == lv("0.53", "7")
    assert top.mid == D("0.49")
    assert not top.crossed
    no.invalidate("test")
    assert effective_top(yes, no) is None


def test_effective_top_detects_cross_through_complement() -> None:
    yes = build_book(snap([("0.50", "10")], [("0.60", "10")]), 0.0)
    no = build_book(snap([("0.52", "1")], [], token="222"), 0.0)  # = YES ask at 0.48 < YES bid 0.50
    top = effective_top(yes, no)
    assert top is not None
    assert top.crossed


def test_repr_mentions_state(book: OrderBook) -> None:
    assert "valid=True" in repr(book)


def test_touch_keeps_a_quiet_valid_book_fresh() -> None:
    b = build_book(snap([("0.4", "1")], []), 0.0)
    b.touch(25.0)
    assert not b.is_stale(30.0, 10.0)
    b.invalidate("gap")
    b.touch(40.0)  # a heartbeat never revives an invalid book
    assert b.is_stale(40.0, 10.0)


def test_public_names_are_pinned() -> None:
    import aqbot.core.book as mod

    assert sorted(mod.__all__) == [
        "BookEvent",
        "BookSnapshot",
        "BookStatus",
        "InvalidBookUpdate",
        "Level",
        "LevelChange",
        "OrderBook",
        "TickSizeChange",
        "build_book",
    ]
    assert all(hasattr(mod, name) for name in mod.__all__)
    import aqbot.core.book_view as view

    assert sorted(view.__all__) == ["Top", "effective_top"]
    assert all(hasattr(view, name) for name in view.__all__)
