"""Hypothesis properties of the local L2 book: incremental == rebuilt, uncrossed stays uncrossed."""

from __future__ import annotations

import random
from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from aqbot.core.book import BookSnapshot, BookStatus, Level, LevelChange, OrderBook, build_book
from aqbot.core.types import Side

TOK = "1"
CENT = D("0.01")

ticks = st.integers(min_value=1, max_value=99)
sizes = st.sampled_from([D(0), D(0), D("0.01"), D(1), D("5.5"), D(100), D("12345.67")])


def model_snapshot(bids: dict[D, D], asks: dict[D, D]) -> BookSnapshot:
    return BookSnapshot(
        TOK,
        tuple(Level(p, s) for p, s in bids.items() if s),
        tuple(Level(p, s) for p, s in asks.items() if s),
    )


def model_best(bids: dict[D, D], asks: dict[D, D]) -> tuple[D, D]:
    live_b = [p for p, s in bids.items() if s]
    live_a = [p for p, s in asks.items() if s]
    return (max(live_b) if live_b else D(0), min(live_a) if live_a else D(1))


levels = st.dictionaries(ticks.map(lambda t: t * CENT), sizes, max_size=12)
changes = st.lists(st.tuples(st.sampled_from([Side.BUY, Side.SELL]), ticks, sizes), max_size=60)


@given(bids=levels, asks=levels, stream=changes)
def test_stream_of_changes_equals_rebuild_from_final_state(
    bids: dict[D, D], asks: dict[D, D], stream: list[tuple[Side, int, D]]
) -> None:
    book = build_book(model_snapshot(bids, asks), 0.0)
    m_bids = {p: s for p, s in bids.items() if s}
    m_asks = {p: s for p, s in asks.items() if s}
    for i, (side, t, size) in enumerate(stream):
        price = t * CENT
        model = m_bids if side is Side.BUY else m_asks
        if size:
            model[price] = size
        else:
            model.pop(price, None)
        bb, ba = model_best(m_bids, m_asks)
        # The exchange's own best prices always agree with a correct local book: never a false resync.
        assert book.apply_change(LevelChange(TOK, side, price, size, bb, ba), float(i)) is BookStatus.OK
    rebuilt = build_book(model_snapshot(m_bids, m_asks), 0.0)
    assert book.same_state(rebuilt)
    assert book.best_bid() == rebuilt.best_bid()
    assert book.best_ask() == rebuilt.best_ask()
    assert book.levels(Side.BUY) == rebuilt.levels(Side.BUY)
    # Round trip through to_snapshot.
    assert build_book(book.to_snapshot(), 0.0).same_state(book)


@given(split=st.integers(2, 99), data=st.data())
def test_uncrossed_input_keeps_best_bid_below_best_ask(split: int, data: st.DataObject) -> None:
    bid_ticks = st.integers(1, split - 1)
    ask_ticks = st.integers(split, 99)
    bids = data.draw(st.dictionaries(bid_ticks, sizes, max_size=8))
    asks = data.draw(st.dictionaries(ask_ticks, sizes, max_size=8))
    book = OrderBook(TOK)
    book.apply_snapshot(
        BookSnapshot(
            TOK,
            tuple(Level(t * CENT, s) for t, s in bids.items()),
            tuple(Level(t * CENT, s) for t, s in asks.items()),
        ),
        0.0,
    )
    stream = data.draw(
        st.lists(
            st.one_of(
                st.tuples(st.just(Side.BUY), bid_ticks, sizes),
                st.tuples(st.just(Side.SELL), ask_ticks, sizes),
            ),
            max_size=40,
        )
    )
    for side, t, size in stream:
        book.apply_change(LevelChange(TOK, side, t * CENT, size), 1.0)
        bid, ask = book.best_bid(), book.best_ask()
        if bid is not None and ask is not None:
            assert bid.price < ask.price
            assert book.mid() is not None
            micro = book.microprice()
            assert micro is not None
            assert bid.price <= micro <= ask.price
        assert not book.is_crossed()


@given(bids=levels, asks=levels, rnd=st.randoms(use_true_random=False))
def test_snapshot_level_order_is_irrelevant(bids: dict[D, D], asks: dict[D, D], rnd: random.Random) -> None:
    snap = model_snapshot(bids, asks)
    b, a = list(snap.bids), list(snap.asks)
    rnd.shuffle(b)
    rnd.shuffle(a)
    shuffled = BookSnapshot(TOK, tuple(b), tuple(a))
    assert build_book(shuffled, 0.0).same_state(build_book(snap, 0.0))
