"""A local L2 order book per outcome token, fed by the market channel (sans-IO).

Inputs are small frozen types that the runtime builds from wire messages at the edge:

* :class:`BookSnapshot` (a ``book`` event or ``GET /book``): a full replace. Level order is *not* trusted
  (the exchange sends best-last, older docs say best-first); levels with size 0 are skipped and a repeated
  price keeps the last size seen.
* :class:`LevelChange` (one ``price_changes[]`` entry routed to this token): the *absolute* new size at one
  price level; size 0 removes the level. After applying it the book compares its own top of book with the
  entry's ``best_bid``/``best_ask`` (``"0"`` means "no bids", ``"1"`` means "no asks", as the exchange
  sends them). A mismatch invalidates the book and returns :attr:`BookStatus.RESYNC`: the caller must fetch
  ``GET /book`` or resubscribe. The book never silently continues after a mismatch.
* :class:`TickSizeChange`: the old levels may be off the new grid, so the book is dropped and stays
  invalid until the next snapshot (what NautilusTrader does).

Theory of operation: each side is a ``dict[price, size]`` plus a cached best price. Setting a level updates
the cache in O(1); removing the best level marks the cache dirty and the next read recomputes it with one
``max``/``min`` over the side (books hold tens of levels, and most ``price_change`` entries do not touch the
best level). Depth reads sort on demand.

Errors: malformed input (a price outside (0, 1), a negative or non-finite size, a non-positive tick) raises
:class:`InvalidBookUpdate`, a :class:`~aqbot.errors.WireError`, and leaves the book *invalid*. Nothing else
is raised on purpose.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from decimal import Decimal

import attrs

from aqbot.core.types import Side, TokenId
from aqbot.errors import WireError

__all__ = [
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

logger = logging.getLogger(__name__)

_ZERO = Decimal(0)
_ONE = Decimal(1)
_TWO = Decimal(2)


class InvalidBookUpdate(WireError):
    """A book input that cannot be applied (bad price, size or tick). The book is left invalid."""


class BookStatus(enum.Enum):
    """What applying one input did."""

    OK = "ok"
    """Applied; the book is valid and consistent with what the exchange said."""
    RESYNC = "resync"
    """The book is (now) invalid: fetch a fresh snapshot. Returned again for every input until then."""


@attrs.frozen
class Level:
    """One price level: ``size`` shares resting at ``price``."""

    price: Decimal
    size: Decimal


@attrs.frozen
class BookSnapshot:
    """A full book for one token. ``bids``/``asks`` may come in any order.

    ``tick_size`` is the tick the snapshot announces (``None`` when the source does not say).
    """

    token: TokenId
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    tick_size: Decimal | None = None


@attrs.frozen
class LevelChange:
    """One ``price_change`` entry for one token.

    ``side`` is the book side (BUY = bids, SELL = asks). ``best_bid``/``best_ask`` are what the exchange says
    the top of book is after this change (``0``: no bids; ``1``: no asks); ``None`` skips that check.
    """

    token: TokenId
    side: Side
    price: Decimal
    size: Decimal
    best_bid: Decimal | None = None
    best_ask: Decimal | None = None


@attrs.frozen
class TickSizeChange:
    """The market's tick changed: the book must be rebuilt from a new snapshot."""

    token: TokenId
    new_tick_size: Decimal


BookEvent = BookSnapshot | LevelChange | TickSizeChange


def _check_price(price: Decimal) -> None:
    if not price.is_finite() or not (_ZERO < price < _ONE):
        raise InvalidBookUpdate(f"price {price} outside (0, 1)", path="price")


def _check_size(size: Decimal) -> None:
    if not size.is_finite() or size < _ZERO:
        raise InvalidBookUpdate(f"size {size} is negative or not finite", path="size")


class _Side:
    """One side of a book: levels by price, and a lazily recomputed best price."""

    __slots__ = ("_best", "_dirty", "_is_bid", "levels")

    def __init__(self, is_bid: bool) -> None:
        self._is_bid = is_bid
        self.levels: dict[Decimal, Decimal] = {}
        self._best: Decimal | None = None
        self._dirty = False

    def clear(self) -> None:
        self.levels.clear()
        self._best = None
        self._dirty = False

    def set(self, price: Decimal, size: Decimal) -> None:
        if size == _ZERO:
            if self.levels.pop(price, None) is not None and price == self._best:
                self._dirty = True
            return
        self.levels[price] = size
        if self._dirty:
            return
        best = self._best
        if best is None or (price > best if self._is_bid else price < best):
            self._best = price

    def best(self) -> Decimal | None:
        if self._dirty:
            if not self.levels:
                self._best = None
            else:
                self._best = max(self.levels) if self._is_bid else min(self.levels)
            self._dirty = False
        return self._best

    def sorted_levels(self) -> list[Level]:
        """Levels best-first."""
        prices = sorted(self.levels, reverse=self._is_bid)
        return [Level(p, self.levels[p]) for p in prices]


class OrderBook:
    """The local L2 book of one token.

    Invalid until its first snapshot; while invalid every read returns ``None``/empty, so a caller that
    forgets to check :attr:`valid` still cannot quote on it. Inputs for another token raise
    :class:`InvalidBookUpdate` (a routing bug) and leave the book as it was.
    """

    def __init__(self, token: TokenId) -> None:
        self.token = token
        self._bids = _Side(is_bid=True)
        self._asks = _Side(is_bid=False)
        self._valid = False
        self.last_update: float | None = None
        """``now`` of the last input that was applied (snapshot or change), or ``None``."""
        self.tick_size: Decimal | None = None
        """The latest tick announced by a snapshot or a tick change, or ``None``."""
        self.resync_reason: str = "no snapshot yet"
        """Why the book is invalid (empty while it is valid)."""

    def __repr__(self) -> str:
        return (
            f"OrderBook(token={self.token!r}, valid={self._valid}, bid={self.best_bid()}, "
            f"ask={self.best_ask()}, levels={len(self._bids.levels)}/{len(self._asks.levels)})"
        )

    # -- state ---------------------------------------------------------------------------------------

    @property
    def valid(self) -> bool:
        """True when the book reflects a snapshot plus every change since, with no mismatch seen."""
        return self._valid

    def invalidate(self, reason: str) -> None:
        """Drop every level and wait for a snapshot (used on tick changes, mismatches, reconnects)."""
        if self._valid:
            logger.info("book %s invalidated: %s", self.token, reason)
        self._bids.clear()
        self._asks.clear()
        self._valid = False
        self.resync_reason = reason

    def touch(self, now: float) -> None:
        """The feed is known alive (any frame or PONG on its connection) though this book did not change.

        A quiet market sends no ``price_change`` for minutes; without this it would look stale.
        """
        if self._valid:
            self.last_update = now

    def is_stale(self, now: float, max_age: float) -> bool:
        """True if the book is invalid, was never updated, or its last update is older than ``max_age``."""
        return not self._valid or self.last_update is None or now - self.last_update > max_age

    # -- inputs --------------------------------------------------------------------------------------

    def apply(self, event: BookEvent, now: float) -> BookStatus:
        """Apply any book input (dispatches on its type)."""
        if isinstance(event, BookSnapshot):
            self.apply_snapshot(event, now)
            return BookStatus.OK
        if isinstance(event, LevelChange):
            return self.apply_change(event, now)
        self.apply_tick_size_change(event, now)
        return BookStatus.RESYNC

    def apply_snapshot(self, snapshot: BookSnapshot, now: float) -> None:
        """Replace the whole book. Validates everything first; on error the book is left invalid."""
        self._check_token(snapshot.token)
        try:
            for level in (*snapshot.bids, *snapshot.asks):
                _check_price(level.price)
                _check_size(level.size)
            if snapshot.tick_size is not None:
                self._check_tick(snapshot.tick_size)
        except InvalidBookUpdate as exc:
            self.invalidate(f"bad snapshot: {exc}")
            raise
        self._bids.clear()
        self._asks.clear()
        for level in snapshot.bids:
            self._bids.set(level.price, level.size)
        for level in snapshot.asks:
            self._asks.set(level.price, level.size)
        if snapshot.tick_size is not None:
            self.tick_size = snapshot.tick_size
        self._valid = True
        self.resync_reason = ""
        self.last_update = now

    def apply_change(self, change: LevelChange, now: float, *, verify: bool = True) -> BookStatus:
        """Set one level to its new absolute size, then (if ``verify``) check the exchange's top of book.

        Returns :attr:`BookStatus.RESYNC` if the book is or became invalid (a delta without a base snapshot
        is ignored), else OK. Raises :class:`InvalidBookUpdate` on a malformed entry (book invalidated).
        """
        self._check_token(change.token)
        try:
            _check_price(change.price)
            _check_size(change.size)
        except InvalidBookUpdate as exc:
            self.invalidate(f"bad change: {exc}")
            raise
        if not self._valid:
            return BookStatus.RESYNC
        (self._bids if change.side is Side.BUY else self._asks).set(change.price, change.size)
        self.last_update = now
        if verify:
            return self._verify(change.best_bid, change.best_ask)
        return BookStatus.OK

    def apply_changes(
        self, changes: Sequence[LevelChange], now: float, *, verify_each: bool = True
    ) -> BookStatus:
        """Apply the entries of one ``price_change`` message that belong to this token, in order.

        With ``verify_each`` every entry's best bid/ask is checked after it is applied; without it only the
        last entry's is (for a venue that reports the top of book as of the end of the message). Stops at
        the first mismatch.
        """
        last = len(changes) - 1
        for i, change in enumerate(changes):
            status = self.apply_change(change, now, verify=verify_each or i == last)
            if status is BookStatus.RESYNC:
                return status
        return BookStatus.OK if self._valid else BookStatus.RESYNC

    def apply_tick_size_change(self, change: TickSizeChange, now: float) -> None:
        """Record the new tick and drop the book until the next snapshot."""
        self._check_token(change.token)
        try:
            self._check_tick(change.new_tick_size)
        except InvalidBookUpdate as exc:
            self.invalidate(f"bad tick change: {exc}")
            raise
        self.tick_size = change.new_tick_size
        self.invalidate(f"tick size changed to {change.new_tick_size}")

    # -- reads ---------------------------------------------------------------------------------------

    def best_bid(self) -> Level | None:
        """The best (highest) bid, or ``None`` if there is none or the book is invalid."""
        price = self._bids.best() if self._valid else None
        return None if price is None else Level(price, self._bids.levels[price])

    def best_ask(self) -> Level | None:
        """The best (lowest) ask, or ``None`` if there is none or the book is invalid."""
        price = self._asks.best() if self._valid else None
        return None if price is None else Level(price, self._asks.levels[price])

    def is_crossed(self) -> bool:
        """True when both sides exist and best bid >= best ask (an unusable book)."""
        bid, ask = self._bids.best(), self._asks.best()
        return bid is not None and ask is not None and bid >= ask

    def mid(self) -> Decimal | None:
        """``(best_bid + best_ask) / 2``, or ``None`` if a side is empty or the book is invalid."""
        bid, ask = self.best_bid(), self.best_ask()
        if bid is None or ask is None:
            return None
        return (bid.price + ask.price) / _TWO

    def microprice(self) -> Decimal | None:
        """The size-weighted mid ``(bid*ask_size + ask*bid_size) / (bid_size + ask_size)`` of the top levels.

        It leans toward the side with *less* size (the side more likely to be taken next).
        """
        bid, ask = self.best_bid(), self.best_ask()
        if bid is None or ask is None:
            return None
        return (bid.price * ask.size + ask.price * bid.size) / (bid.size + ask.size)

    def cutoff_mid(self, min_size: Decimal) -> Decimal | None:
        """A mid that ignores thin top levels: the prices at which each side's cumulative size first
        reaches ``min_size``, averaged. With ``min_size`` = the rewards min size this approximates the
        rewards program's "size-cutoff-adjusted midpoint". ``None`` if a side never reaches it.
        """
        bid = self.price_for_depth(Side.BUY, min_size)
        ask = self.price_for_depth(Side.SELL, min_size)
        if bid is None or ask is None:
            return None
        return (bid + ask) / _TWO

    def levels(self, side: Side, n: int | None = None) -> list[Level]:
        """Up to ``n`` levels of one side (BUY = bids), best first. Empty while invalid."""
        if not self._valid:
            return []
        lv = (self._bids if side is Side.BUY else self._asks).sorted_levels()
        return lv if n is None else lv[:n]

    def size_at_or_better(self, side: Side, price: Decimal) -> Decimal:
        """Total size on ``side`` at ``price`` or better (bids >= price, asks <= price)."""
        if not self._valid:
            return _ZERO
        if side is Side.BUY:
            return sum((s for p, s in self._bids.levels.items() if p >= price), _ZERO)
        return sum((s for p, s in self._asks.levels.items() if p <= price), _ZERO)

    def price_for_depth(self, side: Side, size: Decimal) -> Decimal | None:
        """The worst price reached when walking ``side`` best-first until ``size`` shares are covered."""
        total = _ZERO
        for level in self.levels(side):
            total += level.size
            if total >= size:
                return level.price
        return None

    def to_snapshot(self) -> BookSnapshot:
        """The current state as a snapshot (levels best-first); rebuilding from it gives an equal book."""
        return BookSnapshot(
            token=self.token,
            bids=tuple(self.levels(Side.BUY)),
            asks=tuple(self.levels(Side.SELL)),
            tick_size=self.tick_size,
        )

    def same_state(self, other: OrderBook) -> bool:
        """Same token, validity and levels (``last_update`` is not compared)."""
        return (
            self.token == other.token
            and self._valid == other._valid
            and self._bids.levels == other._bids.levels
            and self._asks.levels == other._asks.levels
        )

    # -- helpers -------------------------------------------------------------------------------------

    def _verify(self, best_bid: Decimal | None, best_ask: Decimal | None) -> BookStatus:
        local_bid = self._bids.best()
        local_ask = self._asks.best()
        if best_bid is not None and (local_bid or _ZERO) != best_bid:
            self.invalidate(f"best bid mismatch: local {local_bid}, exchange {best_bid}")
            return BookStatus.RESYNC
        if best_ask is not None and (local_ask or _ONE) != best_ask:
            self.invalidate(f"best ask mismatch: local {local_ask}, exchange {best_ask}")
            return BookStatus.RESYNC
        return BookStatus.OK

    def _check_token(self, token: TokenId) -> None:
        if token != self.token:
            raise InvalidBookUpdate(
                f"input for token {token!r} sent to the book of {self.token!r}", path="token"
            )

    @staticmethod
    def _check_tick(tick: Decimal) -> None:
        if not tick.is_finite() or not (_ZERO < tick < _ONE):
            raise InvalidBookUpdate(f"tick size {tick} outside (0, 1)", path="tick_size")


def build_book(snapshot: BookSnapshot, now: float) -> OrderBook:
    """A new valid book from one snapshot."""
    book = OrderBook(snapshot.token)
    book.apply_snapshot(snapshot, now)
    return book
