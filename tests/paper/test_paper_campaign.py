"""The CI slice of the limit-compliance campaign (the long one is ``make fuzz``: ``python -m fuzz``).

Every run is the real bot against the simulator at max speed; the verdict comes from the exchange's own
books (the tape and ``max_position_seen``), never from aqbot's bookkeeping. Sized to stay under ~60 s of
wall time on a loaded 2-core box (measured: see docs/paper.md).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paper_helpers import SABOTAGE, ledger_rows, tight_config
from sabotage import optimistic_release, release_on_cancel_send

from aqbot.paper.campaign import SeedJob, format_table, run_campaign
from aqbot.paper.maxspeed import run_paper
from aqbot.paper.runner import PaperOptions, PaperPaths
from aqbot.paper.schedule import REST_KINDS, WS_KINDS, FaultSchedule, ScheduledFault
from aqbot.paper.summary import summary_ok

# Wall seconds without simulated progress before a run is abandoned (a livelock fails the test, never hangs).
STALL_LIMIT = 60.0


def _paper(options: PaperOptions, where: Path, **kw: Any) -> dict[str, Any]:
    where.mkdir(parents=True, exist_ok=True)
    paths = PaperPaths(where / "ledger.sqlite3", where / "tape.jsonl", None)
    return run_paper(options, paths, stall_limit=STALL_LIMIT, **kw)


def _assert_holds(summary: dict[str, Any], options: PaperOptions) -> None:
    assert summary_ok(summary), f"{summary}\nreplay: {options.replay_command()}"
    assert summary["limit_violations"] == []
    assert summary["orders_submitted"] > 0


@pytest.mark.parametrize("faults", ["none", "mild", "chaos"])
@pytest.mark.parametrize("seed", [1, 2])
def test_limits_hold_per_fault_profile(tmp_path: Path, seed: int, faults: str) -> None:
    """Five simulated minutes, two markets, a tight limit (20 shares, quotes of 10): the exchange never
    credits more than the limit and the final reconciliation agrees with the exchange."""
    options = PaperOptions(
        seed=seed, faults=faults, duration=300, markets=2, config_path=tight_config(tmp_path)
    )
    summary = _paper(options, tmp_path / "run")
    _assert_holds(summary, options)
    if faults == "chaos":
        assert sum(summary["faults_injected"].values()) > 20


def test_limits_hold_across_crashes(tmp_path: Path) -> None:
    """Two in-process crashes (REST cut, no cleanup reaches the exchange) and restarts on one ledger."""
    options = PaperOptions(
        seed=3, faults="chaos", duration=400, markets=2, crashes=2, config_path=tight_config(tmp_path)
    )
    summary = _paper(options, tmp_path / "run")
    _assert_holds(summary, options)
    rows = ledger_rows(tmp_path / "run" / "ledger.sqlite3")
    # Every incarnation records its shutdown row: the crashed ones are forced stops (their last-resort DELETE
    # lost in the REST blackout), the last quoting bot and the final dry-run bot stopped cleanly.
    assert [r[2] for r in rows].count("shutdown") == 4
    places = [r[1] for r in rows if r[2] == "command.place"]
    first, second = options.crash_times()
    for lo, hi in ((0, first), (first, second), (second, 400)):
        assert any(lo < t < hi for t in places), (lo, hi)  # every incarnation quoted


def test_the_default_configuration_holds_on_four_markets(tmp_path: Path) -> None:
    """The shipped default (no --config), four markets, chaos."""
    options = PaperOptions(seed=4, faults="chaos", duration=300, markets=4)
    _assert_holds(_paper(options, tmp_path / "run"), options)


_faults = st.one_of(
    st.builds(
        ScheduledFault,
        at=st.integers(0, 150).map(float),
        target=st.sampled_from(["user", "market"]),
        nth=st.integers(0, 20),
        kind=st.sampled_from(WS_KINDS),
        delay_ms=st.integers(1, 3000),
    ),
    st.builds(
        ScheduledFault,
        at=st.integers(0, 150).map(float),
        target=st.just("rest"),
        nth=st.integers(0, 20),
        kind=st.sampled_from(REST_KINDS),
        delay_ms=st.integers(1, 3000),
    ),
)
_schedules = st.builds(
    FaultSchedule,
    faults=st.lists(_faults, max_size=12).map(tuple),
    crashes=st.lists(st.integers(5, 170).map(float), max_size=2).map(lambda c: tuple(sorted(c))),
)


@settings(max_examples=4, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedule=_schedules, seed=st.integers(0, 10_000))
def test_limits_hold_under_generated_fault_schedules(
    tmp_path_factory: pytest.TempPathFactory, schedule: FaultSchedule, seed: int
) -> None:
    """Hypothesis picks which messages to drop/duplicate/reorder/delay, which REST answers to lose or
    refuse, and when to crash; on top of the mild profile, the limit holds."""
    where = tmp_path_factory.mktemp("schedule")
    options = PaperOptions(
        seed=seed, faults="mild", duration=180, markets=1, schedule=schedule, config_path=tight_config(where)
    )
    _assert_holds(_paper(options, where / "run"), options)


def test_campaign_has_teeth(tmp_path: Path) -> None:
    """With the seed's bug back (a cancel releases the reservation when it is sent), the same campaign
    finds exchange-side violations within the first seeds, and reports them with a replay command."""
    config = tight_config(tmp_path)
    found = []
    for seed in range(1, 5):
        options = PaperOptions(seed=seed, faults="chaos", duration=300, markets=2, config_path=config)
        summary = _paper(options, tmp_path / str(seed), hook=release_on_cancel_send)
        if summary["limit_violations"]:
            found.append(seed)
            violation = summary["limit_violations"][0]
            assert float(violation["position"]) > 20
            assert float(summary["exchange_max_position_ratio"]) > 1
            break
    assert found, "the campaign did not catch the restored bug"


def test_campaign_runner_reports_failures_with_replay(tmp_path: Path) -> None:
    """The campaign plumbing (worker function, hook by path, table): a sabotaged seed fails with its
    replay command and keeps its files; a clean one passes and is cleaned up."""
    config = str(tight_config(tmp_path))
    bad = SeedJob(2, "chaos", 300, 2, config_path=config, hook=f"{SABOTAGE}:release_on_cancel_send")
    good = SeedJob(2, "none", 120, 1, config_path=config)
    report = run_campaign([bad, good], workers=1)
    by_job = {r.job: r for r in report.results}
    assert not by_job[bad].ok
    assert by_job[bad].violations > 0
    assert "aqbot paper --speed max --seed 2 --faults chaos" in by_job[bad].replay
    assert Path(by_job[bad].kept, "tape.jsonl").exists()
    shutil.rmtree(by_job[bad].kept)
    assert by_job[good].ok
    table = format_table(report)
    assert "seeds run            2" in table
    assert "FAILED seed 2" in table


def test_optimistic_release_on_delete_answer_is_installable(tmp_path: Path) -> None:
    """The weaker bug (release on the DELETE answer's ``canceled`` list) runs; whether a short run
    catches it depends on a narrow race (see docs/paper.md for the long-campaign numbers)."""
    options = PaperOptions(
        seed=1, faults="chaos", duration=120, markets=1, config_path=tight_config(tmp_path)
    )
    summary = _paper(options, tmp_path / "run", hook=optimistic_release)
    assert summary["orders_submitted"] > 0
