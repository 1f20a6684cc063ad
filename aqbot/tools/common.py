"""Helpers shared by the tool commands: one-line usage errors, time filters, opening a ledger read-only.

Every command reports bad usage as **one line** on stderr (``aqbot <cmd>: <what>: <fix>``) and exit
code 2, without a traceback and without creating any file. :func:`one_line_errors` makes an
``argparse`` parser behave that way (argparse's default prints the whole usage block).
"""

from __future__ import annotations

import argparse
import logging
import math
import sqlite3
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn, TextIO

from aqbot.errors import LedgerError
from aqbot.io.ledger import BUSY_TIMEOUT_MS, LedgerStore
from aqbot.io.ledger_events import LedgerEvent

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """Bad usage or unusable input: the command prints ``str(err)`` as one line and exits 2."""


def fail(prog: str, message: str, stream: TextIO | None = None) -> int:
    """Print ``prog: message`` as one line on stderr; return :data:`EXIT_USAGE`."""
    one_line = " ".join(message.split())
    print(f"{prog}: {one_line}", file=stream or sys.stderr)
    return EXIT_USAGE


def one_line_errors(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Make ``parser`` report usage errors (missing/unknown arguments, bad values) as one line, exit 2.

    Unknown arguments are caught by the parser itself (argparse would otherwise leave them to the top-level
    parser, which prints its whole usage block).
    """

    def error(message: str) -> NoReturn:
        fail(parser.prog, f"{message} (see `{parser.prog} --help`)")
        raise SystemExit(EXIT_USAGE)

    original = parser.parse_known_args

    def parse_known_args(
        args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = original(args, namespace)
        if extras:
            error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, []

    parser.error = error  # type: ignore[method-assign]
    parser.parse_known_args = parse_known_args  # type: ignore[method-assign,assignment]
    return parser


class ToolParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` with :func:`one_line_errors` (use as ``add_subparsers(parser_class=...)``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        one_line_errors(self)


def parse_time(text: str) -> float:
    """``--since``/``--until`` values: ISO-8601 (naive = UTC) or Unix seconds.

    Raises:
        argparse.ArgumentTypeError: neither form (argparse turns it into a one-line usage error).
    """
    value = text.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds) or seconds < 0:
            raise argparse.ArgumentTypeError(f"expected ISO-8601 time or Unix seconds, got {text!r}")
        return seconds
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected ISO-8601 time (2026-11-24T08:30:00Z) or Unix seconds, got {text!r}"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def positive_int(text: str) -> int:
    """A strictly positive integer argument."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """An integer argument >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def decimal_arg(text: str) -> Decimal:
    """A strictly positive decimal argument (shares, pUSD)."""
    try:
        value = Decimal(text)
    except ArithmeticError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value.is_finite() or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def open_ledger(path: Path, *, follow: bool = False) -> LedgerStore:
    """Open an existing ledger read-only (never creates a file unless ``follow``; see the comment inside).

    ``follow`` always opens it as a live database, to see what a writer appends later.

    Raises:
        UsageError: the file is missing, not a file, not SQLite, or not an aqbot ledger (one line).
    """
    if not path.exists():
        raise UsageError(f"LEDGER {path}: no such file (pass the path of the bot's ledger.path)")
    if not path.is_file():
        raise UsageError(f"LEDGER {path}: not a regular file")
    with path.open("rb") as f:
        head = f.read(16)
    if head != b"SQLite format 3\x00":
        raise UsageError(f"LEDGER {path}: not an SQLite database (not an aqbot ledger, or corrupted)")
    # A ledger in use has its -wal/-shm files; read it as a live database (read-only). Without them no
    # process has it open: read it as immutable, so SQLite creates nothing next to it.
    live = follow or any(Path(f"{path}{suffix}").exists() for suffix in ("-wal", "-shm"))
    uri = path.resolve().as_uri() + ("?mode=ro" if live else "?mode=ro&immutable=1")
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    except sqlite3.Error as exc:
        raise UsageError(f"LEDGER {path}: cannot open ({exc})") from None
    store = LedgerStore(conn, path)
    try:
        store.migrate(read_only=True)
    except LedgerError as exc:
        conn.close()
        raise UsageError(f"LEDGER {path}: {_strip_prefix(str(exc), path)}") from None
    return store


def read_events(store: LedgerStore) -> Iterator[LedgerEvent]:
    """Every event of ``store`` in ``seq`` order.

    Raises:
        UsageError: a stored payload is not a JSON object (the ledger was tampered with or is corrupted).
    """
    try:
        yield from store.iter_events()
    except ValueError as exc:
        raise UsageError(
            f"LEDGER {store.path}: an event cannot be read ({exc}); run `aqbot ledger verify`"
        ) from None


def _strip_prefix(message: str, path: Path) -> str:
    text = message.removeprefix(f"ledger {path}: ")
    return text.replace("cannot read or create the schema", "unreadable: corrupted or truncated")


def iso(ts: float | None) -> str:
    """A Unix time as ``2026-11-24T08:30:00.123Z`` (``-`` for None)."""
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def short(value: str | None, wide: bool = False, keep: int = 10) -> str:
    """A long id shortened to its first ``keep`` characters plus ``…`` (unless ``wide``)."""
    if not value:
        return "-"
    if wide or len(value) <= keep + 1:
        return value
    return value[:keep] + "…"


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO) -> None:
    """A plain, aligned text table."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out.write(line.rstrip() + "\n")
    for row in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")


def run_guarded(prog: str, body: Callable[[], int]) -> int:
    """Run a command body; a :class:`UsageError` becomes one stderr line and exit 2.

    Library log records are not printed (the command reports every outcome itself) unless logging was
    configured by the caller.
    """
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.NullHandler())
    try:
        return body()
    except UsageError as exc:
        return fail(prog, str(exc))
    except sqlite3.DatabaseError as exc:
        return fail(prog, f"LEDGER: unreadable ({exc}); the file is corrupted or not an aqbot ledger")
    except BrokenPipeError:
        # `aqbot ledger tail x | head`: the reader left; not an error of ours.
        sys.stderr.close()
        return EXIT_OK
