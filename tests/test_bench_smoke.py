"""Every benchmark runs once at a tiny scale and returns a well-formed result (never a timing assertion).

Benchmarks are measurements, not tests: ``make bench`` runs them at full scale. Here each ``run(scale)`` is
called at ``SCALE`` only to prove it still works against the current code, and its result is checked for
the keys the harness (``bench/__main__.py``) summarises and for sane, internally consistent values.
"""

from __future__ import annotations

import importlib
import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `bench` is a top-level package of the checkout, not installed
    sys.path.insert(0, str(ROOT))

from bench.__main__ import BENCHMARKS, available, summarise  # noqa: E402

SCALE = 0.01
# The memory benchmark's scale is a share of 24 simulated hours: 0.001 is its 2-minute minimum.
SCALES = {"memory": 0.001}


def _finite_positive(result: dict[str, Any], *keys: str) -> None:
    for key in keys:
        value = result[key]
        assert isinstance(value, int | float), f"{key} is {value!r}"
        assert math.isfinite(value), f"{key} is {value!r}"
        assert value > 0, f"{key} is {value!r}"


def _check_profile(result: dict[str, Any]) -> None:
    rows = result["profile_top"]
    assert isinstance(rows, list)
    assert rows, "the profile found no samples"
    for row in rows:
        assert set(row) == {"function", "where", "pct"}
        assert 0 <= row["pct"] <= 100


CHECKS: dict[str, tuple[str, ...]] = {
    "signing": ("aqbot_orders_per_s", "sdk_full_per_s", "ratio_vs_build_signed_order"),
    "ingest": (
        "ingest_events_per_s",
        "transport_msgs_per_s",
        "json_loads_msgs_per_s",
        "ratio_vs_transport",
        "socket_events_per_s",
        "transport_us_per_frame",
    ),
    "tick_to_order": ("p50_us", "p99_us", "max_us", "floor_p50_us", "ratio_p99_vs_floor"),
    "sim_speed": ("speed_x_realtime", "engine_alone_x_realtime", "ratio_vs_engine_alone"),
    "memory": ("rss_warm_kib", "rss_end_kib", "growth_ratio", "simulated_hours"),
    "reconcile": ("reconcile_cpu_s", "bare_fetch_cpu_s", "ratio_cpu_vs_bare", "pages"),
    "ledger": ("bare_rows_per_s", "store_events_per_s", "writer_events_per_s", "flush_p50_ms"),
}


def test_every_listed_benchmark_exists() -> None:
    """The harness's list and the modules agree (a missing module would silently drop a benchmark)."""
    assert available() == list(BENCHMARKS)
    assert set(CHECKS) == set(BENCHMARKS)


@pytest.mark.parametrize("name", BENCHMARKS)
def test_benchmark_runs_tiny(name: str) -> None:
    """``run(SCALE)`` returns the harness keys and positive, finite, JSON-serialisable figures."""
    module = importlib.import_module(f"bench.bench_{name}")
    result = module.run(SCALES.get(name, SCALE))
    assert isinstance(result["headline"], str)
    assert result["headline"]
    assert isinstance(result["goal"], str)
    assert isinstance(result["goal_met"], bool)
    _finite_positive(result, *CHECKS[name])
    json.dumps(result)  # results.json must be able to hold it
    assert name in summarise({name: result})
    if name in ("ingest", "tick_to_order", "sim_speed", "reconcile"):
        _check_profile(result)
    if name == "tick_to_order":
        assert result["p50_us"] <= result["p99_us"] <= result["max_us"]
    if name == "ingest":
        assert set(result["makers_per_trade"]) <= {"1", "2", "3"}
        assert result["ledger_rows_per_event"] >= 1  # at least the raw frame per event
        assert math.isfinite(result["socket_added_us_per_frame"])
        assert isinstance(result["transport_pinned"], bool)
    if name == "memory":
        assert result["core_orders_tracked_end"] >= result["core_orders_tracked_warm"]
    if name == "reconcile":
        assert result["open_orders_in_core_after"] >= result["open_orders"]
    if name == "ledger":
        assert result["flush_p50_ms"] <= result["flush_max_ms"]
