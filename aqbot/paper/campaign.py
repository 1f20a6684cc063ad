"""Seed campaigns: many max-speed paper runs in parallel processes, and the table that sums them up.

Each job is one :class:`SeedJob` (seed, fault profile, duration, markets, crashes, schedule), run by
:func:`run_job` in a worker process (``spawn``: a clean interpreter per worker), in a scratch directory
that is deleted unless the run failed. A failing job keeps its ledger and tape and carries the one-line
replay command. ``hook`` names a test-only bot hook as ``/path/to/file.py:function`` (how the campaign's
teeth are proven; nothing in production uses it).
"""

from __future__ import annotations

import concurrent.futures
import importlib.util
import logging
import multiprocessing
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path

import attrs

from aqbot.paper.maxspeed import run_paper
from aqbot.paper.runner import BotHook, PaperOptions, PaperPaths
from aqbot.paper.schedule import FaultSchedule

log = logging.getLogger(__name__)


@attrs.frozen
class SeedJob:
    """One campaign run (picklable)."""

    seed: int
    faults: str = "chaos"
    duration: float = 600.0
    markets: int = 4
    crashes: int = 0
    schedule_json: str = ""
    config_path: str | None = None
    hook: str | None = None
    stall_limit: float = 15.0

    def options(self) -> PaperOptions:
        schedule = FaultSchedule.from_json(self.schedule_json) if self.schedule_json else FaultSchedule()
        return PaperOptions(
            seed=self.seed, duration=self.duration, faults=self.faults, markets=self.markets,
            crashes=self.crashes, schedule=schedule,
            config_path=Path(self.config_path) if self.config_path else None,
        )  # fmt: skip


@attrs.frozen
class SeedResult:
    """What one job found."""

    job: SeedJob
    ok: bool
    violations: int
    exchange_ratio: str
    worst_ratio: str
    final_matches: bool
    simulated_seconds: float
    wall_seconds: float
    faults: dict[str, int]
    fills: int
    replay: str
    kept: str = ""
    error: str = ""


def load_hook(spec: str) -> BotHook:
    """``/path/file.py:function`` -> the function (test-only hooks live outside the package).

    Raises:
        ValueError: the spec does not name a loadable function.
    """
    path, _, name = spec.rpartition(":")
    module_spec = importlib.util.spec_from_file_location(f"aqbot_paper_hook_{Path(path).stem}", path)
    if not path or not name or module_spec is None or module_spec.loader is None:
        raise ValueError(f"bad hook {spec!r}: expected /path/to/file.py:function")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    hook: BotHook = getattr(module, name)
    return hook


def run_job(job: SeedJob) -> SeedResult:
    """Run one job in a scratch directory (kept only when the run failed)."""
    options = job.options()
    scratch = Path(tempfile.mkdtemp(prefix=f"aqbot-campaign-{job.seed}-"))
    paths = PaperPaths(scratch / "ledger.sqlite3", scratch / "tape.jsonl", None)
    start = time.perf_counter()
    try:
        hook = load_hook(job.hook) if job.hook else None
        summary = run_paper(options, paths, hook=hook, stall_limit=job.stall_limit)
    except Exception:  # a crash of the run is a finding, reported with its replay command
        return SeedResult(
            job, False, 0, "", "", False, 0.0, time.perf_counter() - start, {}, 0,
            options.replay_command(), str(scratch), traceback.format_exc(limit=20),
        )  # fmt: skip
    violations = len(summary["limit_violations"])
    ok = violations == 0 and bool(summary["final_state_matches_exchange"])
    if ok:
        shutil.rmtree(scratch, ignore_errors=True)
    return SeedResult(
        job, ok, violations, summary["exchange_max_position_ratio"], summary["max_worst_ratio"],
        bool(summary["final_state_matches_exchange"]), float(summary["simulated_seconds"]),
        float(summary["wall_seconds"]), dict(summary["faults_injected"]), int(summary["fills"]),
        options.replay_command(), "" if ok else str(scratch),
    )  # fmt: skip


@attrs.define
class CampaignReport:
    results: list[SeedResult] = attrs.Factory(list)
    wall_seconds: float = 0.0

    @property
    def violations(self) -> int:
        return sum(r.violations for r in self.results)

    @property
    def failures(self) -> list[SeedResult]:
        return [r for r in self.results if not r.ok]

    @property
    def simulated_hours(self) -> float:
        return sum(r.simulated_seconds for r in self.results) / 3600

    def fault_totals(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for r in self.results:
            for name, count in r.faults.items():
                totals[name] = totals.get(name, 0) + count
        return dict(sorted(totals.items()))


def run_campaign(
    jobs: Iterable[SeedJob],
    *,
    workers: int = 2,
    on_result: Callable[[SeedResult], None] | None = None,
    stop_after_failures: int | None = None,
) -> CampaignReport:
    """Run ``jobs`` on ``workers`` processes (1: in this process); results in completion order."""
    report = CampaignReport()
    start = time.perf_counter()
    jobs = list(jobs)

    def take(result: SeedResult) -> bool:
        report.results.append(result)
        if on_result is not None:
            on_result(result)
        return stop_after_failures is not None and len(report.failures) >= stop_after_failures

    if workers <= 1:
        for job in jobs:
            if take(run_job(job)):
                break
    else:
        context = multiprocessing.get_context("spawn")
        pool = concurrent.futures.ProcessPoolExecutor(workers, context, _quiet_worker)
        try:
            futures = [pool.submit(run_job, job) for job in jobs]
            for future in concurrent.futures.as_completed(futures):
                if take(future.result()):
                    break
        finally:  # Ctrl-C or an early stop: drop the queued jobs, let the running ones end
            pool.shutdown(wait=True, cancel_futures=True)
    report.wall_seconds = time.perf_counter() - start
    return report


def _quiet_worker() -> None:
    """Workers log errors only (a chaos run warns on every injected fault)."""
    logging.basicConfig(level=logging.ERROR)


def format_table(report: CampaignReport, *, slowest: int = 5) -> str:
    """The campaign's table: seeds run, simulated hours, faults per kind, violations, slowest seeds."""
    results = report.results
    lines = [
        f"seeds run            {len(results)}",
        f"simulated hours      {report.simulated_hours:.2f}",
        f"wall seconds         {report.wall_seconds:.1f}",
        f"speed (sim s/wall s) {_speed(results):.0f}x per worker",
        f"fills (bot)          {sum(r.fills for r in results)}",
        f"violations           {report.violations}",
        f"failed seeds         {len(report.failures)}",
        "faults injected:",
    ]
    lines += [f"  {name:<28} {count}" for name, count in report.fault_totals().items()]
    lines.append("slowest seeds:")
    for r in sorted(results, key=lambda r: -r.wall_seconds)[:slowest]:
        lines.append(
            f"  seed {r.job.seed:<8} {r.wall_seconds:7.1f}s wall  {r.simulated_seconds:7.0f}s simulated"
        )
    for r in report.failures[:20]:
        detail = (
            r.error.strip().splitlines()[-1]
            if r.error
            else f"violations={r.violations} final={r.final_matches}"
        )
        lines.append(f"FAILED seed {r.job.seed}: {detail}\n  replay: {r.replay}\n  kept: {r.kept}")
    return "\n".join(lines)


def _speed(results: list[SeedResult]) -> float:
    wall = sum(r.wall_seconds for r in results)
    return sum(r.simulated_seconds for r in results) / wall if wall else 0.0
