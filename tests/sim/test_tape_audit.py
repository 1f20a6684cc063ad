"""The reference tape auditor agrees with the engine's own ground truth, and flags limit breaches."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aqbot.sim.audit import audit, main
from aqbot.sim.faults import profile
from aqbot.sim.testkit import make_engine, run_scenario
from aqbot.sim.units import ONE


def test_audit_matches_true_and_max_positions_under_chaos() -> None:
    engine, quoters = run_scenario(21, profile("chaos"), 10 * 60_000, n_markets=2)
    report = audit(engine.tape.lines)
    assert report.seed == 21
    assert report.profile == "chaos"
    assert report.faults == dict(engine.tape.fault_counts)
    assert report.statuses.get("FAILED", 0) == sum(t.status == "FAILED" for t in engine.trades.values())
    for q in quoters:
        for token in (q.market.yes_token, q.market.no_token):
            a = report.tokens.get((q.trader.owner, token))
            assert a is not None
            assert a.position == engine.true_position(q.trader.owner, token)
            assert a.peak == engine.max_position_seen(q.trader.owner, token)


def test_audit_counts_starting_tokens_and_breaches() -> None:
    engine, (m,), (a, b) = make_engine(seed=3)
    engine.add_account(
        type(a.account)(
            owner="holder", address="0x" + "11" * 20, signer="0x" + "11" * 20, tokens={m.yes_token: 7 * ONE}
        )
    )
    a.limit(m.yes_token, "BUY", "0.40", "10")
    b.limit(m.no_token, "BUY", "0.60", "10")
    report = audit(engine.tape.lines)
    assert report.tokens[("holder", m.yes_token)].position == 7 * ONE
    assert report.tokens[(a.owner, m.yes_token)].position == 10 * ONE
    assert set(report.breaches(9 * ONE)) == {
        (a.owner, m.yes_token, 10 * ONE),
        (b.owner, m.no_token, 10 * ONE),
    }
    assert report.breaches(9 * ONE, owner="holder") == []


def test_cli_reports_and_exits_on_breach(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    engine, (m,), (a, b) = make_engine(seed=4)
    a.limit(m.yes_token, "BUY", "0.40", "10")
    b.limit(m.no_token, "BUY", "0.60", "10")
    tape = tmp_path / "run.jsonl"
    tape.write_bytes(engine.tape.getbytes())
    assert main([str(tape), "--owner", a.owner, "--limit", "10"]) == 0
    assert json.loads(capsys.readouterr().out)["breaches"] == []
    assert main([str(tape), "--owner", a.owner, "--limit", "9.99"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["breaches"] == [{"owner": a.owner, "token": m.yes_token, "peak": "10"}]


def test_audit_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="not a tape record"):
        audit(['{"x": 1}'])
