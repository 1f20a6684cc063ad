"""The synchronous ledger store: append-only triggers, gaps, queries, replay, verify()."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import attrs
import pytest

from aqbot.errors import LedgerError
from aqbot.io import ledger as ledger_mod
from aqbot.io.ledger import LedgerStore
from aqbot.io.ledger_child import INSERT_ROWS as CHILD_INSERT_ROWS
from aqbot.io.ledger_events import (
    EVENT_TYPES,
    LedgerEvent,
    decode_payload,
    encode_payload,
    gap_close,
    gap_open,
    gap_resolve,
)
from aqbot.io.ledger_schema import LANDMARK_TERM, LANDMARK_TYPES
from aqbot.io.ws_replay import SNAPSHOT_TYPE, WATERMARK_TYPE
from aqbot.secrets import Secret

TOKEN = "7" * 77
ORDER = "0x" + "ab" * 32


def ev(type_: str = "fill.applied", i: int = 0, **kw: object) -> LedgerEvent:
    return LedgerEvent(type=type_, payload={"i": i, "size": Decimal("1.50")}, mono_time=float(i), **kw)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LedgerStore]:
    s = LedgerStore.open(tmp_path / "ledger.sqlite3")
    yield s
    s.close()


def test_append_assigns_contiguous_seq_and_roundtrips(store: LedgerStore) -> None:
    assert store.last_seq() == 0
    assert store.append_batch([ev(i=0), ev(i=1)]) == 2
    assert store.append_batch([ev(i=2)]) == 3
    events = list(store.iter_events())
    assert [e.seq for e in events] == [1, 2, 3]
    assert events[0].payload == {"i": 0, "size": "1.50"}  # Decimal kept exactly, as text
    assert events[2].mono_time == 2.0


def test_wal_mode_and_synchronous(tmp_path: Path) -> None:
    full = LedgerStore.open(tmp_path / "a.db")
    normal = LedgerStore.open(tmp_path / "b.db", synchronous="NORMAL")
    assert full._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert full._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert normal._conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    full.close()
    normal.close()


def test_new_ledgers_use_large_pages_and_old_ones_keep_theirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    new = LedgerStore.open(tmp_path / "new.db")
    assert new._conn.execute("PRAGMA page_size").fetchone()[0] == ledger_mod.PAGE_SIZE == 16384
    new.close()
    monkeypatch.setattr(ledger_mod, "PAGE_SIZE", 4096)  # a ledger created before the larger pages
    old = LedgerStore.open(tmp_path / "old.db")
    old.append_batch([ev(i=0)])
    old.close()
    monkeypatch.undo()
    reopened = LedgerStore.open(tmp_path / "old.db")
    assert reopened._conn.execute("PRAGMA page_size").fetchone()[0] == 4096  # never rewritten
    assert reopened.append_batch([ev(i=1)]) == 2
    assert [e.payload["i"] for e in reopened.iter_events()] == [0, 1]
    assert reopened.verify().ok
    reopened.close()


# The schema of ledgers created before session 4: four more indexes, none of which the bot or its tools
# used (aqbot.io.ledger_schema).
OLD_INDEXES = """
CREATE INDEX events_by_token ON events(token, seq) WHERE token IS NOT NULL;
CREATE INDEX events_by_order ON events(order_id, seq) WHERE order_id IS NOT NULL;
CREATE INDEX events_by_trade ON events(trade_id, seq) WHERE trade_id IS NOT NULL;
CREATE INDEX events_by_wall_time ON events(wall_time);
"""
# Sessions 4 and 5 indexed every row by type; new ledgers index the landmark rows only.
LANDMARK_INDEX = f"CREATE INDEX events_by_landmark ON events(type, seq) WHERE {LANDMARK_TERM};"
TYPE_INDEX = "CREATE INDEX events_by_type ON events(type, seq);"


def _indexes(store: LedgerStore) -> list[str]:
    sql = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' AND sql IS NOT NULL"
    return sorted(r[0] for r in store._conn.execute(sql))


def _plan(store: LedgerStore, sql: str, *params: object) -> str:
    return " ".join(str(r[-1]) for r in store._conn.execute("EXPLAIN QUERY PLAN " + sql, params))


def _old_schema(monkeypatch: pytest.MonkeyPatch, extra: str = "") -> None:
    """New stores get the schema of a ledger created in sessions 4-5 (plus ``extra``)."""
    schema = ledger_mod.SCHEMA
    assert LANDMARK_INDEX in schema
    assert "events_by_order" not in schema
    assert "events_by_type" not in schema
    monkeypatch.setattr(ledger_mod, "SCHEMA", schema.replace(LANDMARK_INDEX, TYPE_INDEX) + extra)


def test_new_ledgers_have_one_index_and_old_ones_keep_theirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    new = LedgerStore.open(tmp_path / "new.db")
    assert _indexes(new) == ["events_by_landmark"]
    new.close()
    _old_schema(monkeypatch, OLD_INDEXES)  # a ledger created before session 4
    old = LedgerStore.open(tmp_path / "old.db")
    old.append_batch([LedgerEvent(type="command.place", token=TOKEN, order_id=ORDER, wall_time=100.0)])
    old.close()
    monkeypatch.undo()
    reopened = LedgerStore.open(tmp_path / "old.db")
    assert _indexes(reopened) == [
        "events_by_order", "events_by_token", "events_by_trade", "events_by_type", "events_by_wall_time"
    ]  # fmt: skip
    reopened.append_batch([LedgerEvent(type="fill.applied", token=TOKEN, order_id=ORDER, trade_id="t1")])
    assert [e.seq for e in reopened.query(order_id=ORDER)] == [1, 2]
    assert reopened.latest("fill.applied") is not None
    assert reopened.verify().ok
    reopened.close()


def test_the_landmark_index_holds_landmark_rows_only(store: LedgerStore) -> None:
    assert {SNAPSHOT_TYPE, WATERMARK_TYPE, "gap.open"} == LANDMARK_TYPES
    assert EVENT_TYPES.keys() >= LANDMARK_TYPES
    sql = "SELECT sql FROM sqlite_master WHERE name = 'events_by_landmark'"
    assert store._conn.execute(sql).fetchone()[0] == LANDMARK_INDEX.rstrip(";")  # partial: WHERE the term
    store.append_batch(
        [ev("ws.user.raw", 0), ev("snapshot", 1), ev("fill.applied", 2), ev(WATERMARK_TYPE, 3)]
    )
    rows = "SELECT type, seq FROM events INDEXED BY events_by_landmark WHERE " + LANDMARK_TERM
    assert sorted(store._conn.execute(rows)) == [("reconcile.watermark", 4), ("snapshot", 2)]


@pytest.mark.parametrize("created", ["new", "sessions 4-5"])
def test_latest_reads_the_newest_event_of_a_type(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, created: str
) -> None:
    if created != "new":
        _old_schema(monkeypatch)
    store = LedgerStore.open(tmp_path / "ledger.db")
    monkeypatch.undo()
    assert store.latest("snapshot") is None
    store.append_batch([ev("snapshot", 0), ev("fill.applied", 1), ev("snapshot", 2), ev("halt", 3)])
    newest = store.latest("snapshot")
    assert newest is not None
    assert (newest.seq, newest.payload["i"]) == (3, 2)
    fill = store.latest("fill.applied")  # not a landmark: a scan back from the newest row
    assert fill is not None
    assert (fill.seq, fill.payload["i"]) == (2, 1)
    assert store.latest("order.state") is None
    index = "events_by_landmark" if created == "new" else "events_by_type"
    landmark = f"SELECT seq FROM events WHERE type = ? AND {LANDMARK_TERM} ORDER BY seq DESC LIMIT 1"
    assert f"INDEX {index} (type=?)" in _plan(store, landmark, SNAPSHOT_TYPE)  # one probe, no scan
    gap_check = "SELECT seq FROM events WHERE type = 'gap.open' AND " + LANDMARK_TERM  # ledger verify's
    assert index in _plan(store, gap_check)
    store.close()


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE events SET type = 'halt' WHERE seq = 1",
        "UPDATE events SET payload = '{}'",
        "DELETE FROM events WHERE seq = 1",
        "DELETE FROM events",
    ],
)
def test_events_reject_update_and_delete(store: LedgerStore, sql: str) -> None:
    store.append_batch([ev(i=0), ev(i=1)])
    other = sqlite3.connect(store.path)  # a second, unrelated connection is refused too
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        other.execute(sql)
    other.close()
    assert [e.payload["i"] for e in store.iter_events()] == [0, 1]


def test_gaps_table_follows_gap_events(store: LedgerStore) -> None:
    store.append_batch(
        [gap_open(7, "user", "disconnect", mono_time=1.0), gap_open("m1", "market", "pong", mono_time=2)]
    )
    store.append_batch([gap_close(7, mono_time=3.0), gap_close(7, mono_time=4.0)])  # a repeat is a no-op
    store.append_batch([gap_resolve(7, "rec-1", mono_time=5.0)])
    rows = {g.id: g for g in store.gaps()}
    assert rows["7"].channel == "user"
    assert (rows["7"].open_seq, rows["7"].closed_seq, rows["7"].resolved_seq) == (1, 3, 5)
    assert rows["7"].resolved_by_reconcile_id == "rec-1"
    assert rows["m1"].closed_seq is None
    assert [g.id for g in store.gaps(unresolved_only=True)] == ["m1"]
    assert store.verify().ok


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM gaps",
        "UPDATE gaps SET reason = 'other'",
        "UPDATE gaps SET closed_at = 0, closed_seq = 99 WHERE id = '7'",  # already closed
        "UPDATE gaps SET resolved_by_reconcile_id = 'x' WHERE id = '7'",  # already resolved
    ],
)
def test_gaps_rows_are_never_deleted_or_rewritten(store: LedgerStore, sql: str) -> None:
    store.append_batch([gap_open(7, "user", "disconnect", mono_time=1), gap_close(7, mono_time=2)])
    store.append_batch([gap_resolve(7, "r", mono_time=3)])
    with pytest.raises(sqlite3.IntegrityError, match="gaps rows"):
        store._conn.execute(sql)


def test_queries_by_type_token_order_trade_and_range(store: LedgerStore) -> None:
    store.append_batch(
        [
            LedgerEvent(type="command.place", token=TOKEN, order_id=ORDER, wall_time=100.0),
            LedgerEvent(type="fill.applied", token=TOKEN, order_id=ORDER, trade_id="t1", wall_time=101.0),
            LedgerEvent(type="fill.applied", token="5", order_id="0x01", trade_id="t2", wall_time=102.0),
            LedgerEvent(type="halt", payload={"reason": "MANUAL"}, wall_time=103.0),
        ]
    )
    assert [e.seq for e in store.query(type="fill.applied")] == [2, 3]
    assert [e.seq for e in store.query(token=TOKEN)] == [1, 2]
    assert [e.seq for e in store.query(order_id=ORDER, type="fill.applied")] == [2]
    assert [e.seq for e in store.query(trade_id="t2")] == [3]
    assert [e.seq for e in store.query(wall_from=101.0, wall_to=103.0)] == [2, 3]
    assert [e.seq for e in store.query(from_seq=2, limit=2)] == [2, 3]
    assert store.query(type="resume") == []


def test_replay_iterates_in_chunks_from_any_seq(store: LedgerStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger_mod, "ITER_CHUNK", 7)
    store.append_batch([ev(i=i) for i in range(30)])
    assert [e.seq for e in store.iter_events()] == list(range(1, 31))
    assert [e.payload["i"] for e in store.iter_events(from_seq=14)] == list(range(13, 30))
    assert list(store.iter_events(from_seq=31)) == []


@pytest.mark.parametrize(
    ("size", "per_insert", "chosen"),
    [(1, 2048, False), (255, 2048, False), (257, 2048, False), (2100, 2048, False), (23, 4, False),
     (23, 5, False), (300, CHILD_INSERT_ROWS, True), (23, 5, True)],
)  # fmt: skip
def test_large_batches_store_every_row_exactly_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int, per_insert: int, chosen: bool
) -> None:
    """Batched INSERTs (INSERT_ROWS rows per statement, or the store's own ``insert_rows`` as the writer's
    child opens it with; the last statement padded) store exactly the rows given."""
    if chosen:
        open_store = functools.partial(LedgerStore.open, insert_rows=per_insert)
    else:
        monkeypatch.setattr(ledger_mod, "INSERT_ROWS", per_insert)
        open_store = LedgerStore.open

    def row(i: int) -> LedgerEvent:
        return LedgerEvent(
            type="gap.open" if i == size // 2 else "fill.applied",
            payload={"i": i, "gap_id": i, "channel": "user", "reason": "r", "text": "é\"" * (i % 5)},
            token=TOKEN if i % 2 else None, order_id=ORDER if i % 3 else None,
            trade_id=f"t{i}" if i % 5 else None, mono_time=i / 7, wall_time=1.7e9 + i / 3,
        )  # fmt: skip

    events = [row(i) for i in range(size)]
    with open_store(tmp_path / "many.db") as store:
        assert store._rows_per_insert == 1 << (per_insert.bit_length() - 1)  # 5 acts as 4 (a power of two)
        assert store.append_batch(events[:1]) == 1
        assert store.append_batch(events[1:]) == size
        stored = list(store.iter_events())
        assert store.verify().ok
        assert [g.open_seq for g in store.gaps()] == [size // 2 + 1]
    assert stored == [attrs.evolve(e, seq=i + 1, payload=decode_payload(encode_payload(e.payload)))
                      for i, e in enumerate(events)]  # fmt: skip


def test_retrying_a_landed_batch_is_idempotent_and_holes_are_refused(store: LedgerStore) -> None:
    batch = [LedgerEvent(type="halt", seq=1), LedgerEvent(type="resume", seq=2)]
    assert store.append_batch(batch) == 2
    assert store.append_batch([*batch, LedgerEvent(type="halt", seq=3)]) == 3  # 1, 2 skipped
    assert [e.type for e in store.iter_events()] == ["halt", "resume", "halt"]
    with pytest.raises(LedgerError, match="hole"):
        store.append_batch([LedgerEvent(type="halt", seq=5)])
    assert store.last_seq() == 3


def test_verify_catches_a_hole_and_a_dropped_trigger(tmp_path: Path) -> None:
    path = tmp_path / "holey.db"
    with LedgerStore.open(path) as store:
        store.append_batch([ev(i=i) for i in range(6)])
        assert store.verify().ok
    raw = sqlite3.connect(path)
    raw.execute("DROP TRIGGER events_no_delete")
    raw.execute("DELETE FROM events WHERE seq IN (3, 4)")
    raw.commit()
    raw.close()
    with LedgerStore.open(path) as store:
        report = store.verify()
    assert not report.ok
    assert report.event_count == 4
    assert any("2 missing value(s), first missing: 3" in p for p in report.problems)
    assert any("events_no_delete is missing" in p for p in report.problems)


def test_verify_catches_missing_head_neutered_trigger_and_bad_payload(tmp_path: Path) -> None:
    path = tmp_path / "bad.db"
    with LedgerStore.open(path) as store:
        store.append_batch([ev(i=i) for i in range(3)])
    raw = sqlite3.connect(path)
    raw.execute("DROP TRIGGER events_no_update")
    raw.execute("CREATE TRIGGER events_no_update BEFORE UPDATE ON events BEGIN SELECT 1; END")
    raw.execute("DROP TRIGGER events_no_delete")
    raw.execute("DELETE FROM events WHERE seq = 1")
    raw.execute("PRAGMA ignore_check_constraints = ON")
    raw.execute("INSERT INTO events VALUES (4, 0, 0, 'Bad Type', NULL, NULL, NULL, '[1]')")
    raw.commit()
    raw.close()
    with LedgerStore.open(path) as store:
        problems = store.verify().problems
    assert any("seq starts at 2" in p for p in problems)
    assert any("events_no_update does not abort" in p for p in problems)
    assert any("not a JSON object at seq 4" in p for p in problems)
    assert any("malformed event type at seq 4" in p for p in problems)


def test_verify_reports_unknown_types_without_failing(store: LedgerStore) -> None:
    store.append_batch([LedgerEvent(type="experiment.new_kind"), LedgerEvent(type="startup")])
    report = store.verify()
    assert report.ok
    assert report.unknown_types == ("experiment.new_kind",)


def test_reopen_keeps_events_and_refuses_foreign_or_newer_databases(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    with LedgerStore.open(path) as store:
        store.append_batch([ev(i=1)])
    with LedgerStore.open(path) as store:
        assert store.last_seq() == 1
        assert store.meta()["schema_version"] == "1"
        store._conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(LedgerError, match="schema version 99"):
        LedgerStore.open(path)
    foreign = tmp_path / "foreign.db"
    raw = sqlite3.connect(foreign)
    raw.execute("CREATE TABLE t(x)")
    raw.close()
    with pytest.raises(LedgerError, match="not an aqbot ledger"):
        LedgerStore.open(foreign)
    with pytest.raises(LedgerError, match="cannot open"):
        LedgerStore.open(tmp_path / "missing-dir" / "x.db")


def test_read_only_store_reads_but_refuses_writes(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    with LedgerStore.open(path) as store:
        store.append_batch([ev(i=1)])
    with LedgerStore.open(path, read_only=True) as ro:
        assert ro.last_seq() == 1
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            ro.append_batch([ev(i=2)])


def test_payload_encoding_never_writes_a_secret_and_keeps_decimals() -> None:
    text = encode_payload({"key": Secret("0x" + "1" * 64), "price": Decimal("0.570"), "ids": {"b", "a"}})
    assert "1111" not in text
    assert decode_payload(text) == {"ids": ["a", "b"], "key": "***", "price": "0.570"}
    assert decode_payload('{"x": 0.5}') == {"x": Decimal("0.5")}
    with pytest.raises(TypeError):
        encode_payload({"x": object()})
    with pytest.raises(ValueError, match="not a JSON object"):
        decode_payload("[1]")


def test_payload_encoding_recovers_after_a_failure() -> None:
    """The reused C encoder forgets the containers of a failed call (else: a false circular reference)."""
    outer: dict[str, object] = {"a": [1], "b": object()}
    with pytest.raises(TypeError):
        encode_payload(outer)
    del outer["b"]
    assert encode_payload(outer) == '{"a":[1]}'
    loop: dict[str, object] = {}
    loop["self"] = loop
    with pytest.raises(ValueError, match="Circular reference"):
        encode_payload(loop)
    assert encode_payload({"x": {"y": Decimal("1.0")}}) == '{"x":{"y":"1.0"}}'


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"type": "Fill Applied"}, "dotted lower-case"),
        ({"type": "halt\n"}, "dotted lower-case"),
        ({"type": "gap.open", "payload": {"gap_id": 1}}, "needs payload key 'channel'"),
        ({"type": "gap.resolve", "payload": {"gap_id": 1}}, "needs payload key 'reconcile_id'"),
    ],
)
def test_event_validation(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        LedgerEvent(**kwargs)  # type: ignore[arg-type]


def test_verify_catches_gaps_that_disagree_with_gap_events(tmp_path: Path) -> None:
    path = tmp_path / "gaps.db"
    with LedgerStore.open(path) as store:
        store.append_batch(
            [gap_open(1, "user", "disconnect", mono_time=0), gap_open(2, "user", "pong", mono_time=1)]
        )
    raw = sqlite3.connect(path)
    raw.execute("DROP TRIGGER gaps_no_delete")
    raw.execute("DELETE FROM gaps WHERE id = '1'")
    raw.execute("INSERT INTO gaps(id, channel, reason, opened_at, open_seq) VALUES ('9', 'user', 'x', 0, 77)")
    raw.commit()
    raw.close()
    with LedgerStore.open(path) as store:
        problems = store.verify().problems
    assert "gap.open without a gaps row at seq 1" in problems
    assert "gaps rows without their gap.open event: 9" in problems
    assert any("gaps_no_delete is missing" in p for p in problems)
