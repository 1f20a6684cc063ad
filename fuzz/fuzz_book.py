"""Fuzz target: the local L2 book (aqbot.core.book) under arbitrary market-channel message streams.

Invariant: whatever the message stream (valid or not), the book

* raises nothing but ``InvalidBookUpdate`` (and then is invalid),
* equals a reference model (plain dicts) after every message, whether the ``price_change`` entries are
  fed as whole messages (``apply_changes``) or split one entry at a time (``apply``),
* and, when valid, equals a book rebuilt from its own final state.

The bytes are decoded by a tiny parser (:func:`decode`), so a seed corpus can be written by hand. With
atheris installed, fuzz a scratch copy (libFuzzer writes new inputs into its first corpus directory):
``cp -r fuzz/corpus/book /tmp/book && python fuzz/fuzz_book.py /tmp/book -max_total_time=60``.
``tests/core/test_book_fuzz_corpus.py`` replays the committed corpus in CI.
"""

from __future__ import annotations

import sys
from decimal import Decimal

if __name__ == "__main__":  # pragma: no cover - only under atheris
    import atheris

    with atheris.instrument_imports():
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
        from aqbot.core.types import Side
else:
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
    from aqbot.core.types import Side

TOKEN = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
_SPECIAL_PRICES = [Decimal("NaN"), Decimal("Infinity"), Decimal("-0.01"), Decimal("0.995")]
_SPECIAL_PRICES += [Decimal("0.0025"), Decimal("1.00"), Decimal("0.500"), Decimal(0)]
_SPECIAL_SIZES = [Decimal("NaN"), Decimal(-1), Decimal("Infinity"), Decimal("-0"), Decimal("0.01")]
_TICKS = [Decimal("0.01"), Decimal("0.001"), Decimal("0.1"), Decimal("0.0001"), Decimal("0.005")]
_TICKS += [Decimal("0.0025"), Decimal(0), Decimal(1)]

Message = BookSnapshot | TickSizeChange | tuple[LevelChange, ...]


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def more(self) -> bool:
        return self.pos < len(self.data)

    def byte(self) -> int:
        b = self.data[self.pos] if self.pos < len(self.data) else 0
        self.pos += 1
        return b

    def price(self) -> Decimal:
        b = self.byte()
        if b < 200:
            return Decimal(b % 100) / 100
        if b < 248:
            return Decimal("0.45") + Decimal(b - 200) / 1000
        return _SPECIAL_PRICES[b - 248]

    def size(self) -> Decimal:
        v = self.byte() * 256 + self.byte()
        if v >= 65500:
            return _SPECIAL_SIZES[(v - 65500) % len(_SPECIAL_SIZES)]
        if v % 5 == 0:
            return Decimal(0)
        return Decimal(v % 3000) / 10


def decode(data: bytes) -> list[tuple[Message, int]]:
    """Bytes -> messages, each with a byte that picks the best-price check mode of its entries.

    Op byte ``% 4``: 0 snapshot (``n_bids``, ``n_asks`` then levels), 1-2 a ``price_change`` of 1-4 entries
    (side, price, size each), 3 a tick change (``% 8`` over a table that includes invalid ticks).
    """
    r = _Reader(data)
    out: list[tuple[Message, int]] = []
    while r.more():
        op = r.byte()
        mode = op >> 2
        kind = op % 4
        if kind == 0:
            nb, na = r.byte() % 8, r.byte() % 8
            bids = tuple(Level(r.price(), r.size()) for _ in range(nb))
            asks = tuple(Level(r.price(), r.size()) for _ in range(na))
            out.append((BookSnapshot(TOKEN, bids, asks), mode))
        elif kind in (1, 2):
            n = 1 + r.byte() % 4
            entries = []
            for _ in range(n):
                side = Side.BUY if r.byte() % 2 else Side.SELL
                entries.append(LevelChange(TOKEN, side, r.price(), r.size()))
            out.append((tuple(entries), mode))
        else:
            out.append((TickSizeChange(TOKEN, _TICKS[r.byte() % len(_TICKS)]), mode))
    return out


class _Model:
    """The reference: two dicts and a validity flag, written as plainly as possible."""

    def __init__(self) -> None:
        self.valid = False
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}

    @staticmethod
    def ok_price(p: Decimal) -> bool:
        return p.is_finite() and 0 < p < 1

    @staticmethod
    def ok_size(s: Decimal) -> bool:
        return s.is_finite() and s >= 0

    def drop(self) -> None:
        self.valid = False
        self.bids, self.asks = {}, {}

    def best(self) -> tuple[Decimal, Decimal]:
        return (max(self.bids, default=Decimal(0)), min(self.asks, default=Decimal(1)))

    def snapshot(self, snap: BookSnapshot) -> None:
        levels = (*snap.bids, *snap.asks)
        if not all(self.ok_price(lv.price) and self.ok_size(lv.size) for lv in levels):
            self.drop()
            return
        # A repeated price keeps the last size seen (a last size of 0 removes it).
        bids = {lv.price: lv.size for lv in snap.bids}
        asks = {lv.price: lv.size for lv in snap.asks}
        self.bids = {p: s for p, s in bids.items() if s != 0}
        self.asks = {p: s for p, s in asks.items() if s != 0}
        self.valid = True

    def change(self, c: LevelChange) -> None:
        if not (self.ok_price(c.price) and self.ok_size(c.size)):
            self.drop()
            return
        if not self.valid:
            return
        side = self.bids if c.side is Side.BUY else self.asks
        if c.size == 0:
            side.pop(c.price, None)
        else:
            side[c.price] = c.size
        bb, ba = self.best()
        if (c.best_bid is not None and c.best_bid != bb) or (c.best_ask is not None and c.best_ask != ba):
            self.drop()


def _with_checks(entry: LevelChange, mode: int, model: _Model) -> LevelChange:
    """Fill in best_bid/best_ask as the exchange would (mode 1), wrongly (mode 2) or not at all."""
    if mode % 3 == 0 or not model.valid:
        return entry
    probe = _Model()
    probe.valid, probe.bids, probe.asks = True, dict(model.bids), dict(model.asks)
    if probe.ok_price(entry.price) and probe.ok_size(entry.size):
        probe.change(entry)
    bb, ba = probe.best()
    if mode % 3 == 2:
        bb += Decimal("0.001")
    return LevelChange(entry.token, entry.side, entry.price, entry.size, bb, ba)


def _same(book: OrderBook, model: _Model) -> bool:
    if not model.valid:
        return not book.valid and book.levels(Side.BUY) == [] and book.levels(Side.SELL) == []
    bids = tuple(Level(p, s) for p, s in model.bids.items())
    ref = build_book(BookSnapshot(TOKEN, bids, tuple(Level(p, s) for p, s in model.asks.items())), 0.0)
    return book.same_state(ref) and book.best_bid() == ref.best_bid() and book.best_ask() == ref.best_ask()


def test_one_input(data: bytes) -> None:
    whole, split, model = OrderBook(TOKEN), OrderBook(TOKEN), _Model()
    for message, mode in decode(data):
        if isinstance(message, tuple):
            entries = []
            for raw in message:
                entry = _with_checks(raw, mode, model)
                entries.append(entry)
                model.change(entry)
                try:
                    split.apply(entry, 1.0)
                except InvalidBookUpdate:
                    assert not split.valid
            try:
                status = whole.apply_changes(entries, 1.0)
                assert (status is BookStatus.OK) == whole.valid
            except InvalidBookUpdate:
                assert not whole.valid
        else:
            if isinstance(message, BookSnapshot):
                model.snapshot(message)
            else:
                model.drop()
            for book in (whole, split):
                try:
                    book.apply(message, 1.0)
                except InvalidBookUpdate:
                    assert not book.valid
        assert _same(whole, model), (whole, model.bids, model.asks, model.valid)
        assert _same(split, model), (split, model.bids, model.asks, model.valid)
    if whole.valid:
        assert build_book(whole.to_snapshot(), 0.0).same_state(whole)


if __name__ == "__main__":  # pragma: no cover
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
