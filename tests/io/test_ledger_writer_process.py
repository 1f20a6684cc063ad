"""The writer contract over both writers (worker thread, child process), in real time with real threads and
a real child (``aqbot.io.ledger_child``), and the child's own loop and protocol.

Each process test starts one or two children (about 150 ms each); nothing sleeps to let things settle:
the tests wait on the handle (``flush``, ``wait_flushed``, ``written``) or on the child's exit.
"""

from __future__ import annotations

import functools
import io
import marshal
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trio
from child_procs import ledger_children

from aqbot.errors import LedgerError
from aqbot.io import ledger_child
from aqbot.io.ledger import LedgerStore
from aqbot.io.ledger_events import LedgerEvent, LedgerItem, LedgerRow, new_row
from aqbot.io.ledger_process import (
    SHARED_BYTES,
    _child_error,
    _ProcessBackend,
    run_ledger_process_writer,
)
from aqbot.io.ledger_writer import LedgerWriterHandle, run_ledger_writer

# The process writer with its shared buffer (the default), with none (every batch through the pipe), and
# with one of 4 kB (single events through it, full batches through the pipe: the two interleave).
SHARED_SIZES = {"process": SHARED_BYTES, "process-pipe": 0, "process-small": 4096}
WRITERS = ("thread", *SHARED_SIZES)
needs_memfd = pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="no memfd_create: pipe only")


def start_writer(kind: str, path: Path, recv: trio.MemoryReceiveChannel[LedgerItem], **kw: Any) -> Any:
    if kind in SHARED_SIZES:
        return functools.partial(
            run_ledger_process_writer, path, recv, synchronous="NORMAL", shared_bytes=SHARED_SIZES[kind], **kw
        )
    store_factory = functools.partial(LedgerStore.open, path, synchronous="NORMAL")
    return functools.partial(run_ledger_writer, store_factory, recv, **kw)


def never_fails(exc: Exception) -> None:
    raise AssertionError(f"unexpected ledger failure: {exc!r}")


def event(i: int) -> LedgerEvent:
    return LedgerEvent(type="ws.user.raw", payload={"i": i, "text": "é" * (i % 7)}, mono_time=float(i))


def rows(start: int, count: int) -> list[LedgerRow]:
    return [new_row("fill.applied", {"i": i, "size": "1.50"}, mono_time=float(i), order_id="0xab")
            for i in range(start, start + count)]  # fmt: skip


def stored(path: Path) -> list[LedgerEvent]:
    with LedgerStore.open(path) as store:
        report = store.verify()
        assert report.ok, report.problems
        return list(store.iter_events())


async def until(condition: Callable[[], bool], wake: Callable[[], Awaitable[None]]) -> None:
    while not condition():
        await wake()


@pytest.mark.parametrize("kind", WRITERS)
async def test_order_numbering_flush_and_clean_shutdown(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "l.db"
    with LedgerStore.open(path) as store:
        store.append_batch([event(i) for i in range(3)])  # numbering continues the stored sequence
    send, recv = trio.open_memory_channel[LedgerItem](100)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            handle: LedgerWriterHandle = await nursery.start(
                start_writer(kind, path, recv, on_failure=never_fails, batch_max=64, batch_interval=0.005)
            )
            assert handle.last_seq == 3
            send.send_nowait(event(3))
            send.send_nowait(rows(4, 100))  # a list longer than batch_max: written in two transactions
            send.send_nowait(event(104))
            await handle.flush()
            assert (handle.written, handle.last_seq, handle.received) == (102, 105, 102)
            for i in range(105, 135):  # send then flush: every flush returns with its event stored
                await send.send(event(i))
                await handle.flush()
                assert handle.last_seq == i + 1
            await send.send(event(135))
            await handle.wait_flushed(136)
            assert handle.last_seq == 136
            stats = handle.statistics()
            assert (stats.written, stats.failures, stats.failing) == (133, 0, False)
            await send.aclose()  # the writer writes everything and returns (the nursery ends)
    assert [e.seq for e in stored(path)] == list(range(1, 137))
    assert [e.payload["i"] for e in stored(path)] == list(range(136))
    assert ledger_children() == []  # the child exited with its stdin and was reaped


@pytest.mark.parametrize("kind", WRITERS)
async def test_cancellation_drains_what_is_buffered(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "l.db"
    send, recv = trio.open_memory_channel[LedgerItem](100)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            await nursery.start(start_writer(kind, path, recv, on_failure=never_fails, batch_interval=10.0))
            for i in range(40):
                send.send_nowait(event(i))
            send.send_nowait(rows(40, 10))
            nursery.cancel_scope.cancel()  # nothing is written yet: the batch waits 10 s
    assert [e.payload["i"] for e in stored(path)] == list(range(50))
    assert ledger_children() == []


@pytest.mark.parametrize("kind", ["process", "process-pipe"])
async def test_killed_child_is_a_failure_then_restarted_without_loss_or_duplicates(
    tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "l.db"
    failures: list[Exception] = []
    recovered = trio.Event()
    send, recv = trio.open_memory_channel[LedgerItem](1000)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            handle: LedgerWriterHandle = await nursery.start(
                start_writer(
                    kind, path, recv, on_failure=failures.append, on_recovered=recovered.set,
                    batch_max=50, batch_interval=0.001,
                )
            )  # fmt: skip
            (first,) = ledger_children()
            for i in range(0, 300, 10):
                await send.send(rows(i, 10))
            await until(lambda: handle.written >= 50, trio.lowlevel.checkpoint)
            os.kill(first, signal.SIGKILL)  # mid-run: batches are still being written
            for i in range(300, 600, 10):
                await send.send(rows(i, 10))
            await handle.flush()
            assert recovered.is_set()
            assert len(failures) == 1  # once per failure streak
            assert isinstance(failures[0], LedgerError)
            assert f"ledger writer process {first}" in str(failures[0])
            stats = handle.statistics()
            assert stats.failures >= 1
            assert not stats.failing
            assert (stats.written, stats.last_seq) == (600, 600)
            (second,) = ledger_children()
            assert second != first
            nursery.cancel_scope.cancel()
    assert [e.payload["i"] for e in stored(path)] == list(range(600))
    assert ledger_children() == []
    assert shared_memory_files() == []  # the killed child's buffer went with its backend


async def test_a_child_that_cannot_open_the_store_fails_the_start(tmp_path: Path) -> None:
    _send, recv = trio.open_memory_channel[LedgerItem](10)
    with trio.fail_after(30):
        with pytest.raises(LedgerError, match="cannot open"):
            await run_ledger_process_writer(tmp_path / "no" / "l.db", recv, on_failure=never_fails)
    assert ledger_children() == []
    with pytest.raises(ValueError, match="synchronous"):
        await run_ledger_process_writer(tmp_path / "l.db", recv, synchronous="OFF", on_failure=never_fails)


# --- the child's loop and protocol, in this process ------------------------------------------------------


def serve(open_store: Callable[[], LedgerStore], *frames: bytes | bytearray) -> tuple[int, list[Any]]:
    inp = io.BytesIO(b"".join(frames))
    out = io.BytesIO()
    status = ledger_child.serve(open_store, inp, out)
    return status, answers_of(out.getvalue())


def answers_of(data: bytes) -> list[Any]:
    answers = []
    while data:
        length = ledger_child.frame_length(data[: ledger_child.HEADER_SIZE])
        answers.append(marshal.loads(data[ledger_child.HEADER_SIZE : ledger_child.HEADER_SIZE + length]))
        data = data[ledger_child.HEADER_SIZE + length :]
    return answers


def batch(start: int, count: int) -> bytearray:
    """The frame of ``count`` rows numbered from ``start``."""
    return ledger_child.batch_frame(start, rows(start - 1, count))


def test_child_writes_batches_answers_and_retries_a_disk_full(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    status, answers = serve(functools.partial(LedgerStore.open, path), batch(1, 5), batch(6, 5))
    assert (status, answers) == (0, [("ok", 0), ("ok", 5), ("ok", 10)])

    def full() -> LedgerStore:
        store = LedgerStore.open(path)
        pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
        store._conn.execute(f"PRAGMA max_page_count = {pages}")
        return store

    big: list[LedgerRow] = [
        (0.0, 0.0, "ws.user.raw", 0, 0, 0, bytearray(b'{"t":"' + b"x" * 4000 + b'"}'))
    ] * 40
    status, answers = serve(full, ledger_child.batch_frame(11, big))
    assert status == 0  # a write error is answered; the child waits for the parent to close it
    assert answers == [("ok", 10), ("retry", "OperationalError", "database or disk is full")]
    not_a_batch = ledger_child.frame(
        [(14, 0.0, 0.0, "ws.user.raw", 0, 0, 0, b"{}")]
    )  # marshal: the old format
    status, answers = serve(functools.partial(LedgerStore.open, path), ledger_child.batch_frame(11, big[:3]),
                            not_a_batch)  # fmt: skip
    assert status == 2
    assert answers[:2] == [("ok", 10), ("ok", 13)]
    assert answers[2][:2] == ("fatal", "DecodeError")  # a bug: the child stops
    assert [e.seq for e in stored(path)] == list(range(1, 14))


def test_child_writes_nothing_of_a_frame_cut_short(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    inp = io.BytesIO(batch(1, 5)[:-3])
    assert ledger_child.serve(functools.partial(LedgerStore.open, path), inp, io.BytesIO()) == 1
    assert stored(path) == []


def shared_memory_files() -> list[str]:
    """This process's open descriptors on the writer's shared buffers (a mapping keeps one)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # closed meanwhile (the listing's own descriptor)
        if "aqbot-ledger-batches" in link:
            found.append(link)
    return found


@needs_memfd
async def test_batches_that_fit_go_through_the_shared_buffer_the_others_through_the_pipe(
    tmp_path: Path,
) -> None:
    path = tmp_path / "l.db"
    with trio.fail_after(30):
        backend = await _ProcessBackend.open(path, "NORMAL", shared_bytes=4096)
        try:
            small, big = backend.encode(1, rows(0, 3)), backend.encode(4, rows(3, 200))
            assert len(small) - ledger_child.HEADER_SIZE <= 4096 < len(big) - ledger_child.HEADER_SIZE
            assert await backend.write(small) == 3
            assert backend.shared_batches == 1
            assert await backend.write(big) == 203  # too big for the buffer: through the pipe
            assert backend.shared_batches == 1
            # The buffer is rewritten from its start for the next batch (the child has answered).
            assert await backend.write(backend.encode(204, rows(203, 2))) == 205
            assert backend.shared_batches == 2
        finally:
            await backend.aclose()
    assert backend.shared is not None
    assert backend.shared.closed
    assert shared_memory_files() == []  # the mapping's own descriptor is closed with it
    assert ledger_children() == []
    assert [e.payload["i"] for e in stored(path)] == list(range(205))


def test_child_reads_batches_from_the_shared_buffer_between_piped_ones(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    shared = bytearray(4096)
    body = batch(6, 5)[ledger_child.HEADER_SIZE :]
    shared[: len(body)] = body
    frames = (batch(1, 5), ledger_child.shared_header(len(body)), batch(11, 2))
    status = ledger_child.serve(functools.partial(LedgerStore.open, path), io.BytesIO(b"".join(frames)),
                                out := io.BytesIO(), shared)  # fmt: skip
    assert status == 0
    assert answers_of(out.getvalue()) == [("ok", 0), ("ok", 5), ("ok", 10), ("ok", 12)]
    assert [e.seq for e in stored(path)] == list(range(1, 13))


@pytest.mark.parametrize("shared", [None, bytearray(64)])
def test_a_batch_announced_in_a_shared_buffer_it_does_not_fit_is_a_fatal_error(
    tmp_path: Path, shared: bytearray | None
) -> None:
    path = tmp_path / "l.db"
    frames = (batch(1, 2), ledger_child.shared_header(65))
    status = ledger_child.serve(functools.partial(LedgerStore.open, path), io.BytesIO(b"".join(frames)),
                                out := io.BytesIO(), shared)  # fmt: skip
    assert status == 2
    answers = answers_of(out.getvalue())
    assert answers[:2] == [("ok", 0), ("ok", 2)]
    assert answers[2] == ("fatal", "LedgerError", "no shared buffer holds a batch of 65 bytes")
    assert [e.seq for e in stored(path)] == [1, 2]


def test_a_batch_too_long_for_the_length_field_is_refused_before_anything_is_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ledger_child, "SHARED", 256)  # the flag bit, as if 2 GiB were 256 bytes
    assert len(ledger_child.batch_frame(1, rows(0, 1))) < 256
    with pytest.raises(ValueError, match="beyond the frame's length field"):
        ledger_child.batch_frame(1, rows(0, 5))


def test_child_answers_map_to_the_thread_writers_errors() -> None:
    exc = _child_error("retry", "OperationalError", "database is locked")
    assert type(exc) is sqlite3.OperationalError
    assert str(exc) == "database is locked"
    exc = _child_error("retry", "LedgerError", "ledger x: cannot open (y)")
    assert type(exc) is LedgerError
    assert str(exc) == "ledger x: cannot open (y)"
    exc = _child_error("retry", "FileNotFoundError", "no such file")
    assert type(exc) is LedgerError
    assert str(exc) == "ledger writer process: FileNotFoundError: no such file"
    exc = _child_error("fatal", "TypeError", "boom")  # a failed write too: retried with a new child
    assert type(exc) is LedgerError
    assert str(exc) == "ledger writer process: fatal TypeError: boom"


def test_child_environment_holds_no_credentials() -> None:
    parent = {"PATH": "/bin", "AQBOT_API_SECRET": "s3cret", "AQBOT_PRIVATE_KEY": "0xkey", "PYTHONPATH": "/x"}
    assert ledger_child.child_env(parent, "/root") == {"PATH": "/bin", "PYTHONPATH": f"/root{os.pathsep}/x"}


WRITER_SCRIPT = r"""
import os, sys, trio
from aqbot.io.ledger_events import LedgerEvent
from aqbot.io.ledger_process import run_ledger_process_writer

def fail(exc):
    print("FAIL", exc, flush=True)

async def main(path):
    send, recv = trio.open_memory_channel(1000)
    async with trio.open_nursery() as nursery:
        handle = await nursery.start(lambda task_status: run_ledger_process_writer(
            path, recv, on_failure=fail, task_status=task_status))
        i = 0
        while True:
            for _ in range(37):
                await send.send(LedgerEvent(type="ws.user.raw", payload={"i": i, "pad": "p" * 200}))
                i += 1
            await handle.wait_flushed(i)
            print("ACK", handle.last_seq, flush=True)

trio.run(main, sys.argv[1])
"""


async def test_the_child_exits_when_the_bot_is_killed_and_acknowledged_rows_survive(tmp_path: Path) -> None:
    """``kill -9`` of the bot's process: its child writer sees stdin end and exits; every row the writer
    acknowledged (``wait_flushed``) is stored, with no hole."""
    path = tmp_path / "crash.db"
    acked = 0
    with trio.fail_after(60):
        bot = await trio.lowlevel.open_process(
            [sys.executable, "-c", WRITER_SCRIPT, str(path)], stdout=subprocess.PIPE
        )
        assert bot.stdout is not None
        buffer = b""
        try:
            while acked < 300:
                chunk = await bot.stdout.receive_some(65536)
                assert chunk, "the writer script exited early"
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    assert not line.startswith(b"FAIL"), line
                    acked = max(acked, int(line.split()[1]))
            (child,) = ledger_writers_of(str(path))
            pidfd = os.pidfd_open(child)
        finally:
            bot.kill()
            await bot.wait()
            await bot.stdout.aclose()
        try:
            await trio.lowlevel.wait_readable(pidfd)  # the orphaned child exits (its stdin ended)
        finally:
            os.close(pidfd)
    assert ledger_writers_of(str(path)) == []
    events = stored(path)
    assert len(events) >= acked
    assert [e.payload["i"] for e in events] == list(range(len(events)))


def ledger_writers_of(path: str) -> list[int]:
    """Pids of the running (not zombie) ``aqbot.io.ledger_child`` processes writing ``path``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"aqbot.io.ledger_child" in cmdline and path.encode() in cmdline and state != "Z":
            found.append(int(entry))
    return found
