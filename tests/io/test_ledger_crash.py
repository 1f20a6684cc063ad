"""Crash safety: a child process writes through the real writer and is SIGKILLed mid-stream.

The child prints ``ACK <seq>`` after each ``wait_flushed`` returns, i.e. only for events the writer
reports durable. After ``kill -9`` the parent reopens the ledger: every acknowledged event must be
there, byte for byte, and ``verify()`` must pass (no hole, no torn batch).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from aqbot.io.ledger import LedgerStore

CHILD = r"""
import functools, sys, trio
from aqbot.io.ledger import LedgerStore
from aqbot.io.ledger_events import LedgerEvent
from aqbot.io.ledger_writer import run_ledger_writer

def fail(exc):
    print("FAIL", exc, flush=True)

async def main(path, synchronous):
    send, recv = trio.open_memory_channel(1000)
    async with trio.open_nursery() as nursery:
        handle = await nursery.start(functools.partial(
            run_ledger_writer, functools.partial(LedgerStore.open, path, synchronous=synchronous), recv,
            on_failure=fail))
        i = 0
        while True:
            for _ in range(37):
                await send.send(LedgerEvent(type="ws.user.raw", payload={"i": i, "pad": "p" * 200}))
                i += 1
            await handle.wait_flushed(i)
            print("ACK", handle.last_seq, flush=True)

trio.run(main, sys.argv[1], sys.argv[2])
"""


@pytest.mark.e2e
@pytest.mark.parametrize("synchronous", ["FULL", "NORMAL"])
async def test_acknowledged_events_survive_kill_9(tmp_path: Path, synchronous: str) -> None:
    path = tmp_path / "crash.db"
    acked = 0
    with trio.fail_after(60):
        process = await trio.lowlevel.open_process(
            [sys.executable, "-c", CHILD, str(path), synchronous], stdout=subprocess.PIPE
        )
        assert process.stdout is not None
        buffer = b""
        try:
            while acked < 700:
                chunk = await process.stdout.receive_some(65536)
                assert chunk, "child exited early"
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    assert not line.startswith(b"FAIL"), line
                    acked = max(acked, int(line.split()[1]))
        finally:
            process.send_signal(signal.SIGKILL)  # mid-stream: the writer is busy batching
            await process.wait()
    assert process.returncode == -signal.SIGKILL
    with LedgerStore.open(path) as store:
        report = store.verify()
        assert report.ok, report.problems
        assert report.last_seq >= acked
        events = list(store.iter_events())
    assert [e.payload["i"] for e in events] == list(range(len(events)))
    assert all(e.payload["pad"] == "p" * 200 for e in events[:acked])
