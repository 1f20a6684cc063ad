"""A token's top of book seen through both books of its binary market (sans-IO).

YES and NO are complements: a BUY of one at ``q`` is a SELL of the other at ``1 - q``. The strategy quotes
against this combined view so that a quote never crosses either book.
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from aqbot.core.book import Level, OrderBook

__all__ = ["Top", "effective_top"]

_ONE = Decimal(1)
_TWO = Decimal(2)


@attrs.frozen
class Top:
    """An (effective) top of book: best bid and best ask levels, either may be missing."""

    bid: Level | None
    ask: Level | None

    @property
    def mid(self) -> Decimal | None:
        if self.bid is None or self.ask is None:
            return None
        return (self.bid.price + self.ask.price) / _TWO

    @property
    def microprice(self) -> Decimal | None:
        """Size-weighted mid of the two levels (see :meth:`OrderBook.microprice`)."""
        if self.bid is None or self.ask is None:
            return None
        return (self.bid.price * self.ask.size + self.ask.price * self.bid.size) / (
            self.bid.size + self.ask.size
        )

    @property
    def crossed(self) -> bool:
        return self.bid is not None and self.ask is not None and self.bid.price >= self.ask.price


def _better(a: Level | None, b: Level | None, *, higher: bool) -> Level | None:
    if a is None or b is None:
        return a or b
    if a.price == b.price:
        return Level(a.price, max(a.size, b.size))
    return a if (a.price > b.price) == higher else b


def effective_top(book: OrderBook, complement: OrderBook) -> Top | None:
    """The top of ``book``'s token as seen through both books of its market.

    A BUY of the complement at ``q`` is a SELL of this token at ``1 - q`` (and a SELL of the complement a
    BUY), so the effective best bid is the better of this book's best bid and ``1 - complement best ask``,
    and the effective best ask the better of this book's best ask and ``1 - complement best bid``. On
    Polymarket the two books mirror each other (one order shows in both), so sizes at the same price are
    *not* added: the larger one is kept. ``None`` unless both books are valid.
    """
    if not (book.valid and complement.valid):
        return None
    c_bid, c_ask = complement.best_bid(), complement.best_ask()
    mirrored_bid = None if c_ask is None else Level(_ONE - c_ask.price, c_ask.size)
    mirrored_ask = None if c_bid is None else Level(_ONE - c_bid.price, c_bid.size)
    return Top(
        bid=_better(book.best_bid(), mirrored_bid, higher=True),
        ask=_better(book.best_ask(), mirrored_ask, higher=False),
    )
