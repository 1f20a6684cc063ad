"""The edge between wire models (:mod:`aqbot.wire`) and the core's small domain events (:mod:`aqbot.core`).

Pure functions, no I/O. Every wire payload the runtime receives passes through exactly one of these before
the core sees it, so the core never knows JSON field names, units or enum spellings:

* market channel: ``BookSummary`` -> :class:`~aqbot.core.book.BookSnapshot`; ``PriceChangeEvent`` ->
  :class:`~aqbot.core.book.LevelChange` per entry; ``TickSizeChange`` -> the core's ``TickSizeChange``;
* user channel and ``/data/trades``: ``OrderEvent`` / ``Trade`` -> core ``OrderEvent`` / ``TradeEvent``.
  A trade keeps only aqbot's own ``maker_orders`` entries (matched by API key *or* maker address, so
  cross-asset YES/NO matches are kept too) when aqbot is the maker; the maker side is taken from the entry
  or inferred (:meth:`aqbot.wire.Trade.maker_side`);
* REST answers: ``PostOrderResponse`` -> ``PlacementAnswer``; ``CancelResponse`` -> ``CancelAnswer``;
  ``OpenOrder`` -> ``OpenOrderRow``; Data API ``Position`` -> ``PositionRow``.

Exchange timestamps become float Unix seconds (labels only; the core schedules on the local ``now``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal

import attrs

from aqbot.core import events as ce
from aqbot.core.book import BookEvent, BookSnapshot, Level, LevelChange
from aqbot.core.book import TickSizeChange as CoreTickSizeChange
from aqbot.core.types import OrderId, OrderType, Side
from aqbot.io.edge_user import ORDER_EVENT_TYPE, TRADE_STATUS, UserFrame, frame_decoder
from aqbot.wire.account import Position
from aqbot.wire.codec import decode_user_frame
from aqbot.wire.events import OrderEvent, PriceChangeEvent, TickSizeChange
from aqbot.wire.market import BookSummary, PriceLevel
from aqbot.wire.orders import CancelResponse, MakerOrder, OpenOrder, PostOrderResponse, Trade
from aqbot.wire.types import TraderSide

__all__ = [
    "Identity",
    "UserFrame",
    "book_snapshot",
    "cancel_answer",
    "level_changes",
    "market_asset_of",
    "market_book_events",
    "newest_timestamp_ms",
    "open_order_row",
    "order_event",
    "orders_snapshot",
    "placement_answer",
    "position_row",
    "trade_event",
    "user_events",
    "user_frame_decoder",
    "user_frame_events",
]

log = logging.getLogger(__name__)


@attrs.frozen
class Identity:
    """Who aqbot is on the exchange: its API key (``owner``) and its funder address (``maker_address``)."""

    api_key: str
    maker_address: str

    def owns(self, owner: str | None, maker_address: str | None) -> bool:
        """Whether an order or maker entry with these fields is aqbot's."""
        if owner is not None and owner == self.api_key:
            return True
        return maker_address is not None and maker_address.lower() == self.maker_address.lower()


# --- market channel ---------------------------------------------------------------------------------


def _levels(levels: Iterable[PriceLevel]) -> tuple[Level, ...]:
    return tuple(Level(lv.price, lv.size) for lv in levels)


def book_snapshot(book: BookSummary) -> BookSnapshot:
    """A ``book`` event or ``GET /book`` answer as a core snapshot."""
    return BookSnapshot(book.asset_id, _levels(book.bids), _levels(book.asks), book.tick_size)


def level_changes(event: PriceChangeEvent) -> list[LevelChange]:
    """One core change per ``price_changes`` entry (may cover both tokens of the market)."""
    return [
        LevelChange(ch.asset_id, ch.side, ch.price, ch.size, ch.best_bid, ch.best_ask)
        for ch in event.price_changes
    ]


def market_book_events(events: Sequence[object]) -> list[BookEvent]:
    """The book-relevant core events of one decoded market frame, in order; other events are skipped."""
    out: list[BookEvent] = []
    for event in events:
        if isinstance(event, BookSummary):
            out.append(book_snapshot(event))
        elif isinstance(event, PriceChangeEvent):
            out.extend(level_changes(event))
        elif isinstance(event, TickSizeChange):
            out.append(CoreTickSizeChange(event.asset_id, event.new_tick_size))
    return out


def market_asset_of(event: object) -> str | tuple[str, ...] | None:
    """The asset a market event is about (for the per-asset silence watchdog): a tuple of them for a
    ``price_change`` that covers several (the unified book's YES and NO entries), ``None`` if none."""
    if isinstance(event, BookSummary | TickSizeChange):
        return event.asset_id
    if isinstance(event, PriceChangeEvent) and event.price_changes:
        changes = event.price_changes
        first = changes[0].asset_id
        for change in changes:
            if change.asset_id != first:
                return tuple(dict.fromkeys(ch.asset_id for ch in changes))
        return first
    return None


# --- user channel and /data/trades ------------------------------------------------------------------


def _ms_to_s(value: int | None) -> float:
    return 0.0 if value is None else value / 1000.0


_GTC = OrderType.GTC
_TAKER = TraderSide.TAKER

# The user-channel builders below (and those of aqbot.io.edge_user) pass the core events' fields by position
# (keywords cost ~40% more on these 7-11 field attrs classes); this pins the order they rely on: a reordered
# core class fails at import.
_POSITIONAL: dict[type, tuple[str, ...]] = {
    ce.OrderEvent: (
        "order_id",
        "token",
        "side",
        "price",
        "original_size",
        "size_matched",
        "status",
        "type",
        "order_type",
        "expiration",
        "timestamp",
    ),
    ce.MakerFill: ("order_id", "matched_amount", "price", "token", "owner", "maker_address", "side"),
    ce.TradeEvent: (
        "trade_id",
        "status",
        "taker_order_id",
        "token",
        "side",
        "size",
        "price",
        "trader_side",
        "maker_orders",
        "match_time",
    ),
}
for _cls, _names in _POSITIONAL.items():
    if tuple(f.name for f in attrs.fields(_cls) if f.init and not f.kw_only) != _names:
        raise RuntimeError(
            f"edge: the fields of core {_cls.__name__} changed; update the user-channel builders"
        )


def order_event(event: OrderEvent) -> ce.OrderEvent:
    """A user-channel ``order`` event as a core event."""
    ts = event.timestamp
    return ce.OrderEvent(
        event.id.lower(),  # order_id
        event.asset_id,  # token
        event.side,
        event.price,
        event.original_size,
        event.size_matched,
        event.status,
        ORDER_EVENT_TYPE[event.type._value_],
        event.order_type or _GTC,
        float(event.expiration or 0),  # expiration
        0.0 if ts is None else ts / 1000.0,  # timestamp (ms -> s)
    )


def _own_fill(m: MakerOrder, matched: Decimal, price: Decimal, side: Side, asset: str) -> ce.MakerFill:
    """One of aqbot's maker entries as a core fill. A maker entry without ``side`` (older payloads) is on
    the taker's opposite side in the taker's token, else on the same side
    (:meth:`aqbot.wire.Trade.maker_side`)."""
    maker_side = m.side
    if maker_side is None:
        maker_side = side.opposite if m.asset_id == asset else side
    return ce.MakerFill(m.order_id.lower(), matched, price, m.asset_id, m.owner, m.maker_address, maker_side)


def trade_event(trade: Trade, me: Identity) -> ce.TradeEvent:
    """A trade (WS event or REST row) as a core event, keeping only aqbot's own maker entries.

    ``trader_side`` says which side aqbot is on; when it is absent or TAKER but one of the maker entries is
    aqbot's (both sides of a self-cross), the maker entries are still kept: the core applies each order's
    fills by order id, so nothing is counted twice. (The ownership test and the side inference are
    :meth:`Identity.owns` and :meth:`aqbot.wire.Trade.maker_side`, inlined.)
    """
    key = me.api_key
    addr = me.maker_address.lower()
    side = trade.side
    asset = trade.asset_id
    fills = []
    for m in trade.maker_orders:
        if m.owner == key or m.maker_address.lower() == addr:
            fills.append(_own_fill(m, m.matched_amount, m.price, side, asset))
    return ce.TradeEvent(
        trade.id,  # trade_id
        TRADE_STATUS[trade.status._value_],
        trade.taker_order_id.lower(),
        asset,  # token
        side,
        trade.size,
        trade.price,
        "TAKER" if trade.trader_side is _TAKER else "MAKER",
        tuple(fills),
        float(trade.match_time),
    )


def user_events(events: Sequence[object], me: Identity) -> list[ce.OrderEvent | ce.TradeEvent]:
    """The core events of one decoded user frame, in order (unknown and control frames skipped).

    Core events are passed through as they are, so a frame decoded by :func:`user_frame_events` (already
    core events) can take the same route as one decoded by :func:`aqbot.wire.decode_user_frame`.
    """
    out: list[ce.OrderEvent | ce.TradeEvent] = []
    for event in events:
        cls = type(event)
        if cls is OrderEvent or (cls is not Trade and isinstance(event, OrderEvent)):
            out.append(order_event(event))  # type: ignore[arg-type]
        elif cls is Trade or isinstance(event, Trade):
            out.append(trade_event(event, me))  # type: ignore[arg-type]
        elif isinstance(event, ce.OrderEvent | ce.TradeEvent):
            out.append(event)
    return out


def newest_timestamp_ms(events: Sequence[object]) -> int | None:
    """The largest ``timestamp`` (ms) among decoded wire ``events``; ``None`` when none carries one."""
    newest: int | None = None
    for event in events:
        ts = getattr(event, "timestamp", None)
        if isinstance(ts, int) and (newest is None or ts > newest):
            newest = ts
    return newest


def user_frame_decoder(me: Identity) -> Callable[[str], UserFrame]:
    """The user channel's :attr:`ChannelSpec.decode <aqbot.io.ws.ChannelSpec>`: :func:`user_frame_events`
    for ``me``, with aqbot's identity prepared once (:func:`aqbot.io.edge_user.frame_decoder`)."""
    return frame_decoder(me.api_key, me.maker_address.lower(), lambda raw: _reference_frame(raw, me))


def user_frame_events(raw: str, me: Identity) -> UserFrame:
    """Decode a user-channel text frame straight to core events: equal to
    ``user_events(decode_user_frame(raw), me)``, with ``newest_ms`` equal to
    ``newest_timestamp_ms(decode_user_frame(raw))``, and the same :class:`~aqbot.errors.WireError` for bad
    input.

    A frame in the typed fast path's subset (:mod:`aqbot.wire.userfast`) skips the wire models: the typed
    structs become core events directly (:mod:`aqbot.io.edge_user`), after *every* scalar conversion the
    wire model would have run (fields the core ignores, such as ``created_at`` and the other makers'
    amounts, are still checked), so a frame the models would refuse is declined there too. Every other
    frame, and any declined one, takes the reference route.

    Raises:
        WireError: malformed JSON, a missing field or a wrongly typed value.
    """
    return user_frame_decoder(me)(raw)


def _reference_frame(raw: str, me: Identity) -> UserFrame:
    models = decode_user_frame(raw)
    frame = UserFrame(user_events(models, me))
    frame.newest_ms = newest_timestamp_ms(models)
    return frame


# --- REST answers -----------------------------------------------------------------------------------


def placement_answer(
    order_id: OrderId, answer: PostOrderResponse, http_status: int = 200
) -> ce.PlacementAnswer:
    """One placement answer for the order whose locally computed id is ``order_id``.

    The raw ``success`` flag is passed through and the core classifies the answer (DESIGN section 1 rule
    2): ``success: false``, an empty ``orderID`` or ``unmatched`` is a definitive rejection; an answer that
    carries our id with ``success: true`` but is otherwise unrecognised (a new status, an ``errorMsg`` next
    to ``live``) leaves the order UNKNOWN and reserved, never released. The pysdk's stricter
    :attr:`PostOrderResponse.is_accepted` would turn such an answer into a release.
    """
    return ce.PlacementAnswer(
        order_id=order_id,
        success=answer.success,
        returned_order_id=answer.order_id.lower(),
        status=answer.status,
        error=answer.error_msg,
        http_status=http_status,
    )


def cancel_answer(answer: CancelResponse) -> ce.CancelAnswer:
    """A DELETE answer (``canceled`` is NOT a release; see DESIGN section 1)."""
    return ce.CancelAnswer(
        canceled=tuple(oid.lower() for oid in answer.canceled),
        not_canceled=tuple(sorted((oid.lower(), why) for oid, why in answer.not_canceled.items())),
    )


def open_order_row(order: OpenOrder) -> ce.OpenOrderRow:
    """One ``/data/orders`` row."""
    return ce.OpenOrderRow(
        order_id=order.id.lower(),
        token=order.asset_id,
        side=order.side,
        price=order.price,
        original_size=order.original_size,
        size_matched=order.size_matched,
        status=order.status,
        order_type=order.order_type or OrderType.GTC,
        expiration=float(order.expiration or 0),
    )


def position_row(position: Position) -> ce.PositionRow:
    """One Data API position row."""
    return ce.PositionRow(position.asset, position.size, position.avg_price or ce.ZERO)


def orders_snapshot(
    started_at: float, orders: Iterable[OpenOrder], trades: Iterable[Trade], me: Identity, *, complete: bool
) -> ce.OrdersSnapshot:
    """A reconciliation snapshot: aqbot's open orders and its trades.

    Every ``/data/orders`` row is kept: the endpoint is authenticated and lists only aqbot's orders, and
    dropping a row would read as "no longer open", which releases a reservation.
    """
    return ce.OrdersSnapshot(
        started_at=started_at,
        open_orders=tuple(open_order_row(o) for o in orders),
        trades=tuple(trade_event(t, me) for t in trades),
        complete=complete,
    )
