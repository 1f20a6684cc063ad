"""``aqbot ledger tail|orders|fills|gaps|halts|verify|export LEDGER``: read a ledger without changing it.

Filters (where they apply): ``--token`` and ``--order`` (an id or a prefix of one), ``--type`` (an event
type, or a glob such as ``fill.*``), ``--since``/``--until`` (ISO-8601 or Unix seconds, wall time, the
end exclusive), ``--limit N``. ``--json`` prints JSON lines instead of a table; ``--wide`` shows full
ids. The ledger is opened read-only (SQLite ``mode=ro``), so it can be read while the bot runs.

Exit codes: 0 ok; 1 ``verify`` found a problem; 2 bad usage or an unreadable ledger (one line on stderr).
"""

from __future__ import annotations

import argparse
import collections
import csv
import functools
import logging
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import trio

from aqbot.io.ledger import LedgerStore
from aqbot.io.ledger_events import LedgerEvent
from aqbot.tools.common import (
    EXIT_OK,
    EXIT_PROBLEM,
    EXIT_USAGE,
    ToolParser,
    UsageError,
    fail,
    iso,
    one_line_errors,
    open_ledger,
    parse_time,
    positive_int,
    read_events,
    render_table,
    run_guarded,
    short,
)
from aqbot.tools.ledger_query import (
    dumps,
    event_dict,
    event_token,
    filtered_events,
    id_matches,
    in_range,
    jsonable,
)
from aqbot.tools.ledger_verify_cmd import verify_ledger
from aqbot.tools.ledger_views import build_orders, fill_rows, gap_rows, halt_rows

log = logging.getLogger(__name__)

EXPORT_COLUMNS = ("seq", "time", "wall_time", "mono_time", "type", "token", "order_id", "trade_id", "payload")
TAIL_DEFAULT = 20
TAIL_HEADERS = ["seq", "time", "type", "token", "order", "payload"]
# `tail --follow`: poll period (seconds) and rows per poll.
FOLLOW_INTERVAL = 1.0
FOLLOW_BATCH = 1000


def _summary(payload: Mapping[str, Any], wide: bool) -> str:
    text = dumps({k: v for k, v in payload.items() if k not in ("token", "order_id")})
    if not wide and len(text) > 100:
        return text[:99] + "…"
    return text


# --- subcommands --------------------------------------------------------------------------------------


def _tail_row(event: LedgerEvent, wide: bool) -> list[str]:
    return [
        str(event.seq),
        iso(event.wall_time),
        event.type,
        short(event_token(event), wide),
        short(event.order_id, wide),
        _summary(event.payload, wide),
    ]


def cmd_tail(args: argparse.Namespace, out: TextIO) -> int:
    with open_ledger(args.ledger, follow=args.follow) as store:
        events = collections.deque(
            filtered_events(read_events(store), args), maxlen=args.limit or TAIL_DEFAULT
        )
        if args.json:
            for event in events:
                out.write(dumps(event_dict(event)) + "\n")
        else:
            render_table(TAIL_HEADERS, [_tail_row(e, args.wide) for e in events], out)
        if args.follow:
            trio.run(functools.partial(follow, store, args, out, store.last_seq()))
    return EXIT_OK


def follow_once(store: LedgerStore, args: argparse.Namespace, out: TextIO, last_seq: int) -> int:
    """Print the events appended after ``last_seq`` that pass the filters; return the new last seq."""
    try:
        events = store.query(from_seq=last_seq + 1, limit=FOLLOW_BATCH)
    except ValueError as exc:
        raise UsageError(
            f"LEDGER {store.path}: an event cannot be read ({exc}); run `aqbot ledger verify`"
        ) from None
    for event in filtered_events(events, args):
        out.write(
            dumps(event_dict(event)) + "\n" if args.json else "  ".join(_tail_row(event, args.wide)) + "\n"
        )
    out.flush()
    return events[-1].seq or last_seq if events else last_seq


async def follow(store: LedgerStore, args: argparse.Namespace, out: TextIO, last_seq: int) -> None:
    """``tail --follow``: poll for new events every :data:`FOLLOW_INTERVAL` seconds until interrupted."""
    while True:
        seen = last_seq
        last_seq = await trio.to_thread.run_sync(follow_once, store, args, out, last_seq)
        if last_seq == seen:
            await trio.sleep(FOLLOW_INTERVAL)


def _limited(rows: list[dict[str, Any]], args: argparse.Namespace) -> list[dict[str, Any]]:
    return rows[-args.limit :] if args.limit else rows


def _emit(
    rows: list[dict[str, Any]],
    args: argparse.Namespace,
    out: TextIO,
    table: Callable[[dict[str, Any]], list[str]],
    headers: list[str],
) -> int:
    rows = _limited(rows, args)
    if args.json:
        for row in rows:
            out.write(dumps(row) + "\n")
    else:
        render_table(headers, [table(r) for r in rows], out)
    return EXIT_OK


def _num(value: Decimal | None) -> str:
    return "-" if value is None else str(value)


def cmd_orders(args: argparse.Namespace, out: TextIO) -> int:
    with open_ledger(args.ledger) as store:
        orders = build_orders(read_events(store))
    rows = [
        o.as_dict()
        for o in orders.values()
        if id_matches(o.token, args.token)
        and id_matches(o.order_id, args.order)
        and (args.state is None or o.state == args.state.upper())
        and (in_range(o.placed_at, args) or in_range(o.last_at, args))
    ]
    return _emit(
        rows,
        args,
        out,
        lambda r: [
            short(r["order_id"], args.wide),
            short(r["token"], args.wide),
            r["side"] or "-",
            _num(r["price"]),
            _num(r["size"]),
            r["state"],
            _num(r["matched"]),
            _num(r["reserved"]),
            iso(r["placed_at"]),
            r["adopted"] or "-",
        ],
        ["order", "token", "side", "price", "size", "state", "matched", "reserved", "placed", "adopted"],
    )


def cmd_fills(args: argparse.Namespace, out: TextIO) -> int:
    with open_ledger(args.ledger) as store:
        rows = fill_rows(read_events(store))
    rows = [
        r
        for r in rows
        if id_matches(r["token"], args.token)
        and id_matches(r["order_id"], args.order)
        and in_range(r["wall_time"], args)
    ]
    return _emit(
        rows,
        args,
        out,
        lambda r: [
            str(r["seq"]),
            iso(r["wall_time"]),
            r["kind"],
            short(r["order_id"], args.wide),
            short(r["token"], args.wide),
            r["side"] or "-",
            _num(r["delta"]),
            _num(r["matched"]),
            _num(r["price"]),
            r["source"] or "-",
            short(r["trade_id"], args.wide, 13),
        ],
        ["seq", "time", "kind", "order", "token", "side", "delta", "matched", "price", "source", "trade"],
    )


def cmd_gaps(args: argparse.Namespace, out: TextIO) -> int:
    with open_ledger(args.ledger) as store:
        rows = gap_rows(read_events(store))
    rows = [r for r in rows if in_range(r["opened_at"] or r["closed_at"], args)]
    if args.unresolved:
        rows = [r for r in rows if r["resolved_seq"] is None]
    return _emit(
        rows,
        args,
        out,
        lambda r: [
            r["gap_id"],
            r["channel"] or "-",
            r["reason"],
            iso(r["opened_at"]),
            iso(r["closed_at"]),
            iso(r["resolved_at"]),
            r["reconcile_id"] or "UNRESOLVED",
        ],
        ["gap", "channel", "reason", "opened", "closed", "resolved", "by reconcile"],
    )


def cmd_halts(args: argparse.Namespace, out: TextIO) -> int:
    with open_ledger(args.ledger) as store:
        rows = halt_rows(read_events(store))
    rows = [
        r
        for r in rows
        if in_range(r["start_at"], args)
        and (args.token is None or args.token in r["scope"] or r["scope"] == "global")
    ]

    def duration(r: dict[str, Any]) -> str:
        if r["end_mono"] is None:
            return "still latched"
        return f"{r['end_mono'] - r['start_mono']:.1f}s"

    return _emit(
        rows,
        args,
        out,
        lambda r: [
            r["reason"],
            short(r["scope"], args.wide, 20),
            iso(r["start_at"]),
            iso(r["end_at"]),
            duration(r),
            r["detail"] if args.wide or len(r["detail"]) <= 60 else r["detail"][:59] + "…",
        ],
        ["reason", "scope", "since", "until", "duration", "detail"],
    )


def cmd_verify(args: argparse.Namespace, out: TextIO) -> int:
    with open_ledger(args.ledger) as store:
        result = verify_ledger(store)
    if args.json:
        out.write(dumps(result.as_dict()) + "\n")
    else:
        for line in result.lines():
            out.write(line + "\n")
    return EXIT_OK if result.ok else EXIT_PROBLEM


def _export_format(args: argparse.Namespace) -> str:
    if args.format is not None:
        return str(args.format)
    if args.out is not None and args.out.suffix.lower() == ".csv":
        return "csv"
    return "jsonl"


def cmd_export(args: argparse.Namespace, out: TextIO) -> int:
    fmt = _export_format(args)
    if args.out is not None and args.out.exists() and not args.force:
        raise UsageError(f"--out {args.out}: exists; pass --force to overwrite it")
    if args.out is not None and not args.out.parent.is_dir():
        raise UsageError(f"--out {args.out}: directory {args.out.parent} does not exist")
    with open_ledger(args.ledger) as store:
        events = filtered_events(read_events(store), args)
        if args.out is None:
            count = _write_export(events, fmt, args.limit, out)
        else:
            tmp = args.out.with_name(f".{args.out.name}.{os.getpid()}.tmp")
            try:
                with tmp.open("w", encoding="utf-8", newline="") as f:
                    count = _write_export(events, fmt, args.limit, f)
                tmp.replace(args.out)
            finally:
                tmp.unlink(missing_ok=True)
            print(f"aqbot ledger export: {count} event(s) written to {args.out} ({fmt})", file=sys.stderr)
    return EXIT_OK


def _write_export(events: Iterable[LedgerEvent], fmt: str, limit: int | None, f: TextIO) -> int:
    writer = csv.writer(f) if fmt == "csv" else None
    if writer is not None:
        writer.writerow(EXPORT_COLUMNS)
    count = 0
    for event in events:
        if limit is not None and count >= limit:
            break
        row = event_dict(event)
        if writer is None:
            f.write(dumps(row) + "\n")
        else:
            writer.writerow(
                [
                    dumps(row[c]) if c == "payload" else ("" if row[c] is None else row[c])
                    for c in EXPORT_COLUMNS
                ]
            )
        count += 1
    return count


# --- parser -------------------------------------------------------------------------------------------

_COMMANDS: dict[str, tuple[Callable[[argparse.Namespace, TextIO], int], str, tuple[str, ...]]] = {
    "tail": (cmd_tail, "the last events (default 20), newest last", ("type", "time", "json", "follow")),
    "orders": (cmd_orders, "every order: state, matched, reserved remaining", ("time", "json", "state")),
    "fills": (cmd_fills, "fills applied and reversed, with trade prices", ("time", "json")),
    "gaps": (cmd_gaps, "WS gaps: opened, closed, resolved by which reconciliation", ("time", "json", "gaps")),
    "halts": (cmd_halts, "halts latched and cleared, with reasons", ("time", "json")),
    "verify": (
        cmd_verify,
        "check seq continuity, triggers, payloads and that replay reproduces snapshots",
        ("json",),
    ),
    "export": (cmd_export, "write the events as JSON lines or CSV", ("type", "time", "export")),
}


def _handler(name: str, prog: str, args: argparse.Namespace) -> int:
    func = _COMMANDS[name][0]
    return run_guarded(prog, functools.partial(func, args, sys.stdout))


def _add_options(sub: argparse.ArgumentParser, options: tuple[str, ...]) -> None:
    sub.add_argument("ledger", type=Path, metavar="LEDGER", help="the SQLite ledger (config ledger.path)")
    if "json" in options:
        sub.add_argument("--json", action="store_true", help="JSON lines instead of a table")
        sub.add_argument("--wide", action="store_true", help="full ids and payloads in the table")
    if "time" in options:
        sub.add_argument("--token", metavar="ID", help="only this token (id or prefix)")
        sub.add_argument("--order", metavar="ID", help="only this order (id or prefix)")
        sub.add_argument("--since", type=parse_time, metavar="TIME", help="ISO-8601 or Unix seconds (wall)")
        sub.add_argument("--until", type=parse_time, metavar="TIME", help="exclusive end, same forms")
        sub.add_argument("--limit", type=positive_int, metavar="N", help="at most N rows (the last N)")
    if "follow" in options:
        sub.add_argument(
            "--follow", "-f", action="store_true", help="keep printing new events (Ctrl-C stops)"
        )
    if "type" in options:
        sub.add_argument("--type", metavar="TYPE", help="event type or glob (fill.*, gap.*)")
    if "state" in options:
        sub.add_argument("--state", metavar="STATE", help="only orders in this state (UNKNOWN, LIVE, ...)")
    if "gaps" in options:
        sub.add_argument("--unresolved", action="store_true", help="only gaps not yet resolved")
    if "export" in options:
        sub.add_argument(
            "--format", choices=("jsonl", "csv"), help="default: from --out's suffix, else jsonl"
        )
        sub.add_argument("--out", type=Path, metavar="FILE", help="write here (default: stdout)")
        sub.add_argument("--force", action="store_true", help="overwrite --out if it exists")


def add_ledger_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``ledger`` and its subcommands; each sets ``handler``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "ledger",
        help="query, verify and export a ledger",
        description="Read an aqbot ledger (read-only). Exit codes: 0 ok, 1 verify failed, 2 bad usage or "
        "unreadable ledger.",
    )
    one_line_errors(parser)
    parser.set_defaults(handler=lambda _args: fail(parser.prog, "missing subcommand (see --help)"))
    subs = parser.add_subparsers(dest="ledger_command", metavar="SUBCOMMAND", parser_class=ToolParser)
    for name, (_func, help_text, options) in _COMMANDS.items():
        sub = subs.add_parser(name, help=help_text, description=help_text.capitalize() + ".")
        _add_options(sub, options)
        sub.set_defaults(handler=functools.partial(_handler, name, sub.prog))
    return parser


__all__ = ["EXIT_USAGE", "add_ledger_parser", "dumps", "filtered_events", "jsonable"]
