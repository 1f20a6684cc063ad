"""WebSocket models: market-channel events, user-channel order events, and the client's subscribe frames
(PROTOCOL 2.3, 4, 5).

Event classes carry no ``event_type`` field: the tag is added and read by the codec
(:mod:`aqbot.wire.codec`), as in STYLE P6. The user channel's ``trade`` event is :class:`aqbot.wire.Trade`
and its ``book`` event is :class:`aqbot.wire.BookSummary` (same shapes as REST).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal

import attrs

from aqbot.core.types import OrderType, Side
from aqbot.wire.account import ApiCreds
from aqbot.wire.market import BookSummary
from aqbot.wire.orders import Trade
from aqbot.wire.types import (
    ControlFrame,
    OrderEventType,
    UnixMs,
    UnixS,
    order_status_cancel_reason,
    order_status_is_canceled,
    order_status_is_terminal,
)

logger = logging.getLogger(__name__)


@attrs.frozen(kw_only=True)
class PriceChange:
    """One entry of ``price_changes``: ``size`` is the new *absolute* size at ``price`` (``0`` removes it)."""

    asset_id: str
    price: Decimal
    size: Decimal
    side: Side
    hash: str | None = None
    best_bid: Decimal | None = None
    best_ask: Decimal | None = None


@attrs.frozen(kw_only=True)
class PriceChangeEvent:
    """``price_change``: level updates, possibly for both tokens of the market."""

    market: str
    price_changes: tuple[PriceChange, ...]
    timestamp: UnixMs


@attrs.frozen(kw_only=True)
class TickSizeChange:
    """``tick_size_change``: drop the book and wait for a fresh snapshot."""

    asset_id: str
    market: str
    old_tick_size: Decimal
    new_tick_size: Decimal
    timestamp: UnixMs


@attrs.frozen(kw_only=True)
class LastTradePrice:
    """``last_trade_price``: a print (no trade id)."""

    asset_id: str
    market: str
    price: Decimal
    side: Side | None = None
    size: Decimal | None = None
    fee_rate_bps: Decimal | None = None
    timestamp: UnixMs
    transaction_hash: str | None = None


@attrs.frozen(kw_only=True)
class BestBidAsk:
    """``best_bid_ask`` (custom feature): top of book."""

    asset_id: str
    market: str
    best_bid: Decimal | None = None
    best_ask: Decimal | None = None
    spread: Decimal | None = None
    timestamp: UnixMs


@attrs.frozen(kw_only=True)
class EventMessage:
    """The parent event of a ``new_market``."""

    id: str
    ticker: str | None = None
    slug: str | None = None
    title: str | None = None
    description: str | None = None


@attrs.frozen(kw_only=True)
class NewMarket:
    """``new_market`` (custom feature). Only ``market``, ``assets_ids`` and ``timestamp`` are required."""

    id: str | None = None
    question: str | None = None
    market: str
    slug: str | None = None
    description: str | None = None
    assets_ids: tuple[str, ...]
    outcomes: tuple[str, ...] = ()
    event_message: EventMessage | None = None
    timestamp: UnixMs
    tags: tuple[str, ...] = ()
    condition_id: str | None = None
    active: bool | None = None
    clob_token_ids: tuple[str, ...] | None = None
    order_price_min_tick_size: Decimal | None = None
    group_item_title: str | None = None
    sports_market_type: str | None = None
    line: str | None = None
    game_start_time: str | None = None
    fees_enabled: bool | None = None
    fee_schedule: Mapping[str, object] | None = None
    taker_base_fee: Decimal | None = None


@attrs.frozen(kw_only=True)
class MarketResolved:
    """``market_resolved`` (custom feature)."""

    id: str | None = None
    market: str
    assets_ids: tuple[str, ...]
    winning_asset_id: str
    winning_outcome: str | None = None
    timestamp: UnixMs
    tags: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class UnknownEvent:
    """An event whose ``event_type`` this version does not know. ``raw`` is the decoded JSON object."""

    event_type: str
    raw: Mapping[str, object]


@attrs.frozen(kw_only=True, slots=False)
class OrderEvent:
    """User-channel ``order`` event. ``size_matched`` is cumulative (``""`` decodes as 0).

    ``created_at`` is seconds (``None`` when sent empty); ``timestamp`` is normalized to milliseconds (the
    exchange has sent both units).

    Not slotted (like :class:`~aqbot.wire.Trade` and :class:`~aqbot.wire.MakerOrder`): the user-channel fast
    path (:mod:`aqbot.wire.userfast`) builds it from one dict, about 3x cheaper than setting 18 slots.
    """

    type: OrderEventType
    id: str
    owner: str | None = None
    order_owner: str | None = None
    market: str
    asset_id: str
    side: Side
    price: Decimal
    original_size: Decimal
    size_matched: Decimal
    associate_trades: tuple[str, ...] | None = None
    outcome: str | None = None
    order_type: OrderType | None = None
    status: str
    created_at: UnixS | None = None
    expiration: UnixS | None = None
    maker_address: str | None = None
    timestamp: UnixMs | None = None

    @property
    def is_terminal(self) -> bool:
        """MATCHED, CANCELED*, INVALID or UNMATCHED."""
        return order_status_is_terminal(self.status)

    @property
    def is_canceled(self) -> bool:
        return order_status_is_canceled(self.status)

    @property
    def cancel_reason(self) -> str | None:
        """Text after ``CANCELED_`` (``""`` for bare CANCELED), ``None`` if not cancelled."""
        return order_status_cancel_reason(self.status)


MarketEvent = (
    BookSummary
    | PriceChangeEvent
    | TickSizeChange
    | LastTradePrice
    | BestBidAsk
    | NewMarket
    | MarketResolved
    | UnknownEvent
    | ControlFrame
)
"""What :func:`aqbot.wire.decode_market_frame` yields."""

UserEvent = OrderEvent | Trade | UnknownEvent | ControlFrame
"""What :func:`aqbot.wire.decode_user_frame` yields."""


@attrs.frozen(kw_only=True)
class MarketSubscribe:
    """First frame on the market channel: ``{"type":"market","assets_ids":[...],...}``."""

    assets_ids: tuple[str, ...]
    custom_feature_enabled: bool = True
    initial_dump: bool | None = None
    level: int | None = None


@attrs.frozen(kw_only=True)
class UserSubscribe:
    """First frame on the user channel: raw credentials plus optional condition ids. Never logged."""

    auth: ApiCreds
    markets: tuple[str, ...] = ()
    assets_ids: tuple[str, ...] | None = None
    initial_dump: bool | None = None


@attrs.frozen(kw_only=True)
class SubscriptionUpdate:
    """Dynamic ``{"operation":"subscribe"|"unsubscribe", ...}``: ``assets_ids`` (market channel) or
    ``markets`` (user channel)."""

    operation: str
    assets_ids: tuple[str, ...] | None = None
    markets: tuple[str, ...] | None = None
    custom_feature_enabled: bool | None = None


ClientFrame = MarketSubscribe | UserSubscribe | SubscriptionUpdate | ControlFrame
"""What a WebSocket client sends (decoded by the simulator with :func:`aqbot.wire.decode_client_frame`)."""
