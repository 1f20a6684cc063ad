"""``ledger verify`` and ``report`` across restarts of the real bot on one ledger (clean stop, crash)."""

from __future__ import annotations

from pathlib import Path

import pytest
from _tools_helpers import T0, real_ledger, run_cli, synthetic_events, write_ledger

from aqbot.io.ledger import LedgerStore
from aqbot.io.ledger_events import LedgerEvent


def test_clean_restart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ledger.sqlite3"
    real_ledger(path, seconds=150, seed=3)
    real_ledger(path, seconds=150, seed=3)
    code, out, _ = run_cli(["ledger", "verify", str(path)], capsys)
    assert code == 0, out
    assert "(restarts at seq " in out
    code, _, err = run_cli(
        ["report", str(path), "--out", str(tmp_path / "r.html"), "--max-position", "50", "--no-charts"],
        capsys,
    )
    assert code == 0, err
    assert "wall clock" in (tmp_path / "r.html").read_text(), "two processes: the wall clock is the axis"


def test_crash_restart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The first process dies mid-run (its ledger ends without the final snapshot); the second replays it."""
    first = real_ledger(tmp_path / "first.sqlite3", seconds=200, seed=4)
    with LedgerStore.open(first) as store:
        events = list(store.iter_events())
    crashed = events[: int(len(events) * 0.6)]
    assert crashed[-1].type != "shutdown"
    path = write_ledger(tmp_path / "crash.sqlite3", crashed)
    real_ledger(path, seconds=150, seed=4)
    code, out, _ = run_cli(["ledger", "verify", str(path)], capsys)
    assert code == 0, out
    assert f"(restarts at seq {len(crashed) + 1})" in out


@pytest.mark.parametrize("restarted", [True, False])
def test_restart_replays_from_the_last_snapshot(
    restarted: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A monotonic clock that jumps backwards marks a restart: the replay restarts from the last snapshot,
    so facts after it that the new process does not re-record do not count twice."""
    events = synthetic_events()
    at_first_snapshot = events[:1]
    tail = [
        LedgerEvent(
            type=e.type,
            payload=e.payload,
            token=e.token,
            order_id=e.order_id,
            trade_id=e.trade_id,
            mono_time=e.mono_time + (-1000.0 if restarted else 400.0),
            wall_time=e.wall_time + 100.0,
        )
        for e in events[1:]
    ]
    lost = LedgerEvent(
        type="fill.applied",
        wall_time=T0 + 50,
        mono_time=500.0,
        token=events[6].token,
        payload={**events[6].payload, "delta": "7", "matched": "7"},
    )
    path = write_ledger(tmp_path / "restart.sqlite3", [*at_first_snapshot, lost, *tail])
    code, out, _ = run_cli(["ledger", "verify", str(path)], capsys)
    if restarted:
        assert code == 0, out
        assert "(restarts at seq 3)" in out
    else:
        # +400 s is no restart: the fill of 7 that the next snapshot does not know is a discrepancy
        assert code == 1
        assert "snapshot held of token 111111111111… is 4, replaying the facts gives 11" in out
