"""The ledger writer's child process (``[ledger] writer = "process"``): a synchronous loop around
:meth:`~aqbot.io.ledger.LedgerStore.append_encoded`.

``python -m aqbot.io.ledger_child <path> <FULL|NORMAL> [<fd>]`` opens the store and answers on stdout; then
it reads batches from stdin, writes each in one transaction and answers each. Every message, both ways, is
a frame: a 4-byte little-endian length and a body. A batch's body (:func:`batch_frame`) is the MessagePack
(``msgspec``) of ``(first_seq, rows)``: the :data:`~aqbot.io.ledger_events.LedgerRow` tuples the parent has
made (redacted, as the thread writer writes them; a ``bytearray`` payload arrives as ``bytes``, which the
store writes as the same text), which the child numbers from ``first_seq`` and whose deferred payloads
(dicts) it encodes (:func:`~aqbot.io.ledger.number_rows`, as the thread writer does in its worker thread).
MessagePack, not :mod:`marshal`: the parent encodes a batch of 2048 rows (1.4 MB) about ten times faster,
on the event loop. An answer's body is a :mod:`marshal` dump (parent and child run the same interpreter,
``sys.executable``): ``("ok", last_seq)``,
``("retry", error class, message)`` for a write error the parent retries (:data:`WRITE_ERRORS`, as the
thread writer does), or ``("fatal", error class, message)`` for anything else (a bug: the child exits; the
parent counts it a failed write too, and retries with a new child).

**Shared buffer.** With a third argument, the file descriptor of a shared memory file the parent made
(Linux ``memfd_create``, inherited), a batch's body may instead be in that buffer: the header then has
:data:`SHARED` set and the rest of it is the body's length, which starts at the buffer's first byte
(:func:`shared_header`). The parent writes the buffer only while no batch is unanswered, so the child reads
it undisturbed. A body there costs the parent one copy into memory already mapped, where the pipe cost two
kernel writes (1.4 MB into a 1 MiB pipe) and the child a read; bodies larger than the buffer still go
through the pipe.

The child exits when its stdin ends (the parent closed it, or died): a frame cut short is not written. It
ignores SIGINT and SIGTERM, which a terminal or a service manager sends to the whole process group: the
parent decides when the ledger stops (it drains first). It imports no Trio and no configuration; its
environment is the one :func:`child_env` keeps (no credentials).
"""

from __future__ import annotations

import functools
import marshal
import mmap
import os
import signal
import sqlite3
import struct
import sys
from collections.abc import Callable, Mapping
from typing import Any, BinaryIO

import msgspec

from aqbot.errors import LedgerError
from aqbot.io.ledger import LedgerStore, number_rows
from aqbot.io.ledger_events import LedgerRow, carried

# Errors that mean "this write failed, try again later" (the thread writer's too).
WRITE_ERRORS = (sqlite3.Error, OSError, LedgerError)
# Rows per INSERT statement in the child (LedgerStore.open's insert_rows). No GIL to hand back here, so
# the statement size is SQLite's and the cache's choice: for the ingest workload's rows (2048-row batches,
# FULL) the child's CPU per frame was 18.9 us with one statement per batch, 16.3 with 512 rows, 15.9 with
# 128 and 17.0 with 32 (medians of 7 interleaved passes, docs/io.md): a statement's 16k bound values and
# their flattened list outgrow the core's caches.
INSERT_ROWS = 128
_HEADER = struct.Struct("<I")
HEADER_SIZE = _HEADER.size
# A batch header with this bit set: the body is in the shared buffer, and the other bits are its length.
# A body sent through the pipe is shorter than this (batch_frame refuses longer ones).
SHARED = 1 << 31
# Environment variables the child keeps (what the interpreter and SQLite need; nothing secret).
_KEEP_ENV = ("PATH", "PYTHONPATH", "PYTHONHOME", "PYTHONSAFEPATH", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR",
             "SYSTEMROOT")  # fmt: skip


def frame(value: Any) -> bytes:
    """``value`` as one frame (header + marshal dump)."""
    body = marshal.dumps(value)
    return _HEADER.pack(len(body)) + body


def frame_header(length: int) -> bytes:
    """The header of a frame whose body is ``length`` bytes."""
    return _HEADER.pack(length)


def shared_header(length: int) -> bytes:
    """The header of a batch whose body is the first ``length`` bytes of the shared buffer."""
    return frame_header(SHARED | length)


_BATCH_ENCODE_INTO = msgspec.msgpack.Encoder().encode_into
# Any: each column comes back as the type it was sent as (a bytearray as bytes, a tuple as a list).
_BATCH = msgspec.msgpack.Decoder(tuple[int, list[tuple[Any, Any, Any, Any, Any, Any, Any]]])


def batch_frame(first_seq: int, rows: list[LedgerRow]) -> bytearray:
    """The frame of a batch: ``rows`` (unnumbered), to be numbered from ``first_seq``.

    Raises:
        TypeError, ValueError, OverflowError: a row holds a value MessagePack cannot carry (a string with a
            lone surrogate, an object that is no int, float, str, bytes, dict or None, an int beyond 64
            bits).
    """
    buffer = bytearray(HEADER_SIZE)
    _BATCH_ENCODE_INTO((first_seq, rows), buffer, HEADER_SIZE)  # no copy of the body behind a header
    length = len(buffer) - HEADER_SIZE
    if length >= SHARED:
        raise ValueError(f"a batch of {length} bytes is beyond the frame's length field")
    _HEADER.pack_into(buffer, 0, length)
    return buffer


# What SQLite raises for a value it cannot bind (a lone surrogate, an int beyond 64 bits, another type).
UNBINDABLE = (ValueError, OverflowError, sqlite3.InterfaceError, sqlite3.ProgrammingError)


def append_rows(store: LedgerStore, first_seq: int, rows: list[LedgerRow]) -> int:
    """Write ``rows`` numbered from ``first_seq`` in one transaction (both writers); a batch with a key SQLite
    cannot bind (rolled back) again with that row a defect row (:func:`~aqbot.io.ledger_events.carried`),
    as is a retried batch whose earlier attempt stored that defect row (the store refuses the original row
    under its ``seq`` as another writer's). Returns the last stored ``seq``; raises as
    :meth:`~aqbot.io.ledger.LedgerStore.append_encoded`."""
    try:
        return store.append_encoded(number_rows(first_seq, rows))
    except (*UNBINDABLE, LedgerError):
        fixed = carried(rows)
        if all(a is b for a, b in zip(fixed, rows, strict=True)):
            raise  # no row to replace: the error stands
        return store.append_encoded(number_rows(first_seq, fixed))


def read_batch(body: bytes | memoryview) -> list[Any]:
    """The numbered rows of a batch's body (what :meth:`LedgerStore.append_encoded` takes).

    Raises:
        msgspec.DecodeError: the body is not a batch (a bug in the parent).
    """
    first_seq, rows = _BATCH.decode(body)
    return number_rows(first_seq, rows)


def frame_length(header: bytes | bytearray) -> int:
    """The body length a frame header announces."""
    length: int = _HEADER.unpack(header)[0]
    return length


def child_env(environ: Mapping[str, str], package_root: str) -> dict[str, str]:
    """The child's environment: the few variables of :data:`_KEEP_ENV` that are set, and ``package_root``
    (the directory holding the ``aqbot`` package) first on ``PYTHONPATH``, so the child imports the same
    aqbot as the parent. API keys, secrets and tokens in the parent's environment are not passed on."""
    env = {k: environ[k] for k in _KEEP_ENV if k in environ}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    return env


def batch_policy() -> bool:
    """Put this process under ``SCHED_BATCH`` (Linux; an unprivileged call) and say whether it took.

    A batch task does not preempt the running one when it wakes up. Every write of a batch into the pipe
    wakes the child, and the kernel tends to place a task woken through a pipe on the writer's CPU: as a
    normal task the child then preempted the event loop in the middle of its ``send_all`` (in the ingest
    bench on the loaded 2-core VM the loop spent 5 to 12 us per frame inside those writes for 0.6 us of
    CPU; as a batch task 0.6 to 2). The child still gets its full share of CPU, from the next tick or an
    idle core: a batch becomes durable at most a tick later under load, and the loop is not interrupted.
    """
    setter = getattr(os, "sched_setscheduler", None)
    policy = getattr(os, "SCHED_BATCH", None)
    if setter is None or policy is None:
        return False
    try:
        setter(0, policy, os.sched_param(0))
    except OSError:
        return False  # refused (a sandbox): the child runs as a normal task
    return True


def _describe(kind: str, exc: BaseException) -> tuple[str, str, str]:
    return (kind, type(exc).__name__, str(exc))


def serve(open_store: Callable[[], LedgerStore], inp: BinaryIO, out: BinaryIO,
          shared: mmap.mmap | bytearray | None = None) -> int:  # fmt: skip
    """Open the store, answer, then write batch after batch until ``inp`` ends; return the exit status.
    ``shared`` is the shared buffer (none: a batch announced there is a fatal protocol error)."""

    def answer(value: object) -> None:
        out.write(frame(value))
        out.flush()

    try:
        store = open_store()
    except WRITE_ERRORS as exc:
        answer(_describe("retry", exc))
        return 1
    except Exception as exc:
        answer(_describe("fatal", exc))
        return 2
    with store:
        try:
            answer(("ok", store.last_seq()))
        except WRITE_ERRORS as exc:
            answer(_describe("retry", exc))
            return 1
        while True:
            header = inp.read(HEADER_SIZE)
            if len(header) < HEADER_SIZE:
                return 0 if not header else 1  # the parent closed stdin (or died mid-frame)
            length = frame_length(header)
            if length & SHARED:
                length &= ~SHARED
                if shared is None or length > len(shared):
                    problem = LedgerError(f"no shared buffer holds a batch of {length} bytes")
                    answer(_describe("fatal", problem))  # a bug in the parent
                    return 2
                body: bytes | memoryview = memoryview(shared)[:length]
            else:
                body = inp.read(length)
                if len(body) < length:
                    return 1
            try:
                last = append_rows(store, *_BATCH.decode(body))
            except WRITE_ERRORS as exc:
                answer(_describe("retry", exc))  # the parent closes us and retries with a new child
                continue
            except Exception as exc:
                answer(_describe("fatal", exc))
                return 2
            finally:
                if isinstance(body, memoryview):
                    body.release()  # the decoded rows are copies: nothing refers to the buffer
            answer(("ok", last))


def main(argv: list[str]) -> int:
    """``python -m aqbot.io.ledger_child <path> <synchronous> [<shared buffer fd>]``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    batch_policy()
    path, synchronous, *rest = argv
    shared = None
    if rest:
        fd = int(rest[0])
        with os.fdopen(fd, "rb", buffering=0) as file:  # the mapping outlives the descriptor
            shared = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    # Answers go to a copy of stdout; fd 1 becomes stderr, so a stray print cannot corrupt a frame.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    with out:
        opener = functools.partial(LedgerStore.open, path, synchronous=synchronous, insert_rows=INSERT_ROWS)
        try:
            return serve(opener, sys.stdin.buffer, out, shared)
        finally:
            if shared is not None:
                shared.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
