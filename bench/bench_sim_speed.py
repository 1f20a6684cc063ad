"""Simulation speed: simulated seconds per wall second of the standard paper scenario.

The standard scenario is ``aqbot paper --speed max`` (:func:`paper_max_speed`, the same composition): the
in-process simulator (4 markets, ``chaos`` faults, synthetic flow) and the real bot
(:func:`aqbot.app.run_bot`, all its tasks, the ledger written inline) in one ``trio.run`` under
``MockClock(autojump_threshold=0)``, then the settle period and the final reconciliation against the
engine's truth.

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
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import trio
import trio.testing

from aqbot.paper.runner import OnBot, PaperOptions, PaperPaths, paper_session
from aqbot.sim.faults import profile
from aqbot.sim.runner import seed_trio_scheduler
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
# Wall seconds a paper run may take per simulated second before it counts as stalled (a livelock that
# spins without advancing virtual time would otherwise hang `make bench`).
STALL_WALL_PER_SIMULATED = 0.05
T = TypeVar("T")


class PaperStalled(RuntimeError):
    """A max-speed paper run did not finish within its wall-time bound."""


async def inline(fn: Callable[[], T]) -> T:
    """The ledger offload of a max-speed run: inline, so no thread is in flight under the MockClock."""
    await trio.lowlevel.checkpoint()
    return fn()


def paper_max_speed(
    options: PaperOptions, paths: PaperPaths, *, on_bot: OnBot | None = None
) -> dict[str, Any]:
    """``aqbot paper --speed max``: :func:`aqbot.paper.runner.paper_session` in one ``trio.run`` under
    ``MockClock(autojump_threshold=0)``, ledger written inline (``synchronous=NORMAL``), scheduler seeded.

    Raises:
        PaperStalled: the run took more than ``STALL_WALL_PER_SIMULATED`` wall s per simulated s (+ 60 s).
    """
    duration = options.duration or 0.0
    wall_limit = 60.0 + STALL_WALL_PER_SIMULATED * (duration + options.settle_seconds)

    async def main() -> dict[str, Any]:
        seed_trio_scheduler(options.seed)
        token = trio.lowlevel.current_trio_token()
        with trio.CancelScope() as scope:

            def stalled() -> None:
                try:
                    token.run_sync_soon(scope.cancel)
                except trio.RunFinishedError:
                    pass

            timer = threading.Timer(wall_limit, stalled)
            timer.start()
            try:
                with trio.fail_after(4 * duration + 600):  # virtual time, as aqbot paper bounds a run
                    return await paper_session(
                        options, paths, loopback=False, offload=inline, synchronous="NORMAL",
                        stop=trio.Event(), on_bot=on_bot,
                    )  # fmt: skip
            finally:
                timer.cancel()
        raise PaperStalled(f"paper run ({duration:g} simulated s) still running after {wall_limit:g} wall s")

    return trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def paper_speed(duration: float, tmp: Path, rep: int) -> tuple[float, dict[str, Any]]:
    """(simulated seconds per wall second, the paper summary) of one standard paper run."""
    options = PaperOptions(seed=SEED, duration=duration, faults=FAULTS, markets=MARKETS, dashboard=False)
    paths = PaperPaths(tmp / f"ledger-{rep}.sqlite3", tmp / f"tape-{rep}.jsonl", None)
    with quiet_logs():
        started = time.perf_counter()
        summary = paper_max_speed(options, paths)
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


def stalled_result(error: str) -> dict[str, Any]:
    """What a benchmark reports when a paper run stalled: the goal is not met, and the figures are absent."""
    return {"error": error, "headline": f"STALLED: {error}", "goal": f">= {GOAL:g}x", "goal_met": False}


def run(scale: float = 1.0) -> dict[str, Any]:
    """Measure the paper scenario's speed next to the engine alone, then profile one paper run."""
    try:
        return _measure(scale)
    except PaperStalled as exc:
        return stalled_result(str(exc))


def _measure(scale: float) -> dict[str, Any]:
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
