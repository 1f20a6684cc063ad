"""Decode and encode at the edge: JSON text <-> wire models, with exactly one error type.

Every decode function raises only :class:`aqbot.errors.WireError` (chained ``from`` the original exception),
whose ``path`` names the offending field (``$[1].maker_orders[0].price``) and whose ``raw`` holds a short
excerpt of the input (left empty for payloads that carry credentials).

JSON is parsed with ``parse_float=Decimal`` (no float ever exists) and ``NaN``/``Infinity`` are refused.
:func:`encode_json` emits compact, deterministic JSON (``(",", ":")``, ``ensure_ascii=False``, keys in field
declaration order): the exact bytes the L2 HMAC signs.

Converters: every function takes an optional ``converter`` (from :func:`make_converter`); the default is one
cached fast instance (:func:`default_converter`), the single allowed module-level cache (hot path).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import cattrs
from cattrs.v import format_exception

from aqbot.errors import WireError
from aqbot.wire.account import ApiCreds
from aqbot.wire.converter import make_converter, wire_key
from aqbot.wire.events import (
    BestBidAsk,
    ClientFrame,
    LastTradePrice,
    MarketEvent,
    MarketResolved,
    MarketSubscribe,
    NewMarket,
    OrderEvent,
    PriceChangeEvent,
    SubscriptionUpdate,
    TickSizeChange,
    UnknownEvent,
    UserEvent,
    UserSubscribe,
)
from aqbot.wire.jsontext import Raw, dumps, excerpt, loads
from aqbot.wire.market import BookSummary
from aqbot.wire.orders import Trade
from aqbot.wire.types import CONTROL_TEXTS, ControlFrame
from aqbot.wire.userfast import decode_user_fast

logger = logging.getLogger(__name__)

T = TypeVar("T")

MARKET_EVENT_TAGS: Mapping[type, str] = {
    BookSummary: "book",
    PriceChangeEvent: "price_change",
    TickSizeChange: "tick_size_change",
    LastTradePrice: "last_trade_price",
    BestBidAsk: "best_bid_ask",
    NewMarket: "new_market",
    MarketResolved: "market_resolved",
}
"""Event class -> ``event_type`` on the market channel."""

USER_EVENT_TAGS: Mapping[type, str] = {OrderEvent: "order", Trade: "trade"}
"""Event class -> ``event_type`` on the user channel."""

_EXTRA_KEYS: Mapping[type, Mapping[str, str]] = {Trade: {"type": "TRADE"}}
_SENSITIVE: frozenset[type] = frozenset({ApiCreds, UserSubscribe})
_DECODE_ERRORS = (
    KeyError,
    TypeError,
    ValueError,
    AttributeError,
    ArithmeticError,
    RecursionError,
    cattrs.BaseValidationError,
)


@functools.cache
def default_converter() -> cattrs.Converter:
    """The shared fast converter (built once, on first use)."""
    return make_converter(fast=True)


@functools.cache
def _detailed_converter() -> cattrs.Converter:
    """Generated hooks only: used to re-run a failed fast decode and report the exact path."""
    return make_converter(fast=False)


def _control(raw: Raw) -> ControlFrame | None:
    head = raw[:1]
    if head in ("{", "[", b"{", b"["):
        return None
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes | bytearray) else raw
    text = text.strip()
    return ControlFrame(text=text) if text in CONTROL_TEXTS else None


def _error_messages(exc: BaseException, path: str) -> list[str]:
    """Like ``cattrs.transform_error``, but the path uses the JSON keys (``$.makingAmount``, ``$.t[0].o``)."""
    steps: list[tuple[Exception, str, Any]]
    if isinstance(exc, cattrs.IterableValidationError):
        indexed, without = exc.group_exceptions()
        steps = [(inner, f"{path}[{note.index!r}]", note.type) for inner, note in indexed]
    elif isinstance(exc, cattrs.ClassValidationError):
        named, without = exc.group_exceptions()
        steps = [(inner, f"{path}.{wire_key(exc.cl, note.name)}", note.type) for inner, note in named]
    else:
        return [f"{format_exception(exc, None)} @ {path}"]
    out: list[str] = []
    for inner, where, tp in steps:
        if isinstance(inner, cattrs.ClassValidationError | cattrs.IterableValidationError):
            out.extend(_error_messages(inner, where))
        else:
            out.append(f"{format_exception(inner, tp)} @ {where}")
    out.extend(f"{format_exception(inner, None)} @ {path}" for inner in without)
    return out


def _wire_error(obj: object, cls: Any, exc: BaseException, *, path: str, raw: str) -> WireError:
    """Build the WireError for a failed structure, re-running the detailed converter for the path."""
    try:
        _detailed_converter().structure(obj, cls)
    except _DECODE_ERRORS as slow:
        messages = _error_messages(slow, path)
    else:
        messages = [f"rejected by the fast decoder ({type(exc).__name__}) @ {path}"]
    message, _, where = messages[0].rpartition(" @ ")
    if len(messages) > 1:
        message += f" (and {len(messages) - 1} more)"
    return WireError(message, path=where or path, raw=raw)


def _structure(conv: cattrs.Converter, obj: object, cls: Any, *, path: str, raw: Raw | None) -> Any:
    try:
        return conv.structure(obj, cls)
    except _DECODE_ERRORS as exc:
        snippet = "" if raw is None or cls in _SENSITIVE else excerpt(raw)
        raise _wire_error(obj, cls, exc, path=path, raw=snippet) from exc


_CHANNEL_TAGS: Mapping[str, Mapping[type, str]] = {"market": MARKET_EVENT_TAGS, "user": USER_EVENT_TAGS}


@functools.lru_cache(maxsize=16)
def _tag_table(conv: cattrs.Converter, channel: str) -> dict[str, tuple[Any, type]]:
    """``event_type`` -> (structure hook, class) for one converter and channel."""
    return {tag: (conv.get_structure_hook(cls), cls) for cls, tag in _CHANNEL_TAGS[channel].items()}


def _decode_frame(raw: Raw, conv: cattrs.Converter, channel: str) -> list[Any]:
    ctrl = _control(raw)
    if ctrl is not None:
        return [ctrl]
    data = loads(raw)
    table = _tag_table(conv, channel)
    if type(data) is dict:
        return [_decode_event(table, data, None, raw)]
    if type(data) is list:
        return [_decode_event(table, item, i, raw) for i, item in enumerate(data)]
    raise WireError("frame is neither a JSON object nor an array", path="$", raw=excerpt(raw))


def _decode_event(table: dict[str, tuple[Any, type]], item: object, index: int | None, raw: Raw) -> Any:
    """One element of a frame (``index`` is ``None`` for a single-object frame)."""
    if type(item) is not dict:
        raise WireError("event is not a JSON object", path=_item_path(index), raw=excerpt(raw))
    tag = item.get("event_type")
    if type(tag) is not str:
        raise WireError(
            "missing or non-string event_type", path=_item_path(index) + ".event_type", raw=excerpt(raw)
        )
    entry = table.get(tag)
    if entry is None:
        return UnknownEvent(event_type=tag, raw=item)
    hook, cls = entry
    try:
        return hook(item, cls)
    except _DECODE_ERRORS as exc:
        raise _wire_error(item, cls, exc, path=_item_path(index), raw=excerpt(raw)) from exc


def _item_path(index: int | None) -> str:
    return "$" if index is None else f"$[{index}]"


def decode_market_frame(raw: Raw, *, converter: cattrs.Converter | None = None) -> list[MarketEvent]:
    """Decode one market-channel frame (an object, an array of objects, or a control text like ``PONG``).

    Unknown ``event_type`` values become :class:`UnknownEvent` (log and count them).

    Raises:
        WireError: malformed JSON, a missing field or a wrongly typed value.
    """
    return _decode_frame(raw, converter or default_converter(), "market")


def decode_user_frame(raw: Raw, *, converter: cattrs.Converter | None = None) -> list[UserEvent]:
    """Decode one user-channel frame into :class:`OrderEvent` / :class:`Trade` / :class:`UnknownEvent` /
    :class:`ControlFrame` items.

    With the default converter, a text frame of well-formed ``order``/``trade`` objects takes the typed fast
    path (:mod:`aqbot.wire.userfast`, equal models); every other frame, and every call with an explicit
    ``converter``, takes the reference path.

    Raises:
        WireError: malformed JSON, a missing field or a wrongly typed value.
    """
    if converter is None and type(raw) is str and raw[:1] in _OBJECT_OR_ARRAY:
        events = decode_user_fast(raw)
        if events is not None:
            return events
    return _decode_frame(raw, converter or default_converter(), "user")


_OBJECT_OR_ARRAY = ("{", "[")


def decode_rest(raw_or_obj: object, cls: type[T], *, converter: cattrs.Converter | None = None) -> T:
    """Decode a REST body into ``cls`` (e.g. ``PostOrderResponse``, ``Page[OpenOrder]``, ``list[Position]``).

    ``str``/``bytes`` are parsed as JSON text; anything else is taken as already-parsed JSON (which must
    have been parsed with ``parse_float=Decimal``).

    Raises:
        WireError: malformed JSON, a missing field or a wrongly typed value.
    """
    sensitive = cls in _SENSITIVE
    if isinstance(raw_or_obj, str | bytes | bytearray):
        obj = loads(raw_or_obj, sensitive=sensitive)
        raw: Raw | None = raw_or_obj
    else:
        obj = raw_or_obj
        raw = None
    result: T = _structure(converter or default_converter(), obj, cls, path="$", raw=raw)
    return result


def decode_client_frame(raw: Raw, *, converter: cattrs.Converter | None = None) -> ClientFrame:
    """Decode what a WebSocket client sends (the simulator's side): subscribe frames or ``PING``.

    Raises:
        WireError: anything else. The error never carries an excerpt (the frame may hold credentials).
    """
    ctrl = _control(raw)
    if ctrl is not None:
        return ctrl
    obj = loads(raw, sensitive=True)
    if type(obj) is not dict:
        raise WireError("client frame is not a JSON object", path="$")
    cls: type[ClientFrame]
    if "operation" in obj:
        cls = SubscriptionUpdate
    elif obj.get("type") == "market":
        cls = MarketSubscribe
    elif obj.get("type") == "user":
        cls = UserSubscribe
    else:
        raise WireError("unknown client frame type", path="$.type")
    frame: ClientFrame = _structure(converter or default_converter(), obj, cls, path="$", raw=None)
    return frame


def encode_json(obj: object, *, converter: cattrs.Converter | None = None) -> str:
    """Encode a model (or a list of models, e.g. a ``POST /orders`` batch or ``DELETE /orders`` ids) as the
    compact JSON text that is sent and signed."""
    return dumps((converter or default_converter()).unstructure(obj))


def _tagged(conv: cattrs.Converter, ev: object, tags: Mapping[type, str]) -> object:
    if type(ev) is UnknownEvent:
        return dict(ev.raw)
    tag = tags.get(type(ev))
    if tag is None:
        raise TypeError(f"{type(ev).__name__} is not an event of this channel")
    body: dict[str, Any] = {"event_type": tag}
    body.update(_EXTRA_KEYS.get(type(ev), {}))
    body.update(conv.unstructure(ev))
    return body


def _encode_frame(events: object, conv: cattrs.Converter, tags: Mapping[type, str]) -> str:
    if type(events) is ControlFrame:
        return events.text
    if isinstance(events, Sequence):
        return dumps([_tagged(conv, ev, tags) for ev in events])
    return dumps(_tagged(conv, events, tags))


def encode_market_frame(
    events: MarketEvent | Sequence[MarketEvent], *, converter: cattrs.Converter | None = None
) -> str:
    """Encode one event (a JSON object), a sequence (a JSON array) or a :class:`ControlFrame` (its text)."""
    return _encode_frame(events, converter or default_converter(), MARKET_EVENT_TAGS)


def encode_user_frame(
    events: UserEvent | Sequence[UserEvent], *, converter: cattrs.Converter | None = None
) -> str:
    """Encode user-channel events like :func:`encode_market_frame`; trades get ``"type":"TRADE"``."""
    return _encode_frame(events, converter or default_converter(), USER_EVENT_TAGS)


def encode_client_frame(frame: ClientFrame, *, converter: cattrs.Converter | None = None) -> str:
    """Encode a subscribe frame (or ``PING``) as the client sends it."""
    if type(frame) is ControlFrame:
        return frame.text
    return encode_json(frame, converter=converter)
