"""``aqbot ledger``: every subcommand on a synthetic ledger with known answers and on a real run's ledger."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest
from _tools_helpers import ORDER_1, ORDER_2, T0, TOKEN_A, run_cli, synthetic_events, write_ledger

from aqbot.cli import build_parser
from aqbot.io.ledger import LedgerStore
from aqbot.io.ledger_events import LedgerEvent
from aqbot.tools.common import open_ledger
from aqbot.tools.ledger_cmd import follow_once


def _json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


def test_tail_default_table_and_json_filters(synth_ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["ledger", "tail", str(synth_ledger)], capsys)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["seq", "time", "type"]
    assert len(lines) == 1 + 20
    assert lines[-1].split()[2] == "shutdown"
    code, out, _ = run_cli(
        ["ledger", "tail", str(synth_ledger), "--json", "--type", "fill.*", "--limit", "2"], capsys
    )
    rows = _json_lines(out)
    assert [r["type"] for r in rows] == ["fill.trade", "fill.applied"]
    assert rows[-1]["payload"]["delta"] == "-4"  # type: ignore[index]
    assert rows[-1]["time"] == "2026-09-21T14:13:42.000Z"


def test_time_filters_accept_iso_and_unix(synth_ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    iso = ["--since", "2026-09-21T14:13:25Z", "--until", "2026-09-21T14:13:29"]
    unix = ["--since", str(T0 + 5), "--until", str(T0 + 9)]
    results = []
    for window in (iso, unix):
        code, out, _ = run_cli(
            ["ledger", "tail", str(synth_ledger), "--json", "--limit", "100", *window], capsys
        )
        assert code == 0
        results.append([r["seq"] for r in _json_lines(out)])
    assert results[0] == results[1]
    events = synthetic_events()
    expected = [i + 1 for i, e in enumerate(events) if T0 + 5 <= e.wall_time < T0 + 9]
    assert results[0] == expected == list(range(11, 16))


def test_orders_fills_gaps_halts(synth_ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["ledger", "orders", str(synth_ledger), "--json"], capsys)
    orders = {o["order_id"]: o for o in _json_lines(out)}
    assert code == 0
    assert orders[ORDER_1]["state"] == "CANCELED"
    assert orders[ORDER_1]["matched"] == "4"
    assert orders[ORDER_1]["price"] == "0.40"
    assert orders[ORDER_2]["reserved"] == "0"
    code, out, _ = run_cli(["ledger", "orders", str(synth_ledger), "--order", ORDER_2[:8], "--wide"], capsys)
    assert ORDER_2 in out
    assert ORDER_1 not in out
    code, out, _ = run_cli(["ledger", "fills", str(synth_ledger), "--json", "--token", TOKEN_A[:10]], capsys)
    fills = _json_lines(out)
    assert [(f["side"], f["delta"], f["price"]) for f in fills] == [
        ("BUY", "4", "0.40"),
        ("SELL", "-4", "0.50"),
    ]
    code, out, _ = run_cli(["ledger", "gaps", str(synth_ledger), "--json"], capsys)
    gaps = _json_lines(out)
    assert [(g["gap_id"], g["channel"], g["reason"], g["reconcile_id"]) for g in gaps] == [
        ("2", "user", "disconnect", "2")
    ]
    code, out, _ = run_cli(["ledger", "gaps", str(synth_ledger), "--unresolved"], capsys)
    assert out.splitlines()[1:] == []
    code, out, _ = run_cli(["ledger", "halts", str(synth_ledger)], capsys)
    lines = out.splitlines()
    assert lines[1].startswith("WS_GAP_UNRESOLVED")
    assert "3.0s" in lines[1]
    assert lines[2].startswith("MANUAL")
    assert "still latched" in lines[2]


def test_verify_ok_on_synthetic_and_real_ledgers(
    synth_ledger: Path, real_run_ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for path in (synth_ledger, real_run_ledger):
        code, out, err = run_cli(["ledger", "verify", str(path)], capsys)
        assert (code, err) == (0, ""), out
        assert "ok: structure" in out
        assert "ok: replay of the facts reproduces all" in out
    code, out, _ = run_cli(["ledger", "verify", str(real_run_ledger), "--json"], capsys)
    result = json.loads(out)
    assert result["ok"] is True
    assert result["snapshots_checked"] >= 5


def test_verify_fails_on_a_replay_mismatch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Drop one fact (the 4-share fill) from the ledger: the next snapshot no longer agrees with replay."""
    events = [e for e in synthetic_events() if not (e.type == "fill.applied" and e.payload["delta"] == "4")]
    path = write_ledger(tmp_path / "lost-fill.sqlite3", events)
    code, out, _ = run_cli(["ledger", "verify", str(path)], capsys)
    assert code == 1
    assert "FAIL: replay" in out
    assert "snapshot held of token 1111111111" in out
    assert "is 4, replaying the facts gives 0" in out


def test_verify_fails_on_missing_trigger_and_hole(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_ledger(tmp_path / "tampered.sqlite3", synthetic_events())
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER events_no_delete")
    conn.execute("DELETE FROM events WHERE seq = 5")
    conn.commit()
    conn.close()
    code, out, _ = run_cli(["ledger", "verify", str(path)], capsys)
    assert code == 1
    assert "trigger events_no_delete is missing" in out
    assert "first missing: 5" in out


def test_verify_reports_an_unparsable_payload(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_ledger(tmp_path / "bad-payload.sqlite3", synthetic_events()[:3])
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute("UPDATE events SET payload = '[1, 2]' WHERE seq = 2")
    conn.commit()
    conn.close()
    code, out, _ = run_cli(["ledger", "verify", str(path)], capsys)
    assert code == 1
    assert "payload is not a JSON object at seq 2" in out
    assert "FAIL: replay could not run" in out


def test_export_jsonl_and_csv_round_trip(
    synth_ledger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jsonl, table = tmp_path / "out.jsonl", tmp_path / "out.csv"
    assert run_cli(["ledger", "export", str(synth_ledger), "--out", str(jsonl)], capsys)[0] == 0
    assert (
        run_cli(
            ["ledger", "export", str(synth_ledger), "--out", str(table), "--type", "reservation"], capsys
        )[0]
        == 0
    )
    rows = _json_lines(jsonl.read_text())
    assert [r["seq"] for r in rows] == list(range(1, len(synthetic_events()) + 1))
    assert rows[1]["payload"] == dict(synthetic_events()[1].payload)
    with table.open(newline="") as f:
        records = list(csv.DictReader(f))
    assert {r["type"] for r in records} == {"reservation"}
    assert json.loads(records[0]["payload"])["remaining"] == "10"
    code, _, err = run_cli(["ledger", "export", str(synth_ledger), "--out", str(table)], capsys)
    assert code == 2
    assert "exists; pass --force" in err
    assert run_cli(["ledger", "export", str(synth_ledger), "--out", str(table), "--force"], capsys)[0] == 0


def test_a_real_run_has_orders_and_fills(real_run_ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["ledger", "orders", str(real_run_ledger), "--json"], capsys)
    orders = _json_lines(out)
    assert code == 0
    assert len(orders) > 5
    assert all(o["state"] in {"CANCELED", "FILLED", "REJECTED", "EXPIRED", "UNKNOWN"} for o in orders), (
        "the bot shut down gracefully: nothing live is left"
    )


def test_events_written_by_the_store_api_read_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    event = LedgerEvent(type="defect", payload={"what": "x", "detail": "y"}, wall_time=T0, mono_time=1.0)
    path = write_ledger(tmp_path / "one.sqlite3", [event])
    code, out, _ = run_cli(["ledger", "tail", str(path), "--json"], capsys)
    assert code == 0
    assert _json_lines(out)[0]["payload"] == {"what": "x", "detail": "y"}


def test_verify_fails_on_corrupted_pages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A ledger whose header and schema read fine but whose event pages are garbage: FAIL, exit 1."""
    events = [
        LedgerEvent(
            type="ws.user.raw", payload={"local_seq": i, "text": "x" * 200}, wall_time=T0 + i, mono_time=i
        )
        for i in range(3000)
    ]
    path = write_ledger(tmp_path / "big.sqlite3", events)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 8192] = b"\xab" * 8192
    path.write_bytes(bytes(data))
    code, out, err = run_cli(["ledger", "verify", str(path)], capsys)
    assert (code, err) == (1, "")
    assert "FAIL: structure" in out
    assert "database disk image is malformed" in out
    assert "FAIL: replay could not run" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.sqlite3"]


def test_reads_a_ledger_while_it_is_being_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The tools read a ledger that a writer holds open (WAL, read-only connection), seeing each commit."""
    events = synthetic_events()
    path = tmp_path / "live.sqlite3"
    with LedgerStore.open(path, synchronous="NORMAL") as writer:
        writer.append_batch(events[:10])
        code, out, _ = run_cli(["ledger", "tail", str(path), "--json", "--limit", "100"], capsys)
        assert code == 0
        assert [r["seq"] for r in _json_lines(out)] == list(range(1, 11))
        writer.append_batch(events[10:])
        code, out, _ = run_cli(["ledger", "verify", str(path)], capsys)
        assert code == 0, out
        assert f"{len(events)} event(s)" in out
        writer.append_batch(events[:1])  # still writable: the readers took no lock that outlived them
    assert sorted(p.name for p in tmp_path.iterdir())[0] == "live.sqlite3"


def test_follow_prints_only_new_matching_events(tmp_path: Path) -> None:
    """``tail --follow`` polls with ``follow_once``: each poll prints what was appended since the last one."""
    events = synthetic_events()
    path = tmp_path / "live.sqlite3"
    parser = build_parser()
    args = parser.parse_args(["ledger", "tail", str(path), "--follow", "--json", "--type", "reservation"])
    with LedgerStore.open(path, synchronous="NORMAL") as writer:
        writer.append_batch(events[:10])
        with open_ledger(path, follow=True) as reader:
            out = io.StringIO()
            last = follow_once(reader, args, out, 0)
            assert last == 10
            assert [r["seq"] for r in _json_lines(out.getvalue())] == [2, 8]
            assert follow_once(reader, args, io.StringIO(), last) == 10, "nothing new"
            writer.append_batch(events[10:])
            out = io.StringIO()
            last = follow_once(reader, args, out, last)
            assert last == len(events)
            rows = _json_lines(out.getvalue())
            assert rows
            assert all(r["type"] == "reservation" and r["seq"] > 10 for r in rows)
