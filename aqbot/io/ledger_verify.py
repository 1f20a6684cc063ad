"""``verify``: the structural checks of a ledger database (``aqbot ledger verify`` builds on it).

Checks, each reported as one line in :attr:`VerifyReport.problems`:

* the schema version in ``meta`` is the one this aqbot reads;
* the append-only triggers exist and still abort (a trigger replaced by a no-op is caught);
* ``seq`` starts at 1 and has no hole;
* every payload is a JSON object and every ``type`` a dotted lower-case name;
* ``gaps`` agrees with the ``gap.*`` events (every opened gap has its row, every row its event).

Types outside :data:`aqbot.io.ledger_events.EVENT_TYPES` are listed in ``unknown_types`` (a warning,
not a problem). Whether replay reproduces the recorded state is the runtime's check, not this one.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Sequence
from typing import Any

import attrs

from aqbot.io.ledger_events import EVENT_TYPES
from aqbot.io.ledger_schema import LANDMARK_TERM

# Stop listing problems of one kind after this many (a broken ledger can have millions).
MAX_LISTED = 10
SCHEMA_VERSION = 1
_TRIGGERS = ("events_no_update", "events_no_delete", "gaps_no_delete", "gaps_guard_update")
_TYPE_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")


@attrs.frozen
class VerifyReport:
    """What :func:`verify_connection` found. ``ok`` when ``problems`` is empty."""

    problems: tuple[str, ...]
    event_count: int
    last_seq: int
    unknown_types: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


def _check_meta(conn: sqlite3.Connection, problems: list[str]) -> None:
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.Error as exc:
        problems.append(f"meta table unreadable ({exc})")
        return
    if row is None or row[0] != str(SCHEMA_VERSION):
        problems.append(f"schema_version is {row[0] if row else 'missing'}, expected {SCHEMA_VERSION}")


def _check_triggers(conn: sqlite3.Connection, problems: list[str]) -> None:
    found = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall())
    for name in _TRIGGERS:
        sql = found.get(name)
        if sql is None:
            problems.append(f"trigger {name} is missing: the append-only guarantee is not enforced")
        elif "RAISE(ABORT" not in sql.upper().replace(" ", ""):
            problems.append(f"trigger {name} does not abort: the append-only guarantee is not enforced")


def _check_seq(conn: sqlite3.Connection, problems: list[str]) -> tuple[int, int]:
    count, first, last = conn.execute(
        "SELECT count(*), min(seq), coalesce(max(seq), 0) FROM events"
    ).fetchone()
    if count and first != 1:
        problems.append(f"seq starts at {first}, not 1: events 1..{first - 1} are missing")
    if count and count != last - first + 1:
        holes = conn.execute(
            "SELECT seq + 1 FROM events e WHERE seq < ? AND NOT EXISTS "
            "(SELECT 1 FROM events n WHERE n.seq = e.seq + 1) ORDER BY seq LIMIT ?",
            (last, MAX_LISTED),
        ).fetchall()
        listed = ", ".join(str(h[0]) for h in holes)
        problems.append(f"seq has {last - first + 1 - count} missing value(s), first missing: {listed}")
    return int(count), int(last)


def _check_rows(conn: sqlite3.Connection, problems: list[str]) -> tuple[str, ...]:
    bad_json: list[int] = []
    bad_type: list[int] = []
    unknown: set[str] = set()
    for seq, type_, payload in conn.execute("SELECT seq, type, payload FROM events ORDER BY seq"):
        try:
            ok = isinstance(json.loads(payload), dict)
        except (ValueError, TypeError):
            ok = False
        if not ok and len(bad_json) < MAX_LISTED:
            bad_json.append(seq)
        if not isinstance(type_, str) or not _TYPE_NAME.fullmatch(type_):
            if len(bad_type) < MAX_LISTED:
                bad_type.append(seq)
        elif type_ not in EVENT_TYPES:
            unknown.add(type_)
    if bad_json:
        problems.append(f"payload is not a JSON object at seq {', '.join(map(str, bad_json))}")
    if bad_type:
        problems.append(f"malformed event type at seq {', '.join(map(str, bad_type))}")
    return tuple(sorted(unknown))


def _check_gaps(conn: sqlite3.Connection, problems: list[str]) -> None:
    missing_rows = conn.execute(
        f"SELECT seq FROM events e WHERE type = 'gap.open' AND {LANDMARK_TERM} AND NOT EXISTS "
        "(SELECT 1 FROM gaps g WHERE g.open_seq = e.seq) AND NOT EXISTS "
        "(SELECT 1 FROM gaps g WHERE g.id = json_extract(e.payload, '$.gap_id')) LIMIT ?",
        (MAX_LISTED,),
    ).fetchall()
    if missing_rows:
        problems.append(f"gap.open without a gaps row at seq {', '.join(str(r[0]) for r in missing_rows)}")
    orphans = conn.execute(
        "SELECT id FROM gaps g WHERE NOT EXISTS "
        "(SELECT 1 FROM events e WHERE e.seq = g.open_seq AND e.type = 'gap.open') LIMIT ?",
        (MAX_LISTED,),
    ).fetchall()
    if orphans:
        problems.append(f"gaps rows without their gap.open event: {', '.join(str(r[0]) for r in orphans)}")


def first_other_row(conn: sqlite3.Connection, rows: Sequence[Sequence[Any]]) -> int | None:
    """The first ``seq`` of ``rows`` (numbered, in order, payload encoded: a batch retried after its COMMIT
    landed, whose rows the store skips) under which the ledger holds another row (times, type or payload
    differ: another writer numbered the same seqs), or None when each is the row stored."""
    have = {
        r[0]: r[1:]
        for r in conn.execute(
            "SELECT seq, wall_time, mono_time, type, payload FROM events WHERE seq BETWEEN ? AND ?",
            (rows[0][0], rows[-1][0]),
        )
    }
    for seq, wall, mono, type_, *_keys, payload in rows:
        text = payload if isinstance(payload, str) else bytes(payload).decode()
        if have.get(seq) != (wall, mono, type_, text):
            return int(seq)
    return None


def verify_connection(conn: sqlite3.Connection) -> VerifyReport:
    """Run every check on an open ledger connection (read-only queries only)."""
    problems: list[str] = []
    _check_meta(conn, problems)
    _check_triggers(conn, problems)
    try:
        count, last = _check_seq(conn, problems)
        unknown = _check_rows(conn, problems)
        _check_gaps(conn, problems)
    except sqlite3.Error as exc:
        problems.append(f"events or gaps unreadable ({exc})")
        return VerifyReport(problems=tuple(problems), event_count=0, last_seq=0)
    return VerifyReport(problems=tuple(problems), event_count=count, last_seq=last, unknown_types=unknown)
