"""Public market-data models: order book, tick size, neg-risk, fee rate, compact market info (PROTOCOL 1.1,
1.5, 7.1).

Levels are kept exactly as received: the exchange's ordering is not documented consistently (best-last in the
newer docs, best-first in an older page), so use :meth:`BookSummary.bids_best_first` and friends.
"""

from __future__ import annotations

import logging
from decimal import Decimal

import attrs

from aqbot.wire.types import UnixMs

logger = logging.getLogger(__name__)


@attrs.frozen(kw_only=True)
class PriceLevel:
    """One book level: absolute size resting at ``price``."""

    price: Decimal
    size: Decimal


@attrs.frozen(kw_only=True)
class BookSummary:
    """``GET /book`` and the market channel's ``book`` event (same shape; key order as the server hashes it).

    ``hash`` is missing in some captures; ``min_order_size``/``tick_size``/``neg_risk``/``last_trade_price``
    are optional (WS snapshots carry them only sometimes).
    """

    market: str
    asset_id: str
    timestamp: UnixMs
    hash: str | None = None
    bids: tuple[PriceLevel, ...] = ()
    asks: tuple[PriceLevel, ...] = ()
    min_order_size: Decimal | None = None
    tick_size: Decimal | None = None
    neg_risk: bool | None = None
    last_trade_price: Decimal | None = None

    def bids_best_first(self) -> tuple[PriceLevel, ...]:
        """Bids sorted by price, highest first (whatever order the server used)."""
        return tuple(sorted(self.bids, key=lambda lv: lv.price, reverse=True))

    def asks_best_first(self) -> tuple[PriceLevel, ...]:
        """Asks sorted by price, lowest first."""
        return tuple(sorted(self.asks, key=lambda lv: lv.price))

    @property
    def best_bid(self) -> Decimal | None:
        """Highest bid price with a non-zero size, or ``None``."""
        prices = [lv.price for lv in self.bids if lv.size > 0]
        return max(prices) if prices else None

    @property
    def best_ask(self) -> Decimal | None:
        """Lowest ask price with a non-zero size, or ``None``."""
        prices = [lv.price for lv in self.asks if lv.size > 0]
        return min(prices) if prices else None


@attrs.frozen(kw_only=True)
class TickSize:
    """``GET /tick-size`` (a JSON number, e.g. ``0.01``)."""

    minimum_tick_size: Decimal


@attrs.frozen(kw_only=True)
class NegRisk:
    """``GET /neg-risk``."""

    neg_risk: bool


@attrs.frozen(kw_only=True)
class FeeRate:
    """``GET /fee-rate`` (``base_fee`` is a JSON number; informational in V2)."""

    base_fee: Decimal


@attrs.frozen(kw_only=True)
class ClobToken:
    """One outcome token of a market (``t`` entry of ``/clob-markets``)."""

    token_id: str
    outcome: str


@attrs.frozen(kw_only=True)
class FeeDetails:
    """``fd``: taker fee ``rate * (p(1-p))^exponent``; ``taker_only`` is always sent when ``fd`` is."""

    rate: Decimal | None = None
    exponent: Decimal | None = None
    taker_only: bool


@attrs.frozen(kw_only=True)
class ClobRewards:
    """``r``: liquidity-rewards parameters. ``max_spread`` is in cents, ``min_size`` in shares."""

    min_size: Decimal | None = None
    max_spread: Decimal | None = None
    enabled: bool | None = None
    skip_min_order_age: bool | None = None
    min_order_age_seconds: int | None = None


@attrs.frozen(kw_only=True)
class ClobMarketInfo:
    """``GET /clob-markets/{conditionId}`` (compact names on the wire: ``c, t, mts, nr, fd, ...``).

    ``neg_risk`` is omitted by the server when false (``None`` here); ``rewards`` is JSON ``null`` when unset.
    Null entries in ``t`` are dropped on decode.
    """

    condition_id: str
    tokens: tuple[ClobToken, ...]
    min_tick_size: Decimal
    neg_risk: bool | None = None
    fee_details: FeeDetails | None = None
    maker_base_fee: Decimal | None = None
    taker_base_fee: Decimal | None = None
    rewards: ClobRewards | None = None
    accepting_orders: bool | None = None
    min_order_size: Decimal | None = None
    seconds_delay: int | None = None
    game_start_time: str | None = None
    clear_book_on_start: bool | None = None
    accepting_orders_timestamp: str | None = None
    rfq_enabled: bool | None = None
    taker_order_delay_enabled: bool | None = None
    blockaid_check_enabled: bool | None = None
