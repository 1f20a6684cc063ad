"""Run aqbot's benchmarks and write ``bench/results.json``.

Every benchmark is a module ``bench/bench_<name>.py`` exposing ``run(scale: float) -> dict``; ``scale`` 1.0 is
the full measurement and ``make test`` runs each at a tiny scale only to prove it still works. Each result
carries its own ratio(s) against a floor or an alternative measured in the same run, because absolute
times drift on these noisy 2-core machines.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

BENCHMARKS = (
    "signing",
    "ingest",
    "tick_to_order",
    "sim_speed",
    "memory",
    "reconcile",
    "ledger",
)


def available() -> list[str]:
    here = Path(__file__).parent
    return [name for name in BENCHMARKS if (here / f"bench_{name}.py").exists()]


def run_one(name: str, scale: float) -> dict[str, Any]:
    module = importlib.import_module(f"bench.bench_{name}")
    started = time.perf_counter()
    result: dict[str, Any] = module.run(scale)
    result["bench_wall_seconds"] = round(time.perf_counter() - started, 3)
    return result


def machine() -> dict[str, Any]:
    import os

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }


def summarise(results: dict[str, dict[str, Any]]) -> str:
    lines = [f"{'benchmark':<16} {'headline':<60} {'goal':<14} {'met':<4}"]
    for name, res in results.items():
        headline = str(res.get("headline", ""))
        goal = str(res.get("goal", ""))
        met = res.get("goal_met")
        verdict = "" if met is None else ("yes" if met else "NO")
        lines.append(f"{name:<16} {headline:<60} {goal:<14} {verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    everything = ", ".join(available())
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default: all of {everything})")
    parser.add_argument("--scale", type=float, default=1.0, help="work multiplier (1.0 = full run)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results.json")
    args = parser.parse_args(argv)
    names = args.names or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {everything}", file=sys.stderr)
        return 2
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        results[name] = run_one(name, args.scale)
    document = {"machine": machine(), "scale": args.scale, "results": results}
    args.out.write_text(json.dumps(document, indent=2, default=str) + "\n")
    print(summarise(results))
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
