"""The ledger's front on the event loop: core facts to encoded rows, and the sink the hub records into.

:func:`fact_event` (and the faster per-class row builders behind :meth:`LedgerSink.record_facts`) turn a
core fact into its ledger row; :class:`LedgerSink` is the never-blocking buffer every recording goes to,
and its pump hands the rows to the ledger writer's bounded channel in lists (see docs/io.md). Split out of
:mod:`aqbot.io.hub`, which owns the sink and reads ``overflowing`` for LEDGER_FAILURE.
"""

from __future__ import annotations

import collections
import enum
import logging
import sys
import time
import types
import typing
from collections.abc import Callable, Iterable, Sequence, Set
from decimal import Decimal

import attrs
import trio

from aqbot.core import facts as cf
from aqbot.io.ledger_events import (
    FAST_ENCODER,
    NO_KEY,
    LedgerEvent,
    LedgerRow,
    event_row,
    frame_row,
    gap_close,
    gap_open,
    gap_resolve,
    payload_text,
)
from aqbot.io.ledger_writer import POLL

log = logging.getLogger(__name__)

# Events buffered in front of the ledger writer before quoting halts (LEDGER_FAILURE).
MAX_BUFFERED = 50_000

_FACT_TYPES: dict[type, str] = {
    cf.OrderTransitioned: "order.state",
    cf.ReservationChanged: "reservation",
    cf.ReserveRefused: "reserve.refused",
    cf.FillApplied: "fill.applied",
    cf.TradeRecorded: "fill.trade",
    cf.FillReversed: "fill.reversed",
    cf.PositionDecision: "position.decision",
    cf.HaltRaised: "halt",
    cf.HaltCleared: "resume",
    cf.ReconciliationStarted: "reconcile.start",
    cf.ReconciliationFinished: "reconcile.done",
    cf.OrderAdopted: "order.adopted",
    cf.Defect: "defect",
}


def _plain(value: object) -> object:
    """The generic conversion (enums to values, attrs records to dicts, sequences to lists)."""
    if isinstance(value, enum.Enum):
        return value.value
    if attrs.has(type(value)):
        return {k: _plain(v) for k, v in attrs.asdict(value, recurse=False).items()}  # type: ignore[arg-type]
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


# Field types whose values go into a payload as they are (JSON encoding turns Decimal into its string).
_AS_IS: frozenset[object] = frozenset({str, int, float, bool, Decimal, type(None)})
# Field types msgspec writes exactly as _plain + encode_payload do (no float: json refuses NaN, msgspec
# writes null).
_DIRECT: frozenset[object] = frozenset({str, int, bool, Decimal, type(None)})


def _as_is(tp: object) -> bool:
    """Whether every value of the declared type ``tp`` is left unchanged by :func:`_plain`."""
    supertype = getattr(tp, "__supertype__", None)  # a NewType (OrderId, TokenId)
    if supertype is not None:
        return _as_is(supertype)
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        return all(_as_is(arg) for arg in typing.get_args(tp))
    return tp in _AS_IS


def _direct(tp: object) -> bool:
    """Whether ``msgspec`` (:data:`~aqbot.io.ledger_events.FAST_ENCODER`) writes every value of the
    declared type ``tp`` as ``encode_payload(_plain(value))`` does: the flat types but float, enums whose
    values are all ``str`` or ``int``, tuples of such, attrs records of such (with no private field:
    msgspec leaves those out)."""
    supertype = getattr(tp, "__supertype__", None)
    if supertype is not None:
        return _direct(supertype)
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        return all(_direct(arg) for arg in typing.get_args(tp))
    if typing.get_origin(tp) is tuple:
        return all(_direct(arg) for arg in typing.get_args(tp) if arg is not Ellipsis)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return all(type(m.value) in (str, int) for m in tp)
    if isinstance(tp, type) and attrs.has(tp):
        attrs.resolve_types(tp, globalns=vars(sys.modules[tp.__module__]))
        return all(not a.name.startswith("_") and _direct(a.type) for a in attrs.fields(tp))
    return tp in _DIRECT


def _field_expr(name: str, tp: object) -> str:
    """Python source converting field ``name`` of ``f`` exactly as :func:`_plain` would."""
    if _as_is(tp):
        return f"f.{name}"
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return f"f.{name}.value"
    return f"_plain(f.{name})"


FactEncoder = Callable[[cf.Fact, float, float], LedgerEvent]
FactRow = Callable[[cf.Fact, float, float], LedgerRow]


def _compile(cls: type, body: str, name: str) -> Callable[[cf.Fact, float, float], typing.Any]:
    """``name(f, now, wall)`` running ``body`` (its lines), compiled with the fact's fields as
    ``f.<field>``."""
    namespace: dict[str, object] = {
        "_plain": _plain, "LedgerEvent": LedgerEvent, "TYPE": _FACT_TYPES[cls],
        "ENCODE_INTO": FAST_ENCODER.encode_into, "payload_text": payload_text,
    }  # fmt: skip
    source = f"def {name}(f, now, wall):\n" + "".join(f"    {line}\n" for line in body.splitlines())
    # Generated from the class's own field names only (as aqbot.wire.unstructure does for wire records).
    exec(compile(source, f"<aqbot.io.hub fact {name} {cls.__qualname__}>", "exec"), namespace)
    return typing.cast(Callable[[cf.Fact, float, float], typing.Any], namespace[name])


_KEY_FIELDS = ("token", "order_id", "trade_id")


def _fact_parts(cls: type, missing: str) -> tuple[str, str]:
    """The payload dict and the key columns (token, order_id, trade_id) of ``cls`` as Python source; an
    empty or absent key is ``missing``."""
    attrs.resolve_types(cls, globalns=vars(sys.modules[cls.__module__]))
    fields = attrs.fields(cls)
    names = {a.name for a in fields}
    payload = "{" + ", ".join(f"{a.name!r}: {_field_expr(a.name, a.type)}" for a in fields) + "}"
    keys = ", ".join(f"f.{k} or {missing}" if k in names else missing for k in _KEY_FIELDS)
    return payload, keys


def _fact_encoder(cls: type) -> FactEncoder:
    """``encode(fact, mono_time, wall_time)``: the ledger event of a fact of class ``cls``.

    Compiled once per class from its resolved field types; the payload equals ``_plain(fact)`` (pinned by
    tests/io/test_hub.py), without an ``attrs.asdict`` and a type dispatch per field per fact.
    """
    payload, keys = _fact_parts(cls, "None")
    body = f"return LedgerEvent(TYPE, {payload}, {keys}, now, wall)"
    return typing.cast(FactEncoder, _compile(cls, body, "encode"))


def _fact_row(cls: type) -> FactRow:
    """``row(fact, mono_time, wall_time)``: the :data:`LedgerRow` of :func:`_fact_encoder`'s event.

    When every field is :func:`_direct`, msgspec encodes the attrs record itself (its fields sorted by
    name: the keys of ``_plain(fact)``), else the compiled payload dict is encoded with
    :func:`~aqbot.io.ledger_events.payload_text`. The decoded payloads are equal (tests/io/test_hub.py).
    """
    payload, keys = _fact_parts(cls, str(NO_KEY))
    if all(not a.name.startswith("_") and _direct(a.type) for a in attrs.fields(cls)):
        # 256 bytes up front (a fact's payload is about 200): fewer reallocations; msgspec truncates it
        body = f"text = bytearray(256)\nENCODE_INTO(f, text)\nreturn (wall, now, TYPE, {keys}, text)"
    else:
        body = f"return (wall, now, TYPE, {keys}, payload_text({payload}))"
    return typing.cast(FactRow, _compile(cls, body, "row"))


def _gap_row(fact: cf.Fact, now: float, wall: float) -> LedgerRow:
    """A gap fact's row (its event feeds the ``gaps`` table)."""
    return event_row(fact_event(fact, now))


_ENCODERS: dict[type, FactEncoder] = {cls: _fact_encoder(cls) for cls in _FACT_TYPES}
_ROWS: dict[type, FactRow] = {cls: _fact_row(cls) for cls in _FACT_TYPES}
_ROWS.update(dict.fromkeys((cf.GapOpened, cf.GapClosed, cf.GapResolved), _gap_row))


def fact_event(fact: cf.Fact, now: float) -> LedgerEvent:
    """The ledger row of one core fact (gap facts feed the ``gaps`` table)."""
    if isinstance(fact, cf.GapOpened):
        return gap_open(fact.gap_id, fact.channel.value, fact.reason, mono_time=now)
    if isinstance(fact, cf.GapClosed):
        return gap_close(fact.gap_id, mono_time=now)
    if isinstance(fact, cf.GapResolved):
        return gap_resolve(fact.gap_id, fact.recon_id, mono_time=now)
    return _ENCODERS[type(fact)](fact, now, time.time())  # wall time: a label, never for scheduling


# Rows per item the pump hands to the ledger writer's channel at most (the channel's bound counts items).
CHUNK_ROWS = 32
# How long the pump lets rows gather after a hand-over while the writer is busy (its POLL).
GATHER = POLL


@attrs.define
class LedgerSink:
    """A never-blocking buffer in front of the ledger writer's bounded channel.

    :meth:`record` (and :meth:`record_row`, :meth:`record_rows`) is sync and never drops; the rows wait
    here encoded (:data:`~aqbot.io.ledger_events.LedgerRow`; a deferrable payload unencoded).
    :func:`run_ledger_pump` moves them into the channel in lists of up to :data:`CHUNK_ROWS` (awaiting
    when it is full). ``overflowing`` is True while more than ``max_buffered`` rows wait here.
    """

    max_buffered: int = MAX_BUFFERED
    _buffer: collections.deque[LedgerRow] = attrs.Factory(collections.deque)
    _ready: trio.Event = attrs.Factory(trio.Event)
    _signalled: bool = False  # _ready is set (saves a call of Event.set per record)
    _closing: bool = False
    recorded: int = 0

    def close(self) -> None:
        """Let :meth:`run_pump` return once the buffer is empty (the ledger writer then finishes)."""
        self._closing = True
        self._signalled = True
        self._ready.set()

    def record(self, events: Iterable[LedgerEvent]) -> None:
        """Record events, each encoded now (:func:`~aqbot.io.ledger_events.event_row`)."""
        self.record_rows([event_row(e) for e in events])

    def record_rows(self, rows: list[LedgerRow]) -> None:
        if rows:
            self._buffer.extend(rows)
            self.recorded += len(rows)
            if not self._signalled:
                self._signalled = True
                self._ready.set()

    def record_row(self, row: LedgerRow) -> None:
        self._buffer.append(row)
        self.recorded += 1
        if not self._signalled:
            self._signalled = True
            self._ready.set()

    def record_frame(self, type_: str, seq: int, text: str, now: float, wall: float) -> None:
        """Record a raw channel frame: the row of :func:`~aqbot.io.ledger_events.frame_row`.

        Raises:
            ValueError, TypeError: as :func:`~aqbot.io.ledger_events.make_row`.
        """
        self._buffer.append(frame_row(type_, seq, text, now, wall))
        self.recorded += 1
        if not self._signalled:
            self._signalled = True
            self._ready.set()

    def record_facts(
        self,
        facts: Sequence[cf.Fact],
        now: float,
        wall: float | None = None,
        flagged: Set[type] = frozenset(),
    ) -> bool:
        """Record the rows of ``facts``: ``record([fact_event(f, now) for f in facts])`` without the events
        (the payloads decode to equal values; the facts share one wall-clock label, ``wall``, read here
        when None). Returns whether a fact's class is in ``flagged`` (the hub's facts to announce: one
        pass over the facts instead of two, once per core call)."""
        if wall is None:
            wall = time.time()  # a label, never for scheduling
        append = self._buffer.append
        rows = _ROWS
        found = False
        for fact in facts:
            kind = fact.__class__
            try:
                append(rows[kind](fact, now, wall))
            except (TypeError, ValueError, OverflowError):  # a value its declared type does not allow
                append(event_row(fact_event(fact, now)))  # json's verdict (or a defect row)
            if kind in flagged:
                found = True
        self.recorded += len(facts)
        if not self._signalled:
            self._signalled = True
            self._ready.set()
        return found

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    @property
    def overflowing(self) -> bool:
        return len(self._buffer) > self.max_buffered

    def _chunk(self) -> list[LedgerRow]:
        """Take up to :data:`CHUNK_ROWS` rows off the front of the buffer."""
        buffer = self._buffer
        if len(buffer) <= CHUNK_ROWS:
            chunk = list(buffer)
            buffer.clear()
            return chunk
        return [buffer.popleft() for _ in range(CHUNK_ROWS)]

    async def run_pump(
        self,
        send: trio.MemorySendChannel[list[LedgerRow]],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Move buffered rows into ``send`` in order, as lists of up to :data:`CHUNK_ROWS`; on
        cancellation, move what fits without waiting.

        Returns after :meth:`close` once everything is handed over, or when cancelled; closes ``send``
        on exit, so the ledger writer then drains and returns.
        """
        buffer = self._buffer
        chunk: list[LedgerRow] | None = None
        async with send:
            task_status.started()
            try:
                while True:
                    while buffer:
                        # Everything buffered, in lists of CHUNK_ROWS sliced from one copy (no Python work
                        # per row: a popleft per row cost about 0.1 us per row under load).
                        rows = list(buffer)
                        buffer.clear()
                        for start in range(0, len(rows), CHUNK_ROWS):
                            chunk = rows[start : start + CHUNK_ROWS]
                            try:  # no checkpoint per chunk: the writer then takes a burst in one wake-up
                                send.send_nowait(chunk)
                            except trio.WouldBlock:
                                # The channel is full: the rest back in front of the buffer, before
                                # anything recorded while this chunk waits for room.
                                buffer.extendleft(reversed(rows[start + CHUNK_ROWS :]))
                                await send.send(chunk)
                                chunk = None
                                break
                            except (trio.BrokenResourceError, trio.ClosedResourceError):  # writer gone
                                # The rest stays in the buffer (the chunk goes back in `finally`).
                                buffer.extendleft(reversed(rows[start + CHUNK_ROWS :]))
                                raise
                        chunk = None
                    if self._closing:
                        return
                    self._ready = trio.Event()
                    self._signalled = False
                    if send.statistics().tasks_waiting_receive == 0:
                        # The writer is gathering or writing a batch: it takes rows at its next look, so
                        # let them gather here meanwhile (one wake-up per GATHER, not one per frame).
                        await trio.sleep(GATHER)
                        if buffer:
                            continue
                    await self._ready.wait()
            finally:
                if chunk is not None:  # not handed over (a send that raises has not sent)
                    buffer.extendleft(reversed(chunk))
                while buffer:
                    chunk = self._chunk()
                    try:
                        send.send_nowait(chunk)
                    except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
                        buffer.extendleft(reversed(chunk))
                        log.error("ledger: %d event(s) still buffered at shutdown", len(buffer))
                        break
