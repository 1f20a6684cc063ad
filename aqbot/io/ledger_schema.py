"""The ledger's SQL: the schema a new ledger is created with, and the batch INSERT statements.

One secondary index, ``events_by_landmark``: a partial index on ``(type, seq)`` holding only the rows of the
:data:`LANDMARK_TYPES`, the rare events looked up by type: the startup replay's newest ``snapshot`` and
``reconcile.watermark`` (:meth:`aqbot.io.ledger.LedgerStore.latest`) and ``ledger verify``'s ``gap.open``
check. A query reaches it only when its ``WHERE`` repeats :data:`LANDMARK_TERM` word for word (SQLite's rule
for partial indexes), which those three do. Everything else (replay, every tool, ``tail --follow``) reads by
``seq``, the primary key.

Ledgers created in sessions 4 and 5 have ``events_by_type``, the same index over every row instead: for the
2.8 rows of an ingested user-channel frame it cost the writer about a third of its SQLite CPU (an index entry
per row, in a page per type, written to the WAL at each commit; docs/io.md), and only landmark rows were
ever looked up in it. Ledgers created before session 4 also have ``events_by_token``, ``events_by_order``,
``events_by_trade`` and ``events_by_wall_time``, which no code path of the bot or its tools used: their keys
(66-character order and trade hashes) dirtied a random page per row, about half of the ledger's SQLite time
on an aged ledger. Such ledgers keep their indexes (a store never rewrites a user's file); the landmark
queries use ``events_by_type`` there, and ``LedgerStore.query`` by type, token, order, trade or wall time
works on any ledger, by a scan where no index serves it.

Split out of :mod:`aqbot.io.ledger` (the store); :mod:`aqbot.io.ledger_verify` checks a database against
the rules written here (append-only triggers, the gaps guard, JSON payloads).
"""

from __future__ import annotations

import functools

from aqbot.io.ledger_events import NO_KEY

# The event types the bot looks up by type, the only rows ``events_by_landmark`` holds.
LANDMARK_TYPES = frozenset({"gap.open", "reconcile.watermark", "snapshot"})
# The index's WHERE clause; a query must contain this very term to use the index.
LANDMARK_TERM = "type IN (" + ", ".join(f"'{t}'" for t in sorted(LANDMARK_TYPES)) + ")"

SCHEMA = f"""
CREATE TABLE meta(key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
CREATE TABLE events(
    seq INTEGER PRIMARY KEY NOT NULL,
    wall_time REAL NOT NULL,
    mono_time REAL NOT NULL,
    type TEXT NOT NULL,
    token TEXT,
    order_id TEXT,
    trade_id TEXT,
    payload TEXT NOT NULL CHECK (json_valid(payload))
);
CREATE INDEX events_by_landmark ON events(type, seq) WHERE {LANDMARK_TERM};
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'ledger events are append-only: UPDATE refused'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'ledger events are append-only: DELETE refused'); END;
CREATE TABLE gaps(
    id TEXT PRIMARY KEY NOT NULL,
    channel TEXT NOT NULL,
    reason TEXT NOT NULL,
    opened_at REAL NOT NULL,
    open_seq INTEGER NOT NULL,
    closed_at REAL,
    closed_seq INTEGER,
    resolved_by_reconcile_id TEXT,
    resolved_at REAL,
    resolved_seq INTEGER
);
CREATE TRIGGER gaps_no_delete BEFORE DELETE ON gaps
BEGIN SELECT RAISE(ABORT, 'gaps rows are never deleted'); END;
CREATE TRIGGER gaps_guard_update BEFORE UPDATE ON gaps
WHEN NEW.id IS NOT OLD.id OR NEW.channel IS NOT OLD.channel OR NEW.reason IS NOT OLD.reason
  OR NEW.opened_at IS NOT OLD.opened_at OR NEW.open_seq IS NOT OLD.open_seq
  OR (OLD.closed_seq IS NOT NULL AND (NEW.closed_at IS NOT OLD.closed_at
      OR NEW.closed_seq IS NOT OLD.closed_seq))
  OR (OLD.resolved_seq IS NOT NULL AND (NEW.resolved_at IS NOT OLD.resolved_at
      OR NEW.resolved_seq IS NOT OLD.resolved_seq
      OR NEW.resolved_by_reconcile_id IS NOT OLD.resolved_by_reconcile_id))
BEGIN SELECT RAISE(ABORT, 'gaps rows may only be closed once and resolved once'); END;
"""
INSERT_COLUMNS = ("seq", "wall_time", "mono_time", "type", "token", "order_id", "trade_id", "payload")


@functools.cache
def insert_sql(rows: int) -> str:
    """Insert those of ``rows`` rows of parameters whose ``seq`` is not 0 (``LedgerStore._insert_rows``).

    The columns of a ``VALUES`` subquery are named ``column1`` ... ``column8``; the target columns'
    affinities apply as for a plain ``INSERT ... VALUES``. A key column bound as ``NO_KEY`` (the integer 0,
    never a key: keys are text) is stored as NULL. The payload is cast to text: a payload bound as a blob
    (UTF-8 JSON from msgspec) is stored as the same text a ``str`` gives, without decoding it in Python
    (the cast runs in SQLite, outside the GIL).
    """
    one = "(" + ", ".join("?" * len(INSERT_COLUMNS)) + ")"
    values = ", ".join([one] * rows)
    return (
        f"INSERT INTO events({', '.join(INSERT_COLUMNS)}) "
        f"SELECT column1, column2, column3, column4, NULLIF(column5, {NO_KEY}), NULLIF(column6, {NO_KEY}), "
        f"NULLIF(column7, {NO_KEY}), CAST(column8 AS TEXT) FROM (VALUES {values}) WHERE column1 <> 0"
    )
