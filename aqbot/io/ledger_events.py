"""What goes in the ledger: :class:`LedgerEvent` and the ``type`` namespace.

A ledger event is a fact aqbot saw or did, stored once and never changed. ``type`` is a dotted name;
the expected ones are listed in :data:`EVENT_TYPES` (the store accepts any dotted lower-case name, so a
new kind of evidence never needs a schema change; ``aqbot ledger verify`` reports unknown ones).

``payload`` is a JSON object. :func:`encode_payload` turns ``Decimal`` into strings (exactly as
written: ``"0.570"`` stays ``"0.570"``), enums into their values, tuples and sets into lists, and a
:class:`aqbot.secrets.Secret` into ``"***"`` so a secret can never be written by accident.
:func:`decode_payload` parses numbers that were *floats* back as ``Decimal`` (nothing aqbot writes is a
float, but raw exchange messages may carry JSON numbers).

The hot producers (:class:`aqbot.io.hub.Hub`) do not build a :class:`LedgerEvent` per row: they encode
each row once, when it is recorded, into a :data:`LedgerRow` tuple (:func:`new_row`, :func:`event_row`),
which the hub's sink, the writer's channel and the writer carry as it is. A flat payload of strings,
integers, booleans, ``None`` and ``Decimal`` is encoded with ``msgspec`` (3 to 5 times faster than the
``json`` C encoder); everything else with ``json`` as before. Both write compact key-sorted JSON, the same
text for ASCII; ``msgspec`` writes other characters as UTF-8 where ``json`` writes ``\\u`` escapes (the
two decode to equal values). A payload :func:`deferrable` says cannot fail and reads the same anywhere
(ASCII strings, ints, booleans, ``None``: the raw frame of every user-channel message) is kept unencoded
in its row instead, a copy, and encoded by :func:`row_text` where the batch is written, off the event loop.

Gap events drive the ``gaps`` table in the same transaction (see :mod:`aqbot.io.ledger`); build them
with :func:`gap_open`, :func:`gap_close` and :func:`gap_resolve` so their payload has the right keys.
"""

from __future__ import annotations

import enum
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import attrs
import msgspec

from aqbot.secrets import Secret

log = logging.getLogger(__name__)

# The event types aqbot writes, and what each payload holds.
EVENT_TYPES: Mapping[str, str] = {
    "startup": "process start: version, config digest, pid",
    "shutdown": "clean stop: reason",
    "ws.user.raw": "a user-channel message as received: {local_seq, text}",
    "ws.market.raw": "a market-channel message kept as evidence (sampled, not every book)",
    "rest.answer": "a REST answer used as evidence: {method, path, status, body}",
    "command.place": "an order sent: {order_id, side, price, size, ...}",
    "dryrun.order": "a dry run's signed order, not sent: {order_id, token, side, price, size, wire}",
    "command.cancel": "a cancel sent: {order_ids}",
    "reservation": "a reservation change: {token, order_id, delta, worst, reason}",
    "order.state": "a local order state transition: {order_id, from, to, cause}",
    "fill.applied": "a fill applied to held: {trade_id, order_id, token, side, size, price}",
    "fill.reversed": "a FAILED trade reversed: {trade_id, order_id, token, size}",
    "fill.trade": "a fill key seen, or its status changed: {trade_id, order_id, amount, price, status}",
    "reserve.refused": "a placement refused before sending: {token, side, price, size, reason}",
    "order.adopted": "an unknown order of ours, now reserved: {order_id, token, side, remaining, source}",
    "position.decision": "a positions-API decision: {token, api, held, decision}",
    "halt": "a halt reason latched: {reason, detail}",
    "resume": "a halt reason cleared: {reason}",
    "gap.open": "a WS gap started: {gap_id, channel, reason}",
    "gap.close": "a WS gap ended (reconnected): {gap_id}",
    "gap.resolve": "a gap resolved by a reconciliation: {gap_id, reconcile_id}",
    "reconcile.start": "a reconciliation started: {reconcile_id, trigger}",
    "reconcile.done": "a reconciliation completed: {reconcile_id, orders, trades, positions}",
    "reconcile.watermark": "the reconciler's trade watermark advanced: {watermark} (Unix s)",
    "defect": "aqbot's own bug or an inconsistency: {what, detail}",
    "snapshot": "a state snapshot to shorten replay: {state}",
}
GAP_EVENT_KEYS: Mapping[str, tuple[str, ...]] = {
    "gap.open": ("gap_id", "channel", "reason"),
    "gap.close": ("gap_id",),
    "gap.resolve": ("gap_id", "reconcile_id"),
}
_TYPE_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")


# Type names already checked (a handful in practice): the regex runs once per name, not once per event.
_CHECKED_TYPES: set[str] = set()
_CHECKED_TYPES_MAX = 1024


def _check_type(_inst: object, _attr: attrs.Attribute[str], value: str) -> None:
    if value in _CHECKED_TYPES:
        return
    if not (isinstance(value, str) and _TYPE_NAME.fullmatch(value)):
        raise ValueError(f"ledger event type must be a dotted lower-case name, got {value!r}")
    if len(_CHECKED_TYPES) < _CHECKED_TYPES_MAX:
        _CHECKED_TYPES.add(value)


def _check_payload(inst: LedgerEvent, _attr: attrs.Attribute[Mapping[str, Any]], value: object) -> None:
    if type(value) is not dict and not isinstance(value, Mapping):
        raise TypeError("ledger event payload must be a mapping")
    for key in GAP_EVENT_KEYS.get(inst.type, ()):
        if key not in value:
            raise ValueError(f"{inst.type} event needs payload key {key!r}")


@attrs.frozen
class LedgerEvent:
    """One ledger row. ``seq`` is ``None`` until the store assigns it (1, 2, 3, ... with no holes).

    ``mono_time`` is Trio's clock (what the core uses); ``wall_time`` is a Unix timestamp, a label only.
    """

    type: str = attrs.field(validator=_check_type)
    payload: Mapping[str, Any] = attrs.field(factory=dict, validator=_check_payload)
    token: str | None = None
    order_id: str | None = None
    trade_id: str | None = None
    mono_time: float = 0.0
    wall_time: float = 0.0
    seq: int | None = None

    @classmethod
    def create(
        cls,
        type: str,
        payload: Mapping[str, Any] | None = None,
        *,
        mono_time: float,
        token: str | None = None,
        order_id: str | None = None,
        trade_id: str | None = None,
    ) -> LedgerEvent:
        """An event stamped with the current wall time (pass ``mono_time=trio.current_time()``)."""
        return cls(
            type=type,
            payload=dict(payload or {}),
            token=token,
            order_id=order_id,
            trade_id=trade_id,
            mono_time=mono_time,
            wall_time=time.time(),  # a label only; never used for scheduling
        )


def gap_open(gap_id: int | str, channel: str, reason: str, *, mono_time: float) -> LedgerEvent:
    """A ``gap.open`` event (inserts a ``gaps`` row)."""
    return LedgerEvent.create(
        "gap.open", {"gap_id": gap_id, "channel": channel, "reason": reason}, mono_time=mono_time
    )


def gap_close(gap_id: int | str, *, mono_time: float) -> LedgerEvent:
    """A ``gap.close`` event (sets ``closed_at`` of the gap)."""
    return LedgerEvent.create("gap.close", {"gap_id": gap_id}, mono_time=mono_time)


def gap_resolve(gap_id: int | str, reconcile_id: int | str, *, mono_time: float) -> LedgerEvent:
    """A ``gap.resolve`` event (sets ``resolved_by_reconcile_id`` and ``resolved_at``)."""
    return LedgerEvent.create(
        "gap.resolve", {"gap_id": gap_id, "reconcile_id": reconcile_id}, mono_time=mono_time
    )


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Secret):
        return str(value)  # "***": a secret is never written
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if attrs.has(type(value)):
        return attrs.asdict(value, recurse=False)  # type: ignore[arg-type]
    raise TypeError(f"ledger payloads cannot hold {type(value).__name__}")


# One encoder for every payload (json.dumps with options builds a new encoder per call).
_ENCODER = json.JSONEncoder(default=_default, separators=(",", ":"), sort_keys=True, allow_nan=False)


def _c_encoder() -> Callable[[object, int], Sequence[str]] | None:
    """What ``_ENCODER.encode`` runs (``json.encoder.c_make_encoder`` with ``_ENCODER``'s options, its
    circular-reference check included), built once instead of per call; None without the C accelerator.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    e = _ENCODER
    encoder: Callable[[object, int], Sequence[str]] = make(
        {}, e.default, json.encoder.encode_basestring_ascii, e.indent, e.key_separator, e.item_separator,
        e.sort_keys, e.skipkeys, e.allow_nan,
    )  # fmt: skip
    return encoder


# Each thread's reused C encoder (its table of open containers must not be shared by two threads).
_LOCAL = threading.local()
_HAVE_C_ENCODER = getattr(json.encoder, "c_make_encoder", None) is not None


def encode_payload(payload: Mapping[str, Any]) -> str:
    """Compact, key-sorted JSON text of ``payload``.

    A flat payload (see :func:`payload_text`) is encoded by ``msgspec``; any other by ``_ENCODER``, whose
    C encoder is reused across calls, one per thread (each call of ``JSONEncoder.encode`` builds a new
    one): after a success its table of containers being encoded is empty again, and after a failure it
    is replaced.

    Raises:
        TypeError: ``payload`` holds a value JSON cannot represent (a bug in the caller).
        ValueError: ``payload`` holds a NaN or an infinity, or refers to itself.
    """
    text = payload_text(payload)
    return text if isinstance(text, str) else text.decode()


def payload_text(payload: Mapping[str, Any]) -> bytearray | str:
    """:func:`encode_payload` as the store takes it: UTF-8 in a ``bytearray`` from the fast path (the
    ``sqlite3`` module binds a ``bytearray`` several times faster than ``bytes``), else text.

    The fast path takes a ``dict`` whose values are all exactly ``str``, ``int``, ``bool``, ``None`` or
    ``Decimal`` (and whose keys are strings: msgspec refuses others when it sorts keys): for those
    ``msgspec`` writes what ``json`` writes (a ``Decimal`` as ``str(value)``), except characters outside
    printable ASCII, which it writes as UTF-8 instead of ``\\u`` escapes; a string it cannot write as
    UTF-8 (a lone surrogate) goes to ``json``.

    Raises:
        TypeError, ValueError: as :func:`encode_payload`.
    """
    if payload.__class__ is dict:
        for value in payload.values():
            if value.__class__ not in _FLAT_VALUES:
                break
        else:
            buffer = bytearray()
            try:
                _ENCODE_INTO(payload, buffer)
                return buffer
            except (TypeError, UnicodeEncodeError):
                pass  # a key that is not a string, or a lone surrogate: json decides
    return _json_text(payload)


def _json_text(payload: Mapping[str, Any]) -> str:
    if not _HAVE_C_ENCODER:
        return _ENCODER.encode(payload)
    encoder: Callable[[object, int], Sequence[str]] | None = getattr(_LOCAL, "encoder", None)
    if encoder is None:
        encoder = _LOCAL.encoder = _c_encoder()
        assert encoder is not None  # _HAVE_C_ENCODER
    try:
        return "".join(encoder(payload, 0))
    except BaseException:
        _LOCAL.encoder = None  # its table of open containers may hold entries now
        raise


# The fast path of payload_text: msgspec writes these exactly as json does (non-ASCII aside).
_FLAT_VALUES: frozenset[type] = frozenset({str, int, bool, type(None), Decimal})
# Sorted keys; Decimal as str(value), enums by value (what the fact encoders of aqbot.io.hub rely on).
FAST_ENCODER = msgspec.json.Encoder(order="sorted")
_ENCODE_INTO = FAST_ENCODER.encode_into

# One ledger row without its seq, its payload encoded once (payload_text): what the hub's sink, the
# writer's channel and the writer carry. (wall_time, mono_time, type, token, order_id, trade_id, payload)
# A missing token, order_id or trade_id is NO_KEY (0) in a row, stored as NULL: the sqlite3 module binds
# an int about 20 times faster than None (which it first tries to adapt). A payload that is a dict is
# deferred (:func:`deferrable`: a copy, encoded where the batch is written, off the event loop, by
# :func:`row_text`: the same text payload_text gives when the row is made).
Payload = bytearray | str | dict[str, Any]
LedgerRow = tuple[float, float, str, str | int, str | int, str | int, Payload]
NO_KEY = 0
# What the ledger writer's channel carries: an event (any producer) or a list of rows (the hub's sink).
LedgerItem = LedgerEvent | list[LedgerRow]


def new_row(
    type: str,
    payload: Mapping[str, Any] | None = None,
    *,
    mono_time: float,
    token: str | None = None,
    order_id: str | None = None,
    trade_id: str | None = None,
) -> LedgerRow:
    """The row of ``LedgerEvent.create(type, payload, ...)``, encoded now (:func:`event_row`'s rules).

    Raises:
        ValueError, TypeError: as :meth:`LedgerEvent.create` (a malformed type or payload).
    """
    return make_row(type, payload, mono_time, token, order_id, trade_id)


def make_row(type: str, payload: Mapping[str, Any] | None, mono_time: float, token: str | None = None,
             order_id: str | None = None, trade_id: str | None = None,
             wall: float | None = None) -> LedgerRow:  # fmt: skip
    """:func:`new_row` with positional arguments (the hub's hot path); ``wall`` is the wall-clock label
    (read now when None)."""
    if type not in _CHECKED_TYPES:
        _check_type(None, None, type)  # type: ignore[arg-type]
    if payload.__class__ is not dict:
        payload = dict(payload or {})
    if type in GAP_EVENT_KEYS:
        for key in GAP_EVENT_KEYS[type]:
            if key not in payload:
                raise ValueError(f"{type} event needs payload key {key!r}")
    if wall is None:
        wall = time.time()  # a label only; never used for scheduling
    token_ = NO_KEY if token is None else token
    order_id_ = NO_KEY if order_id is None else order_id
    trade_id_ = NO_KEY if trade_id is None else trade_id
    if deferrable(payload):  # encoded where the batch is written (row_text), off the event loop
        return (wall, mono_time, type, token_, order_id_, trade_id_, dict(payload))
    try:
        text = payload_text(payload)
    except (TypeError, ValueError) as exc:
        return _defect_row(type, exc, wall, mono_time, token_, order_id_, trade_id_)
    return (wall, mono_time, type, token_, order_id_, trade_id_, text)


_MSGPACK_INT_MIN = -(2**63)
_MSGPACK_INT_END = 2**64


def frame_row(type: str, seq: int, text: str, mono_time: float, wall: float) -> LedgerRow:
    """``make_row(type, {"local_seq": seq, "text": text}, mono_time, wall=wall)``: the row of a raw channel
    frame (``ws.user.raw``), the same tuple, built without the general path's checks where they cannot
    fail: a type already checked (not a ``gap.*`` one), an ASCII ``text`` and a 64-bit ``seq`` (what
    :func:`deferrable` would find after its scan), so the payload waits unencoded. Anything else (a
    non-ASCII frame, whose payload is encoded now) takes :func:`make_row`.

    Raises:
        ValueError, TypeError: as :func:`make_row`.
    """
    if (
        text.__class__ is str
        and text.isascii()  # O(1) in CPython
        and seq.__class__ is int
        and _MSGPACK_INT_MIN <= seq < _MSGPACK_INT_END
        and type in _CHECKED_TYPES
        and type not in GAP_EVENT_KEYS
    ):
        return (wall, mono_time, type, NO_KEY, NO_KEY, NO_KEY, {"local_seq": seq, "text": text})
    return make_row(type, {"local_seq": seq, "text": text}, mono_time, None, None, None, wall)


def deferrable(payload: dict[str, Any]) -> bool:
    """Whether ``payload`` may wait unencoded in its row (:func:`make_row`): ASCII string keys, values that
    are ASCII ``str``, ``bool``, ``None`` or ``int`` within 64 bits: what MessagePack carries to the
    writer's child unchanged and :func:`payload_text` encodes with msgspec, never failing (no defect row
    to make) and giving the same text wherever it runs. ``str.isascii`` is O(1) in CPython.

    The raw frame of every user-channel message is such a payload (``{"local_seq", "text"}``, about 1.2 kB
    of JSON to escape): encoding it took 1.3 to 2 us per frame on the event loop.
    """
    for key, value in payload.items():
        if key.__class__ is not str or not key.isascii():
            return False
        cls = value.__class__
        if cls is str:
            if not value.isascii():
                return False
        elif cls is int:
            if not _MSGPACK_INT_MIN <= value < _MSGPACK_INT_END:
                return False
        elif cls is not bool and value is not None:
            return False
    return True


def _key(value: str | None) -> str | int:
    return NO_KEY if value is None else value


def event_row(event: LedgerEvent) -> LedgerRow:
    """The row of ``event`` (its ``seq`` aside), its payload encoded.

    A payload that cannot be encoded (a producer bug, which must not wedge the ledger) gives a ``defect``
    row naming the original type, with the event's other columns, and an error in the log.
    """
    keys = _key(event.token), _key(event.order_id), _key(event.trade_id)
    try:
        text = payload_text(event.payload)
    except (TypeError, ValueError) as exc:
        return _defect_row(event.type, exc, event.wall_time, event.mono_time, *keys)
    return (event.wall_time, event.mono_time, event.type, *keys, text)


def row_text(payload: Payload) -> bytearray | str:
    """A row's payload as the store writes it: encoded (:func:`payload_text`) if it was deferred."""
    return payload_text(payload) if isinstance(payload, dict) else payload


def row_event(row: LedgerRow) -> LedgerEvent:
    """The event a row stands for, its payload decoded (what the store gives back once it is written)."""
    wall, mono, type_, token, order_id, trade_id, payload = row
    token_, order_id_, trade_id_ = (None if k == NO_KEY else str(k) for k in (token, order_id, trade_id))
    return LedgerEvent(type_, decode_payload(row_text(payload)), token_, order_id_, trade_id_, mono, wall)


def _defect_row(type: str, exc: Exception, wall: float, mono: float, token: str | int,
                order_id: str | int, trade_id: str | int) -> LedgerRow:  # fmt: skip
    log.error("ledger event %s has an unencodable payload (%s); writing a defect", type, exc)
    payload = {"what": "unencodable ledger payload", "event_type": type, "error": str(exc)}
    return (wall, mono, "defect", token, order_id, trade_id, payload_text(payload))


def carried(rows: list[LedgerRow]) -> list[LedgerRow]:
    """``rows``, each row with a key SQLite and MessagePack cannot carry (a string with a lone surrogate,
    which a JSON escape in an exchange message gives; an int beyond 63 bits; another type) replaced by a
    ``defect`` row with the keys escaped and the original payload's text: what a writer retries a refused
    batch with (only then: no cost per row) rather than dying with every row of the batch."""
    out = []
    for row in rows:
        try:
            for key in row[3:6]:
                if isinstance(key, str):
                    key.encode()
                elif key is not None and (not isinstance(key, int) or not -(2**63) <= key < 2**63):
                    raise TypeError(f"a key column cannot hold a {key.__class__.__name__}")
        except (TypeError, ValueError) as exc:
            log.error("ledger row %s has a key that cannot be stored (%s); writing a defect", row[2], exc)
            keys = [
                k.encode("utf-8", "backslashreplace").decode() if isinstance(k, str) else NO_KEY
                for k in row[3:6]
            ]
            text = row_text(row[6])
            payload = {"what": "unencodable ledger row", "event_type": row[2], "error": str(exc),
                       "payload": text if isinstance(text, str) else text.decode()}  # fmt: skip
            row = (row[0], row[1], "defect", *keys, payload_text(payload))  # type: ignore[assignment]
        out.append(row)
    return out


def decode_payload(text: str | bytes | bytearray) -> dict[str, Any]:
    """Parse a stored payload (floats come back as ``Decimal``).

    Raises:
        ValueError: the text is not a JSON object.
    """
    value = json.loads(text, parse_float=Decimal)
    if not isinstance(value, dict):
        raise ValueError("ledger payload is not a JSON object")
    return value
