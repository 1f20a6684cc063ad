"""The runtime's user-channel decode: a text frame straight to core events (:func:`frame_decoder`, wrapped
by :func:`aqbot.io.edge.user_frame_decoder`), and :class:`UserFrame`, what it returns.

A frame in the typed subset of :mod:`aqbot.wire.userfast` skips the wire models: msgspec decodes it into
structs and :func:`_order` / :func:`_trade` build the core events of :func:`aqbot.io.edge.order_event` /
:func:`~aqbot.io.edge.trade_event` from them, after *every* scalar conversion the wire models would have
run (the fields the core ignores, such as ``created_at``, ``fee_rate_bps`` and the other makers' amounts,
are still checked), so a frame the models would refuse is declined here too (one of ``DECLINE``) and the
reference route decides. Every other frame takes the reference route as well.

Why it is written the way it is: it runs once per user-channel frame on the ingest hot path, so each
message is handled by one function with no helper calls on the common path. The scalar conversions are
the ones of :mod:`aqbot.wire.scalars`, tried through their memos first (``_cached``: the Decimal
:func:`~aqbot.wire.scalars.to_decimal` returned for that string; ``_cached_s``: the seconds
:func:`~aqbot.wire.scalars.to_opt_unix_s` returned; a value only checked, such as ``created_at``, is looked
up with ``in``), with the function itself on a miss; the millisecond ``timestamp`` has an inline shortcut
(see :func:`_order`) and otherwise goes through :func:`~aqbot.wire.scalars.to_opt_unix_ms`.
The core events are built as :func:`aqbot.core.events._dict_literal_init` builds them (a new instance
given one dict display of its fields, in field order) without the constructor call (~0.1 us less per
event). ``tests/wire/test_wire_user_fast.py`` and ``tests/io/test_edge_fast.py`` check all of it against
the reference route differentially (and that each event stores exactly its fields, in order).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aqbot.core import events as ce
from aqbot.core.types import OrderType
from aqbot.wire.scalars import (
    cached_decimal,
    cached_unix_s,
    decimal_memo,
    to_decimal,
    to_decimal_or_zero,
    to_opt_decimal,
    to_opt_unix_ms,
    to_opt_unix_s,
    to_unix_s,
    unix_s_memo,
)
from aqbot.wire.types import OrderEventType, TraderSide, TradeStatus
from aqbot.wire.userfast import DECLINE, UNDECODABLE, OrderMsg, TradeMsg, decoder

log = logging.getLogger(__name__)

# Wire enum value -> core enum: a dict lookup on the member's ``_value_`` (a plain attribute; Enum's
# ``hash()`` and ``.value`` are Python-level) instead of an Enum call by value on the hot path.
ORDER_EVENT_TYPE = {t.value: ce.OrderEventType(t.value) for t in OrderEventType}
TRADE_STATUS = {s.value: ce.TradeStatus(s.value) for s in TradeStatus}
# ``order_type`` as sent -> the core's: :func:`aqbot.wire.fast.opt_order_type` (None/"" -> None, else the
# member of that exact value, ``KeyError`` if none) followed by the edge's ``or OrderType.GTC``, one lookup.
_ORDER_TYPE_OR_GTC: dict[object, OrderType] = {None: OrderType.GTC, "": OrderType.GTC}
_ORDER_TYPE_OR_GTC.update((t.value, t) for t in OrderType)
_TAKER = TraderSide.TAKER
_cached = cached_decimal
_cached_s = cached_unix_s
_decimal_memo = decimal_memo  # for the values only checked: `in` costs no call
_unix_s_memo = unix_s_memo
_new = object.__new__  # the events' own __init__ without the call (see the module docstring)
_set = object.__setattr__
_OrderEvent, _MakerFill, _TradeEvent = ce.OrderEvent, ce.MakerFill, ce.TradeEvent
_MS_MIN = 10**12  # the smallest 13-digit integer


class UserFrame(list[ce.OrderEvent | ce.TradeEvent]):
    """The core events of one user-channel frame (a list, in order) and ``newest_ms``: the newest exchange
    ``timestamp`` (ms) among the frame's messages, ``None`` when none carries one. The events drop the
    message timestamps; the WS lag gauge (:class:`aqbot.io.observe.ObservedListener`) reads ``newest_ms``.
    """

    __slots__ = ("newest_ms",)

    newest_ms: int | None


def frame_decoder(key: str, addr: str, reference: Callable[[str], UserFrame]) -> Callable[[str], UserFrame]:
    """The user channel's decode for aqbot's API key ``key`` and lower-cased funder address ``addr``:
    the typed route when the frame is in its subset and every conversion passes, else ``reference(raw)``
    (which decides, and raises the :class:`~aqbot.errors.WireError` of a bad frame)."""
    decode_typed = decoder.decode

    def decode(raw: str) -> UserFrame:
        if raw[:1] in _OBJECT_OR_ARRAY:  # PONG and other text frames: straight to the reference route
            try:
                data = decode_typed(raw)
            except UNDECODABLE:
                return reference(raw)
            frame = UserFrame()
            try:
                if type(data) is not list:  # one message per frame is the common case
                    frame.newest_ms = (
                        _order(data, frame) if type(data) is OrderMsg else _trade(data, key, addr, frame)
                    )
                    return frame
                newest = None
                for m in data:
                    ts = _order(m, frame) if type(m) is OrderMsg else _trade(m, key, addr, frame)
                    if ts is not None and (newest is None or ts > newest):
                        newest = ts
                frame.newest_ms = newest
                return frame
            except DECLINE:
                pass
        return reference(raw)

    return decode


_OBJECT_OR_ARRAY = ("{", "[")


def _order(m: OrderMsg, frame: UserFrame) -> int | None:
    """Append the core event of an ``order`` message to ``frame``; its ``timestamp`` in ms (raises one of
    ``DECLINE``)."""
    v = m.timestamp
    # to_opt_unix_ms's shortcut (13 ASCII digits, no leading zero) with one call fewer: int() of 13 ASCII
    # characters is >= 10**12 only when all 13 are digits and the first is not 0 (a sign, a space or an
    # underscore leaves at most 12 digits); anything else is the function's to decide (int() raising
    # declines the frame: the reference route then decides).
    ts: int | None
    if type(v) is str and len(v) == 13 and v.isascii():
        ts = int(v)
        if ts < _MS_MIN:
            ts = to_opt_unix_ms(v)
    else:
        ts = to_opt_unix_ms(v)
    v = m.created_at
    if v not in _unix_s_memo:  # checked like the model's field; the core does not use it
        to_opt_unix_s(v)
    v = m.expiration
    expiration = _cached_s(v)
    if expiration is None:
        expiration = to_opt_unix_s(v)
    v = m.price
    price = _cached(v)
    if price is None:
        price = to_decimal(v)
    v = m.original_size
    size = _cached(v)
    if size is None:
        size = to_decimal(v)
    v = m.size_matched
    matched = _cached(v)
    if matched is None:
        matched = to_decimal_or_zero(v)
    ev = _new(_OrderEvent)
    _set(
        ev,
        "__dict__",
        {
            "order_id": m.id.lower(),
            "token": m.asset_id,
            "side": m.side,
            "price": price,
            "original_size": size,
            "size_matched": matched,
            "status": m.status,
            "type": ORDER_EVENT_TYPE[m.type._value_],
            "order_type": _ORDER_TYPE_OR_GTC[m.order_type],
            "expiration": 0.0 if expiration is None else expiration + 0.0,  # float(expiration or 0), no call
            "timestamp": 0.0 if ts is None else ts / 1000.0,  # ms -> s
        },
    )
    frame.append(ev)
    return ts


def _trade(m: TradeMsg, key: str, addr: str, frame: UserFrame) -> int | None:
    """Append the core event of a ``trade`` message to ``frame``, keeping aqbot's own maker entries (owner
    ``key`` or maker address ``addr``, as :func:`aqbot.io.edge.trade_event`); its ``timestamp`` in ms (raises
    one of ``DECLINE``)."""
    v = m.timestamp
    ts: int | None
    if type(v) is str and len(v) == 13 and v.isascii():  # as in _order
        ts = int(v)
        if ts < _MS_MIN:
            ts = to_opt_unix_ms(v)
    else:
        ts = to_opt_unix_ms(v)
    v = m.fee_rate_bps
    if v is not None and v not in _decimal_memo:
        to_opt_decimal(v)  # checked, like last_update below and the other makers' amounts
    v = m.last_update
    if v not in _unix_s_memo:
        to_opt_unix_s(v)
    side, asset = m.side, m.asset_id
    fills: tuple[ce.MakerFill, ...] = ()
    for mo in m.maker_orders or ():
        v = mo.matched_amount
        amount = _cached(v)
        if amount is None:
            amount = to_decimal(v)
        v = mo.price
        at = _cached(v)
        if at is None:
            at = to_decimal(v)
        v = mo.fee_rate_bps
        if v is not None and v not in _decimal_memo:
            to_opt_decimal(v)
        if mo.owner == key or mo.maker_address.lower() == addr:
            # A maker entry without ``side`` (older payloads) is on the taker's opposite side in the taker's
            # token, else on the same side (:meth:`aqbot.wire.Trade.maker_side`).
            maker_side = mo.side
            if maker_side is None:
                maker_side = side.opposite if mo.asset_id == asset else side
            fill: ce.MakerFill = _new(_MakerFill)
            _set(
                fill,
                "__dict__",
                {
                    "order_id": mo.order_id.lower(),
                    "matched_amount": amount,
                    "price": at,
                    "token": mo.asset_id,
                    "owner": mo.owner,
                    "maker_address": mo.maker_address,
                    "side": maker_side,
                },
            )
            fills += (fill,)  # one or a few: cheaper than a list and tuple()
    v = m.size
    size = _cached(v)
    if size is None:
        size = to_decimal(v)
    v = m.price
    price = _cached(v)
    if price is None:
        price = to_decimal(v)
    v = m.match_time
    match_time = _cached_s(v)
    if match_time is None:
        match_time = to_unix_s(v)
    ev = _new(_TradeEvent)
    _set(
        ev,
        "__dict__",
        {
            "trade_id": m.id,
            "status": TRADE_STATUS[m.status._value_],
            "taker_order_id": m.taker_order_id.lower(),
            "token": asset,
            "side": side,
            "size": size,
            "price": price,
            "trader_side": "TAKER" if m.trader_side is _TAKER else "MAKER",
            "maker_orders": fills,
            "match_time": match_time + 0.0,  # float(match_time) without the call
        },
    )
    frame.append(ev)
    return ts
