"""The process writer's batch frames (``ledger_child.batch_frame``/``read_batch``) and row numbering
(``ledger.number_rows``) against what they replace: numbered rows (``(seq,) + row`` per row, on the event
loop) sent as a :mod:`marshal` dump. Same rows reach the store, same values, same types; a key MessagePack
cannot carry becomes a defect row, any other row it cannot carry is refused before anything is sent; the
child's stdin pipe is enlarged where Linux allows it.
"""

from __future__ import annotations

import marshal
import os
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from aqbot.core.types import Side
from aqbot.io import ledger_child
from aqbot.io.ledger import LedgerStore, number_rows
from aqbot.io.ledger_events import (
    NO_KEY,
    LedgerItem,
    LedgerRow,
    deferrable,
    make_row,
    new_row,
    payload_text,
    row_text,
)
from aqbot.io.ledger_process import PIPE_SIZE, LedgerChildError, _ProcessBackend, enlarge_pipe
from aqbot.io.ledger_writer import BatchWriter, WriteBackend, serve_batches

# What a row's columns hold: floats (any, NaN and infinities included), the type, keys (text or NO_KEY),
# and a payload as payload_text writes it (UTF-8 JSON in a bytearray, or json's text).
_TEXT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=12)  # no lone surrogate
_KEYS = st.one_of(st.just(NO_KEY), _TEXT)
_PAYLOADS = st.dictionaries(_TEXT, st.one_of(st.none(), st.booleans(), st.integers(), _TEXT), max_size=4)
_ROWS = st.lists(
    st.tuples(st.floats(), st.floats(), st.sampled_from(["ws.user.raw", "fill.applied", "defect"]),
              _KEYS, _KEYS, _KEYS, _PAYLOADS.map(payload_text) | _PAYLOADS.filter(deferrable)),
    max_size=40,
)  # fmt: skip


def old_body(first_seq: int, rows: list[LedgerRow]) -> list[Any]:
    """What the child got before: the rows encoded when made, numbered on the loop, through marshal."""
    numbered = [(seq, *row[:6], row_text(row[6]))
                for seq, row in zip(range(first_seq, first_seq + len(rows)), rows, strict=True)]  # fmt: skip
    loaded: list[Any] = marshal.loads(marshal.dumps(numbered))
    return loaded


def new_body(first_seq: int, rows: list[LedgerRow]) -> list[Any]:
    frame = ledger_child.batch_frame(first_seq, rows)
    assert (
        ledger_child.frame_length(frame[: ledger_child.HEADER_SIZE]) == len(frame) - ledger_child.HEADER_SIZE
    )
    return ledger_child.read_batch(bytes(frame[ledger_child.HEADER_SIZE :]))


def exact(rows: list[Any]) -> list[Any]:
    """Values with their types (``==`` takes 1 for 1.0 and no NaN for itself); a payload in a bytearray as
    bytes (a deferred payload encoded in the child stays a bytearray; the store writes both as the same
    text)."""

    def payload(v: Any) -> Any:
        return bytes(v) if isinstance(v, bytearray) else v

    return [(type(row), [(type(v), repr(v)) for v in (*row[:7], payload(row[7]))]) for row in rows]


@given(st.integers(1, 2**62), _ROWS)
def test_a_batch_reaches_the_child_as_the_marshal_dump_of_numbered_rows_did(first: int, rows: Any) -> None:
    assert exact(new_body(first, rows)) == exact(old_body(first, rows))


def test_number_rows_numbers_from_first_seq() -> None:
    rows = [new_row("fill.applied", {"i": i}, mono_time=float(i)) for i in range(3)]
    assert number_rows(7, rows) == [(7 + i, *row[:6], row_text(row[6])) for i, row in enumerate(rows)]
    assert number_rows(7, []) == []


def test_the_store_holds_the_same_rows_either_way(tmp_path: Path) -> None:
    rows = [new_row("ws.user.raw", {"local_seq": i, "text": '{"a": "é\\n"}'}, mono_time=float(i), token="t")
            for i in range(50)]  # fmt: skip
    with LedgerStore.open(tmp_path / "old.db", synchronous="NORMAL") as old:
        old.append_encoded(old_body(1, rows))
        before = list(old.iter_events())
    with LedgerStore.open(tmp_path / "new.db", synchronous="NORMAL") as new:
        new.append_encoded(new_body(1, rows))
        after = list(new.iter_events())
    assert after == before
    assert [e.seq for e in after] == list(range(1, 51))


@pytest.mark.parametrize(
    "bad",
    ["\ud800", 2**70, object()],  # a lone surrogate, an int beyond 64 bits, an object
)
def test_a_key_messagepack_cannot_carry_becomes_a_defect_row(tmp_path: Path, bad: Any) -> None:
    good = [new_row("fill.applied", {"i": 1}, mono_time=1.0)]
    row = (0.0, 0.0, "fill.applied", bad, NO_KEY, NO_KEY, bytearray(b'{"x":1}'))
    not_a_payload = (0.0, 0.0, "fill.applied", NO_KEY, NO_KEY, NO_KEY, object())

    async def main() -> None:
        with trio.fail_after(30):
            backend = await _ProcessBackend.open(tmp_path / "l.db", "NORMAL")
            try:
                assert await backend.write(backend.encode(1, [*good, row, *good])) == 3
                with pytest.raises(LedgerChildError, match="ledger writer process: "):  # a producer's bug
                    backend.encode(4, [*good, not_a_payload])  # type: ignore[list-item]
                assert await backend.write(backend.encode(4, good)) == 4  # nothing was sent
            finally:
                await backend.aclose()

    trio.run(main)
    with LedgerStore.open(tmp_path / "l.db") as store:
        events = list(store.iter_events())
    assert [(e.seq, e.type) for e in events] == [(1, "fill.applied"), (2, "defect"), (3, "fill.applied"),
                                                 (4, "fill.applied")]  # fmt: skip
    assert events[1].payload["event_type"] == "fill.applied"
    assert events[1].payload["payload"] == '{"x":1}'
    assert events[1].token == ("\\ud800" if bad == "\ud800" else None)


@pytest.mark.skipif(not hasattr(__import__("fcntl"), "F_SETPIPE_SZ"), reason="Linux only")
def test_enlarge_pipe_sets_the_size_or_keeps_the_old_one() -> None:
    read, write = os.pipe()
    try:
        assert enlarge_pipe(write) == PIPE_SIZE
        assert enlarge_pipe(write, 65536) == 65536
        assert enlarge_pipe(write, -1) == 65536  # refused by the kernel: the size it had
    finally:
        os.close(read)
        os.close(write)
    assert enlarge_pipe(write) is None  # not an open pipe


def test_the_child_writes_a_big_batch_through_the_enlarged_pipe(tmp_path: Path) -> None:
    rows = [
        new_row("ws.user.raw", {"local_seq": i, "text": "x" * 1200}, mono_time=float(i)) for i in range(3000)
    ]

    async def main() -> None:
        with trio.fail_after(60):
            backend = await _ProcessBackend.open(tmp_path / "l.db", "NORMAL")
            try:
                assert enlarge_pipe(backend.stdin.fileno()) in (PIPE_SIZE, None)  # type: ignore[attr-defined]
                assert (
                    await backend.write(backend.encode(1, rows)) == 3000
                )  # 3.7 MB: more than the pipe holds
            finally:
                await backend.aclose()

    trio.run(main)
    with LedgerStore.open(tmp_path / "l.db") as store:
        assert store.verify().ok
        assert store.last_seq() == 3000


@pytest.mark.skipif(not hasattr(os, "sched_getscheduler"), reason="Linux only")
def test_the_child_runs_as_a_batch_task(tmp_path: Path) -> None:
    async def main() -> int:
        with trio.fail_after(30):
            backend = await _ProcessBackend.open(tmp_path / "l.db", "NORMAL")
            try:
                return os.sched_getscheduler(backend.process.pid)
            finally:
                await backend.aclose()

    assert trio.run(main) == os.SCHED_BATCH
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # the bot's own process is left as it is


@pytest.mark.parametrize(
    ("payload", "deferred"),
    [
        ({"local_seq": 3, "text": '{"a":"b\\n"}'}, True),  # the raw frame row
        ({"a": True, "b": None, "c": -(2**63), "d": 2**64 - 1, "e": ""}, True),
        ({}, True),
        ({"text": "é"}, False),  # not ASCII: encoded at once (msgspec writes UTF-8, json escapes a surrogate)
        ({"é": 1}, False),
        ({1: "a"}, False),  # a key that is not a string: json decides
        ({"n": 2**64}, False),  # beyond MessagePack's ints
        ({"n": -(2**63) - 1}, False),
        ({"x": Decimal("1.50")}, False),
        ({"x": 1.5}, False),
        ({"x": [1]}, False),
        ({"x": Side.BUY}, False),  # an enum, a str subclass
    ],
)
def test_which_payloads_wait_unencoded(payload: dict[Any, Any], deferred: bool) -> None:
    assert deferrable(payload) is deferred
    row = make_row("ws.user.raw", payload, 1.0)
    assert (row[6].__class__ is dict) is deferred
    assert row_text(row[6]) == payload_text(payload)  # the text the row had when it was encoded at once


def test_a_deferred_payload_is_a_copy() -> None:
    payload = {"local_seq": 1, "text": "a"}
    row = make_row("ws.user.raw", payload, 1.0)
    payload["text"] = "changed after recording"
    assert bytes(row_text(row[6])) == b'{"local_seq":1,"text":"a"}'


@given(st.dictionaries(_TEXT, st.one_of(st.none(), st.booleans(), st.integers(), _TEXT), max_size=4))
def test_deferred_or_not_the_stored_text_is_the_text_encoded_when_recorded(payload: dict[str, Any]) -> None:
    row = make_row("ws.user.raw", payload, 1.0)
    (numbered,) = number_rows(5, [row])
    assert numbered[7] == payload_text(payload)
    (sent,) = new_body(5, [row])  # through the child's batch frame too
    assert exact([sent]) == exact([numbered])


def test_batch_policy_is_skipped_where_refused_or_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, int]] = []

    def refuse(pid: int, policy: int, param: object) -> None:
        calls.append((pid, policy))
        raise PermissionError("not allowed here")

    monkeypatch.setattr(os, "sched_setscheduler", refuse, raising=False)
    monkeypatch.setattr(os, "SCHED_BATCH", 3, raising=False)
    assert ledger_child.batch_policy() is False  # the child then runs as a normal task
    assert calls == [(0, 3)]
    monkeypatch.delattr(os, "sched_setscheduler", raising=False)
    assert ledger_child.batch_policy() is False


class _FlakyBackend:
    """A :class:`~aqbot.io.ledger_writer.WriteBackend` that records what it encodes and writes and fails
    the first ``fail[0]`` writes (a shared counter: the writer opens a new backend after each failure)."""

    def __init__(self, fail: list[int], encoded: list[tuple[int, list[Any]]], written: list[object]) -> None:
        self.fail, self.encoded, self.written = fail, encoded, written

    def encode(self, first_seq: int, rows: list[LedgerRow]) -> tuple[int, list[Any]]:
        batch = (first_seq, [int(row[1]) for row in rows])
        self.encoded.append(batch)
        return batch

    async def write(self, batch: tuple[int, list[Any]]) -> int:
        await trio.lowlevel.checkpoint()
        if self.fail[0] > 0:
            self.fail[0] -= 1
            raise sqlite3.OperationalError("disk I/O error")
        self.written.append(batch)
        return batch[0] + len(batch[1]) - 1

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()


def _rows(start: int, stop: int) -> list[LedgerRow]:
    return [new_row("x", {"i": i}, mono_time=float(i)) for i in range(start, stop)]


@pytest.mark.parametrize("cancel_while_failing", [False, True])
async def test_a_failed_batch_is_retried_as_encoded_before_the_rows_behind_it(
    autojump_clock: trio.testing.MockClock, cancel_while_failing: bool
) -> None:
    """A batch is encoded once: its rows leave the pending list then (the process backend keeps only the
    frame, so they are freed at once), and every retry, also the shutdown's, writes that same batch first."""
    fail = [3 if cancel_while_failing else 2]
    encoded: list[tuple[int, list[Any]]] = []
    written: list[object] = []
    failures: list[Exception] = []
    failed = trio.Event()

    def on_failure(exc: Exception) -> None:
        failures.append(exc)
        failed.set()

    async def opener() -> WriteBackend[tuple[int, list[Any]]]:
        await trio.lowlevel.checkpoint()
        return _FlakyBackend(fail, encoded, written)

    send, recv = trio.open_memory_channel[LedgerItem](10)
    writer = BatchWriter(opener, on_failure, None)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            handle = await nursery.start(serve_batches, writer, 0, recv, 4, 0.05, 5.0)
            await send.send(_rows(1, 7))  # 6 rows: a batch of 4 goes, 2 wait for more
            await failed.wait()
            assert writer.held is not None
            assert writer.unwritten == 4
            assert [int(row[1]) for row in handle._pending] == [5, 6]  # the held rows are no longer here
            await send.send(_rows(7, 9))
            if cancel_while_failing:
                nursery.cancel_scope.cancel()  # the shutdown writes the held batch, then the rest
            else:
                await handle.flush()
                assert handle.written == 8
                nursery.cancel_scope.cancel()
    assert encoded == [(1, [1, 2, 3, 4]), (5, [5, 6, 7, 8])]  # each batch encoded once
    assert written == encoded
    assert written[0] is encoded[0]  # the retries sent the batch encoded before the first failure
    assert len(failures) == 1
