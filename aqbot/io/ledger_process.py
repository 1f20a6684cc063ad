"""The ledger writer with its store in a child process (``[ledger] writer = "process"``).

:func:`run_ledger_process_writer` is :func:`aqbot.io.ledger_writer.run_ledger_writer` with another
:class:`~aqbot.io.ledger_writer.WriteBackend`: each batch is sent to ``python -m aqbot.io.ledger_child``
(through a shared memory buffer, or over its stdin) and the child's answer awaited; a child that
dies is a failed write, and the retry starts a new one. Handle, batching, numbering, failure streaks and
shutdown are the shared writer's.
"""

from __future__ import annotations

import logging
import marshal
import mmap
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import trio

import aqbot
from aqbot.errors import LedgerError
from aqbot.io import ledger_child
from aqbot.io.ledger_events import LedgerItem, LedgerRow, carried
from aqbot.io.ledger_writer import (
    BATCH_INTERVAL,
    BATCH_MAX,
    SHUTDOWN_GRACE,
    BatchWriter,
    LedgerWriterHandle,
    WriteBackend,
    serve_batches,
)

log = logging.getLogger(__name__)

# The directory holding the aqbot package (first on the child writer's PYTHONPATH).
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(aqbot.__file__)))
# A child writer that does not answer a batch (or its start) within this many seconds is hung: it is
# killed and the write counts as failed. The exchange is shielded up to this bound, as a worker thread's
# write cannot be cancelled either.
CHILD_ANSWER_TIMEOUT = 60.0
# How long a child writer may take to exit after its stdin is closed (it closes the store), then killed.
CHILD_EXIT_GRACE = 5.0
# The child's stdin pipe is asked for this size (Linux: F_SETPIPE_SZ; 1 MiB is the default ceiling for an
# unprivileged process, /proc/sys/fs/pipe-max-size). With the default 64 KiB a batch of 2048 ingest rows
# (1.4 MB) took about 20 writes, each blocked in the kernel while the child drained the pipe.
PIPE_SIZE = 1 << 20
# The shared buffer's size (ledger_child's "shared buffer"): a batch whose body fits goes through it, a
# larger one through the pipe. A batch of 2048 ingest rows is 1.4 MB; a reconciliation's evidence rows
# can be larger. The pages are the kernel's shared memory, allocated as they are first written.
SHARED_BYTES = 8 << 20


def make_shared(size: int) -> tuple[int, mmap.mmap] | None:
    """A shared memory file of ``size`` bytes (Linux ``memfd_create``, close-on-exec) and the parent's
    mapping of it; None where there is none (another system, a sandbox refusing it, ``size`` 0)."""
    create = getattr(os, "memfd_create", None)
    if create is None or size <= 0:
        return None
    try:
        fd = create("aqbot-ledger-batches")
    except OSError:
        return None
    try:
        os.ftruncate(fd, size)
        return fd, mmap.mmap(fd, size)
    except OSError:
        os.close(fd)
        return None


if sys.platform == "win32":  # pragma: no cover

    def enlarge_pipe(fd: int, size: int = PIPE_SIZE) -> int | None:
        """Pipes have no settable size here: None."""
        return None

else:
    import fcntl

    def enlarge_pipe(fd: int, size: int = PIPE_SIZE) -> int | None:
        """Ask for pipe ``fd`` to hold ``size`` bytes; return the size it has, or None where it cannot be set
        (no ``F_SETPIPE_SZ``). A refusal (above the system's ceiling, or the user's pipe quota spent) keeps
        the size it had: the writer works either way, in more writes."""
        setter = getattr(fcntl, "F_SETPIPE_SZ", None)
        getter = getattr(fcntl, "F_GETPIPE_SZ", None)
        if setter is None or getter is None:
            return None
        try:
            fcntl.fcntl(fd, setter, size)
        except OSError:
            pass
        try:
            current: int = fcntl.fcntl(fd, getter)
        except OSError:
            return None
        return current


class LedgerChildError(RuntimeError):
    """A batch the child cannot be sent (a row MessagePack cannot carry: a producer's bug); not retried."""


def _child_error(kind: str, name: str, message: str) -> Exception:
    """The exception a child's ``retry`` or ``fatal`` answer stands for: a ``sqlite3`` error or a
    :class:`LedgerError` of the same class and message (what the thread writer would raise), else a
    :class:`LedgerError` naming the class (an ``OSError``).

    A ``fatal`` answer (an error that is no write error; the child has exited) is a :class:`LedgerError`
    too, a failed write: the child may run other code than this process (upgraded on disk since the bot
    started), so the writer latches LEDGER_FAILURE and retries with a new child rather than crashing the
    bot (which would stop tracking its orders)."""
    if kind != "retry":
        return LedgerError(f"ledger writer process: fatal {name}: {message}")
    cls = getattr(sqlite3, name, None)
    if isinstance(cls, type) and issubclass(cls, sqlite3.Error):
        return cls(message)
    if name == "LedgerError":
        return LedgerError(message)
    return LedgerError(f"ledger writer process: {name}: {message}")


def _parse_answer(body: bytes | bytearray) -> int | Exception | str:
    """A child's answer: the last stored ``seq`` (``ok``), the exception its error stands for
    (:func:`_child_error`), or what is wrong with an answer this process cannot read (a child of other
    code: the code on disk upgraded since the bot started)."""
    try:
        answer = marshal.loads(body)
    except (ValueError, EOFError, TypeError) as exc:
        return f"{type(exc).__name__}: {exc}"
    if isinstance(answer, tuple) and len(answer) == 2 and answer[0] == "ok" and type(answer[1]) is int:
        return int(answer[1])
    is_error = isinstance(answer, tuple) and len(answer) == 3 and answer[0] in ("retry", "fatal")
    if is_error and all(isinstance(part, str) for part in answer):
        return _child_error(*answer)
    return f"{answer!r:.200}"


class _ProcessBackend:
    """A child process (``python -m aqbot.io.ledger_child``) that owns the store; see
    :func:`run_ledger_process_writer`. ``in_sync`` is False while a batch is on its way or unanswered
    (then the pipe's state is unknown, and closing kills the child rather than asking it to stop)."""

    def __init__(self, process: trio.Process, shared: mmap.mmap | None = None) -> None:
        self.process = process
        # The shared buffer (None: every batch goes through the pipe) and how many batches went through it.
        self.shared = shared
        self.shared_batches = 0
        assert process.stdin is not None
        assert process.stdout is not None
        self.stdin = process.stdin
        self.stdout = process.stdout
        self.buffer = bytearray()
        self.in_sync = False
        self.opened_seq = 0

    @classmethod
    async def open(cls, path: Path, synchronous: str, shared_bytes: int = SHARED_BYTES) -> _ProcessBackend:
        argv = [sys.executable, "-m", "aqbot.io.ledger_child", str(path), synchronous]
        made = make_shared(shared_bytes)
        fds = () if made is None else (made[0],)
        try:
            process = await trio.lowlevel.open_process(
                [*argv, *map(str, fds)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, pass_fds=fds,
                env=ledger_child.child_env(os.environ, _PACKAGE_ROOT),
            )  # fmt: skip
        except BaseException as exc:
            if made is not None:
                made[1].close()
            if isinstance(exc, OSError):
                raise LedgerError(f"ledger {path}: cannot start the writer process ({exc})") from exc
            raise
        finally:
            for fd in fds:
                os.close(fd)  # the child has its copy, the mapping its own
        backend = cls(process, None if made is None else made[1])
        fileno = getattr(backend.stdin, "fileno", None)
        if fileno is not None:
            enlarge_pipe(fileno())
        try:
            backend.opened_seq = await backend._answer()
        except BaseException:
            await backend.aclose()
            raise
        return backend

    def encode(self, first_seq: int, rows: list[LedgerRow]) -> bytearray:
        """The batch's frame (:func:`~aqbot.io.ledger_child.batch_frame`): the writer keeps it, not the rows.

        Raises:
            LedgerChildError: a row MessagePack cannot carry, but for its keys (a producer's bug; not
                retried). A row whose key it cannot carry (a lone surrogate) goes as a defect row
                (:func:`~aqbot.io.ledger_events.carried`).
        """
        try:
            return ledger_child.batch_frame(first_seq, rows)
        except (TypeError, ValueError, OverflowError):
            pass  # a key MessagePack cannot carry (a lone surrogate): a defect row in its place
        try:
            return ledger_child.batch_frame(first_seq, carried(rows))
        except (TypeError, ValueError, OverflowError) as exc:  # a producer's bug; nothing was sent
            raise LedgerChildError(f"ledger writer process: {type(exc).__name__}: {exc}") from exc

    async def write(self, batch: bytearray) -> int:
        """Send a frame from :meth:`encode` and await the child's answer: the last stored ``seq``. A body that
        fits the shared buffer is copied there and only a header goes through the pipe."""
        self.in_sync = False
        shared = self.shared
        length = len(batch) - ledger_child.HEADER_SIZE
        if shared is not None and length <= len(shared):
            # The child has answered every batch sent before (or is dead): nothing reads the buffer now.
            with memoryview(batch) as view:
                shared[:length] = view[ledger_child.HEADER_SIZE :]
            frame: bytes | bytearray = ledger_child.shared_header(length)
            self.shared_batches += 1
        else:
            frame = batch
        with trio.move_on_after(CHILD_ANSWER_TIMEOUT, shield=True):
            try:
                await self.stdin.send_all(frame)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                raise self._dead("its stdin broke") from exc
            return await self._answer()
        raise self._hung()

    async def _answer(self) -> int:
        """Read the child's next answer (bounded, shielded: the pipe must not be left mid-answer)."""
        with trio.move_on_after(CHILD_ANSWER_TIMEOUT, shield=True):
            header_size = ledger_child.HEADER_SIZE
            buffer = self.buffer
            need = header_size
            while True:
                if len(buffer) >= header_size:
                    need = header_size + ledger_child.frame_length(buffer[:header_size])
                    if len(buffer) >= need:
                        break
                try:
                    chunk = await self.stdout.receive_some(max(65536, need - len(buffer)))
                except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                    raise self._dead("its stdout broke") from exc
                if not chunk:
                    raise self._dead("it exited")
                buffer += chunk
            answer = _parse_answer(buffer[header_size:need])
            del buffer[:need]
            if isinstance(answer, int):
                self.in_sync = True
                return answer
            if isinstance(answer, str):  # the child is not one this process can talk to: kill it
                self.in_sync = False
                raise LedgerError(f"ledger writer process {self.process.pid}: unreadable answer ({answer})")
            self.in_sync = True
            raise answer
        raise self._hung()

    def _dead(self, what: str) -> LedgerError:
        self.in_sync = False
        code = self.process.poll()
        status = "" if code is None else f", exit status {code}"
        return LedgerError(f"ledger writer process {self.process.pid}: {what}{status}")

    def _hung(self) -> LedgerError:
        self.in_sync = False
        return LedgerError(
            f"ledger writer process {self.process.pid}: no answer within {CHILD_ANSWER_TIMEOUT:g} s"
        )

    async def aclose(self) -> None:
        """End the child: close its stdin and let it exit (it closes the store), or kill it when the pipe
        is out of step; reap it. Shielded, bounded by :data:`CHILD_EXIT_GRACE` (then it is killed)."""
        process = self.process
        with trio.move_on_after(CHILD_EXIT_GRACE, shield=True):
            if not self.in_sync:
                process.kill()
            await self.stdin.aclose()
            await process.wait()
        if process.poll() is None:
            log.error("ledger writer process %d did not exit; killing it", process.pid)
            process.kill()
            with trio.move_on_after(CHILD_EXIT_GRACE, shield=True):
                await process.wait()
        with trio.move_on_after(CHILD_EXIT_GRACE, shield=True):
            await self.stdout.aclose()
        if self.shared is not None:
            self.shared.close()


async def run_ledger_process_writer(
    path: Path | str,
    receive_channel: trio.MemoryReceiveChannel[LedgerItem],
    *,
    synchronous: str = "FULL",
    on_failure: Callable[[Exception], None],
    on_recovered: Callable[[], None] | None = None,
    batch_max: int = BATCH_MAX,
    batch_interval: float = BATCH_INTERVAL,
    shutdown_grace: float = SHUTDOWN_GRACE,
    shared_bytes: int = SHARED_BYTES,
    task_status: trio.TaskStatus[LedgerWriterHandle] = trio.TASK_STATUS_IGNORED,
) -> None:
    """:func:`run_ledger_writer` with the store in a child process (:mod:`aqbot.io.ledger_child`) instead
    of a worker thread: same handle, batching, numbering, failure and shutdown semantics.

    Each batch goes to the child, through a shared buffer of ``shared_bytes`` (:func:`make_shared`; 0 or
    no ``memfd_create``: none) when it fits, else over its stdin, and the writer awaits the child's
    answer (the last stored ``seq``, or the write error). A child that dies, breaks the pipe or does not
    answer within :data:`CHILD_ANSWER_TIMEOUT` is a failed write (a :class:`LedgerError`): it is killed,
    and the retry starts a new one (idempotent: the store skips numbers it holds). So is an error in the
    child that is not a write error (its ``fatal`` answer: a bug, or a child of other code): the writer
    latches LEDGER_FAILURE and retries until a child works (:func:`_child_error`).

    Raises:
        LedgerError: the child cannot be started or cannot open the store (nothing was started).
        ValueError: ``synchronous`` is not FULL or NORMAL.
    """
    if synchronous not in ("FULL", "NORMAL"):
        raise ValueError(f"synchronous must be FULL or NORMAL, got {synchronous!r}")
    path = Path(path)

    async def opener() -> WriteBackend[bytearray]:
        return await _ProcessBackend.open(path, synchronous, shared_bytes)

    first = await _ProcessBackend.open(path, synchronous, shared_bytes)
    writer = BatchWriter[bytearray](opener, on_failure, on_recovered)
    writer.backend = first
    await serve_batches(
        writer, first.opened_seq, receive_channel, batch_max, batch_interval, shutdown_grace, task_status
    )
