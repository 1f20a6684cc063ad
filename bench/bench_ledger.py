"""Ledger append throughput and flush latency, against a bare SQLite insert loop with the same settings.

The rows are the ledger rows the runtime writes while ingesting user-channel traffic (``ws.user.raw`` frames
and the core's facts, from :mod:`bench.bench_ingest`'s workload run through the real
:class:`~aqbot.io.ws_user.UserFeed` and :class:`~aqbot.io.hub.Hub`), kept in the groups one frame
records. Durability is the configuration default: WAL with ``synchronous=FULL``. Four loops over the same
rows, interleaved per repetition, each on a fresh database file:

* ``bare``: ``sqlite3`` with the same pragmas, a plain table of the same columns, rows already encoded,
  ``executemany`` in transactions of ``BATCH`` rows (the floor: no numbering, no checks, no indexes, no
  triggers, no JSON encoding);
* ``store``: :meth:`aqbot.io.ledger.LedgerStore.append_batch` with ``BATCH`` events per call (encodes);
* ``writer``: the runtime's ledger path end to end, as the app wires it: each frame's rows (encoded, as
  :class:`~aqbot.io.hub.Hub` records them) go into a :class:`~aqbot.io.ledger_sink.LedgerSink` followed
  by one checkpoint (the reader awaiting its next frame), :meth:`~aqbot.io.ledger_sink.LedgerSink.run_pump`
  moves them into the bounded channel, :func:`aqbot.io.ledger_writer.run_ledger_writer` batches them (up to
  2048 or 50 ms) into a worker thread; timed until the last event is durable;
* ``writer_send``: the same writer fed by a producer that awaits ``send()`` for every event (a Trio
  schedule point per event: the worst producer; kept for comparison with earlier figures).

Then the flush latency: one event sent to a running writer, then ``await handle.flush()``; the bench
checks that every ``flush()`` returned with the event durable (``flush_returned_before_durable``, must be 0).
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

from aqbot.app import LEDGER_CHANNEL_SIZE
from aqbot.io.hub import Hub
from aqbot.io.ledger import LedgerStore
from aqbot.io.ledger_events import LedgerEvent, LedgerItem, LedgerRow, encode_payload, row_event
from aqbot.io.ledger_sink import LedgerSink
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


async def _collect(w: Workload) -> list[list[LedgerRow]]:
    hub = Hub(ready_core(w))
    feed = UserFeed(hub, w.me)
    conn = FrameConnection(w.frames, trio.Event(), hub, w.placements)
    groups: list[list[LedgerRow]] = []
    for seq in range(1, len(w.frames) + 1):
        raw = conn.next_frame()
        feed.deliver("user", seq, trio.current_time(), raw, decode_user_frame(raw))
        groups.append(list(hub.sink._buffer))  # the rows the pump would hand to the writer
        hub.sink._buffer.clear()
    return [g for g in groups if g]


def ledger_rows(count: int) -> list[list[LedgerRow]]:
    """The ledger rows the runtime records while ingesting the benchmark workload, per frame (``count``
    rows in all)."""
    frames = max(50, count // 2)
    while True:
        with quiet_logs():
            groups = trio.run(_collect, build_workload(frames))
        if sum(map(len, groups)) >= count:
            out: list[list[LedgerRow]] = []
            left = count
            for g in groups:
                if left <= 0:
                    break
                out.append(g[:left])
                left -= len(out[-1])
            return out
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


async def _writer(groups: list[list[LedgerRow]], path: Path) -> float:
    sink = LedgerSink()
    send, recv = trio.open_memory_channel[LedgerItem](LEDGER_CHANNEL_SIZE)
    factory = functools.partial(LedgerStore.open, path, synchronous=SYNCHRONOUS)
    count = sum(map(len, groups))
    async with trio.open_nursery() as nursery:
        handle = await nursery.start(functools.partial(run_ledger_writer, factory, recv, on_failure=_fail))
        await nursery.start(sink.run_pump, send)
        started = time.perf_counter()
        for group in groups:
            sink.record_rows(group)
            await trio.lowlevel.checkpoint()
        sink.close()  # the pump hands everything over and closes the channel; the writer then returns
    seconds = time.perf_counter() - started  # the writer returned: everything is written
    if handle.written != count:
        raise RuntimeError(f"writer wrote {handle.written} of {count} rows")
    return count / seconds


async def _writer_send(rows: list[LedgerEvent], path: Path) -> float:
    send, recv = trio.open_memory_channel[LedgerItem](LEDGER_CHANNEL_SIZE)
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


def writer_rate(groups: list[list[LedgerRow]], tmp: Path) -> float:
    path = _fresh(tmp, "writer")
    with quiet_logs():
        rate = trio.run(_writer, groups, path)
    _cleanup(path)
    return rate


def writer_send_rate(rows: list[LedgerEvent], tmp: Path) -> float:
    path = _fresh(tmp, "writer-send")
    with quiet_logs():
        rate = trio.run(_writer_send, rows, path)
    _cleanup(path)
    return rate


async def _flush_latencies(rows: list[LedgerEvent], path: Path, samples: int) -> tuple[list[float], int]:
    """Seconds from sending one event to ``flush()`` returning; and how often it returned too early."""
    send, recv = trio.open_memory_channel[LedgerItem](LEDGER_CHANNEL_SIZE)
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
                    out.append(time.perf_counter() - started)
                    early += handle.last_seq < seq
                    await handle.wait_flushed(seq)
    return out, early


def run(scale: float = 1.0) -> dict[str, Any]:
    """Measure the three loops and the flush latency (see the module docstring)."""
    n = scaled(FULL_EVENTS, scale, MIN_EVENTS)
    samples = scaled(FLUSH_SAMPLES, scale, 3)
    repeats = REPEATS if scale >= 0.2 else 2
    groups = ledger_rows(n)
    rows = [row_event(r) for g in groups for r in g]  # the same rows as events (store, writer_send, flush)
    payload_bytes = median([len(encode_payload(e.payload)) for e in rows])
    with tempfile.TemporaryDirectory(prefix="aqbot-bench-ledger-") as tmpdir:
        tmp = Path(tmpdir)
        rates = interleaved(
            {
                "bare": functools.partial(bare_rate, rows, tmp),
                "store": functools.partial(store_rate, rows, tmp),
                "writer": functools.partial(writer_rate, groups, tmp),
                "writer_send": functools.partial(writer_send_rate, rows, tmp),
            },
            repeats,
        )
        path = _fresh(tmp, "flush")
        with quiet_logs():
            latencies, early = trio.run(_flush_latencies, rows, path, samples)
        _cleanup(path)
    r_store = ratio(rates["store"], rates["bare"])
    r_writer = ratio(rates["writer"], rates["bare"])
    r_send = ratio(rates["writer_send"], rates["bare"])
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
        "writer_send_events_per_s": round(med["writer_send"]),
        "frames": len(groups),
        "ratio_store_vs_bare": round(r_store[0], 3),
        "ratio_writer_vs_bare": round(r_writer[0], 3),
        "ratio_writer_vs_bare_range": [round(r_writer[1], 3), round(r_writer[2], 3)],
        "ratio_writer_send_vs_bare": round(r_send[0], 3),
        "flush_samples": samples,
        "flush_p50_ms": round(percentile(ms, 0.5), 2),
        "flush_p99_ms": round(percentile(ms, 0.99), 2),
        "flush_max_ms": round(max(ms), 2),
        "flush_returned_before_durable": early,
        "headline": (
            f"writer {med['writer']:,.0f} ev/s = {r_writer[0]:.2f}x bare SQLite ({med['bare']:,.0f}/s), "
            f"{r_send[0]:.2f}x with a send per event; flush p50 {percentile(ms, 0.5):.0f} ms"
        ),
        "goal": f">= {GOAL_RATIO:g}x bare",
        "goal_met": r_writer[0] >= GOAL_RATIO,
    }


if __name__ == "__main__":
    print(json.dumps(run(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0), indent=2))
