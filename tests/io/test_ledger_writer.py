"""The ledger writer task: batching on Trio's clock, flush, failure and recovery without loss, shutdown.

Virtual-time tests pass an inline ``offload`` (no worker thread), so the autojump clock never jumps
while a write is in flight (STYLE A15). The read-only test uses the real ``trio.to_thread`` path.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import trio
import trio.testing

from aqbot.io.ledger import EncodedRow, LedgerStore
from aqbot.io.ledger_events import LedgerEvent, LedgerItem, new_row
from aqbot.io.ledger_writer import LedgerWriterHandle, run_ledger_writer

T = TypeVar("T")


async def inline(fn: Callable[[], T], /) -> T:
    await trio.lowlevel.checkpoint()
    return fn()


def event(i: int, size: int = 10) -> LedgerEvent:
    return LedgerEvent(type="ws.user.raw", payload={"i": i, "text": "x" * size}, mono_time=float(i))


class RecordingStore(LedgerStore):
    """A real store that also records (virtual time, batch size) of every append."""

    batches: list[tuple[float, int]]

    def append_encoded(self, rows: Sequence[EncodedRow]) -> int:
        self.batches.append((trio.current_time(), len(rows)))
        return super().append_encoded(rows)


def recording_factory(path: Path, batches: list[tuple[float, int]]) -> Callable[[], LedgerStore]:
    def open_store() -> LedgerStore:
        store = RecordingStore.open(path)
        store.batches = batches  # type: ignore[attr-defined]
        return store

    return open_store


def never_fails(exc: Exception) -> None:
    raise AssertionError(f"unexpected ledger failure: {exc!r}")


def stored(path: Path) -> list[LedgerEvent]:
    with LedgerStore.open(path) as store:
        assert store.verify().ok
        return list(store.iter_events())


async def test_batches_by_interval_and_by_size(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    batches: list[tuple[float, int]] = []
    send, recv = trio.open_memory_channel[LedgerEvent](2000)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            handle: LedgerWriterHandle = await nursery.start(
                functools.partial(
                    run_ledger_writer, recording_factory(tmp_path / "l.db", batches), recv,
                    on_failure=never_fails, offload=inline, batch_max=500,
                )
            )  # fmt: skip
            t0 = trio.current_time()
            for i in range(3):
                send.send_nowait(event(i))
            await handle.flush()
            assert batches == [(t0 + 0.05, 3)]  # three events, one transaction, 50 ms after the first
            batches.clear()
            t1 = trio.current_time()
            for i in range(3, 1203):
                send.send_nowait(event(i))
            await handle.flush()
            assert batches == [(t1, 500), (t1, 500), (t1 + 0.05, 200)]  # full batches go at once
            assert handle.statistics().written == 1203
            assert handle.last_seq == 1203
            await send.aclose()  # the writer returns once the channel ends
    assert [e.payload["i"] for e in stored(tmp_path / "l.db")] == list(range(1203))


async def test_the_rest_of_an_overfull_batch_waits_for_the_next_one(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    batches: list[tuple[float, int]] = []
    send, recv = trio.open_memory_channel[LedgerItem](10)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            handle: LedgerWriterHandle = await nursery.start(
                functools.partial(
                    run_ledger_writer, recording_factory(tmp_path / "l.db", batches), recv,
                    on_failure=never_fails, offload=inline, batch_max=64,
                )
            )  # fmt: skip
            t0 = trio.current_time()
            send.send_nowait([new_row("fill.applied", {"i": i}, mono_time=0.0) for i in range(100)])
            send.send_nowait([new_row("fill.applied", {"i": i}, mono_time=0.0) for i in range(100, 200)])
            await handle.flush()
            # lists of 100 past a batch_max of 64: full batches at once, the rest of each joins the next
            # batch (it was written alone: 64, 36, 64, 36)
            assert batches == [(t0, 64), (t0, 64), (t0, 64), (t0 + 0.05, 8)]
            assert (handle.written, handle.last_seq) == (200, 200)
            await send.aclose()
    assert [e.payload["i"] for e in stored(tmp_path / "l.db")] == list(range(200))


async def test_wait_flushed_and_continuing_seq_after_restart(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    path = tmp_path / "l.db"
    with LedgerStore.open(path) as store:
        store.append_batch([event(i) for i in range(5)])
    send, recv = trio.open_memory_channel[LedgerEvent](10)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            handle = await nursery.start(
                functools.partial(
                    run_ledger_writer, functools.partial(LedgerStore.open, path), recv,
                    on_failure=never_fails, offload=inline,
                )
            )  # fmt: skip
            assert handle.last_seq == 5
            await send.send(event(5))
            await handle.wait_flushed(6)
            assert handle.last_seq == 6
            nursery.cancel_scope.cancel()
    assert [e.seq for e in stored(path)] == list(range(1, 7))


async def test_flush_waits_for_an_event_handed_straight_to_the_parked_writer(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    """An event sent while the writer is parked in ``receive()`` goes straight to it: it is in neither the
    channel's buffer nor ``received`` until the writer runs. ``flush()`` must still wait for it (it used to
    return at once, before the event was durable: the ledger benchmark's ``flush_returned_before_durable``).
    """
    path = tmp_path / "l.db"
    send, recv = trio.open_memory_channel[LedgerEvent](10)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            handle: LedgerWriterHandle = await nursery.start(
                functools.partial(
                    run_ledger_writer, functools.partial(LedgerStore.open, path), recv,
                    on_failure=never_fails, offload=inline,
                )
            )  # fmt: skip
            for i in range(3):
                await trio.testing.wait_all_tasks_blocked()  # the writer is parked in receive()
                assert recv.statistics().tasks_waiting_receive == 1
                send.send_nowait(event(i))
                assert handle.received == i  # in flight: neither taken nor buffered
                assert recv.statistics().current_buffer_used == 0
                await handle.flush()
                assert handle.last_seq == i + 1
                assert handle.written == i + 1
            nursery.cancel_scope.cancel()
    assert [e.payload["i"] for e in stored(path)] == [0, 1, 2]


async def test_flush_after_each_send_through_real_threads(tmp_path: Path) -> None:
    """The benchmark's pattern (send, flush, repeat) with worker-thread writes: every flush returns with
    the event it follows already stored."""
    path = tmp_path / "l.db"
    send, recv = trio.open_memory_channel[LedgerEvent](10)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            handle: LedgerWriterHandle = await nursery.start(
                functools.partial(
                    run_ledger_writer, functools.partial(LedgerStore.open, path, synchronous="NORMAL"),
                    recv, on_failure=never_fails, batch_interval=0.001,
                )
            )  # fmt: skip
            early = 0
            for i in range(30):
                await send.send(event(i))
                await handle.flush()
                early += handle.last_seq < i + 1
            assert early == 0
            nursery.cancel_scope.cancel()
    assert len(stored(path)) == 30


async def test_disk_full_calls_on_failure_and_loses_nothing(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    """SQLite's own "database or disk is full" (max_page_count), then space again: every event lands."""
    path = tmp_path / "full.db"
    disk_full = True
    failures: list[Exception] = []
    failed, recovered = trio.Event(), trio.Event()

    def open_store() -> LedgerStore:
        store = LedgerStore.open(path)
        if disk_full:
            pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
            store._conn.execute(f"PRAGMA max_page_count = {pages}")
        return store

    def on_failure(exc: Exception) -> None:
        failures.append(exc)
        failed.set()

    send, recv = trio.open_memory_channel[LedgerEvent](100)
    with trio.fail_after(600):
        async with trio.open_nursery() as nursery:
            handle = await nursery.start(
                functools.partial(
                    run_ledger_writer, open_store, recv, on_failure=on_failure,
                    on_recovered=recovered.set, offload=inline,
                )
            )  # fmt: skip
            for i in range(20):
                await send.send(event(i, size=4000))
            await failed.wait()
            assert isinstance(failures[0], sqlite3.OperationalError)
            assert "full" in str(failures[0])
            for i in range(20, 30):  # producers keep going; events queue in the channel
                await send.send(event(i, size=4000))
            await trio.sleep(10)  # several backoff rounds while the disk stays full
            stats = handle.statistics()
            assert stats.failing
            assert stats.failures >= 3
            assert len(failures) == 1  # once per failure streak
            assert not recovered.is_set()
            disk_full = False
            await handle.flush()
            assert recovered.is_set()
            assert not handle.statistics().failing
            nursery.cancel_scope.cancel()
    assert [e.payload["i"] for e in stored(path)] == list(range(30))


async def test_read_only_ledger_fails_then_recovers_through_real_threads(tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    LedgerStore.open(path).close()
    read_only = True
    failed = trio.Event()

    def open_store() -> LedgerStore:
        return LedgerStore.open(path, read_only=read_only)

    def on_failure(exc: Exception) -> None:
        assert "readonly" in str(exc)
        failed.set()

    send, recv = trio.open_memory_channel[LedgerEvent](100)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            handle = await nursery.start(
                functools.partial(run_ledger_writer, open_store, recv, on_failure=on_failure)
            )
            for i in range(5):
                await send.send(event(i))
            await failed.wait()
            read_only = False
            await handle.flush()
            nursery.cancel_scope.cancel()
    assert [e.payload["i"] for e in stored(path)] == list(range(5))


async def test_cancellation_writes_what_is_buffered(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    path = tmp_path / "l.db"
    send, recv = trio.open_memory_channel[LedgerEvent](100)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            await nursery.start(
                functools.partial(
                    run_ledger_writer, functools.partial(LedgerStore.open, path), recv,
                    on_failure=never_fails, offload=inline,
                )
            )  # fmt: skip
            for i in range(40):
                send.send_nowait(event(i))
            await trio.testing.wait_all_tasks_blocked()  # the writer holds a partial batch
            nursery.cancel_scope.cancel()
    assert [e.payload["i"] for e in stored(path)] == list(range(40))


async def test_unencodable_payload_becomes_a_defect(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    path = tmp_path / "l.db"
    send, recv = trio.open_memory_channel[LedgerEvent](10)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            handle = await nursery.start(
                functools.partial(
                    run_ledger_writer, functools.partial(LedgerStore.open, path), recv,
                    on_failure=never_fails, offload=inline,
                )
            )  # fmt: skip
            await send.send(LedgerEvent(type="fill.applied", payload={"bad": object()}, order_id="0x1"))
            await send.send(event(1))
            await handle.flush()
            nursery.cancel_scope.cancel()
    first, second = stored(path)
    assert first.type == "defect"
    assert first.order_id == "0x1"
    assert first.payload["event_type"] == "fill.applied"
    assert second.payload["i"] == 1
