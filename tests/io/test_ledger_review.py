"""Adversarial checks of the ledger's durability chain (sink, pump, writer, child process, store): rows that
cannot be carried as they are, retries after an ambiguous child death, shutdown and flush.

Real stores, real worker threads and real child processes; every test is bounded by ``fail_after`` and
waits on the handle or on events, never on a sleep.
"""

from __future__ import annotations

import functools
import os
import random
import signal
import sqlite3
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
import trio
import trio.testing
from child_procs import ledger_children

from aqbot.core import facts as cf
from aqbot.core.config import CoreConfig
from aqbot.core.engine import Core
from aqbot.core.events import Channel, OrdersSnapshot, TradeStatus
from aqbot.core.exposure import Limits
from aqbot.core.halts import HaltReason
from aqbot.core.types import MarketSpec
from aqbot.io import ledger_process
from aqbot.io.hub import Hub
from aqbot.io.ledger import EncodedRow, LedgerStore, number_rows
from aqbot.io.ledger_events import NO_KEY, LedgerEvent, LedgerItem, LedgerRow, make_row, new_row
from aqbot.io.ledger_process import SHARED_BYTES, _ProcessBackend, run_ledger_process_writer
from aqbot.io.ledger_sink import CHUNK_ROWS, LedgerSink
from aqbot.io.ledger_writer import (
    BatchWriter,
    LedgerWriterHandle,
    WriteBackend,
    run_ledger_writer,
    serve_batches,
)
from aqbot.wire import jsontext

WRITERS = ("thread", "process")
T = TypeVar("T")


def never_fails(exc: Exception) -> None:
    raise AssertionError(f"unexpected ledger failure: {exc!r}")


needs_memfd = pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="no memfd_create: pipe only")


def shared_memory_files() -> list[str]:
    """This process's open descriptors on the writer's shared buffers."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if "aqbot-ledger-batches" in link:
            found.append(link)
    return found


def start_writer(kind: str, path: Path, recv: trio.MemoryReceiveChannel[LedgerItem], **kw: Any) -> Any:
    if kind == "process":
        return functools.partial(run_ledger_process_writer, path, recv, synchronous="NORMAL", **kw)
    store_factory = functools.partial(LedgerStore.open, path, synchronous="NORMAL")
    return functools.partial(run_ledger_writer, store_factory, recv, **kw)


def stored(path: Path) -> list[LedgerEvent]:
    with LedgerStore.open(path) as store:
        report = store.verify()
        assert report.ok, report.problems
        return list(store.iter_events())


def trade(trade_id: str) -> cf.TradeRecorded:
    return cf.TradeRecorded(trade_id, "0xab", Decimal("2.5"), Decimal("0.40"), TradeStatus.MATCHED)


@pytest.mark.parametrize("kind", WRITERS)
async def test_a_key_with_a_lone_surrogate_does_not_kill_the_writer(tmp_path: Path, kind: str) -> None:
    """A trade id from the exchange with a lone surrogate escape (``"\\ud800"``: the wire's stdlib JSON path
    accepts it) reaches a fact's key column. The payload falls back to json's escapes, but the key goes to
    the writer as it is: SQLite (thread writer) and MessagePack (process writer) refuse it. The writer task
    used to die with the whole batch, the good rows around it included; the row is now a defect row."""
    bad = jsontext.loads('{"id": "t-\\ud800"}')["id"]  # type: ignore[index]
    assert bad == "t-\ud800"
    path = tmp_path / "l.db"
    sink = LedgerSink()
    failures: list[Exception] = []
    send, recv = trio.open_memory_channel[LedgerItem](100)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            handle: LedgerWriterHandle = await nursery.start(
                start_writer(kind, path, recv, on_failure=failures.append, batch_interval=0.001)
            )
            await nursery.start(sink.run_pump, send)
            sink.record_facts([trade("t-1"), trade(bad), trade("t-2")], 1.0)
            with trio.move_on_after(10):
                await handle.wait_flushed(3)
            sink.close()
    events = stored(path)
    assert [e.trade_id for e in events][::2] == ["t-1", "t-2"]
    assert (events[1].type, events[1].trade_id) == ("defect", "t-\\ud800")  # escaped
    assert events[1].payload["event_type"] == "fill.trade"
    assert failures == []


def numbered(start: int, stop: int) -> list[LedgerRow]:
    return [
        new_row("fill.applied", {"i": i}, mono_time=float(i), order_id="0xab") for i in range(start, stop)
    ]


class _DiesAfterCommit(_ProcessBackend):
    """A child writer that commits its ``doomed``-th batch and is killed before the parent reads its
    answer (the parent sees it die: the ambiguous case the retry must neither repeat nor skip)."""

    kills: list[int]

    async def write(self, batch: bytearray) -> int:
        last = await super().write(batch)  # committed and answered; the answer is thrown away
        if self.kills[0] > 0:
            self.kills[0] -= 1
            self.process.kill()
            await self.process.wait()
            raise self._dead("killed after its commit")
        return last


@pytest.mark.parametrize("shared_bytes", [SHARED_BYTES, 0])
async def test_a_child_killed_after_its_commit_is_retried_without_duplicates(
    tmp_path: Path, shared_bytes: int
) -> None:
    path = tmp_path / "l.db"
    kills = [2]
    failures: list[Exception] = []
    recovered: list[bool] = []

    async def opener() -> WriteBackend[bytearray]:
        backend = await _DiesAfterCommit.open(path, "NORMAL", shared_bytes)
        assert isinstance(backend, _DiesAfterCommit)
        backend.kills = kills
        return backend

    send, recv = trio.open_memory_channel[LedgerItem](100)
    writer = BatchWriter[bytearray](opener, failures.append, lambda: recovered.append(True))
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            handle: LedgerWriterHandle = await nursery.start(serve_batches, writer, 0, recv, 16, 0.001, 5.0)
            gap = make_row("gap.open", {"gap_id": "g1", "channel": "user", "reason": "eof"}, 0.0)
            await send.send([*numbered(0, 10), gap, *numbered(11, 40)])  # the gap row in a re-sent batch
            await handle.wait_flushed(40)
            assert (handle.last_seq, handle.written) == (40, 40)
            await send.aclose()
    assert len(failures) == 1  # one streak: both deaths before a write succeeded
    assert recovered == [True]
    events = stored(path)
    assert [e.seq for e in events] == list(range(1, 41))
    assert [e.payload.get("i") for e in events] == [*range(10), None, *range(11, 40)]
    with LedgerStore.open(path) as store:
        (row,) = store.gaps()
    assert (row.id, row.open_seq) == ("g1", 11)


@needs_memfd
async def test_a_hung_child_is_killed_and_its_batch_goes_to_a_new_child_and_buffer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stopped child (SIGSTOP: it reads nothing) does not answer: after the answer timeout it is killed and
    reaped, and the batch it held goes to a new child through that child's own shared buffer."""
    monkeypatch.setattr(ledger_process, "CHILD_ANSWER_TIMEOUT", 1.0)
    path = tmp_path / "l.db"
    failures: list[Exception] = []
    failed = trio.Event()

    def on_failure(exc: Exception) -> None:
        failures.append(exc)
        failed.set()

    send, recv = trio.open_memory_channel[LedgerItem](100)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            handle = await nursery.start(
                start_writer("process", path, recv, on_failure=on_failure, batch_interval=0.001)
            )
            await send.send(numbered(0, 5))
            await handle.wait_flushed(5)
            (first,) = ledger_children()
            os.kill(first, signal.SIGSTOP)
            await send.send(numbered(5, 20))
            await failed.wait()
            assert "no answer within 1 s" in str(failures[0])
            await handle.wait_flushed(20)
            (second,) = ledger_children()
            assert second != first  # the stopped one was killed and reaped
            await send.aclose()
    assert [e.payload["i"] for e in stored(path)] == list(range(20))
    assert ledger_children() == []
    assert shared_memory_files() == []


async def test_a_cancelled_pump_keeps_what_it_could_not_hand_over_in_order() -> None:
    """The pump waiting for room in a full channel is cancelled: the list it held and every row behind it
    (also rows recorded while it waited) stay in the sink, in order; a new pump hands them all over."""
    sink = LedgerSink()
    rows = numbered(0, 200)
    send, recv = trio.open_memory_channel[list[LedgerRow]](1)
    got: list[LedgerRow] = []
    with trio.fail_after(10):
        async with trio.open_nursery() as pumping:
            pumping.start_soon(sink.run_pump, send.clone())
            sink.record_rows(rows[:100])
            await trio.testing.wait_all_tasks_blocked()  # one list in the channel, one held by the pump
            sink.record_rows(rows[100:])
            assert sink.buffered == 200 - 2 * CHUNK_ROWS
            pumping.cancel_scope.cancel()
        assert sink.buffered == 200 - CHUNK_ROWS  # the held list is back in front (the channel is full)
        got += await recv.receive()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sink.run_pump, send)
            sink.close()
            async for chunk in recv:
                got += chunk
    assert got == rows


async def test_rows_recorded_just_before_a_forced_cancel_are_written(tmp_path: Path) -> None:
    """A forced exit (the second signal cancels the infra nursery) right after rows were recorded: the pump
    (woken by the record) and the writer (parked in ``receive()``, now cancelled) run in an order Trio
    picks at random. When the writer ran first it had nothing pending and closed the channel at once: the
    pump's hand-over failed with ``BrokenResourceError`` and the rows were lost (17 of 32 trials); the
    writer now lets the pump run before it drains."""
    lost = 0
    for trial in range(32):
        path = tmp_path / f"l{trial}.db"
        sink = LedgerSink()
        send, recv = trio.open_memory_channel[LedgerItem](100)
        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                await nursery.start(start_writer("thread", path, recv, on_failure=pytest.fail))
                await nursery.start(sink.run_pump, send)
                await trio.testing.wait_all_tasks_blocked()  # the writer parked in receive()
                sink.record_rows(numbered(0, 10))
                nursery.cancel_scope.cancel()
        lost += len(stored(path)) < 10
    assert lost == 0


async def test_a_pump_whose_writer_is_gone_keeps_every_row(caplog: pytest.LogCaptureFixture) -> None:
    """The writer has stopped (its channel is closed) while rows wait in the sink: the pump fails, and every
    row stays in the sink, counted in its error (it kept only the refused list: 32 of 100)."""
    sink = LedgerSink()
    send, recv = trio.open_memory_channel[list[LedgerRow]](10)
    recv.close()
    sink.record_rows(numbered(0, 100))
    with trio.fail_after(10), pytest.raises(trio.BrokenResourceError):
        await sink.run_pump(send)
    assert sink.buffered == 100
    assert "100 event(s) still buffered at shutdown" in caplog.text


D = Decimal
SPEC = MarketSpec("0x" + "1" * 64, "111", "222", D("0.01"))


def ready_hub(sink: LedgerSink) -> Hub:
    """A hub over a core past its startup gate (as tests/io/test_hub.py)."""
    core = Core(CoreConfig(Limits(D(20))), [SPEC], 0.0)
    core.on_channel_up(Channel.USER, 0.0)
    recon_id, _ = core.begin_reconciliation(0.0)
    core.on_reconciliation(recon_id, OrdersSnapshot(0.0), None, 0.0)
    return Hub(core, sink)


@pytest.mark.parametrize("kind", WRITERS)
async def test_a_failed_write_latches_ledger_failure_and_recovery_clears_it(
    tmp_path: Path, kind: str
) -> None:
    """Through the hub as the app wires it: a write failure latches LEDGER_FAILURE (quoting stops); the
    writer's recovery clears it only once the sink is back under its bound; the halt and resume rows are
    written too, with every row recorded during the failure, in order."""
    home = tmp_path / "ledger"
    home.mkdir()
    path = home / "l.db"
    read_only = True  # the thread writer's store: read-only until repaired
    hub = ready_hub(LedgerSink(max_buffered=100))
    failed, recovered = trio.Event(), trio.Event()

    def on_failure(exc: Exception) -> None:
        hub.writer_failed(exc)
        failed.set()

    def on_recovered() -> None:
        hub.writer_recovered()
        recovered.set()

    def halted() -> bool:
        return HaltReason.LEDGER_FAILURE in hub.core.can_quote("111", 0.0).reasons

    send, recv = trio.open_memory_channel[LedgerItem](1)
    kw: dict[str, Any] = {"on_failure": on_failure, "on_recovered": on_recovered}
    if kind == "process":
        writer: Any = start_writer(kind, path, recv, **kw)
    else:
        LedgerStore.open(path).close()
        opener = lambda: LedgerStore.open(path, read_only=read_only)  # noqa: E731
        writer = functools.partial(run_ledger_writer, opener, recv, **kw)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            handle: LedgerWriterHandle = await nursery.start(writer)
            await nursery.start(hub.sink.run_pump, send)
            if kind == "process":  # its next child cannot open the ledger (its directory is gone)
                home.rename(tmp_path / "away")
                (child,) = ledger_children()
                os.kill(child, signal.SIGKILL)
            hub.record("startup", {"n": 0})
            await failed.wait()
            assert halted()
            for i in range(1, 300):  # the channel fills, the sink passes its bound (the pump holds 2 lists)
                hub.record("fill.trade", {"n": i})
            assert hub.sink.buffered > hub.sink.max_buffered
            read_only = False
            if kind == "process":
                (tmp_path / "away").rename(home)
            await recovered.wait()
            assert halted()  # recovered, but the sink is still over its bound
            while hub.sink.overflowing:
                await trio.lowlevel.checkpoint()
            hub.maybe_clear_ledger_failure()  # run_ledger_health's call
            assert not halted()
            hub.sink.close()
    events = stored(path)
    assert [e.payload["n"] for e in events if "n" in e.payload] == list(range(300))
    assert [e.type for e in events if e.type in ("halt", "resume")] == ["halt", "resume"]
    assert events[-1].type == "resume"
    assert handle.failures >= 1


@pytest.mark.parametrize(
    ("kind", "bad"),
    [(kind, bad) for kind in WRITERS for bad in ("\ud800", 2**70, 2**63, object())],
)
async def test_a_key_no_writer_can_store_becomes_a_defect_row(tmp_path: Path, kind: str, bad: Any) -> None:
    """Whatever the key column holds (a producer's bug beyond the lone surrogate of the test above), the row
    becomes a defect row in both writers. An int of 2**63 to 2**64 (MessagePack carries it, SQLite does not)
    killed the child; an object made the thread writer retry the batch for ever."""
    path = tmp_path / "l.db"
    row = (0.0, 0.0, "fill.applied", NO_KEY, bad, NO_KEY, bytearray(b'{"x":1}'))
    send, recv = trio.open_memory_channel[LedgerItem](10)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            handle = await nursery.start(start_writer(kind, path, recv, on_failure=never_fails))
            await send.send([*numbered(0, 2), row, *numbered(2, 4)])
            await handle.wait_flushed(5)
            await send.aclose()
    events = stored(path)
    assert [e.type for e in events] == ["fill.applied"] * 2 + ["defect"] + ["fill.applied"] * 2
    assert events[2].payload["payload"] == '{"x":1}'


async def test_rows_numbered_over_another_writers_rows_are_not_skipped_silently(tmp_path: Path) -> None:
    """Two writers on one ledger (a second bot on the same path, or a bot restarted while the killed one's
    child still commits its last batch): this writer numbered its rows from the last seq it read, another
    writer stored rows under those numbers since. The store skipped them as "stored by an earlier attempt":
    they were lost, and ``flush`` returned as if they were durable. They fail the write now (the writer
    latches LEDGER_FAILURE: quoting stops until a restart numbers from the ledger again)."""
    path = tmp_path / "l.db"
    failures: list[Exception] = []
    failed = trio.Event()

    def on_failure(exc: Exception) -> None:
        failures.append(exc)
        failed.set()

    send, recv = trio.open_memory_channel[LedgerItem](10)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            handle: LedgerWriterHandle = await nursery.start(
                start_writer("thread", path, recv, on_failure=on_failure, shutdown_grace=0.1)
            )
            assert handle.last_seq == 0
            with LedgerStore.open(path) as other:  # the other writer
                other.append_encoded(number_rows(1, numbered(100, 103)))
            await send.send(numbered(0, 2))  # numbered 1 and 2 by this writer
            await failed.wait()
            nursery.cancel_scope.cancel()
    assert [e.payload["i"] for e in stored(path)] == [100, 101, 102]
    assert handle.written == 0
    assert "seq 1 holds another writer's row" in str(failures[0])


class _FlakyStore(LedgerStore):
    """A real store whose writes fail at random (seeded): before anything is written, or after the batch's
    COMMIT landed (the ambiguous case the retry must neither repeat nor skip)."""

    rng: random.Random

    def append_encoded(self, rows: Sequence[EncodedRow]) -> int:
        roll = self.rng.random()
        if roll < 0.2:
            raise sqlite3.OperationalError("disk I/O error")
        last = super().append_encoded(rows)
        if roll < 0.4:
            raise sqlite3.OperationalError("disk I/O error (after the commit)")
        return last


@pytest.mark.parametrize("seed", range(4))
async def test_random_write_failures_before_and_after_the_commit_lose_and_repeat_nothing(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, seed: int
) -> None:
    path = tmp_path / "l.db"
    rng, writes = random.Random(seed), random.Random(-seed)
    failures: list[Exception] = []

    def open_store() -> LedgerStore:
        store = _FlakyStore.open(path)
        store.rng = writes  # type: ignore[attr-defined]
        return store

    async def inline(fn: Callable[[], T]) -> T:
        await trio.lowlevel.checkpoint()
        return fn()

    sink = LedgerSink()
    send, recv = trio.open_memory_channel[LedgerItem](4)
    rows = numbered(0, 3000)
    with trio.fail_after(600):
        async with trio.open_nursery() as nursery:
            handle: LedgerWriterHandle = await nursery.start(
                functools.partial(
                    run_ledger_writer,
                    open_store,
                    recv,
                    on_failure=failures.append,
                    offload=inline,
                    batch_max=64,
                )
            )
            await nursery.start(sink.run_pump, send)
            start = 0
            while start < len(rows):
                count = rng.randrange(1, 200)
                sink.record_rows(rows[start : start + count])
                start += count
                await trio.sleep(rng.choice([0, 0.001, 0.01, 0.1]))
            sink.close()
    events = stored(path)
    assert [e.payload["i"] for e in events] == list(range(3000))
    assert (handle.written, handle.last_seq) == (3000, 3000)
    assert failures  # at least one streak


class _LandsThenFails(LedgerStore):
    """A real store whose first write of a batch holding a ``defect`` row commits, then raises (ambiguous)."""

    fails: list[int]

    def append_encoded(self, rows: Sequence[EncodedRow]) -> int:
        last = super().append_encoded(rows)
        if self.fails[0] and any(row[3] == "defect" for row in rows):
            self.fails[0] -= 1
            raise sqlite3.OperationalError("disk I/O error (after the commit)")
        return last


async def test_a_defect_row_for_a_bad_key_whose_commit_landed_is_not_another_writers_row(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    """A batch with a key SQLite refuses is written with a defect row in its place; that COMMIT lands but
    raises. The retry starts again from the original rows: the stored defect row counts as this writer's
    (it failed every retry as another writer's row: a permanent LEDGER_FAILURE)."""
    path = tmp_path / "l.db"
    fails = [1]
    recovered = trio.Event()

    def open_store() -> LedgerStore:
        store = _LandsThenFails.open(path)
        store.fails = fails  # type: ignore[attr-defined]
        return store

    async def inline(fn: Callable[[], T]) -> T:
        await trio.lowlevel.checkpoint()
        return fn()

    row = (0.0, 0.0, "fill.trade", NO_KEY, NO_KEY, "t-\ud800", bytearray(b'{"x":1}'))
    send, recv = trio.open_memory_channel[LedgerItem](10)
    writer = functools.partial(
        run_ledger_writer, open_store, recv, on_failure=lambda exc: None, on_recovered=recovered.set,
        offload=inline, shutdown_grace=0.1,
    )  # fmt: skip
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            handle: LedgerWriterHandle = await nursery.start(writer)
            await send.send([*numbered(0, 2), row, *numbered(2, 4)])
            with trio.move_on_after(30):
                await recovered.wait()
            nursery.cancel_scope.cancel()
    assert [e.type for e in stored(path)] == ["fill.applied"] * 2 + ["defect"] + ["fill.applied"] * 2
    assert recovered.is_set()
    assert handle.written == 5


async def test_a_defect_row_the_dead_child_stored_is_this_writers_row_for_the_next_child(
    tmp_path: Path,
) -> None:
    """The same through the process writer: the child writes the defect row for a key SQLite refuses (an int
    of 2**63: MessagePack carries it), commits, and is killed before it answers; the next child is sent
    the original rows again."""
    path = tmp_path / "l.db"
    kills = [1]

    async def opener() -> WriteBackend[bytearray]:
        backend = await _DiesAfterCommit.open(path, "NORMAL")
        assert isinstance(backend, _DiesAfterCommit)
        backend.kills = kills
        return backend

    row = (0.0, 0.0, "fill.trade", NO_KEY, 2**63, NO_KEY, bytearray(b'{"x":1}'))
    send, recv = trio.open_memory_channel[LedgerItem](10)
    writer = BatchWriter[bytearray](opener, lambda exc: None, None)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            handle: LedgerWriterHandle = await nursery.start(serve_batches, writer, 0, recv, 16, 0.001, 5.0)
            await send.send([*numbered(0, 2), row, *numbered(2, 4)])
            await handle.wait_flushed(5)
            await send.aclose()
    assert [e.type for e in stored(path)] == ["fill.applied"] * 2 + ["defect"] + ["fill.applied"] * 2
    assert (kills, handle.failures) == ([0], 1)
