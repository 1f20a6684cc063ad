"""``aqbot paper``: arguments, the summary file (exact fields), exit codes and the replay command."""

from __future__ import annotations

import argparse
import functools
import json
import shlex
import shutil
from pathlib import Path

import pytest
from paper_helpers import tight_config
from sabotage import release_on_cancel_send

from aqbot.cli import build_parser
from aqbot.paper import command
from aqbot.paper.command import options_from_args, paper_command
from aqbot.paper.maxspeed import run_paper
from aqbot.paper.runner import PaperOptions
from aqbot.paper.schedule import FaultSchedule, ScheduledFault
from aqbot.paper.summary import SUMMARY_FIELDS


def parse(argv: list[str]) -> argparse.Namespace:
    return build_parser().parse_args(argv)


@pytest.fixture(autouse=True)
def _keep_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command configures the process's logging; the test process keeps pytest's."""
    monkeypatch.setattr(command, "_configure_logging", lambda options, paths: None)


def test_defaults() -> None:
    """Max speed by default, 600 simulated seconds, four markets, no faults, the shipped config."""
    options = options_from_args(parse(["paper"]))
    assert options == PaperOptions(seed=1, duration=600.0, speed="max", faults="none", markets=4)
    realtime = options_from_args(parse(["paper", "--speed", "realtime"]))
    assert realtime.duration is None


@pytest.mark.parametrize(
    "argv",
    [
        ["paper", "--markets", "0"],
        ["paper", "--duration", "-1"],
        ["paper", "--faults", "hurricane"],
        ["paper", "--speed", "slow"],
        ["paper", "--crashes", "-2"],
        ["paper", "--schedule", "{not json"],
    ],
)
def test_bad_arguments_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        parse(argv)
    assert info.value.code == 2


def test_replay_command_round_trips(tmp_path: Path) -> None:
    """The printed replay command parses back into the very same run options."""
    schedule = FaultSchedule((ScheduledFault(12.0, "user", 3, "drop"),), (40.5,))
    options = PaperOptions(
        seed=17, duration=600, faults="chaos", markets=2, crashes=3, schedule=schedule,
        config_path=tmp_path / "bot.toml",
    )  # fmt: skip
    argv = shlex.split(options.replay_command())
    assert argv[:4] == ["aqbot", "paper", "--speed", "max"]
    assert options_from_args(parse(argv[1:])) == options


def test_clean_run_writes_the_summary_and_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Exit 0; the summary has exactly the documented fields; tape and ledger are where asked."""
    summary_path, tape, ledger = tmp_path / "s.json", tmp_path / "t.jsonl", tmp_path / "l.sqlite3"
    argv = ["paper", "--seed", "3", "--faults", "mild", "--duration", "120", "--markets", "2",
            "--summary", str(summary_path), "--tape", str(tape), "--ledger", str(ledger)]  # fmt: skip
    assert paper_command(parse(argv)) == 0
    summary = json.loads(summary_path.read_text())
    assert set(summary) == set(SUMMARY_FIELDS)
    assert summary["seed"] == 3
    assert summary["faults"] == "mild"
    assert summary["final_state_matches_exchange"] is True
    assert summary["limit_violations"] == []
    assert summary["bot_owner"] in tape.read_text()
    assert set(summary["pnl"]) == {"realized", "unrealized", "total", "daily"}
    assert summary["pnl"]["daily"] is not None  # the bot marked its book against the simulated UTC day
    assert ledger.exists()
    out = capsys.readouterr().out
    assert out.startswith("PASS: seed 3")
    # A paper run starts a fresh exchange: reusing a ledger is refused.
    assert paper_command(parse(argv)) == 2


def test_violation_exits_1_with_the_replay_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With the bug restored, the run fails: exit 1, files kept, and one command replays the seed."""
    monkeypatch.setattr(command, "run_paper", functools.partial(run_paper, hook=release_on_cancel_send))
    config = tight_config(tmp_path)
    argv = ["paper", "--seed", "2", "--faults", "chaos", "--duration", "300", "--markets", "2",
            "--config", str(config)]  # fmt: skip
    assert paper_command(parse(argv)) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("FAIL: seed 2")
    replay = next(line for line in captured.err.splitlines() if line.startswith("replay:"))
    assert replay.split("replay:", 1)[1].strip() == (
        f"aqbot paper --speed max --seed 2 --faults chaos --markets 2 --duration 300 --config {config}"
    )
    kept = Path(
        next(line for line in captured.out.splitlines() if line.startswith("tape:")).split(":", 1)[1].strip()
    )
    assert kept.exists()
    shutil.rmtree(kept.parent)


def test_bad_configuration_exits_2_before_starting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One line naming the field; nothing is created."""
    config = tmp_path / "bad.toml"
    config.write_text("[limits]\nmax_position = -3\n")
    ledger = tmp_path / "l.sqlite3"
    assert paper_command(parse(["paper", "--config", str(config), "--ledger", str(ledger)])) == 2
    err = capsys.readouterr().err
    assert err == "aqbot paper: limits.max_position: must be > 0, got -3\n"
    assert not ledger.exists()
