"""Memory: resident set size after warm-up vs after 24 simulated hours of the standard paper scenario.

The scenario is the one of :mod:`bench.bench_sim_speed` (``aqbot paper --speed max``: in-process simulator,
4 markets, ``chaos`` faults, the real bot, MockClock), run by :func:`bench.bench_sim_speed.paper_max_speed`
in a **child process** so that nothing else lives in the measured heap. A sampler task inside the bot's
nursery reads ``VmRSS`` from ``/proc/self/status`` every simulated ``SAMPLE_EVERY`` seconds (after a
``gc.collect()``), together with the number of orders the core tracks. Warm-up is the first simulated
hour, and never shorter than the longest retention window of the system: the simulator's
(:mod:`aqbot.sim.retention`: its bounded history of ended orders and trades) and the core's memory of
pruned orders (``prune_after`` + ``prune_horizon`` of ``CoreConfig``, 2 h 10 min: the ids and fill keys
of orders pruned 10 minutes after they ended). Until then those
bounded windows are still filling, which is not growth. A run shorter than two warm-ups (a small
``scale``) warms up for a tenth of its length instead. ``growth_pct_after_1h`` is the same ratio from
the first simulated hour (the warm-up of runs 1-4, docs/bench.md). The samples live in a list
preallocated before the run, so the bench's own bookkeeping does not grow the measured heap.

The figure is a ratio measured in the same run: RSS at the end over RSS after warm-up. Goal: growth <= 10%.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import trio
import trio.testing

from aqbot.app_state import BotHandle
from aqbot.core.config import CoreConfig
from aqbot.core.exposure import Limits
from aqbot.paper.runner import PaperOptions, PaperPaths
from aqbot.sim.retention import RetentionConfig
from bench._common import quiet_logs, rss_kib
from bench.bench_sim_speed import STALL_WALL_PER_SIMULATED, paper_max_speed, stalled_result

FULL_HOURS = 24.0
MIN_SECONDS = 120.0
_RETENTION = RetentionConfig()
_SIM_WINDOW = max(_RETENTION.orders_ms, _RETENTION.trades_ms, _RETENTION.history_ms) / 1000
_CORE = CoreConfig(Limits(Decimal(1)))
WARMUP_SECONDS = max(3600.0, _SIM_WINDOW, _CORE.prune_after + _CORE.prune_horizon)
SAMPLE_EVERY = 300.0  # simulated seconds between samples (at most; 20 samples at least)
GOAL_GROWTH = 0.10
SEED = 1


def _child(duration: float, run_dir: Path) -> dict[str, Any]:
    """Run the scenario for ``duration`` simulated seconds here; RSS samples ``(t, kib, orders)``."""
    every = min(SAMPLE_EVERY, duration / 20)
    options = PaperOptions(seed=SEED, duration=duration, faults="chaos", markets=4, dashboard=False)
    paths = PaperPaths(run_dir / "ledger.sqlite3", run_dir / "tape.jsonl", None)
    # Preallocated (with room for the settle period's samples): appending would grow the heap measured.
    slots: list[tuple[float, int, int] | None] = [None] * (int(duration / every) + 64)
    taken = 0

    async def sampler(handle: BotHandle, t0: float) -> None:
        nonlocal taken
        while taken < len(slots):
            gc.collect()
            slots[taken] = (trio.current_time() - t0, rss_kib(), len(handle.hub.core.tracker.orders))
            taken += 1
            await trio.sleep(every)

    def on_bot(handle: BotHandle, nursery: trio.Nursery) -> None:
        nursery.start_soon(sampler, handle, trio.current_time())

    started = time.perf_counter()
    with quiet_logs():
        summary = paper_max_speed(options, paths, on_bot=on_bot)
    return {
        "samples": [s for s in slots if s is not None],
        "wall_seconds": time.perf_counter() - started,
        "simulated_seconds": summary["simulated_seconds"],
        "orders_submitted": summary.get("orders_submitted"),
        "fills": summary.get("fills"),
    }


def run(scale: float = 1.0) -> dict[str, Any]:
    """Run the scenario in a child process and compare its RSS after warm-up with its RSS at the end."""
    duration = max(MIN_SECONDS, FULL_HOURS * 3600 * scale)
    warmup = WARMUP_SECONDS if duration >= 2 * WARMUP_SECONDS else duration / 10
    with tempfile.TemporaryDirectory(prefix="aqbot-bench-memory-") as tmpdir:
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "bench.bench_memory", "--child", str(duration), tmpdir],
                capture_output=True,
                text=True,
                check=True,
                cwd=Path(__file__).resolve().parent.parent,
                timeout=120 + duration * STALL_WALL_PER_SIMULATED,  # the child's own stall guard fires first
            )
        except subprocess.CalledProcessError as exc:
            last = (exc.stderr or "").strip().splitlines()[-1:] or ["no output"]
            return {**stalled_result(f"child failed: {last[0]}"), "goal": f"growth <= {100 * GOAL_GROWTH:g}%"}
    child = json.loads(proc.stdout.strip().splitlines()[-1])
    samples = [tuple(s) for s in child["samples"]]
    warm = next(s for s in samples if s[0] >= warmup)
    hour = next(s for s in samples if s[0] >= min(3600.0, warmup))
    end = samples[-1]
    growth = end[1] / warm[1] - 1
    orders_growth = end[2] - warm[2]
    hours = end[0] / 3600
    per_hour = (end[1] - warm[1]) / max(hours - warm[0] / 3600, 1e-9)
    return {
        "simulated_hours": round(hours, 2),
        "warmup_simulated_s": warmup,
        "wall_seconds": round(child["wall_seconds"], 1),
        "rss_warm_kib": warm[1],
        "rss_end_kib": end[1],
        "rss_max_kib": max(s[1] for s in samples),
        "growth_ratio": round(end[1] / warm[1], 4),
        "growth_pct": round(100 * growth, 2),
        "growth_pct_after_1h": round(100 * (samples[-1][1] / hour[1] - 1), 2),
        "growth_kib_per_simulated_hour": round(per_hour),
        "core_orders_tracked_warm": warm[2],
        "core_orders_tracked_end": end[2],
        "core_orders_added_after_warmup": orders_growth,
        "orders_submitted": child["orders_submitted"],
        "samples": len(samples),
        "rss_trend_mib": _trend(samples),
        "headline": (
            f"RSS {warm[1] / 1024:,.1f} -> {end[1] / 1024:,.1f} MiB over {hours:.1f} simulated h "
            f"({100 * growth:+.1f}%); core tracks {end[2]:,} orders"
        ),
        "goal": f"growth <= {100 * GOAL_GROWTH:g}%",
        "goal_met": growth <= GOAL_GROWTH,
    }


def _trend(samples: list[tuple[Any, ...]], points: int = 12) -> list[tuple[float, float]]:
    """About ``points`` evenly spaced ``(simulated hours, RSS MiB)`` samples, the last one included."""
    step = max(1, len(samples) // points)
    picked = samples[::step]
    if picked[-1] is not samples[-1]:
        picked.append(samples[-1])
    return [(round(s[0] / 3600, 2), round(s[1] / 1024, 1)) for s in picked]


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(_child(float(sys.argv[2]), Path(sys.argv[3]))))
    else:
        print(json.dumps(run(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0), indent=2))
