"""The evidence behind the summary: tape replay (peaks, violations, FAILED reversals), ledger counts and
halt times, and fault schedules (JSON round trip, validation, firing)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import attrs
import pytest

from aqbot.core.pnl import PnlBook
from aqbot.core.snapshot import _CONV
from aqbot.io.ledger import LedgerStore
from aqbot.io.ledger_events import LedgerEvent
from aqbot.paper.schedule import FaultSchedule, PaperTransport, ScheduledFault
from aqbot.paper.summary import ledger_evidence, pnl_json, tape_evidence
from aqbot.sim.faults import OK, RestAction, WsAction
from aqbot.sim.tape import Tape

D = Decimal


def _fill(
    t: int, trade: str, side: str, size: str, owner: str = "bot", token: str = "Y", fee: str = "0"
) -> str:
    record = {"t": t, "type": "fill", "owner": owner, "token": token, "trade_id": trade}
    return json.dumps({**record, "side": side, "size": size, "fee": fee, "order_id": "o" + trade})


def test_tape_replay_finds_every_instant_above_the_limit() -> None:
    """Peaks, violations (after fills and reversals), FAILED reversals, other owners ignored."""
    lines = [
        json.dumps({"t": 0, "type": "header"}),
        _fill(1, "a", "BUY", "15"),
        _fill(2, "b", "BUY", "10"),  # 25 > 20: a violation
        _fill(2, "x", "BUY", "500", owner="someone-else"),
        json.dumps({"t": 3, "type": "trade_status", "trade_id": "b", "status": "FAILED"}),  # back to 15
        _fill(4, "c", "SELL", "5"),  # 10
        _fill(5, "d", "BUY", "10.5", fee="0.5"),  # taker fee in shares: 20 exactly (not a violation)
        json.dumps({"t": 6, "type": "fault", "fault": "ws_drop", "detail": {}}),
        json.dumps({"t": 7, "type": "order_rejected", "owner": "bot"}),
    ]
    ev = tape_evidence(lines, "bot", {"Y": D(20)})
    assert ev.fills == 4
    assert ev.fills_failed == 1
    assert ev.peak == {"Y": D(25)}
    assert ev.final == {"Y": D(20)}
    assert [(v.t_ms, v.position) for v in ev.violations] == [(2, D(25))]
    assert ev.faults == {"ws_drop": 1}
    assert ev.rejected == 1


def test_ledger_evidence_counts_and_halt_times(tmp_path: Path) -> None:
    """Places, rejections, halts per reason with their latched seconds (an open one runs to the end)."""
    path = tmp_path / "l.sqlite3"
    scope = {"kind": "global", "key": ""}
    events = [
        LedgerEvent.create("command.place", {"order_id": "a"}, mono_time=1.0),
        LedgerEvent.create("order.state", {"new": "REJECTED"}, mono_time=2.0),
        LedgerEvent.create("halt", {"reason": "MANUAL", "scope": scope}, mono_time=10.0),
        LedgerEvent.create("resume", {"reason": "MANUAL", "scope": scope}, mono_time=14.5),
        LedgerEvent.create("halt", {"reason": "MANUAL", "scope": scope}, mono_time=20.0),
        LedgerEvent.create("snapshot", {"state": {}}, mono_time=30.0),
    ]
    with LedgerStore.open(path, synchronous="NORMAL") as store:
        store.append_batch([attrs_seq(e, i + 1) for i, e in enumerate(events)])
    ev = ledger_evidence(path)
    assert (ev.events, ev.submitted, ev.rejected) == (6, 1, 1)
    assert ev.halts == {"MANUAL": {"count": 2, "seconds": 14.5}}
    assert ev.verify_problems == ()


def test_ledger_evidence_takes_the_pnl_of_the_last_snapshot(tmp_path: Path) -> None:
    """The summary's ``pnl`` is the core's PnL book in the ledger's last snapshot (an empty one before)."""
    old, last = PnlBook(), PnlBook()
    old.fill("111", D(10), D("0.5"))
    last.fill("111", D(10), D("0.40"))
    last.fill("111", D(-4), D("0.55"))  # realized +0.60
    last.mark("111", D("0.35"))  # 6 * 0.35 - 2.40 = -0.30
    last.roll(86_400 * 20_000 + 5)
    last.mark("111", D("0.30"))  # today -0.30
    path = tmp_path / "l.sqlite3"
    events = [
        LedgerEvent.create("snapshot", {"state": {"pnl": _CONV.unstructure(old, PnlBook)}}, mono_time=1.0),
        LedgerEvent.create("snapshot", {"state": {"pnl": _CONV.unstructure(last, PnlBook)}}, mono_time=2.0),
    ]
    with LedgerStore.open(path, synchronous="NORMAL") as store:
        store.append_batch([attrs_seq(e, i + 1) for i, e in enumerate(events)])
    summary = pnl_json(ledger_evidence(path).pnl)
    assert summary == {
        "realized": "0.600000",
        "unrealized": "-0.600000",
        "total": "0.000000",
        "daily": "-0.300000",
    }
    assert pnl_json(PnlBook())["daily"] is None


def attrs_seq(event: LedgerEvent, seq: int) -> LedgerEvent:
    return attrs.evolve(event, seq=seq)


def test_schedule_round_trip_and_validation() -> None:
    schedule = FaultSchedule((ScheduledFault(1.5, "rest", 2, "timeout_applied"),), (10.0, 3.0))
    again = FaultSchedule.from_json(schedule.to_json())
    assert again.faults == schedule.faults
    assert again.crashes == (3.0, 10.0)
    with pytest.raises(ValueError, match="invalid scheduled fault"):
        ScheduledFault(0, "user", 0, "timeout_applied")  # a REST kind on a WS target
    with pytest.raises(ValueError, match="not a fault schedule"):
        FaultSchedule.from_json('{"faults": [{"at": 1}]}')


class _Inner:
    def ws_action(self, channel: str, key: str, now_ms: int) -> WsAction:
        return WsAction("deliver")

    def rest_action(self, method: str, path: str, now_ms: int) -> RestAction:
        return OK


def test_scheduled_faults_fire_once_on_the_nth_message_after_their_time() -> None:
    tape = Tape()
    transport = PaperTransport(_Inner(), tape, 1_000, [ScheduledFault(2.0, "user", 1, "drop")])
    kinds = [transport.ws_action("user", "k", t).kind for t in (1_500, 3_000, 3_100, 3_200, 3_300)]
    assert kinds == ["deliver", "deliver", "drop", "deliver", "deliver"]
    assert transport.ws_action("market", "k", 3_400).kind == "deliver"
    assert tape.fault_counts == {"scheduled_user_drop": 1}
    transport.blackout = True
    assert transport.rest_action("POST", "/order", 4_000).kind == "timeout_not_applied"
    transport.blackout, transport.calm = False, True
    assert transport.rest_action("POST", "/order", 4_000) == OK
