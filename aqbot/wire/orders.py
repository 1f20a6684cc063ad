"""REST order models: the signed order, placement, cancels, open orders, trades and pages (PROTOCOL 1.2-1.4,
1.7, 5.3).

Plain attrs classes: Python names in snake_case, no wire concerns (the converter in
:mod:`aqbot.wire.converter` maps names and JSON forms). Field declaration order is the wire key order
when encoding.
"""

from __future__ import annotations

import base64
import binascii
import logging
from decimal import Decimal
from typing import Generic, TypeVar

import attrs

from aqbot.core.types import OrderType, Side
from aqbot.errors import WireError
from aqbot.wire.types import (
    TraderSide,
    TradeStatus,
    UnixMs,
    UnixS,
    order_status_cancel_reason,
    order_status_is_canceled,
    order_status_is_terminal,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

BYTES32_ZERO = "0x" + "0" * 64
INITIAL_CURSOR = "MA=="
"""The first page's cursor (base64 of ``"0"``)."""
END_CURSOR = "LTE="
"""The cursor after the last page (base64 of ``"-1"``)."""


@attrs.frozen(kw_only=True)
class SignedOrder:
    """The ``order`` object of ``POST /order`` (V2, as ``order_to_json_v2``). Amounts: 6-decimal units."""

    salt: int
    maker: str
    signer: str
    token_id: str
    maker_amount: int
    taker_amount: int
    side: Side
    expiration: UnixS
    signature_type: int
    timestamp: UnixMs
    metadata: str = BYTES32_ZERO
    builder: str = BYTES32_ZERO
    signature: str


@attrs.frozen(kw_only=True)
class PostOrderRequest:
    """One order placement (``POST /order`` body; ``POST /orders`` takes a JSON array of these)."""

    order: SignedOrder
    owner: str
    order_type: OrderType
    defer_exec: bool = False
    post_only: bool = False


POST_ACCEPTED_STATUSES = frozenset({"live", "matched", "delayed"})


@attrs.frozen(kw_only=True)
class PostOrderResponse:
    """Answer to one placement. Empty ``makingAmount``/``takingAmount`` decode as ``0``.

    ``status`` is ``live``/``matched``/``delayed``/``unmatched`` (kept as text; may be empty on rejects).
    """

    success: bool
    error_msg: str = ""
    order_id: str = ""
    status: str = ""
    making_amount: Decimal = Decimal(0)
    taking_amount: Decimal = Decimal(0)
    transactions_hashes: tuple[str, ...] = ()
    trade_ids: tuple[str, ...] = ()

    @property
    def is_accepted(self) -> bool:
        """pysdk's rule: success, no error text, an order id, and status live/matched/delayed."""
        return (
            self.success
            and self.error_msg == ""
            and self.order_id != ""
            and self.status.lower() in POST_ACCEPTED_STATUSES
        )


@attrs.frozen(kw_only=True)
class CancelOrderRequest:
    """``DELETE /order`` body. (``DELETE /orders`` takes a bare JSON array of ids: encode a ``list[str]``.)"""

    order_id: str


@attrs.frozen(kw_only=True)
class CancelMarketRequest:
    """``DELETE /cancel-market-orders`` body; absent fields are omitted from the JSON."""

    market: str | None = None
    asset_id: str | None = None


@attrs.frozen(kw_only=True)
class CancelResponse:
    """What every cancel endpoint returns. ``not_canceled`` maps order id to the reason text."""

    canceled: tuple[str, ...] = ()
    not_canceled: dict[str, str] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class OpenOrder:
    """An order from ``GET /data/orders`` / ``GET /data/order/{id}``. ``created_at`` is a JSON number."""

    id: str
    status: str
    owner: str | None = None
    maker_address: str | None = None
    market: str
    asset_id: str
    side: Side
    original_size: Decimal
    size_matched: Decimal
    price: Decimal
    associate_trades: tuple[str, ...] | None = None
    outcome: str | None = None
    created_at: UnixS | None = None
    expiration: UnixS | None = None
    order_type: OrderType | None = None

    @property
    def is_terminal(self) -> bool:
        return order_status_is_terminal(self.status)

    @property
    def is_canceled(self) -> bool:
        return order_status_is_canceled(self.status)

    @property
    def cancel_reason(self) -> str | None:
        return order_status_cancel_reason(self.status)


@attrs.frozen(kw_only=True, slots=False)  # not slotted: built from one dict by the fast path (see OrderEvent)
class MakerOrder:
    """One resting order hit by a trade. Its fill is ``matched_amount`` at its own ``price`` in its own
    ``asset_id``. ``side`` is absent in older payloads: use :meth:`Trade.maker_side`."""

    order_id: str
    owner: str
    maker_address: str
    matched_amount: Decimal
    price: Decimal
    asset_id: str
    outcome: str | None = None
    side: Side | None = None
    fee_rate_bps: Decimal | None = None
    outcome_index: int | None = None


@attrs.frozen(kw_only=True, slots=False)  # not slotted: built from one dict by the fast path (see OrderEvent)
class Trade:
    """A trade, both the user-channel ``trade`` event and the ``/data/trades`` row (PROTOCOL 5.2, 5.3).

    The top-level ``side``/``size``/``price``/``asset_id`` are the *taker's*. ``timestamp`` and
    ``trade_owner`` come only on the WebSocket; ``match_time_nano``/``err_msg`` only on REST.
    """

    id: str
    taker_order_id: str
    market: str
    asset_id: str
    side: Side
    size: Decimal
    price: Decimal
    fee_rate_bps: Decimal | None = None
    status: TradeStatus
    match_time: UnixS
    last_update: UnixS | None = None
    timestamp: UnixMs | None = None
    outcome: str | None = None
    owner: str | None = None
    trade_owner: str | None = None
    maker_address: str | None = None
    bucket_index: int | None = None
    transaction_hash: str | None = None
    trader_side: TraderSide
    maker_orders: tuple[MakerOrder, ...] = ()
    match_time_nano: str | None = None
    err_msg: str | None = None

    def maker_side(self, maker: MakerOrder) -> Side:
        """The maker entry's side: its own ``side`` when sent, else inferred (naut ``determine_order_side``):
        same asset as the taker means the opposite side, the complementary asset means the same side."""
        if maker.side is not None:
            return maker.side
        return self.side.opposite if maker.asset_id == self.asset_id else self.side

    def maker_orders_of(
        self, *, owner: str | None = None, maker_address: str | None = None
    ) -> tuple[MakerOrder, ...]:
        """The ``maker_orders`` entries that belong to ``owner`` (API key) or ``maker_address`` (funder)."""
        addr = maker_address.lower() if maker_address is not None else None
        return tuple(
            m
            for m in self.maker_orders
            if (owner is not None and m.owner == owner)
            or (addr is not None and m.maker_address.lower() == addr)
        )


@attrs.frozen(kw_only=True)
class Page(Generic[T]):
    """One page of a paginated endpoint. ``limit``/``count`` are absent on some servers."""

    data: tuple[T, ...]
    next_cursor: str
    limit: int | None = None
    count: int | None = None

    @property
    def is_last(self) -> bool:
        """True when there is no next page (``next_cursor`` is ``"LTE="`` or empty)."""
        return self.next_cursor in (END_CURSOR, "")


def encode_cursor(offset: int) -> str:
    """The cursor for ``offset`` (base64 of its decimal text; ``-1`` is the end marker)."""
    return base64.b64encode(str(offset).encode("ascii")).decode("ascii")


def decode_cursor(cursor: str) -> int:
    """The integer offset inside ``cursor``. ``"MA=="`` is 0, ``"LTE="`` is -1.

    Raises:
        WireError: when the cursor is not base64 of an integer.
    """
    try:
        text = base64.b64decode(cursor.encode("ascii"), validate=True).decode("ascii")
        if not text.lstrip("-").isdigit():
            raise ValueError(text)
        return int(text)
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise WireError("cursor is not base64 of an integer", path="$.next_cursor", raw=cursor[:40]) from exc
