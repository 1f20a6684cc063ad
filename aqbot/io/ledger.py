"""The ledger store: one SQLite database per bot, append-only events, gaps, meta (DESIGN section 4).

This module is synchronous (stdlib ``sqlite3``); the Trio shell that batches writes into a worker
thread is :mod:`aqbot.io.ledger_writer`. One connection is used by one thread at a time (the writer
task offloads each call and never overlaps two), so ``check_same_thread=False`` is safe.

Schema (version :data:`SCHEMA_VERSION`)::

    meta(key TEXT PRIMARY KEY, value TEXT)                      schema_version, created, app
    events(seq INTEGER PRIMARY KEY, wall_time REAL, mono_time REAL, type TEXT, token TEXT,
           order_id TEXT, trade_id TEXT, payload TEXT CHECK (json_valid(payload)))
    gaps(id TEXT PRIMARY KEY, channel, reason, opened_at, open_seq, closed_at, closed_seq,
         resolved_by_reconcile_id, resolved_at, resolved_seq)

Append-only is enforced by the database, not by convention: triggers abort every UPDATE and DELETE on
``events``, every DELETE on ``gaps``, and every UPDATE of ``gaps`` other than filling in the close and
resolve columns once. ``gaps`` is derived from the ``gap.*`` events and written in the same
transaction, so the two never disagree. ``*_at`` columns are wall-clock labels; ``*_seq`` columns give
the exact order.

Durability: WAL mode. ``synchronous=FULL`` (the default) fsyncs the WAL at every commit, so a committed
batch survives a power loss; ``NORMAL`` fsyncs only at checkpoints: a committed batch still survives a
crash or ``kill -9`` of the process (the WAL is in the OS page cache), but the last transactions can be
lost on power loss or a kernel crash. Measured on this machine, FULL costs one fsync per *batch*, which
the writer's 50 ms batching makes negligible (see docs/io.md).

Sequence numbers are assigned by the caller (the writer) or, when ``seq`` is ``None``, by the store; in
both cases they continue from the last stored ``seq`` with no hole. An event stored already under its
``seq`` is skipped, which makes retrying a batch after an ambiguous failure (a COMMIT that raised but
landed) idempotent; another row under that ``seq`` (a second writer) fails the write.
"""

from __future__ import annotations

import itertools
import logging
import operator
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import attrs

from aqbot.errors import LedgerError
from aqbot.io.ledger_events import (
    GAP_EVENT_KEYS,
    LedgerEvent,
    LedgerRow,
    decode_payload,
    payload_text,
    row_text,
)
from aqbot.io.ledger_schema import INSERT_COLUMNS, LANDMARK_TERM, LANDMARK_TYPES, SCHEMA, insert_sql
from aqbot.io.ledger_verify import SCHEMA_VERSION, VerifyReport, first_other_row, verify_connection

log = logging.getLogger(__name__)


# Rows fetched per query while iterating (bounds memory during replay).
ITER_CHUNK = 1000
# Page size of new ledgers: rows of ~0.3-1.3 kB cost 20-28% less SQLite CPU per row than with the default
# 4096 (measured with five indexes; with the one index of today's schema 15% less; docs/io.md).
PAGE_SIZE = 16384
# How long a connection waits for another process's lock (e.g. a concurrent `aqbot ledger verify`).
BUSY_TIMEOUT_MS = 5000

# Rows per INSERT statement at most, a power of two (8 parameters each: 16384, within SQLite's 32766 since
# 3.32; an older SQLite's lower limit is read from the connection). As many as a whole batch for the thread
# writer: each statement costs its worker thread a retake of the GIL from the busy event loop (docs/io.md).
INSERT_ROWS = 2048
# A row for LedgerStore.append_encoded, in column order: (seq or None, wall_time, mono_time, type, token,
# order_id, trade_id, payload as payload_text wrote it: UTF-8 JSON in a bytearray, or text). A token,
# order_id or trade_id of None or NO_KEY (0) is stored as NULL.
EncodedRow = tuple[
    int | None,
    float,
    float,
    str,
    str | int | None,
    str | int | None,
    str | int | None,
    bytearray | bytes | str,
]
_SEQ = operator.itemgetter(0)
# (seq,) + row: a numbered row (tuple.__add__, typed).
_numbered = cast(Callable[[tuple[int], LedgerRow], EncodedRow], tuple.__add__)
_TYPE = operator.itemgetter(3)
_GAP_TYPES = frozenset(GAP_EVENT_KEYS)
_COLUMNS = "seq, wall_time, mono_time, type, token, order_id, trade_id, payload"


def number_rows(first_seq: int, rows: Sequence[LedgerRow]) -> list[EncodedRow]:
    """``rows`` numbered ``first_seq``, ``first_seq + 1``, ..., deferred payloads encoded
    (:func:`~aqbot.io.ledger_events.row_text`): what the ledger writer hands the store, in the worker
    thread or the child process, off the event loop."""
    numbered = list(map(_numbered, zip(range(first_seq, first_seq + len(rows))), rows))  # no Python loop
    for i, row in enumerate(rows):
        payload = row[6]
        if payload.__class__ is dict:  # a deferred payload (ledger_events.deferrable): encoded here
            numbered[i] = (first_seq + i, *row[:6], row_text(payload))
    return numbered


@attrs.frozen
class GapRow:
    """One row of the ``gaps`` table."""

    id: str
    channel: str
    reason: str
    opened_at: float
    open_seq: int
    closed_at: float | None
    closed_seq: int | None
    resolved_by_reconcile_id: str | None
    resolved_at: float | None
    resolved_seq: int | None


def _row_to_event(row: tuple[Any, ...]) -> LedgerEvent:
    seq, wall, mono, type_, token, order_id, trade_id, payload = row
    return LedgerEvent(
        type=type_,
        payload=decode_payload(payload),
        token=token,
        order_id=order_id,
        trade_id=trade_id,
        mono_time=mono,
        wall_time=wall,
        seq=seq,
    )


class LedgerStore:
    """A ledger database. Open with :meth:`open`; close with :meth:`close` (or use ``with``)."""

    def __init__(self, conn: sqlite3.Connection, path: Path, insert_rows: int | None = None) -> None:
        self._conn = conn
        self.path = path
        # An older SQLite may bind fewer parameters per statement (999 before 3.32).
        variables = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        wanted = INSERT_ROWS if insert_rows is None else insert_rows
        most = max(1, min(wanted, variables // len(INSERT_COLUMNS)))
        self._rows_per_insert = 1 << (most.bit_length() - 1)

    @classmethod
    def open(
        cls,
        path: Path | str,
        *,
        synchronous: str = "FULL",
        read_only: bool = False,
        insert_rows: int | None = None,
    ) -> LedgerStore:
        """Open (creating and migrating when needed) the ledger at ``path``.

        ``insert_rows``: rows per INSERT statement at most (:data:`INSERT_ROWS` by default; rounded down to a
        power of two). The writer's child process takes fewer (:data:`~aqbot.io.ledger_child.INSERT_ROWS`).

        Raises:
            LedgerError: the file cannot be opened, is not a ledger, or has a newer schema.
        """
        path = Path(path)
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be FULL or NORMAL, got {synchronous!r}")
        try:
            if read_only:
                conn = sqlite3.connect(
                    path.resolve().as_uri() + "?mode=ro", uri=True, isolation_level=None,
                    check_same_thread=False,
                )  # fmt: skip
            else:
                conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            if not read_only:
                # Only a database not yet written takes it (an existing ledger keeps its page size).
                conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise LedgerError(f"ledger {path}: cannot enable WAL mode (got {mode})")
            conn.execute(f"PRAGMA synchronous={synchronous}")
        except sqlite3.Error as exc:
            raise LedgerError(f"ledger {path}: cannot open ({exc})") from exc
        store = cls(conn, path, insert_rows)
        try:
            store.migrate(read_only=read_only)
        except BaseException:
            conn.close()
            raise
        return store

    def migrate(self, *, read_only: bool = False) -> None:
        """Create the schema in an empty database; check the version of an existing one.

        Raises:
            LedgerError: not a ledger, a newer schema, or a write failure.
        """
        try:
            tables = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if not tables and not read_only:
                # One script, one transaction: a crash leaves either no schema or all of it.
                self._conn.executescript(
                    "BEGIN IMMEDIATE;"
                    + SCHEMA
                    + f"INSERT INTO meta(key, value) VALUES ('schema_version', '{SCHEMA_VERSION}'),"
                    + f" ('created', '{time.time()!r}'), ('app', 'aqbot');"
                    + "COMMIT;"
                )
                return
            if "meta" not in tables:
                raise LedgerError(f"ledger {self.path}: not an aqbot ledger (no meta table)")
            version = self.meta().get("schema_version")
        except sqlite3.Error as exc:
            raise LedgerError(f"ledger {self.path}: cannot read or create the schema ({exc})") from exc
        if version != str(SCHEMA_VERSION):
            raise LedgerError(
                f"ledger {self.path}: schema version {version}, this aqbot reads {SCHEMA_VERSION}"
            )

    def _transaction(self) -> _Transaction:
        return _Transaction(self._conn)

    def meta(self) -> dict[str, str]:
        """The ``meta`` table as a dict."""
        return dict(self._conn.execute("SELECT key, value FROM meta"))

    def last_seq(self) -> int:
        """The highest stored ``seq`` (0 when empty)."""
        return int(self._conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])

    def append_batch(self, events: Sequence[LedgerEvent]) -> int:
        """Append ``events`` in one transaction and return the last stored ``seq``.

        Events with ``seq=None`` get the next numbers; events with a ``seq`` must continue the stored
        sequence (already-stored ones are skipped). ``gap.*`` events update ``gaps`` in the same
        transaction.

        Raises:
            TypeError: a payload cannot be encoded as JSON (nothing was written).
            sqlite3.Error: the write failed; nothing of the batch is stored (the transaction rolled back).
            LedgerError: a ``seq`` would leave a hole, or holds another row (a caller's bug, two writers).
        """
        return self.append_encoded(
            [
                (
                    e.seq,
                    e.wall_time,
                    e.mono_time,
                    e.type,
                    e.token,
                    e.order_id,
                    e.trade_id,
                    payload_text(e.payload),
                )
                for e in events
            ]
        )

    def append_encoded(self, rows: Sequence[EncodedRow]) -> int:
        """:meth:`append_batch` for rows whose payload is already encoded (the hub encodes each row once,
        when it is recorded; :data:`EncodedRow`). Same numbering rules, same errors (but no encoding).
        A payload given as bytes (UTF-8 JSON) is stored as text (``CAST`` in the statement).

        The rows go in with as few statements as possible, one for a batch of up to :data:`INSERT_ROWS`
        rows, rather than one per row: the ``sqlite3`` module releases and retakes the GIL around every
        ``sqlite3_step``, and in the writer's worker thread each retake waits for the busy event loop to
        let go of the GIL (about a millisecond; see docs/io.md). The rows stored are the same.
        """
        with self._transaction():
            stored = self.last_seq()
            count = len(rows)
            if (
                count
                and rows[0][0] == stored + 1
                and list(map(_SEQ, rows)) == list(range(stored + 1, stored + 1 + count))
            ):
                fresh, last = rows, stored + count  # the writer's case: numbered, continuing the store
            else:
                fresh, last = self._numbered(rows, stored)
            self._insert_rows(fresh)
            if not _GAP_TYPES.isdisjoint(map(_TYPE, fresh)):
                for row in fresh:  # gaps has no reference to events: after the inserts, in order
                    if row[3] in _GAP_TYPES:
                        self._apply_gap(row)
        return last

    def _numbered(self, rows: Sequence[EncodedRow], stored: int) -> tuple[list[EncodedRow], int]:
        """The rows not stored yet, each with its ``seq`` (``None`` takes the next number), and the last."""
        fresh: list[EncodedRow] = []
        last = stored
        landed = [row for row in rows if row[0] is not None and row[0] <= stored]
        if landed and (other := first_other_row(self._conn, landed)) is not None:  # not this writer's rows
            raise LedgerError(f"ledger {self.path}: seq {other} holds another writer's row")
        for row in rows:
            want = row[0]
            if want is not None and want <= stored:
                continue  # stored by an earlier attempt whose COMMIT landed (the same row: checked above)
            seq = last + 1
            if want is not None and want != seq:
                raise LedgerError(f"ledger {self.path}: seq {want} would leave a hole after {last}")
            last = seq
            fresh.append(row if want is not None else (seq, *row[1:]))
        return fresh, last

    def _insert_rows(self, rows: Sequence[EncodedRow]) -> None:
        """Insert ``rows`` (numbered).

        One statement per :attr:`_rows_per_insert` rows, their columns laid out flat; the last one is
        padded with rows of zeros up to a power of two, which its ``WHERE`` drops, so that only a dozen
        distinct statements exist and all stay prepared in the connection's statement cache.
        """
        width = len(INSERT_COLUMNS)
        step = self._rows_per_insert
        for start in range(0, len(rows), step):
            part = rows[start : start + step]
            count = len(part)
            size = 1 << (count - 1).bit_length()
            values: list[object] = list(itertools.chain.from_iterable(part))
            if size > count:
                values += (0,) * ((size - count) * width)  # seq 0: dropped (0 binds faster than None)
            self._conn.execute(insert_sql(size), values)

    def _apply_gap(self, row: EncodedRow) -> None:
        seq, wall_time, type_, text = row[0], row[1], row[3], row[7]
        p = decode_payload(text)
        gap_id = str(p["gap_id"])
        if type_ == "gap.open":
            self._conn.execute(
                "INSERT OR IGNORE INTO gaps(id, channel, reason, opened_at, open_seq) VALUES (?, ?, ?, ?, ?)",
                (gap_id, str(p["channel"]), str(p["reason"]), wall_time, seq),
            )
        elif type_ == "gap.close":
            self._conn.execute(
                "UPDATE gaps SET closed_at = ?, closed_seq = ? WHERE id = ? AND closed_seq IS NULL",
                (wall_time, seq, gap_id),
            )
        elif type_ == "gap.resolve":
            self._conn.execute(
                "UPDATE gaps SET resolved_by_reconcile_id = ?, resolved_at = ?, resolved_seq = ? "
                "WHERE id = ? AND resolved_seq IS NULL",
                (str(p["reconcile_id"]), wall_time, seq, gap_id),
            )

    def query(
        self,
        *,
        type: str | None = None,
        token: str | None = None,
        order_id: str | None = None,
        trade_id: str | None = None,
        wall_from: float | None = None,
        wall_to: float | None = None,
        from_seq: int | None = None,
        limit: int | None = None,
    ) -> list[LedgerEvent]:
        """Events matching every given filter, in ``seq`` order (``wall_to`` is exclusive)."""
        clauses: list[str] = []
        params: list[object] = []
        for column, value in (
            ("type", type),
            ("token", token),
            ("order_id", order_id),
            ("trade_id", trade_id),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        ranges: tuple[tuple[str, float | None], ...] = (
            ("wall_time >= ?", wall_from),
            ("wall_time < ?", wall_to),
            ("seq >= ?", from_seq),
        )
        for clause, bound in ranges:
            if bound is not None:
                clauses.append(clause)
                params.append(bound)
        sql = f"SELECT {_COLUMNS} FROM events"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY seq"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_row_to_event(r) for r in self._conn.execute(sql, params)]

    def latest(self, type: str) -> LedgerEvent | None:
        """The newest event of ``type``, or ``None``.

        For one of the :data:`~aqbot.io.ledger_schema.LANDMARK_TYPES` (a snapshot, a watermark) one probe of
        the landmark index; for any other type a scan back from the newest row, which stops at the first
        match (tests and tools; the bot looks up landmarks only).
        """
        landmark = f" AND {LANDMARK_TERM}" if type in LANDMARK_TYPES else ""
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM events WHERE type = ?{landmark} ORDER BY seq DESC LIMIT 1", (type,)
        ).fetchone()
        return None if row is None else _row_to_event(row)

    def iter_events(self, from_seq: int = 1) -> Iterator[LedgerEvent]:
        """Every event with ``seq >= from_seq`` in order, fetched :data:`ITER_CHUNK` at a time (replay)."""
        next_seq = from_seq
        while True:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM events WHERE seq >= ? ORDER BY seq LIMIT ?", (next_seq, ITER_CHUNK)
            ).fetchall()
            for row in rows:
                yield _row_to_event(row)
            if len(rows) < ITER_CHUNK:
                return
            next_seq = rows[-1][0] + 1

    def gaps(self, *, unresolved_only: bool = False) -> list[GapRow]:
        """Rows of ``gaps`` in opening order."""
        sql = "SELECT * FROM gaps" + (" WHERE resolved_seq IS NULL" if unresolved_only else "")
        return [GapRow(*row) for row in self._conn.execute(sql + " ORDER BY open_seq")]

    def verify(self) -> VerifyReport:
        """Check seq continuity, triggers, JSON payloads, schema version and the gaps table."""
        return verify_connection(self._conn)

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._conn.close()

    def __enter__(self) -> LedgerStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, or ``ROLLBACK`` when the body raises."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        if exc_type is None:
            self._conn.execute("COMMIT")
        elif self._conn.in_transaction:
            try:
                self._conn.execute("ROLLBACK")
            except sqlite3.Error:
                log.warning("ledger rollback failed", exc_info=True)
