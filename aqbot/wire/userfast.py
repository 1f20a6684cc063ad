"""Typed fast path for user-channel frames: msgspec decodes the common ``order``/``trade`` shapes straight
into small structs, which become the same wire models the reference path builds.

The reference path (:func:`aqbot.wire.codec._decode_frame`: untyped parse, then the hand-written hooks of
:mod:`aqbot.wire.fast`) stays the definition of what a frame means. :func:`decode_user_fast` is only a
shortcut for the frames it can take *exactly*; it returns ``None`` for everything else and the caller then
runs the reference path, which decides and builds the error. It is safe because:

* **It accepts a subset.** Every struct forbids unknown keys, and every declared key is typed with a subset of
  what the reference hook accepts for it (numerics and timestamps as JSON strings or ints, ids as strings,
  enums by exact value: ``TRADE_STATUS_``-prefixed statuses, JSON-number prices, ``"size_matched": 1.5``,
  any extra key, an unknown ``event_type``, a lone surrogate escape are all declined). Forbidding unknown
  keys matters: the reference parser converts *every* JSON float in the frame with the ``1e±40`` bound, so
  ``"x": 1e999`` in an ignored key makes it reject the frame; no float can reach a struct field here.
  The schema nests at most four levels, so the depth guard of :func:`aqbot.wire.jsontext.loads` can never
  fire on an accepted frame (a deep frame fails the typed decode at its first unexpected bracket).
* **It converts with the reference's own functions.** Decimals, timestamps, the order type and the
  defaults go through the same :mod:`aqbot.wire.scalars` / :mod:`aqbot.wire.fast` helpers, so an accepted
  frame gives equal models; a helper that raises declines the frame.
* msgspec parses strings, ints (up to the interpreter's 4300-digit limit) and duplicate keys (last one
  wins) as the untyped parse does; a duplicated ``event_type`` with two different values is declined.

``tests/wire/test_wire_user_fast.py`` checks both directions differentially (random, mutated and hand-made
edge frames): whatever this path accepts, the reference path accepts with equal models.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec

from aqbot.core.types import Side
from aqbot.wire.events import OrderEvent, UserEvent
from aqbot.wire.fast import opt_order_type
from aqbot.wire.orders import MakerOrder, Trade
from aqbot.wire.scalars import (
    to_decimal,
    to_decimal_or_zero,
    to_opt_decimal,
    to_opt_unix_ms,
    to_opt_unix_s,
    to_unix_s,
)
from aqbot.wire.types import OrderEventType, TraderSide, TradeStatus

logger = logging.getLogger(__name__)

_Num = str | int
"""A Decimal or timestamp as sent: a JSON string (PROTOCOL's form) or a JSON integer (both go through the
reference's scalar functions); JSON floats are declined."""


# The fields are declared in the order the exchange sends them (PROTOCOL 5.1, 5.2; keyword-only, so the
# optional ones can sit between the required ones): msgspec looks each key up starting after the previous
# one, so keys in declaration order are found at the first try.


class OrderMsg(
    msgspec.Struct, tag_field="event_type", tag="order", forbid_unknown_fields=True, gc=False, kw_only=True
):
    type: OrderEventType
    id: str
    owner: str | None = None
    order_owner: str | None = None
    market: str
    asset_id: str
    side: Side
    price: _Num
    original_size: _Num
    size_matched: _Num
    associate_trades: tuple[str, ...] | None = None
    outcome: str | None = None
    order_type: str | None = None
    status: str
    created_at: _Num | None = None
    expiration: _Num | None = None
    maker_address: str | None = None
    timestamp: _Num | None = None


class MakerMsg(msgspec.Struct, forbid_unknown_fields=True, gc=False, kw_only=True):
    order_id: str
    owner: str
    maker_address: str
    matched_amount: _Num
    price: _Num
    asset_id: str
    outcome: str | None = None
    side: Side | None = None
    fee_rate_bps: _Num | None = None
    outcome_index: int | None = None


class TradeMsg(
    msgspec.Struct, tag_field="event_type", tag="trade", forbid_unknown_fields=True, gc=False, kw_only=True
):
    type: str | None = None  # "TRADE"; the reference ignores it (any JSON value), declined unless a string
    id: str
    taker_order_id: str
    market: str
    asset_id: str
    side: Side
    size: _Num
    price: _Num
    fee_rate_bps: _Num | None = None
    status: TradeStatus
    match_time: _Num
    last_update: _Num | None = None
    timestamp: _Num | None = None
    outcome: str | None = None
    owner: str | None = None
    trade_owner: str | None = None
    maker_address: str | None = None
    bucket_index: int | None = None
    transaction_hash: str | None = None
    trader_side: TraderSide
    maker_orders: tuple[MakerMsg, ...] | None = None
    match_time_nano: str | None = None
    err_msg: str | None = None


decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(OrderMsg | TradeMsg | list[OrderMsg | TradeMsg])
"""The typed decode of a frame: one struct, or a list of them (the scalar conversions are left to the
caller, which must run every one of them; a decode error means "not in the subset")."""
UNDECODABLE = (msgspec.MsgspecError, ValueError, TypeError, RecursionError)  # as jsontext.loads' fast parse
"""What :data:`decoder` may raise for a frame outside the subset (the reference path then decides)."""
DECLINE = (msgspec.MsgspecError, ValueError, TypeError, KeyError, ArithmeticError, RecursionError)
"""What a fast conversion may raise to decline a frame (the reference path then decides)."""


def decode_user_msgs(raw: str) -> list[OrderMsg | TradeMsg] | None:
    """The typed structs of a text frame in the fast path's subset, or ``None``. The scalar conversions (which
    may still decline) are left to the caller (:func:`decode_user_fast`), which must run every one of them.
    The runtime's user channel uses :data:`decoder` directly (:mod:`aqbot.io.edge_user`)."""
    try:
        data = decoder.decode(raw)
    except UNDECODABLE:
        return None
    return data if type(data) is list else [data]


_new = object.__new__
_set = object.__setattr__


def order_model(o: OrderMsg) -> OrderEvent:
    ev: OrderEvent = _new(OrderEvent)
    _set(
        ev,
        "__dict__",
        {
            "type": o.type,
            "id": o.id,
            "owner": o.owner,
            "order_owner": o.order_owner,
            "market": o.market,
            "asset_id": o.asset_id,
            "side": o.side,
            "price": to_decimal(o.price),
            "original_size": to_decimal(o.original_size),
            "size_matched": to_decimal_or_zero(o.size_matched),
            "associate_trades": o.associate_trades,
            "outcome": o.outcome,
            "order_type": opt_order_type(o.order_type),
            "status": o.status,
            "created_at": to_opt_unix_s(o.created_at),
            "expiration": to_opt_unix_s(o.expiration),
            "maker_address": o.maker_address,
            "timestamp": to_opt_unix_ms(o.timestamp),
        },
    )
    return ev


def maker_model(m: MakerMsg) -> MakerOrder:
    mo: MakerOrder = _new(MakerOrder)
    _set(
        mo,
        "__dict__",
        {
            "order_id": m.order_id,
            "owner": m.owner,
            "maker_address": m.maker_address,
            "matched_amount": to_decimal(m.matched_amount),
            "price": to_decimal(m.price),
            "asset_id": m.asset_id,
            "outcome": m.outcome,
            "side": m.side,
            "fee_rate_bps": to_opt_decimal(m.fee_rate_bps),
            "outcome_index": m.outcome_index,
        },
    )
    return mo


def trade_model(t: TradeMsg) -> Trade:
    makers = t.maker_orders
    tr: Trade = _new(Trade)
    _set(
        tr,
        "__dict__",
        {
            "id": t.id,
            "taker_order_id": t.taker_order_id,
            "market": t.market,
            "asset_id": t.asset_id,
            "side": t.side,
            "size": to_decimal(t.size),
            "price": to_decimal(t.price),
            "fee_rate_bps": to_opt_decimal(t.fee_rate_bps),
            "status": t.status,
            "match_time": to_unix_s(t.match_time),
            "last_update": to_opt_unix_s(t.last_update),
            "timestamp": to_opt_unix_ms(t.timestamp),
            "outcome": t.outcome,
            "owner": t.owner,
            "trade_owner": t.trade_owner,
            "maker_address": t.maker_address,
            "bucket_index": t.bucket_index,
            "transaction_hash": t.transaction_hash,
            "trader_side": t.trader_side,
            "maker_orders": () if makers is None else tuple([maker_model(m) for m in makers]),
            "match_time_nano": t.match_time_nano,
            "err_msg": t.err_msg,
        },
    )
    return tr


def _model(ev: OrderMsg | TradeMsg) -> UserEvent:
    return order_model(ev) if type(ev) is OrderMsg else trade_model(ev)  # type: ignore[arg-type]


def decode_user_fast(raw: str) -> list[UserEvent] | None:
    """The models of a user-channel text frame made only of well-formed ``order``/``trade`` objects, or
    ``None`` when the frame is anything else (then the reference path decides; see the module docstring)."""
    msgs = decode_user_msgs(raw)
    if msgs is None:
        return None
    try:
        return [_model(ev) for ev in msgs]
    except DECLINE:
        return None
