"""Rows the sink leaves unencoded against the rows it encoded at once (old vs new, differential).

* A core fact of a flat class (:data:`aqbot.io.ledger_sink.DEFERRED`) waits in its row as it is; the store
  must get the row the sink made before from the fact at once (its compiled row builder: msgspec's text,
  else json's or a ``defect`` row), whichever way the batch goes: numbered in the thread writer's worker
  (``number_rows``), or carried by MessagePack to the process writer's child (as a map, which the child
  encodes) with the fallback to the old encoding when MessagePack refuses a value.
* A raw channel frame's row (:func:`aqbot.io.ledger_events.frame_row`) is the row ``make_row`` makes of
  ``{"local_seq": seq, "text": text}``, or raises what it raises.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_ledger_rows import _facts

from aqbot.core import facts as cf
from aqbot.core.events import TradeStatus
from aqbot.core.types import Side
from aqbot.io import ledger_child, ledger_sink
from aqbot.io.ledger import number_rows
from aqbot.io.ledger_events import (
    DEFERRED_ROWS,
    LedgerRow,
    encoded_row,
    event_row,
    frame_row,
    make_row,
)
from aqbot.io.ledger_sink import DEFERRED, LedgerSink


def old_row(fact: cf.Fact, now: float, wall: float) -> LedgerRow:
    """What ``LedgerSink.record_facts`` appended for ``fact`` before deferral (its code then)."""
    try:
        return ledger_sink._ENCODED_ROWS[fact.__class__](fact, now, wall)
    except (TypeError, ValueError, OverflowError):  # then fact_event's event, stamped ``wall``
        return event_row(attrs.evolve(ledger_sink.fact_event(fact, now), wall_time=wall))


def stored(rows: list[Any]) -> list[Any]:
    """Numbered rows as the store takes them: each value with its type, a payload as its bytes."""

    def value(v: Any) -> Any:
        v = v.encode() if isinstance(v, str) else bytes(v) if isinstance(v, bytearray | bytes) else v
        return (type(v), repr(v))

    return [[value(v) for v in row] for row in rows]


def through_the_child(first_seq: int, rows: list[LedgerRow]) -> list[Any]:
    frame = ledger_child.batch_frame(first_seq, rows)
    return ledger_child.read_batch(bytes(frame[ledger_child.HEADER_SIZE :]))


def test_the_flat_classes_are_deferred_and_the_others_not() -> None:
    assert {cls.__name__ for cls in DEFERRED} >= {
        "OrderTransitioned", "ReservationChanged", "TradeRecorded", "FillApplied",
    }  # fmt: skip  # the user channel's facts
    assert cf.Defect not in DEFERRED  # a tuple field
    assert cf.HaltRaised not in DEFERRED  # a nested record
    assert cf.ReconciliationStarted not in DEFERRED  # a float field
    assert set(DEFERRED_ROWS) == set(DEFERRED)


# Text of every kind, lone surrogates included (UTF-8 and MessagePack refuse them).
_ANY_TEXT = st.text(st.characters(blacklist_categories=()), max_size=12)
# Gap facts have rows of their own.
_NOT_GAPS = _facts(_ANY_TEXT).filter(lambda f: f.__class__ in ledger_sink._FACT_TYPES)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(facts=st.lists(_NOT_GAPS, min_size=1, max_size=6), now=st.floats(0, 1e9), wall=st.floats(0, 2e9))
def test_deferred_fact_rows_store_what_the_sink_encoded_at_once(
    facts: list[cf.Fact], now: float, wall: float
) -> None:
    """Any facts of every class but the gaps (text of every kind, lone surrogates included; ints of any
    size; Decimals of any kind): thread path and child path store exactly the old rows."""
    sink = LedgerSink()
    sink.record_facts(facts, now, wall)
    rows = list(sink._buffer)
    for fact, row in zip(facts, rows, strict=True):
        assert (row[6] is fact) is (fact.__class__ in DEFERRED)
    old = [old_row(fact, now, wall) for fact in facts]
    assert stored(number_rows(7, rows)) == stored([(7 + i, *row) for i, row in enumerate(old)])
    assert [encoded_row(row) for row in rows] == old
    try:
        want = through_the_child(7, old)
    except (TypeError, ValueError, OverflowError) as exc:  # a key with a lone surrogate: refused as before
        with pytest.raises(type(exc)):
            through_the_child(7, rows)
    else:
        assert stored(through_the_child(7, rows)) == stored(want)


def test_a_fact_messagepack_cannot_carry_goes_encoded_as_before() -> None:
    """A lone surrogate or an int beyond 64 bits: the batch goes with the deferred facts encoded on the
    loop (json's text for the surrogate), the other rows as they were."""
    surrogate = cf.ReservationChanged("0xa", "111", Side.BUY, Decimal("1"), Decimal("2"), "cause \ud800")
    big = cf.ReconciliationFinished(2**70, True, 0, "")
    plain = cf.TradeRecorded("t-1", "0xa", Decimal("1"), Decimal("0.5"), TradeStatus.MINED)
    raw = make_row("ws.user.raw", {"local_seq": 1, "text": "{}"}, 1.0, wall=2.0)
    for bad in (surrogate, big):
        sink = LedgerSink()
        sink.record_facts([plain, bad, plain], 1.0, 2.0)
        rows = [raw, *sink._buffer]
        old = [raw, *(old_row(f, 1.0, 2.0) for f in (plain, bad, plain))]
        assert stored(through_the_child(1, rows)) == stored(number_rows(1, old))
    assert "\\ud800" in str(old_row(surrogate, 1.0, 2.0)[6])


_TYPES = st.sampled_from(["ws.user.raw", "ws.market.raw", "gap.close", "Bad.Type", "x.y"])
_SEQS = st.integers() | st.sampled_from([-(2**63), 2**64 - 1, 2**64, -(2**63) - 1])
_FRAME_TEXT = st.text() | st.text(st.characters(max_codepoint=127)) | st.just('{"a":"\\u00e9"}')


@given(type_=_TYPES, seq=_SEQS, text=_FRAME_TEXT, now=st.floats(), wall=st.floats())
def test_frame_row_is_make_row_of_the_frame_payload(
    type_: str, seq: int, text: str, now: float, wall: float
) -> None:
    def run(fn: Any) -> Any:
        try:
            return fn()
        except (TypeError, ValueError) as exc:
            return type(exc), str(exc)

    new = run(lambda: frame_row(type_, seq, text, now, wall))
    old = run(lambda: make_row(type_, {"local_seq": seq, "text": text}, now, None, None, None, wall))
    if isinstance(old, tuple) and len(old) == 7:
        assert stored([new]) == stored([old]) if not isinstance(old[6], dict) else new == old
        assert type(new[6]) is type(old[6])
    else:
        assert new == old


def test_record_frame_counts_and_signals() -> None:
    sink = LedgerSink()
    sink.record_frame("ws.user.raw", 3, "{}", 1.0, 2.0)
    sink.record_frame("ws.user.raw", 4, "é", 1.0, 2.0)  # not ASCII: encoded at once
    assert sink.recorded == sink.buffered == 2
    first, second = sink._buffer
    assert first == (2.0, 1.0, "ws.user.raw", 0, 0, 0, {"local_seq": 3, "text": "{}"})
    assert bytes(second[6]) == '{"local_seq":4,"text":"é"}'.encode()  # type: ignore[arg-type]
    assert sink._signalled


def test_a_bad_frame_type_raises_as_make_row() -> None:
    with pytest.raises(ValueError, match="dotted lower-case name"):
        LedgerSink().record_frame("Bad", 1, "{}", 1.0, 2.0)
