"""``aqbot paper --speed realtime``: the simulator on loopback sockets, the bot against it in real time,
stopped by Ctrl-C (SIGINT) like ``make run``: orders cancelled and confirmed, ledger flushed, summary."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest
import trio
from e2e_helpers import ROOT, aqbot, ledger_rows, order_lives, poll

from aqbot.paper.summary import SUMMARY_FIELDS

pytestmark = pytest.mark.e2e


def _placed(ledger: Path) -> bool | None:
    return True if any(r.type == "command.place" for r in ledger_rows(ledger)) else None


async def test_ctrl_c_stops_cleanly_with_a_summary(tmp_path: Path) -> None:
    ledger, tape, summary = tmp_path / "ledger.sqlite3", tmp_path / "tape.jsonl", tmp_path / "summary.json"
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    argv = aqbot("paper", "--speed", "realtime", "--no-dashboard", "--markets", "1", "--seed", "5",
                 "--ledger", str(ledger), "--tape", str(tape), "--summary", str(summary))  # fmt: skip
    with trio.fail_after(180), out.open("wb") as stdout, err.open("wb") as stderr:
        proc = await trio.lowlevel.open_process(
            argv, cwd=ROOT, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL
        )
        try:
            await poll("a quote", lambda: _placed(ledger), limit=90)
            proc.send_signal(signal.SIGINT)
            code = await proc.wait()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    text = out.read_text()
    assert code == 0, text + err.read_text()
    assert text.startswith("PASS: seed 5")
    assert f"ledger:  {ledger}" in text
    assert f"report:  {tmp_path / 'report.html'}" in text  # the HTML compliance report was written
    assert (tmp_path / "report.html").stat().st_size > 1000
    data = json.loads(summary.read_text())
    assert set(data) == set(SUMMARY_FIELDS)
    assert data["final_state_matches_exchange"] is True
    assert data["orders_submitted"] >= 1
    assert data["wall_seconds"] >= data["simulated_seconds"] * 0.5  # real time, not a mock clock
    rows = ledger_rows(ledger)
    assert any(r.type == "shutdown" for r in rows)
    # Every order the bot placed has stopped resting on the exchange: cancelled and confirmed.
    lives = order_lives(tape, data["bot_owner"])
    assert lives
    assert all(life.end is not None for life in lives.values())
