"""``python -m fuzz`` (``make fuzz``): the long paper campaign, every atheris target, the e2e kill test.

::

    python -m fuzz [--seeds 1000] [--duration 300] [--markets 2] [--schedules 200] [--teeth-seeds 20]
                   [--fuzz-seconds 120] [--kills 100] [--workers 2] [--only paper|atheris|kills]

Exit code 0 when the campaign found no violation, every schedule held, the restored bugs were caught and
no atheris target crashed; 1 otherwise. Atheris runs on a scratch copy of each corpus (libFuzzer writes
new inputs into its first corpus directory), so the committed corpora never change here.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import attrs

from aqbot.paper.campaign import CampaignReport, SeedJob, SeedResult, format_table, run_campaign
from fuzz.campaign import ROOT, schedule_jobs, seed_jobs, teeth_jobs, tight_config

log = logging.getLogger(__name__)

TARGETS = ("fuzz_decode", "fuzz_book", "fuzz_config")
CORPORA = {"fuzz_decode": "decode", "fuzz_book": "book", "fuzz_config": "config"}


@attrs.frozen
class AtherisResult:
    target: str
    seconds: float
    executions: int
    corpus_before: int
    corpus_after: int
    returncode: int
    tail: str


def run_atheris(target: str, seconds: int) -> AtherisResult:
    """One target for ``seconds`` on a scratch copy of its corpus."""
    with tempfile.TemporaryDirectory(prefix=f"aqbot-{target}-") as scratch:
        corpus = Path(scratch) / "corpus"
        shutil.copytree(ROOT / "fuzz" / "corpus" / CORPORA[target], corpus)
        before = sum(1 for _ in corpus.iterdir())
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, str(ROOT / "fuzz" / f"{target}.py"), str(corpus), f"-max_total_time={seconds}",
             "-print_final_stats=1", "-rss_limit_mb=4096"],
            cwd=ROOT, capture_output=True, text=True, timeout=seconds * 3 + 120, check=False,
        )  # fmt: skip
        found = re.findall(r"stat::number_of_executed_units:\s*(\d+)", proc.stderr)
        after = sum(1 for _ in corpus.iterdir())
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        return AtherisResult(
            target, time.perf_counter() - start, int(found[-1]) if found else 0, before, after,
            proc.returncode, tail,
        )  # fmt: skip


def _campaign(label: str, jobs: list[SeedJob], workers: int) -> CampaignReport:
    """Run ``jobs``, printing failures (except the expected ones of the teeth runs) and progress."""
    done = 0

    def on_result(result: SeedResult) -> None:
        nonlocal done
        done += 1
        if not result.ok and label != "teeth":
            print(f"[{label}] FAILED seed {result.job.seed}: replay: {result.replay}", flush=True)
        if done % 50 == 0 or done == len(jobs):
            print(f"[{label}] {done}/{len(jobs)} done", flush=True)

    return run_campaign(jobs, workers=workers, on_result=on_result)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=1000, help="chaos seeds (default 1000)")
    parser.add_argument("--duration", type=float, default=300.0, help="simulated seconds per seed")
    parser.add_argument("--markets", type=int, default=2, help="markets per run")
    parser.add_argument("--crash-every", type=int, default=4, help="every N-th seed crashes and restarts")
    parser.add_argument("--schedules", type=int, default=200, help="Hypothesis-generated fault schedules")
    parser.add_argument("--teeth-seeds", type=int, default=20, help="seeds per restored bug")
    parser.add_argument("--fuzz-seconds", type=int, default=120, help="seconds per atheris target")
    parser.add_argument("--workers", type=int, default=2, help="parallel processes")
    parser.add_argument("--kills", type=int, default=100, help="SIGKILL/restart cycles of the e2e crash test")
    parser.add_argument("--only", choices=("paper", "atheris", "kills"), help="run one part only")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    ok = True
    sections: list[str] = []
    if args.only in (None, "paper"):
        ok &= _paper(args, sections)
    if args.only in (None, "atheris"):
        ok &= _atheris(args, sections)
    if args.only in (None, "kills") and args.kills:
        ok &= _kills(args, sections)
    print("\n\n".join(sections))
    print(f"\nmake fuzz: {'OK' if ok else 'FAILED'}")
    return 0 if ok else 1


def _paper(args: argparse.Namespace, sections: list[str]) -> bool:
    work = Path(tempfile.mkdtemp(prefix="aqbot-campaign-"))
    config = tight_config(work)
    ok = True
    seeds = seed_jobs(args.seeds, duration=args.duration, markets=args.markets, crash_every=args.crash_every,
                      config=config)  # fmt: skip
    report = _campaign("seeds", seeds, args.workers)
    sections.append("== paper campaign: chaos seeds ==\n" + format_table(report))
    ok &= report.violations == 0 and not report.failures
    if args.schedules:
        jobs = schedule_jobs(args.schedules, duration=args.duration, markets=1, config=config)
        sched = _campaign("schedules", jobs, args.workers)
        sections.append(
            "== paper campaign: Hypothesis fault schedules (mild + scripted) ==\n" + format_table(sched)
        )
        ok &= sched.violations == 0 and not sched.failures
    if args.teeth_seeds:
        for bug, jobs in teeth_jobs(args.teeth_seeds, duration=args.duration, markets=args.markets,
                                    config=config).items():  # fmt: skip
            teeth = _campaign("teeth", jobs, args.workers)
            caught = sorted(r.job.seed for r in teeth.results if r.violations)
            errors = [r for r in teeth.results if r.error]
            for r in teeth.results:
                if r.kept:
                    shutil.rmtree(r.kept, ignore_errors=True)
            sections.append(
                f"== teeth: bug {bug!r} restored ==\n"
                f"seeds caught         {len(caught)}/{len(teeth.results)} ({caught[:10]}...)\n"
                f"violations           {teeth.violations}\n"
                f"errors               {len(errors)}"
            )
            if bug == "release_on_cancel_send":
                ok &= bool(caught)  # the campaign must catch the seed's bug
    shutil.rmtree(work, ignore_errors=True)
    return ok


def _atheris(args: argparse.Namespace, sections: list[str]) -> bool:
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.workers)) as pool:
        results = list(pool.map(lambda t: run_atheris(t, args.fuzz_seconds), TARGETS))
    lines = ["== atheris targets ==", f"{'target':<14}{'seconds':>9}{'execs':>12}{'corpus':>14}  result"]
    ok = True
    for r in results:
        verdict = "ok" if r.returncode == 0 else f"CRASH (exit {r.returncode})"
        ok &= r.returncode == 0
        corpus = f"{r.corpus_before}->{r.corpus_after}"
        lines.append(f"{r.target:<14}{r.seconds:>9.0f}{r.executions:>12}{corpus:>14}  {verdict}")
        if r.returncode != 0:
            lines.append(r.tail)
    sections.append("\n".join(lines))
    return ok


def _kills(args: argparse.Namespace, sections: list[str]) -> bool:
    """The e2e crash test (``aqbot sim`` + ``aqbot run`` processes) with ``--kills`` SIGKILL cycles."""
    env = {**os.environ, "AQBOT_E2E_KILLS": str(args.kills)}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="aqbot-e2e-") as base:  # own basetemp: no rotation mid-run
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--basetemp={base}",
             "tests/e2e/test_crash_recovery.py"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=args.kills * 120 + 600, check=False,
        )  # fmt: skip
    tail = "\n".join(proc.stdout.strip().splitlines()[-5:])
    verdict = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
    sections.append(
        f"== e2e crash recovery: {args.kills} SIGKILL/restart cycles ==\n"
        f"wall seconds         {time.perf_counter() - start:.0f}\nresult               {verdict}\n{tail}"
    )
    return proc.returncode == 0


if __name__ == "__main__":
    sys.exit(main())
