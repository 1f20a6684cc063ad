"""Shared helpers of the benchmarks: timing, percentiles, interleaved repetitions, medians, profiles.

Every benchmark compares loops measured *in the same run*, interleaved repetition by repetition
(:func:`interleaved`), so background load on a shared 2-core VM falls on all of them alike; figures are
medians over the repetitions and ratios are medians of the per-repetition ratios (:func:`ratio`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

Measure = Callable[[], float]
"""One repetition of a compared loop; returns its figure (a rate, a duration, ...)."""


def scaled(full: int, scale: float, minimum: int) -> int:
    """``full`` work items at scale 1.0, shrunk (or grown) by ``scale``, at least ``minimum``."""
    return max(minimum, round(full * scale))


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile ``q`` in [0, 1] of ``values`` (``q=1`` is the maximum)."""
    if not values:
        raise ValueError("percentile of nothing")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def interleaved(loops: Mapping[str, Measure], repeats: int) -> dict[str, list[float]]:
    """Run every loop once per repetition, rotating the order each time; the figures per loop.

    Rotating keeps a systematic first/last position (warm caches, a GC debt left by the previous loop)
    from favouring one loop.
    """
    names = list(loops)
    out: dict[str, list[float]] = {name: [] for name in names}
    for rep in range(repeats):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            out[name].append(loops[name]())
    return out


def ratio(numerators: Sequence[float], denominators: Sequence[float]) -> tuple[float, float, float]:
    """Median, min and max of the per-repetition ratios ``numerators[i] / denominators[i]``."""
    ratios = [a / b for a, b in zip(numerators, denominators, strict=True)]
    return median(ratios), min(ratios), max(ratios)


def rounded(value: float, digits: int = 3) -> float:
    return float(f"{value:.{digits}g}") if value else 0.0


@contextlib.contextmanager
def quiet_logs() -> Iterator[None]:
    """Silence logging while measuring (the bot's warnings would otherwise go to stderr via lastResort)."""
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(previous)


def rss_kib() -> int:
    """Resident set size of this process, from ``/proc/self/status`` (KiB)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def cpu_and_wall(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(process CPU seconds, wall seconds, result) of one call."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = fn()
    return time.process_time() - cpu0, time.perf_counter() - wall0, result


def load_average() -> float:
    """The 1-minute load average when the run started (context for the figures)."""
    return os.getloadavg()[0]


def profile_top(fn: Callable[[], Any], top: int = 10, interval: float = 0.001) -> dict[str, Any]:
    """Profile one call with pyinstrument; the ``top`` functions by self time and the aqbot ones by total.

    Returns ``{"self": [{"function", "where", "pct"}], "aqbot_total": [...], "samples_seconds"}``:
    ``self`` is where the time is spent (excluding callees), ``aqbot_total`` the aqbot functions that
    account for the most time including their callees (where to look first).
    """
    os.environ.setdefault("PYINSTRUMENT_IGNORE_OVERHEAD_WARNING", "1")  # a VM's timer; the profile is coarse
    from pyinstrument import Profiler

    profiler = Profiler(interval=interval, async_mode="disabled")
    profiler.start()
    try:
        fn()
    finally:
        profiler.stop()
    session = profiler.last_session
    root = session.root_frame() if session is not None else None
    if root is None or root.time <= 0:
        return {"self": [], "aqbot_total": [], "samples_seconds": 0.0}
    total = root.time
    self_time: dict[tuple[str, str], float] = {}
    inclusive: dict[tuple[str, str], float] = {}

    def walk(frame: Any, stack: frozenset[tuple[str, str]]) -> None:
        key = (str(frame.function), f"{frame.file_path_short}:{frame.line_no}")
        real = [child for child in frame.children if not child.is_synthetic]
        own = frame.time - sum(child.time for child in real)  # synthetic "[self]" children are own time
        self_time[key] = self_time.get(key, 0.0) + max(own, 0.0)
        if key not in stack:  # recursion: count a frame's time once per stack
            inclusive[key] = inclusive.get(key, 0.0) + frame.time
        for child in real:
            walk(child, stack | {key})

    walk(root, frozenset())

    def rows(table: dict[tuple[str, str], float], keep: Callable[[str], bool]) -> list[dict[str, Any]]:
        ranked = sorted(((t, k) for k, t in table.items() if keep(k[1])), reverse=True)[:top]
        return [{"function": k[0], "where": k[1], "pct": round(100 * t / total, 1)} for t, k in ranked]

    return {
        "self": rows(self_time, lambda where: True),
        "aqbot_total": rows(inclusive, lambda where: "aqbot/" in where and "bench/" not in where),
        "samples_seconds": round(total, 3),
    }


def format_profile(rows: Sequence[Mapping[str, Any]]) -> str:
    """One line per row: ``12.3%  function (where)``."""
    return "\n".join(f"{r['pct']:5.1f}%  {r['function']} ({r['where']})" for r in rows)
