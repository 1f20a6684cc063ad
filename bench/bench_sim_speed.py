"""Simulation speed: simulated seconds per wall second of the standard paper scenario.

The standard scenario is ``aqbot paper --speed max`` (:func:`aqbot.paper.runner.run_paper`): the in-process
simulator (4 markets, ``chaos`` faults, synthetic flow) and the real bot (:func:`aqbot.app.run_bot`, all its
tasks, the ledger written inline) in one ``trio.run`` under ``MockClock(autojump_threshold=0)``, then the
settle period and the final reconciliation against the engine's truth.

Next to it, interleaved in the same run: the simulator's engine alone with the same seed, markets and
faults and its stand-in quoter (:func:`aqbot.sim.testkit.run_scenario`: no Trio, no HTTP, no WebSocket, no
bot), for the share of the cost that is the bot and its transports. One run is profiled with pyinstrument
(the top 10 functions by self time, and the aqbot functions by total time).

Goal: >= 100x real time (stretch 1000x).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aqbot.paper.runner import PaperOptions, PaperPaths, run_paper
from aqbot.sim.faults import profile
from aqbot.sim.testkit import run_scenario
from bench._common import interleaved, median, profile_top, quiet_logs, ratio, scaled

FULL_DURATION = 1800  # simulated seconds per run at scale 1.0
MIN_DURATION = 20
REPEATS = 3
GOAL = 100.0
STRETCH = 1000.0
SEED = 1
MARKETS = 4
FAULTS = "chaos"


def paper_speed(duration: float, tmp: Path, rep: int) -> tuple[float, dict[str, Any]]:
    """(simulated seconds per wall second, the paper summary) of one standard paper run."""
    options = PaperOptions(seed=SEED, duration=duration, faults=FAULTS, markets=MARKETS, dashboard=False)
    paths = PaperPaths(tmp / f"ledger-{rep}.sqlite3", tmp / f"tape-{rep}.jsonl", None)
    with quiet_logs():
        started = time.perf_counter()
        summary = run_paper(options, paths)
        wall = time.perf_counter() - started
    for path in (
        paths.ledger,
        Path(str(paths.ledger) + "-wal"),
        Path(str(paths.ledger) + "-shm"),
        paths.tape,
    ):
        path.unlink(missing_ok=True)
    return float(summary["simulated_seconds"]) / wall, summary


def engine_speed(duration: float) -> float:
    """Simulated seconds per wall second of the engine alone (flow + stand-in quoters, same seed/faults)."""
    with quiet_logs():
        started = time.perf_counter()
        run_scenario(SEED, profile(FAULTS), int(duration * 1000), n_markets=MARKETS)
        return duration / (time.perf_counter() - started)


def run(scale: float = 1.0) -> dict[str, Any]:
    """Measure the paper scenario's speed next to the engine alone, then profile one paper run."""
    duration = float(scaled(FULL_DURATION, scale, MIN_DURATION))
    repeats = REPEATS if scale >= 0.2 else 1
    summaries: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="aqbot-bench-sim-") as tmpdir:
        tmp = Path(tmpdir)

        def paper() -> float:
            speed, summary = paper_speed(duration, tmp, len(summaries))
            summaries.append(summary)
            return speed

        speeds = interleaved({"paper": paper, "engine_alone": lambda: engine_speed(duration)}, repeats)
        prof = profile_top(lambda: paper_speed(duration, tmp, 999))
    med = median(speeds["paper"])
    share = ratio(speeds["paper"], speeds["engine_alone"])
    last = summaries[-1]
    return {
        "duration_simulated_s": duration,
        "simulated_s_per_run": last["simulated_seconds"],
        "repeats": repeats,
        "markets": MARKETS,
        "faults": FAULTS,
        "speed_x_realtime": round(med, 1),
        "speed_range": [round(min(speeds["paper"]), 1), round(max(speeds["paper"]), 1)],
        "engine_alone_x_realtime": round(median(speeds["engine_alone"]), 1),
        "ratio_vs_engine_alone": round(share[0], 3),
        "orders_submitted": last.get("orders_submitted"),
        "fills": last.get("fills"),
        "profile_top": prof["self"],
        "profile_aqbot_total": prof["aqbot_total"],
        "headline": (
            f"{med:,.0f}x real time ({FAULTS}, {MARKETS} markets) = {share[0]:.2f}x the engine alone "
            f"({median(speeds['engine_alone']):,.0f}x)"
        ),
        "goal": f">= {GOAL:g}x (stretch {STRETCH:g}x)",
        "goal_met": med >= GOAL,
        "stretch_met": med >= STRETCH,
    }


if __name__ == "__main__":
    print(json.dumps(run(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0), indent=2))
