"""Adversarial checks of the ledger's durability chain (sink, pump, writer, child process, store): rows that
cannot be carried as they are, retries after an ambiguous child death, shutdown and flush.

Real stores, real worker threads and real child processes; every test is bounded by ``fail_after`` and
waits on the handle or on events, never on a sleep.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import trio

from aqbot.core import facts as cf
from aqbot.core.events import TradeStatus
from aqbot.io.ledger import LedgerStore
from aqbot.io.ledger_events import LedgerEvent, LedgerItem
from aqbot.io.ledger_process import run_ledger_process_writer
from aqbot.io.ledger_sink import LedgerSink
from aqbot.io.ledger_writer import LedgerWriterHandle, run_ledger_writer
from aqbot.wire import jsontext

WRITERS = ("thread", "process")


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


@pytest.mark.xfail(strict=True, reason="BUG: a lone surrogate in a key column kills the ledger writer")
@pytest.mark.parametrize("kind", WRITERS)
async def test_a_key_with_a_lone_surrogate_does_not_kill_the_writer(tmp_path: Path, kind: str) -> None:
    """A trade id from the exchange with a lone surrogate escape (``"\\ud800"``: the wire's stdlib JSON path
    accepts it) reaches a fact's key column. The payload falls back to json's escapes, but the key goes to
    the writer as it is: SQLite (thread writer) and MessagePack (process writer) refuse it, and the writer
    task dies with the whole batch, the good rows around it included, instead of writing a defect."""
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
    assert events[1].type == "defect"
    assert failures == []
