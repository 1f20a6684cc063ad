"""Event filters and JSON encoding shared by the ``aqbot ledger`` subcommands."""

from __future__ import annotations

import argparse
import fnmatch
import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any

from aqbot.io.ledger_events import LedgerEvent
from aqbot.tools.common import iso

log = logging.getLogger(__name__)


def jsonable(value: Any) -> Any:
    """``value`` with ``Decimal`` as exact strings (JSON has no decimal type)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def dumps(value: Any) -> str:
    return json.dumps(jsonable(value), separators=(",", ":"), sort_keys=True)


def event_dict(event: LedgerEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "time": iso(event.wall_time),
        "wall_time": event.wall_time,
        "mono_time": event.mono_time,
        "type": event.type,
        "token": event.token,
        "order_id": event.order_id,
        "trade_id": event.trade_id,
        "payload": dict(event.payload),
    }


def id_matches(value: str | None, wanted: str | None) -> bool:
    return wanted is None or (value is not None and value.lower().startswith(wanted.lower()))


def in_range(when: float | None, args: argparse.Namespace) -> bool:
    if when is None:
        return args.since is None and args.until is None
    return (args.since is None or when >= args.since) and (args.until is None or when < args.until)


def event_token(event: LedgerEvent) -> str | None:
    return event.token or (str(event.payload["token"]) if "token" in event.payload else None)


def filtered_events(store_events: Iterable[LedgerEvent], args: argparse.Namespace) -> Iterator[LedgerEvent]:
    """Events passing every filter of ``args`` (``--type`` may be a glob)."""
    pattern = getattr(args, "type", None)
    for event in store_events:
        if pattern is not None and not fnmatch.fnmatchcase(event.type, pattern):
            continue
        if not id_matches(event_token(event), args.token):
            continue
        order = event.order_id or (str(event.payload["order_id"]) if "order_id" in event.payload else None)
        if args.order is not None and not id_matches(order, args.order):
            ids = event.payload.get("order_ids")
            if not (isinstance(ids, list) and any(id_matches(str(i), args.order) for i in ids)):
                continue
        if not in_range(event.wall_time, args):
            continue
        yield event
