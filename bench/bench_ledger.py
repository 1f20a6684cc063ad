"""Ledger append throughput and flush latency, against a bare SQLite insert loop with the same settings.

The rows are the ledger rows the runtime writes while ingesting user-channel traffic (``ws.user.raw`` frames
and the core's facts, from :mod:`bench.bench_ingest`'s workload run through the real
:class:`~aqbot.io.ws_user.UserFeed` and :class:`~aqbot.io.hub.Hub`). Durability is the configuration
default: WAL with ``synchronous=FULL``. Three loops over the same rows, interleaved per repetition, each on
a fresh database file:

* ``bare``: ``sqlite3`` with the same pragmas, a plain table of the same columns, rows already encoded,
  ``executemany`` in transactions of ``BATCH`` rows (the floor: no numbering, no checks, no JSON encoding);
* ``store``: :meth:`aqbot.io.ledger.LedgerStore.append_batch` with ``BATCH`` events per call;
* ``writer``: :func:`aqbot.io.ledger_writer.run_ledger_writer` end to end (producer -> bounded channel ->
  batches of up to 500 or 50 ms -> worker thread), until the last event is durable.

Then the per-event flush latency: one event sent to a running writer, then ``await handle.flush()``.
Goal: the writer sustains >= 0.25x the bare loop (the Python per-event work stays small next to SQLite).
"""

from __future__ import annotations

import functools
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NoReturn

import trio

from aqbot.io.hub import Hub
from aqbot.io.ledger import LedgerStore
from aqbot.io.ledger_events import LedgerEvent, encode_payload
from aqbot.io.ledger_writer import BATCH_MAX, run_ledger_writer
from aqbot.io.ws_user import UserFeed
from aqbot.wire.codec import decode_user_frame
from bench._common import interleaved, median, percentile, quiet_logs, ratio, scaled
from bench.bench_ingest import FrameConnection, Workload, build_workload, ready_core

FULL_EVENTS = 20_000
MIN_EVENTS = 300
REPEATS = 3
BATCH = BATCH_MAX
SYNCHRONOUS = "FULL"  # the configuration default (aqbot/data/default.toml [ledger])
FLUSH_SAMPLES = 40
GOAL_RATIO = 0.25
_BARE_SCHEMA = (
    "CREATE TABLE events(seq INTEGER PRIMARY KEY, wall_time REAL, mono_time REAL, type TEXT, token TEXT,"
    " order_id TEXT, trade_id TEXT, payload TEXT)"
)
_BARE_INSERT = "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)"


async def _collect(w: Workload) -> list[LedgerEvent]:
    hub = Hub(ready_core(w))
    feed = UserFeed(hub, w.me)
    conn = FrameConnection(w.frames, trio.Event(), hub, w.placements)
    for seq in range(1, len(w.frames) + 1):
        raw = await conn.get_message()
        await feed.deliver("user", seq, trio.current_time(), raw, decode_user_frame(raw))
    return list(hub.sink._buffer)  # the rows the pump would hand to the writer


def ledger_rows(count: int) -> list[LedgerEvent]:
    """The ledger rows the runtime records while ingesting the benchmark workload (at least ``count``)."""
    frames = max(50, count // 2)
    while True:
        with quiet_logs():
            rows = trio.run(_collect, build_workload(frames))
        if len(rows) >= count:
            return rows[:count]
        frames *= 2


def _fresh(tmp: Path, name: str) -> Path:
    path = tmp / f"{name}-{time.monotonic_ns()}.sqlite3"
    return path


def _cleanup(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def bare_rate(rows: list[LedgerEvent], tmp: Path) -> float:
    encoded = [
        (i + 1, e.wall_time, e.mono_time, e.type, e.token, e.order_id, e.trade_id, encode_payload(e.payload))
        for i, e in enumerate(rows)
    ]
    path = _fresh(tmp, "bare")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={SYNCHRONOUS}")
    conn.execute(_BARE_SCHEMA)
    started = time.perf_counter()
    for lo in range(0, len(encoded), BATCH):
        conn.execute("BEGIN")
        conn.executemany(_BARE_INSERT, encoded[lo : lo + BATCH])
        conn.execute("COMMIT")
    seconds = time.perf_counter() - started
    conn.close()
    _cleanup(path)
    return len(rows) / seconds


def store_rate(rows: list[LedgerEvent], tmp: Path) -> float:
    path = _fresh(tmp, "store")
    store = LedgerStore.open(path, synchronous=SYNCHRONOUS)
    started = time.perf_counter()
    for lo in range(0, len(rows), BATCH):
        store.append_batch(rows[lo : lo + BATCH])
    seconds = time.perf_counter() - started
    if store.last_seq() != len(rows):
        raise RuntimeError(f"store wrote {store.last_seq()} of {len(rows)} rows")
    store.close()
    _cleanup(path)
    return len(rows) / seconds


def _fail(exc: Exception) -> NoReturn:
    raise RuntimeError(f"ledger write failed during the benchmark: {exc}") from exc


async def _writer(rows: list[LedgerEvent], path: Path) -> float:
    send, recv = trio.open_memory_channel[LedgerEvent](1000)
    factory = functools.partial(LedgerStore.open, path, synchronous=SYNCHRONOUS)
    async with trio.open_nursery() as nursery:
        handle = await nursery.start(functools.partial(run_ledger_writer, factory, recv, on_failure=_fail))
        started = time.perf_counter()
        async with send:
            for event in rows:
                await send.send(event)
    seconds = time.perf_counter() - started  # the writer returned: everything is written
    if handle.written != len(rows):
        raise RuntimeError(f"writer wrote {handle.written} of {len(rows)} rows")
    return len(rows) / seconds


def writer_rate(rows: list[LedgerEvent], tmp: Path) -> float:
    path = _fresh(tmp, "writer")
    with quiet_logs():
        rate = trio.run(_writer, rows, path)
    _cleanup(path)
    return rate


async def _flush_latencies(rows: list[LedgerEvent], path: Path, samples: int) -> tuple[list[float], int]:
    """Seconds from sending one event to its being durable; and how often ``flush()`` returned too early.

    ``flush()`` counts the events the writer has taken plus those buffered in the channel; an event handed
    straight to a writer blocked in ``receive()`` is in neither until the writer runs, so ``flush()`` can
    return before it is written. The latency is therefore taken with ``wait_flushed(seq)``.
    """
    send, recv = trio.open_memory_channel[LedgerEvent](1000)
    factory = functools.partial(LedgerStore.open, path, synchronous=SYNCHRONOUS)
    out: list[float] = []
    early = 0
    async with trio.open_nursery() as nursery:
        handle = await nursery.start(functools.partial(run_ledger_writer, factory, recv, on_failure=_fail))
        async with send:
            for i in range(samples):
                seq = handle.last_seq + 1  # everything before is durable: the writer numbers it next
                started = time.perf_counter()
                await send.send(rows[i % len(rows)])
                with trio.fail_after(30):
                    await handle.flush()
                    early += handle.last_seq < seq
                    await handle.wait_flushed(seq)
                out.append(time.perf_counter() - started)
    return out, early


def run(scale: float = 1.0) -> dict[str, Any]:
    """Measure the three loops and the flush latency (see the module docstring)."""
    n = scaled(FULL_EVENTS, scale, MIN_EVENTS)
    samples = scaled(FLUSH_SAMPLES, scale, 3)
    repeats = REPEATS if scale >= 0.2 else 2
    rows = ledger_rows(n)
    payload_bytes = median([len(encode_payload(e.payload)) for e in rows])
    with tempfile.TemporaryDirectory(prefix="aqbot-bench-ledger-") as tmpdir:
        tmp = Path(tmpdir)
        rates = interleaved(
            {
                "bare": functools.partial(bare_rate, rows, tmp),
                "store": functools.partial(store_rate, rows, tmp),
                "writer": functools.partial(writer_rate, rows, tmp),
            },
            repeats,
        )
        path = _fresh(tmp, "flush")
        with quiet_logs():
            latencies, early = trio.run(_flush_latencies, rows, path, samples)
        _cleanup(path)
    r_store = ratio(rates["store"], rates["bare"])
    r_writer = ratio(rates["writer"], rates["bare"])
    med = {k: median(v) for k, v in rates.items()}
    ms = [x * 1000 for x in latencies]
    types: dict[str, int] = {}
    for e in rows:
        types[e.type] = types.get(e.type, 0) + 1
    return {
        "events": n,
        "repeats": repeats,
        "batch": BATCH,
        "synchronous": SYNCHRONOUS,
        "payload_bytes_median": int(payload_bytes),
        "row_types": dict(sorted(types.items(), key=lambda kv: -kv[1])),
        "bare_rows_per_s": round(med["bare"]),
        "store_events_per_s": round(med["store"]),
        "writer_events_per_s": round(med["writer"]),
        "ratio_store_vs_bare": round(r_store[0], 3),
        "ratio_writer_vs_bare": round(r_writer[0], 3),
        "ratio_writer_vs_bare_range": [round(r_writer[1], 3), round(r_writer[2], 3)],
        "flush_samples": samples,
        "flush_p50_ms": round(percentile(ms, 0.5), 2),
        "flush_p99_ms": round(percentile(ms, 0.99), 2),
        "flush_max_ms": round(max(ms), 2),
        "flush_returned_before_durable": early,
        "headline": (
            f"writer {med['writer']:,.0f} ev/s = {r_writer[0]:.2f}x bare SQLite ({med['bare']:,.0f}/s); "
            f"flush p50 {percentile(ms, 0.5):.0f} ms"
        ),
        "goal": f">= {GOAL_RATIO:g}x bare",
        "goal_met": r_writer[0] >= GOAL_RATIO,
    }


if __name__ == "__main__":
    print(json.dumps(run(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0), indent=2))
