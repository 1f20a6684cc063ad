"""The unified YES/NO order book of one market, in YES-price terms.

Every order is mapped onto one book whose prices are YES prices:

* BUY YES at p  -> a bid at p          * SELL YES at p -> an ask at p
* SELL NO at q  -> a bid at 1 - q      * BUY NO at q   -> an ask at 1 - q

A bid and an ask cross when ``bid >= ask``; depending on the two orders' tokens the match is a transfer
(same token), a mint (BUY YES against BUY NO) or a merge (SELL YES against SELL NO). The YES book clients
see is this book; the NO book is its mirror (price ``1 - P``, sides swapped).

Levels keep their orders in an insertion-ordered ``dict`` (time priority, O(1) removal). Level prices are kept
in sorted lists (bisect: O(log n) search per level). Changed levels are collected in ``changed`` so the engine
can emit one ``price_change`` per operation.
"""

from __future__ import annotations

import bisect
import logging

import attrs

from aqbot.sim.market import MarketConfig
from aqbot.sim.units import ONE

logger = logging.getLogger(__name__)


@attrs.define(eq=False, slots=True)
class SimOrder:
    """An accepted order, resting or being matched.

    Sizes are share base units; ``price_u`` is the order's own limit price (of its own token). ``bid`` and
    ``book_price`` place it on the unified YES book. ``reserved`` is what is still locked for it: pUSD for a
    BUY, tokens for a SELL.
    """

    order_id: str
    owner: str
    market: str
    token: str
    is_yes: bool
    is_buy: bool
    price_u: int
    original_u: int
    order_type: str
    expiration_s: int
    created_ms: int
    maker_address: str
    reserved: int
    post_only: bool = False
    matched_u: int = 0
    status: str = "LIVE"
    trades: list[str] = attrs.field(factory=list)

    @property
    def bid(self) -> bool:
        """True when the order sits on the bid side of the unified (YES-terms) book."""
        return self.is_buy == self.is_yes

    @property
    def book_price(self) -> int:
        return self.price_u if self.is_yes else ONE - self.price_u

    @property
    def remaining_u(self) -> int:
        return self.original_u - self.matched_u

    @property
    def side(self) -> str:
        return "BUY" if self.is_buy else "SELL"


@attrs.define(eq=False, slots=True)
class Level:
    """The orders resting at one YES price, oldest first."""

    orders: dict[str, SimOrder] = attrs.field(factory=dict)
    size: int = 0


class Book:
    """One market's unified book. See the module docstring."""

    __slots__ = ("ask_prices", "asks", "bid_prices", "bids", "changed", "version")

    def __init__(self) -> None:
        self.bids: dict[int, Level] = {}
        self.asks: dict[int, Level] = {}
        self.bid_prices: list[int] = []  # ascending; best bid is the last
        self.ask_prices: list[int] = []  # ascending; best ask is the first
        self.changed: dict[tuple[bool, int], None] = {}
        self.version = 0
        """Bumped on every change of a level (caches of formatted levels key on it)."""

    def best_bid(self) -> int | None:
        return self.bid_prices[-1] if self.bid_prices else None

    def best_ask(self) -> int | None:
        return self.ask_prices[0] if self.ask_prices else None

    def add(self, order: SimOrder) -> None:
        """Rest ``order`` at the back of its level."""
        bid = order.bid
        price = order.book_price
        levels, prices = (self.bids, self.bid_prices) if bid else (self.asks, self.ask_prices)
        level = levels.get(price)
        if level is None:
            level = Level()
            levels[price] = level
            bisect.insort(prices, price)
        level.orders[order.order_id] = order
        level.size += order.remaining_u
        self.changed[(bid, price)] = None
        self.version += 1

    def remove(self, order: SimOrder) -> None:
        """Take ``order`` off the book (whatever remains of it)."""
        bid = order.bid
        price = order.book_price
        levels, prices = (self.bids, self.bid_prices) if bid else (self.asks, self.ask_prices)
        level = levels[price]
        del level.orders[order.order_id]
        level.size -= order.remaining_u
        if not level.orders:
            del levels[price]
            del prices[bisect.bisect_left(prices, price)]
        self.changed[(bid, price)] = None
        self.version += 1

    def reduce(self, order: SimOrder, size_u: int) -> None:
        """Account for ``size_u`` of a resting order being filled (call before updating ``matched_u``)."""
        level = (self.bids if order.bid else self.asks)[order.book_price]
        level.size -= size_u
        self.changed[(order.bid, order.book_price)] = None
        self.version += 1

    def level_size(self, bid: bool, price: int) -> int:
        level = (self.bids if bid else self.asks).get(price)
        return level.size if level is not None else 0

    def crossing_levels(self, taker_bid: bool, limit: int) -> list[int]:
        """Opposite-side level prices that ``limit`` crosses, best first."""
        if taker_bid:
            end = bisect.bisect_right(self.ask_prices, limit)
            return self.ask_prices[:end]
        start = bisect.bisect_left(self.bid_prices, limit)
        return self.bid_prices[start:][::-1]

    def crosses(self, taker_bid: bool, limit: int) -> bool:
        if taker_bid:
            return bool(self.ask_prices) and self.ask_prices[0] <= limit
        return bool(self.bid_prices) and self.bid_prices[-1] >= limit

    def levels(self, bid: bool) -> list[tuple[int, int]]:
        """``(price, size)`` per level of one side, ascending by price."""
        levels, prices = (self.bids, self.bid_prices) if bid else (self.asks, self.ask_prices)
        return [(p, levels[p].size) for p in prices]

    def take_changes(self) -> list[tuple[bool, int]]:
        """The levels touched since the last call, in touch order."""
        out = list(self.changed)
        self.changed.clear()
        return out

    def orders(self) -> list[SimOrder]:
        """Every resting order (bids then asks, by price then time)."""
        out: list[SimOrder] = []
        for levels, prices in ((self.bids, self.bid_prices), (self.asks, self.ask_prices)):
            for p in prices:
                out.extend(levels[p].orders.values())
        return out


class MarketState:
    """A market's mutable state: its config, book, current tick, last trade and minted collateral."""

    __slots__ = ("accepting", "book", "cfg", "last_trade_u", "levels_cache", "locked", "min_size_u", "tick_u")

    def __init__(self, cfg: MarketConfig) -> None:
        self.cfg = cfg
        self.book = Book()
        self.tick_u = cfg.tick_u
        self.min_size_u = cfg.min_size_u
        self.accepting = cfg.accepting_orders
        self.last_trade_u: int | None = None
        self.locked = 0
        self.levels_cache: dict[str, tuple[int, str, str]] = {}

    @property
    def condition_id(self) -> str:
        return self.cfg.condition_id

    def is_yes(self, token: str) -> bool:
        return token == self.cfg.yes_token

    def complement(self, token: str) -> str:
        return self.cfg.no_token if token == self.cfg.yes_token else self.cfg.yes_token

    def outcome(self, token: str) -> str:
        return "Yes" if token == self.cfg.yes_token else "No"
