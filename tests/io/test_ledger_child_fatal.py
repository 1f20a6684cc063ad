"""The process writer when a new child answers ``fatal`` (real child processes, real clock): the code on disk
changed under the running bot, so the child started after a failure is not the one the bot started with."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

import pytest
import trio
from child_procs import ledger_children

from aqbot.io import ledger_process
from aqbot.io.ledger import LedgerStore
from aqbot.io.ledger_events import LedgerItem, LedgerRow, new_row
from aqbot.io.ledger_process import run_ledger_process_writer
from aqbot.io.ledger_writer import LedgerWriterHandle

# A child of other code: it answers its start with a fatal error and exits, as
# aqbot.io.ledger_child.serve does when opening the store raises something that is no write error.
FATAL_CHILD = """\
import marshal, struct, sys
body = marshal.dumps(("fatal", "RuntimeError", "a ledger child of other code"))
sys.stdout.buffer.write(struct.pack("<I", len(body)) + body)
sys.stdout.buffer.flush()
sys.exit(2)
"""
# Children of other code whose answer this parent cannot read: not a marshal dump, or not an answer.
GARBLED_CHILD = """\
import struct, sys
body = {body!r}
sys.stdout.buffer.write(struct.pack("<I", len(body)) + body)
sys.stdout.buffer.flush()
sys.exit(2)
"""
NOT_MARSHAL = GARBLED_CHILD.format(body=b"\x00 not a marshal dump")
NOT_AN_ANSWER = GARBLED_CHILD.format(body=__import__("marshal").dumps(("ok",)))
NOT_A_TUPLE = GARBLED_CHILD.format(body=__import__("marshal").dumps(7))


def other_code(root: Path, child: str) -> str:
    """A package root whose ``aqbot.io.ledger_child`` is ``child``."""
    (root / "aqbot" / "io").mkdir(parents=True)
    (root / "aqbot" / "__init__.py").write_text("")
    (root / "aqbot" / "io" / "__init__.py").write_text("")
    (root / "aqbot" / "io" / "ledger_child.py").write_text(child)
    return str(root)


def rows(start: int, count: int) -> list[LedgerRow]:
    return [new_row("fill.applied", {"i": i}, mono_time=float(i)) for i in range(start, start + count)]


class _Seen(logging.Handler):
    """Sets ``event`` when a log record's message holds ``text`` (the writer logs each failed attempt)."""

    def __init__(self, text: str, event: trio.Event) -> None:
        super().__init__()
        self.text, self.event = text, event

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.event.set()


@pytest.mark.parametrize(
    ("child", "logged"),
    [
        pytest.param(FATAL_CHILD, "a ledger child of other code", id="fatal"),
        pytest.param(NOT_MARSHAL, "unreadable answer", id="not-marshal"),
        pytest.param(NOT_AN_ANSWER, "unreadable answer", id="not-an-answer"),
        pytest.param(NOT_A_TUPLE, "unreadable answer", id="not-a-tuple"),
    ],
)
async def test_a_fatal_answer_on_reopening_is_a_failure_retried_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, child: str, logged: str
) -> None:
    """The child dies (a failed write, LEDGER_FAILURE); the new one answers ``fatal`` (code changed on disk):
    the writer stays up, still failing (the halt holds), and retries; once a child works again every row is
    written, none lost or doubled."""
    path = tmp_path / "l.db"
    failures: list[Exception] = []
    recovered = trio.Event()
    fatal_seen = trio.Event()
    seen = _Seen(logged, fatal_seen)
    logging.getLogger("aqbot.io.ledger_writer").addHandler(seen)
    send, recv = trio.open_memory_channel[LedgerItem](100)
    try:
        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                handle: LedgerWriterHandle = await nursery.start(
                    lambda task_status: run_ledger_process_writer(
                        path, recv, synchronous="NORMAL", on_failure=failures.append,
                        on_recovered=recovered.set, batch_interval=0.001, task_status=task_status,
                    )
                )  # fmt: skip
                await send.send(rows(0, 10))
                await handle.wait_flushed(10)
                own_root = ledger_process._PACKAGE_ROOT
                other = other_code(tmp_path / "other", child)
                monkeypatch.setattr(ledger_process, "_PACKAGE_ROOT", other)
                monkeypatch.chdir(other)  # `python -m` looks in the working directory first
                (first,) = ledger_children()
                os.kill(first, signal.SIGKILL)
                await send.send(rows(10, 10))  # its write fails; the new child answers fatal
                await fatal_seen.wait()
                assert len(failures) == 1
                assert handle.failing  # LEDGER_FAILURE holds
                monkeypatch.setattr(ledger_process, "_PACKAGE_ROOT", own_root)
                monkeypatch.undo()  # the working directory too
                await send.send(rows(20, 10))
                await handle.wait_flushed(30)
                assert recovered.is_set()
                assert not handle.failing
                nursery.cancel_scope.cancel()
    finally:
        logging.getLogger("aqbot.io.ledger_writer").removeHandler(seen)
    with LedgerStore.open(path) as store:
        assert [e.payload["i"] for e in store.iter_events()] == list(range(30))
    assert ledger_children() == []
