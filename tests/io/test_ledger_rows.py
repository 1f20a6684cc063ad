"""The hub's encoded ledger rows against the event path they replace (old vs new, differential).

Before, the hub built a :class:`LedgerEvent` per fact (``fact_event``) and per runtime record
(``LedgerEvent.create``), and the writer encoded each payload with ``json`` (a ``defect`` row when that
failed). Now the hub encodes each row once, at record time (msgspec for flat payloads and for facts whose
fields msgspec writes as json does). The rows must stand for the same events: same type, keys and times,
payloads that decode to equal values, the same text when json's text is printable ASCII, the same
``defect`` rows for payloads json refuses; and the database written through the pump and the writer must
equal the one ``append_batch`` writes from the old events.
"""

from __future__ import annotations

import enum
import functools
import json
import sqlite3
import typing
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import attrs
import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aqbot.core import facts as cf
from aqbot.core.engine import Core
from aqbot.core.events import Channel, TradeStatus
from aqbot.io.hub import Hub
from aqbot.io.ledger import LedgerStore
from aqbot.io.ledger_events import (
    NO_KEY,
    LedgerEvent,
    LedgerItem,
    LedgerRow,
    _json_text,
    decode_payload,
    event_row,
    make_row,
    row_event,
    row_text,
)
from aqbot.io.ledger_sink import GATHER, LedgerSink, fact_event
from aqbot.io.ledger_writer import run_ledger_writer
from aqbot.secrets import Secret

T = TypeVar("T")
FACT_CLASSES = typing.get_args(cf.Fact)


def old_event(event: LedgerEvent) -> tuple[LedgerEvent, str]:
    """What the writer made of an event before: its payload encoded by json, or a defect event."""
    try:
        return event, _json_text(event.payload)
    except (TypeError, ValueError) as exc:
        payload = {"what": "unencodable ledger payload", "event_type": event.type, "error": str(exc)}
        defect = attrs.evolve(event, type="defect", payload=payload)
        return defect, _json_text(defect.payload)


def assert_row_is(row: LedgerRow, event: LedgerEvent, *, wall: bool = True) -> None:
    """``row`` stands for ``event`` as the old path wrote it (wall time aside when ``wall`` is False)."""
    want, text = old_event(event)
    got = row_event(row)
    assert (got.type, got.token, got.order_id, got.trade_id, got.mono_time) == (
        want.type, want.token, want.order_id, want.trade_id, want.mono_time,
    )  # fmt: skip
    if wall:
        assert got.wall_time == want.wall_time
    assert got.payload == decode_payload(text)
    text_or_bytes = row_text(row[6])  # a deferred payload is encoded where its batch is written
    stored = text_or_bytes if isinstance(text_or_bytes, str) else bytes(text_or_bytes).decode()
    if all(" " <= c <= "~" for c in stored):  # printable ASCII: byte for byte what json wrote
        assert stored == text


# Text of every kind (non-ASCII, control characters, quotes), numbers of any size, Decimals of any kind.
_TEXT = st.text(max_size=12)
_DECIMALS = st.decimals(places=None)


def _facts() -> st.SearchStrategy[cf.Fact]:
    def field(tp: object) -> st.SearchStrategy[Any]:
        if typing.get_origin(tp) is tuple:
            return st.lists(_TEXT, max_size=3).map(tuple)
        if tp is str or getattr(tp, "__supertype__", None) is str:
            return _TEXT
        if tp is Decimal:
            return _DECIMALS
        if tp is float:
            return st.floats()  # NaN and infinities included: json refuses them
        return st.from_type(tp)  # type: ignore[arg-type]

    def builds(cls: type) -> st.SearchStrategy[Any]:
        attrs.resolve_types(cls)
        kwargs = {}
        for a in attrs.fields(cls):
            tp = a.type
            args = typing.get_args(tp)
            if args and type(None) in args and typing.get_origin(tp) is not tuple:  # X | None
                inner = [t for t in args if t is not type(None)]
                kwargs[a.name] = st.none() | field(inner[0])
            else:
                kwargs[a.name] = field(tp)
        return st.builds(cls, **kwargs)

    return st.one_of(*(builds(cls) for cls in FACT_CLASSES))


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(facts=st.lists(_facts(), min_size=1, max_size=5), now=st.floats(0, 1e9))
def test_fact_rows_stand_for_the_fact_events(facts: list[cf.Fact], now: float) -> None:
    """Any facts of every class: the rows the sink records equal fact_event's events as the writer
    encoded them (or the same defect)."""
    sink = LedgerSink()
    sink.record_facts(facts, now)
    assert sink.recorded == sink.buffered == len(facts)
    for fact, row in zip(facts, list(sink._buffer), strict=True):
        assert_row_is(row, fact_event(fact, now), wall=False)  # a wall-clock label, taken once per call


def test_a_lone_surrogate_in_a_fact_goes_to_json() -> None:
    """UTF-8 cannot hold a lone surrogate: such a fact is written by json, escaped, as before."""
    fact = cf.Defect("111", "0xa", "bad \ud800 text")
    sink = LedgerSink()
    sink.record_facts([fact], 1.0)
    row = sink._buffer[0]
    assert row[6] == _json_text(fact_event(fact, 1.0).payload)
    assert "\\ud800" in str(row[6])
    assert_row_is(row, fact_event(fact, 1.0), wall=False)


class _Colour(enum.Enum):
    RED = "red"
    NUMBER = 7
    PAIR = (1, 2)


_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), _TEXT, _DECIMALS, st.floats(), st.sampled_from(_Colour),
    st.builds(Secret, st.text(min_size=8, max_size=12)),
)  # fmt: skip
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.lists(inner, max_size=3).map(tuple)
        | st.sets(st.integers() | _TEXT, max_size=3)
        | st.dictionaries(_TEXT, inner, max_size=3)
    ),
    max_leaves=8,
)
_PAYLOADS = st.dictionaries(_TEXT | st.integers(-3, 3), _VALUES, max_size=4)
_KEYS = st.none() | st.sampled_from(["", "0", "111", "0x" + "ab" * 32])


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(payload=_PAYLOADS, token=_KEYS, order_id=_KEYS, trade_id=_KEYS, now=st.floats(0, 1e9))
def test_record_rows_stand_for_the_created_events(
    payload: dict[Any, Any], token: str | None, order_id: str | None, trade_id: str | None, now: float
) -> None:
    """Any payload (flat or nested; Decimals, enums, sets, Secrets, NaN, keys that are not strings) and
    any keys: make_row's row equals LedgerEvent.create's event as the writer encoded it (or the same
    defect), and event_row's row too."""
    row = make_row("ws.user.raw", payload, now, token, order_id, trade_id)
    event = LedgerEvent("ws.user.raw", dict(payload), token, order_id, trade_id, now, row[0])
    assert_row_is(row, event)
    assert_row_is(event_row(event), event)


def test_record_refuses_what_create_refuses() -> None:
    """A malformed type or a gap event without its keys raises at the call, as LedgerEvent.create."""
    hub = Hub(core=None)  # type: ignore[arg-type]  # record() does not use the core
    for bad in ("Bad", "a..b", "", "a.b\n"):
        with pytest.raises(ValueError, match="dotted lower-case name") as created:
            LedgerEvent.create(bad, {}, mono_time=0.0)
        with pytest.raises(ValueError, match="dotted lower-case name") as recorded:
            trio.run(_record, hub, bad, {})
        assert str(recorded.value) == str(created.value)
    with pytest.raises(ValueError, match=r"gap\.close event needs payload key .gap_id."):
        make_row("gap.close", {}, 0.0)
    assert hub.sink.recorded == 0


async def _record(hub: Hub, type_: str, payload: dict[str, object], **keys: str | None) -> None:
    hub.record(type_, payload, **keys)


def test_a_secret_is_never_written() -> None:
    """A Secret anywhere in a payload is written as ``***``, by the hub's rows and in the database."""
    secret = "0x" + "5e" * 32
    hub = Hub(core=None)  # type: ignore[arg-type]
    payload: dict[str, object] = {"key": Secret(secret), "nested": [{"k": Secret(secret)}], "n": 1}
    trio.run(functools.partial(_record, hub, "command.place", payload, order_id="0x1"))
    row = hub.sink._buffer[0]
    assert secret not in str(row)
    assert decode_payload(row[6]) == {"key": "***", "nested": [{"k": "***"}], "n": 1}


def test_non_ascii_is_utf8_in_flat_payloads_and_decodes_equal(tmp_path: Path) -> None:
    """A flat payload's non-ASCII text is stored as UTF-8 (json escaped it); both decode equal; the column
    holds text either way."""
    flat = make_row("ws.user.raw", {"local_seq": 1, "text": 'é "q" \u2028 \x7f'}, 1.0)
    nested = make_row("ws.user.raw", {"local_seq": 2, "text": ["é"]}, 1.0)
    assert bytes(flat[6]) == '{"local_seq":1,"text":"é \\"q\\" \u2028 \x7f"}'.encode()
    assert nested[6] == '{"local_seq":2,"text":["\\u00e9"]}'
    with LedgerStore.open(tmp_path / "l.db") as store:
        store.append_encoded([(1, *flat), (2, *nested)])
        assert [e.payload for e in store.iter_events()] == [
            {"local_seq": 1, "text": 'é "q" \u2028 \x7f'},
            {"local_seq": 2, "text": ["é"]},
        ]
    conn = sqlite3.connect(tmp_path / "l.db")
    assert conn.execute("SELECT typeof(payload), payload FROM events WHERE seq = 1").fetchone() == (
        "text", '{"local_seq":1,"text":"é \\"q\\" \u2028 \x7f"}',
    )  # fmt: skip
    conn.close()


def test_missing_keys_are_null_and_a_zero_text_key_stays(tmp_path: Path) -> None:
    """NO_KEY and None are stored as NULL; the text "0" and "" are stored as they are."""
    text = bytearray(b"{}")
    rows = [
        (1, 1.0, 1.0, "x.y", NO_KEY, NO_KEY, NO_KEY, text),
        (2, 1.0, 1.0, "x.y", None, None, None, "{}"),
        (3, 1.0, 1.0, "x.y", "0", "", "t", b"{}"),
    ]
    with LedgerStore.open(tmp_path / "l.db") as store:
        store.append_encoded(rows)  # type: ignore[arg-type]
        got = [(e.token, e.order_id, e.trade_id) for e in store.iter_events()]
        assert store.verify().ok
    assert got == [(None, None, None), (None, None, None), ("0", "", "t")]
    conn = sqlite3.connect(tmp_path / "l.db")
    assert conn.execute("SELECT typeof(token), typeof(payload) FROM events ORDER BY seq").fetchall() == [
        ("null", "text"), ("null", "text"), ("text", "text"),
    ]  # fmt: skip
    conn.close()


async def inline(fn: Callable[[], T], /) -> T:
    await trio.lowlevel.checkpoint()
    return fn()


def _never(exc: Exception) -> None:
    raise AssertionError(f"unexpected ledger failure: {exc!r}")


async def test_hub_to_database_equals_the_event_path(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    """The runtime path (hub rows -> pump -> writer -> store) writes the database the old path writes
    (events -> append_batch): the same rows, wall times aside, and the same gaps table."""
    facts: list[cf.Fact] = [
        cf.GapOpened(1, Channel.USER, 0.0, "startup"),
        cf.TradeRecorded("t-1", "0xa", Decimal("2.5"), Decimal("0.40"), TradeStatus.MATCHED),
        cf.FillApplied("0xa", "111", cf.Side.BUY, Decimal("2.5"), Decimal("2.5"), "trade", "t-1"),
        cf.GapClosed(1, 3.0),
        cf.ReconciliationStarted(4, float("nan")),  # json refuses NaN: a defect row
        cf.GapResolved(1, 4),
        cf.Defect("111", "0xa", "ünïcode", ("a", "b")),
    ]
    hub = Hub(core=None)  # type: ignore[arg-type]
    old: list[LedgerEvent] = []
    send, recv = trio.open_memory_channel[LedgerItem](3)
    factory = functools.partial(LedgerStore.open, tmp_path / "new.db")
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            writer = await nursery.start(
                functools.partial(run_ledger_writer, factory, recv, on_failure=_never, offload=inline)
            )
            await nursery.start(hub.sink.run_pump, send)
            for i in range(300):
                now = trio.current_time()
                hub.record("ws.user.raw", {"local_seq": i, "text": f'{{"n": {i}, "s": "é"}}'})
                old.append(LedgerEvent("ws.user.raw", {"local_seq": i, "text": f'{{"n": {i}, "s": "é"}}'},
                                       mono_time=now))  # fmt: skip
                fact = facts[i % len(facts)]
                hub.apply(cf.Outcome([fact]))
                old.append(fact_event(fact, now))
                await trio.sleep(0.001 * (i % 3))
            hub.sink.close()
    assert writer.written == hub.sink.recorded == len(old)
    with LedgerStore.open(tmp_path / "old.db") as store:
        store.append_batch([old_event(e)[0] for e in old])
        want = [attrs.evolve(e, wall_time=0.0) for e in store.iter_events()]
        want_gaps = [
            (g.id, g.channel, g.reason, g.open_seq, g.closed_seq, g.resolved_seq) for g in store.gaps()
        ]
    with LedgerStore.open(tmp_path / "new.db") as store:
        got = [attrs.evolve(e, wall_time=0.0) for e in store.iter_events()]
        got_gaps = [
            (g.id, g.channel, g.reason, g.open_seq, g.closed_seq, g.resolved_seq) for g in store.gaps()
        ]
        assert store.verify().ok
    assert got == want
    assert got_gaps == want_gaps
    unencodable = [e for e in got if e.payload.get("what") == "unencodable ledger payload"]
    assert len(unencodable) == len(range(4, 300, len(facts)))  # the NaN facts


async def test_pump_gathers_rows_while_the_writer_is_busy(autojump_clock: trio.testing.MockClock) -> None:
    """With the writer parked in receive() (idle), a record is handed over at once; right after a
    hand-over nobody is parked (the writer is gathering its batch), and the pump then hands over once per
    GATHER, the rows recorded meanwhile in one list."""
    sink = LedgerSink()
    send, recv = trio.open_memory_channel[LedgerItem](100)
    row = make_row("x.y", {}, 0.0)
    got: list[tuple[float, int]] = []

    async def writer() -> None:
        async for items in recv:
            assert isinstance(items, list)
            got.append((trio.current_time(), len(items)))

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(sink.run_pump, send)
            await trio.sleep(1)  # the pump is idle, waiting for a record
            nursery.start_soon(writer)
            await trio.testing.wait_all_tasks_blocked()
            t0 = trio.current_time()
            for _ in range(6):
                sink.record_row(row)
                await trio.sleep(GATHER / 10)
            await trio.sleep(1)
            sink.close()
    assert [n for _, n in got] == [1, 5]
    assert [t - t0 for t, _ in got] == [0.0, pytest.approx(GATHER, abs=1e-9)]


async def test_writer_numbers_lists_and_events_in_order_and_flush_covers_lists(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    """Lists of rows and events from another producer share one numbering, in arrival order; flush()
    returns once everything sent before it is durable, lists in the channel's buffer included."""
    send, recv = trio.open_memory_channel[LedgerItem](100)
    factory = functools.partial(LedgerStore.open, tmp_path / "l.db")
    rows = [make_row("x.y", {"n": i}, float(i)) for i in range(10)]
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            handle = await nursery.start(
                functools.partial(run_ledger_writer, factory, recv, on_failure=_never, offload=inline)
            )
            send.send_nowait(rows[:3])
            send.send_nowait(LedgerEvent("x.y", {"n": "event"}))
            send.send_nowait(rows[3:])
            await handle.flush()
            assert handle.written == handle.received == 11
            nursery.cancel_scope.cancel()
    with LedgerStore.open(tmp_path / "l.db") as store:
        got = [(e.seq, e.payload["n"]) for e in store.iter_events()]
    assert got == [(1, 0), (2, 1), (3, 2), (4, "event"), *((i + 2, i) for i in range(3, 10))]


def test_payload_json_is_compact_and_sorted() -> None:
    """The fast path writes what json writes for printable ASCII: compact, keys sorted."""
    row = make_row("x.y", {"b": Decimal("0.570"), "a": True, "c": None, "d": 10**30}, 0.0)
    assert (
        bytes(row[6])
        == json.dumps(
            {"a": True, "b": "0.570", "c": None, "d": 10**30}, separators=(",", ":"), sort_keys=True
        ).encode()
    )


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(facts=st.lists(_facts(), min_size=1, max_size=5), now=st.floats(0, 1e9), wall=st.floats(0, 2e9))
def test_hub_apply_records_what_record_facts_records(facts: list[cf.Fact], now: float, wall: float) -> None:
    """``Hub.apply`` records an outcome's facts with ``LedgerSink.record_facts``, which also flags the facts
    to announce in the same pass: the same rows, counts and signal, and the same announcements (halts,
    resumes, defects alerted once per outcome) as the sink's plain method and a separate check."""
    alerts: list[tuple[str, str]] = []
    hub = Hub(Core.__new__(Core), alert=lambda key, text: alerts.append((key, text)))
    hub.apply(cf.Outcome(list(facts)), now, wall)
    old = LedgerSink()
    announced = {cf.HaltRaised, cf.HaltCleared, cf.Defect}
    flagged = old.record_facts(facts, now, wall, announced)
    assert flagged == any(fact.__class__ in announced for fact in facts)
    old_alerts: list[tuple[str, str]] = []
    if flagged:
        Hub(Core.__new__(Core), alert=lambda key, text: old_alerts.append((key, text)))._announce(facts)
    # repr: NaN payload values, bytearrays; the wall label aside: the given one, or the clock read for a
    # row made through fact_event (a gap fact, a payload json decides) in both
    assert repr([row[1:] for row in hub.sink._buffer]) == repr([row[1:] for row in old._buffer])
    assert [row[0] == wall for row in hub.sink._buffer] == [row[0] == wall for row in old._buffer]
    assert (hub.sink.recorded, hub.sink._signalled) == (old.recorded, old._signalled) == (len(facts), True)
    assert alerts == old_alerts
    assert hub.version == 1
