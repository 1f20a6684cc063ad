"""Input events of the core: small domain records the runtime builds from wire messages at the edge.

The core never sees JSON or wire models. Sizes and prices are :class:`~decimal.Decimal`; times are ``float``
seconds. Exchange timestamps (``timestamp``, ``match_time``, ``expiration``) are Unix seconds and are only
used for labels and GTD-expiry classification, never for scheduling; the local monotonic time of an input
is the ``now`` argument of the :class:`~aqbot.core.engine.Core` method that receives it.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from decimal import Decimal

import attrs

from aqbot.core.initgen import compile_init
from aqbot.core.types import OrderId, OrderType, Side, TokenId

logger = logging.getLogger(__name__)

ZERO = Decimal(0)


class Channel(enum.Enum):
    USER = "user"
    MARKET = "market"


class OrderEventType(enum.Enum):
    PLACEMENT = "PLACEMENT"
    UPDATE = "UPDATE"
    CANCELLATION = "CANCELLATION"


class TradeStatus(enum.Enum):
    MATCHED = "MATCHED"
    MINED = "MINED"
    CONFIRMED = "CONFIRMED"
    RETRYING = "RETRYING"
    FAILED = "FAILED"


@attrs.frozen
class PlacementAnswer:
    """One answer to ``POST /order`` or one leg of ``POST /orders`` (PROTOCOL 1.3).

    ``http_status`` is the HTTP status of the response; a 4xx with an error body is passed here with
    ``success=False`` and the body's ``error`` text. (5xx and transport failures are :class:`SubmitFailed`.)
    """

    order_id: OrderId
    success: bool
    returned_order_id: str = ""
    status: str = ""
    error: str = ""
    http_status: int = 200


@attrs.frozen
class SubmitFailed:
    """The POST got no usable answer (timeout, reset, 5xx): the order may or may not rest."""

    order_id: OrderId
    reason: str = ""


@attrs.frozen(slots=False)  # (see _dict_literal_init)
class OrderEvent:
    """A user-channel ``order`` event (PROTOCOL 5.1). ``size_matched`` is cumulative.

    ``status`` is the raw upper-case status: ``LIVE``, ``MATCHED``, ``CANCELED``, ``CANCELED_<reason>``,
    ``INVALID``, ``DELAYED``, ``UNMATCHED``... ``expiration`` is 0 when the order has none.
    """

    order_id: OrderId
    token: TokenId
    side: Side
    price: Decimal
    original_size: Decimal
    size_matched: Decimal
    status: str
    type: OrderEventType = OrderEventType.UPDATE
    order_type: OrderType = OrderType.GTC
    expiration: float = 0.0
    timestamp: float = 0.0


@attrs.frozen(slots=False)  # (see _dict_literal_init)
class MakerFill:
    """One ``maker_orders[]`` entry of a trade. ``side`` is ``None`` when the payload did not carry it."""

    order_id: OrderId
    matched_amount: Decimal
    price: Decimal
    token: TokenId
    owner: str = ""
    maker_address: str = ""
    side: Side | None = None


@attrs.frozen(slots=False)  # (see _dict_literal_init)
class TradeEvent:
    """A user-channel ``trade`` event or a ``/data/trades`` row (PROTOCOL 5.2, 5.3).

    The top-level ``token``/``side``/``size``/``price`` describe the TAKER order. ``trader_side`` is from
    aqbot's point of view (``TAKER`` or ``MAKER``). The core picks aqbot's own fills out of it.
    """

    trade_id: str
    status: TradeStatus
    taker_order_id: OrderId
    token: TokenId
    side: Side
    size: Decimal
    price: Decimal
    trader_side: str = "MAKER"
    maker_orders: tuple[MakerFill, ...] = ()
    match_time: float = 0.0


@attrs.frozen
class CancelAnswer:
    """A DELETE answer: ``canceled`` ids and ``not_canceled`` ``(id, reason)`` pairs (PROTOCOL 1.7)."""

    canceled: tuple[OrderId, ...] = ()
    not_canceled: tuple[tuple[OrderId, str], ...] = ()


@attrs.frozen
class OpenOrderRow:
    """One row of ``GET /data/orders`` (PROTOCOL 1.4)."""

    order_id: OrderId
    token: TokenId
    side: Side
    price: Decimal
    original_size: Decimal
    size_matched: Decimal
    status: str = "LIVE"
    order_type: OrderType = OrderType.GTC
    expiration: float = 0.0


@attrs.frozen
class OrdersSnapshot:
    """A REST reconciliation snapshot: every open order of aqbot and the trades since the watermark.

    ``started_at`` is the local time the FIRST request of the snapshot was sent (the conservative end for
    the grace rule: an order placed just before it may not be visible yet). ``complete`` is False when a
    page was missing; an incomplete snapshot resolves nothing by absence.
    """

    started_at: float
    open_orders: tuple[OpenOrderRow, ...] = ()
    trades: tuple[TradeEvent, ...] = ()
    complete: bool = True


@attrs.frozen
class PositionRow:
    """One Data API position row (PROTOCOL 6)."""

    token: TokenId
    size: Decimal
    avg_price: Decimal = ZERO


@attrs.frozen
class PositionsSnapshot:
    """A Data API positions answer. Tokens without a row are "no information", never flat."""

    started_at: float
    rows: tuple[PositionRow, ...] = ()


def _dict_literal_init(cls: type) -> Callable[..., None]:
    """An ``__init__`` for the frozen attrs record ``cls`` (a dict class, ``slots=False``) that gives the
    instance a new ``__dict__``: one dict display of its fields, in field order.

    Why: the runtime builds one or two of :class:`OrderEvent`, :class:`TradeEvent` and :class:`MakerFill`
    per user-channel frame, and attrs' slotted frozen ``__init__`` calls ``object.__setattr__`` per field
    (0.5-0.8 us to build and free an event through the constructor; this one 0.40-0.47 us). Not
    :func:`aqbot.core.facts._dict_init`'s ``self.__dict__[name] = value``, slightly cheaper to build: that
    leaves a key-sharing ("split") dict, and CPython 3.11 does not specialize attribute reads on such a
    dict (about 4x slower each, ~17 ns more), while the core reads ~13 event attributes per frame; reads
    from this combined dict cost ~2 ns more than a slot's. Same parameters, defaults and result as attrs'
    own; the class stays frozen (its ``__setattr__``/``__delattr__`` are attrs'), and ``attrs.fields``,
    ``__eq__``, ``__hash__`` and ``__repr__`` are attrs' (tests/core/test_core_events.py pins them against
    attrs' own records).
    :mod:`aqbot.io.edge_user` builds these events with the same dict display, without the call."""
    items = ", ".join(f"{a.name!r}: {a.name}" for a in attrs.fields(cls))
    return compile_init(cls, f"    _set(self, '__dict__', {{{items}}})\n", {"_set": object.__setattr__})


HOT_EVENTS = (OrderEvent, TradeEvent, MakerFill)
"""The events built per user-channel frame, with :func:`_dict_literal_init`'s ``__init__``."""
for _cls in HOT_EVENTS:
    setattr(_cls, "__init__", _dict_literal_init(_cls))  # noqa: B010 (mypy: a method cannot be assigned)
