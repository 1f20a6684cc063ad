"""Same seed and options at max speed: the same tape, byte for byte, and the same ledger events."""

from __future__ import annotations

from pathlib import Path

from paper_helpers import ledger_rows, tight_config

from aqbot.paper.maxspeed import run_paper
from aqbot.paper.runner import PaperOptions, PaperPaths


def _run(options: PaperOptions, where: Path) -> tuple[dict[str, object], bytes, list[object]]:
    paths = PaperPaths(where / "ledger.sqlite3", where / "tape.jsonl", None)
    summary = run_paper(options, paths, stall_limit=60.0)
    return summary, paths.tape.read_bytes(), list(ledger_rows(paths.ledger))


def test_same_seed_same_tape_and_ledger(tmp_path: Path) -> None:
    """Chaos, a crash and a restart on two markets, twice: identical tape bytes and identical ledger
    events (type, token, order, trade, payload, mono_time: everything but the wall-time label); another
    seed gives another tape."""
    options = PaperOptions(
        seed=7, faults="chaos", duration=240, markets=2, crashes=1, config_path=tight_config(tmp_path)
    )
    s1, tape1, ledger1 = _run(options, tmp_path / "a")
    s2, tape2, ledger2 = _run(options, tmp_path / "b")
    assert tape1 == tape2
    assert ledger1 == ledger2
    assert len(ledger1) > 300
    s1.pop("wall_seconds")
    s2.pop("wall_seconds")
    assert s1 == s2
    faults = s1["faults_injected"]
    assert isinstance(faults, dict)
    assert sum(faults.values()) > 10
    _, tape3, _ = _run(PaperOptions(seed=8, faults="chaos", duration=60, markets=2), tmp_path / "c")
    assert tape3 != tape1
