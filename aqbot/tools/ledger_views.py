"""Views of the ledger built from its events alone: orders, fills, gaps, halts, UNKNOWN resolutions.

Pure functions over :class:`~aqbot.io.ledger_events.LedgerEvent` sequences (in ``seq`` order); used by
``aqbot ledger`` and ``aqbot report``. Every row is a plain dict of JSON-able values (``Decimal`` kept
as ``Decimal``; the callers format it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import attrs

from aqbot.io.ledger_events import LedgerEvent
from aqbot.tools.ledger_state import ZERO, dec

log = logging.getLogger(__name__)

TERMINAL_STATES = frozenset({"FILLED", "CANCELED", "REJECTED", "EXPIRED"})

# What each ``source`` of an ``order.state`` transition (or a ``released:<cause>`` reservation) means.
SOURCE_MEANING = {
    "order_event": "user-channel order event (exchange-confirmed status and size_matched)",
    "trade": "user-channel trade event",
    "answer": "placement answer (definitive accept/reject)",
    "rest": "REST reconciliation snapshot (order absent past the grace period, fills from /data/trades)",
    "reconcile": "REST reconciliation snapshot",
    "cancel-answer": "DELETE answer (evidence only: never releases)",
    "transport": "transport failure (outcome unknown)",
    "local": "aqbot's own action",
    "restart": "restart of aqbot (POST answer lost)",
}


@attrs.define
class OrderRow:
    """One order's life as the ledger tells it."""

    order_id: str
    token: str = ""
    side: str = ""
    price: Decimal | None = None
    size: Decimal | None = None
    state: str = "PENDING_SUBMIT"
    placed_seq: int | None = None
    placed_at: float | None = None
    last_seq: int | None = None
    last_at: float | None = None
    matched: Decimal = ZERO
    reserved: Decimal = ZERO
    adopted: str = ""
    transitions: list[tuple[int, float, str, str, str, str]] = attrs.Factory(list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "token": self.token,
            "side": self.side,
            "price": self.price,
            "size": self.size,
            "state": self.state,
            "placed_seq": self.placed_seq,
            "placed_at": self.placed_at,
            "last_seq": self.last_seq,
            "last_at": self.last_at,
            "matched": self.matched,
            "reserved": self.reserved,
            "adopted": self.adopted,
        }


def _order(orders: dict[str, OrderRow], event: LedgerEvent) -> OrderRow | None:
    order_id = str(event.payload.get("order_id") or event.order_id or "")
    if not order_id:
        return None
    row = orders.get(order_id)
    if row is None:
        row = orders[order_id] = OrderRow(order_id)
    token = str(event.payload.get("token") or event.token or "")
    if token and not row.token:
        row.token = token
    side = event.payload.get("side")
    if isinstance(side, str) and not row.side:
        row.side = side
    row.last_seq, row.last_at = event.seq, event.wall_time
    return row


def build_orders(events: Iterable[LedgerEvent]) -> dict[str, OrderRow]:
    """Every order mentioned by ``command.place``, ``order.state``, ``reservation``, ``fill.applied`` or
    ``order.adopted``, with its latest state, matched size and reserved remaining."""
    orders: dict[str, OrderRow] = {}
    for event in events:
        if event.type not in ("command.place", "order.state", "reservation", "fill.applied", "order.adopted"):
            continue
        row = _order(orders, event)
        if row is None:
            continue
        p = event.payload
        if event.type == "command.place":
            row.price, row.size = dec(p.get("price"), ZERO), dec(p.get("size"), ZERO)
            row.placed_seq, row.placed_at = event.seq, event.wall_time
        elif event.type == "order.state":
            row.state = str(p.get("new", row.state))
            row.transitions.append(
                (
                    event.seq or 0,
                    event.wall_time,
                    str(p.get("old", "")),
                    row.state,
                    str(p.get("trigger", "")),
                    str(p.get("source", "")),
                )
            )
        elif event.type == "reservation":
            row.reserved = dec(p.get("remaining"))
            if p.get("cause") == "reserve" and row.size is None:
                row.size = dec(p.get("delta"))
        elif event.type == "fill.applied":
            row.matched = dec(p.get("matched"), row.matched)
        else:
            row.adopted = str(p.get("source", "adopted"))
            row.state = "UNKNOWN"
            row.reserved = dec(p.get("remaining"))
            row.size = row.size if row.size is not None else dec(p.get("remaining"))
            row.placed_seq = row.placed_seq or event.seq
            row.placed_at = row.placed_at or event.wall_time
    return orders


def fill_rows(events: Iterable[LedgerEvent]) -> list[dict[str, Any]]:
    """``fill.applied`` and ``fill.reversed`` rows, with the trade price when a ``fill.trade`` gave one."""
    prices: dict[tuple[str, str], Decimal] = {}
    order_prices: dict[str, Decimal] = {}
    rows: list[dict[str, Any]] = []
    for event in events:
        p = event.payload
        if event.type == "fill.trade":
            prices[(str(p.get("trade_id", "")), str(p.get("order_id", "")))] = dec(p.get("price"))
        elif event.type == "command.place":
            order_prices[str(p.get("order_id", ""))] = dec(p.get("price"))
        elif event.type in ("fill.applied", "fill.reversed"):
            trade_id = str(p.get("trade_id") or event.trade_id or "")
            order_id = str(p.get("order_id") or event.order_id or "")
            price = prices.get((trade_id, order_id), order_prices.get(order_id))
            rows.append(
                {
                    "seq": event.seq,
                    "wall_time": event.wall_time,
                    "mono_time": event.mono_time,
                    "kind": "applied" if event.type == "fill.applied" else "reversed",
                    "order_id": order_id,
                    "token": str(p.get("token") or event.token or ""),
                    "side": str(p.get("side", "")),
                    "delta": dec(p.get("delta")),
                    "matched": dec(p.get("matched")) if "matched" in p else None,
                    "price": price,
                    "source": str(p.get("source", "failed" if event.type == "fill.reversed" else "")),
                    "trade_id": trade_id,
                }
            )
    return rows


def gap_rows(events: Iterable[LedgerEvent]) -> list[dict[str, Any]]:
    """Gaps from the ``gap.*`` events (a ``gap.close`` without its ``gap.open``, such as the startup gap
    the core opens before the ledger writer runs, still gets a row)."""
    gaps: dict[str, dict[str, Any]] = {}

    def gap(gap_id: object) -> dict[str, Any]:
        key = str(gap_id)
        if key not in gaps:
            gaps[key] = {
                "gap_id": key,
                "channel": "",
                "reason": "(opened before the ledger: startup)",
                "opened_seq": None,
                "opened_at": None,
                "opened_mono": None,
                "closed_seq": None,
                "closed_at": None,
                "closed_mono": None,
                "resolved_seq": None,
                "resolved_at": None,
                "resolved_mono": None,
                "reconcile_id": None,
            }
        return gaps[key]

    for event in events:
        p = event.payload
        if event.type == "gap.open":
            row = gap(p.get("gap_id"))
            row.update(
                channel=str(p.get("channel", "")),
                reason=str(p.get("reason", "")),
                opened_seq=event.seq,
                opened_at=event.wall_time,
                opened_mono=event.mono_time,
            )
        elif event.type == "gap.close":
            row = gap(p.get("gap_id"))
            if row["closed_seq"] is None:
                row.update(closed_seq=event.seq, closed_at=event.wall_time, closed_mono=event.mono_time)
        elif event.type == "gap.resolve":
            row = gap(p.get("gap_id"))
            if row["resolved_seq"] is None:
                row.update(
                    resolved_seq=event.seq,
                    resolved_at=event.wall_time,
                    resolved_mono=event.mono_time,
                    reconcile_id=str(p.get("reconcile_id", "")),
                )
    return list(gaps.values())


def _scope(payload: Mapping[str, Any]) -> str:
    scope = payload.get("scope")
    if isinstance(scope, Mapping):
        kind, key = str(scope.get("kind", "global")), str(scope.get("key", ""))
        return kind if not key else f"{kind}:{key}"
    return "global"


def halt_rows(events: Iterable[LedgerEvent]) -> list[dict[str, Any]]:
    """Each latched halt with its reason, scope, detail, start and (when it cleared) end."""
    open_: dict[tuple[str, str], dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    for event in events:
        p = event.payload
        if event.type == "halt":
            key = (str(p.get("reason", "")), _scope(p))
            if key in open_:
                continue  # already latched
            row: dict[str, Any] = {
                "reason": key[0],
                "scope": key[1],
                "detail": str(p.get("detail", "")),
                "start_seq": event.seq,
                "start_at": event.wall_time,
                "start_mono": event.mono_time,
                "end_seq": None,
                "end_at": None,
                "end_mono": None,
            }
            open_[key] = row
            rows.append(row)
        elif event.type == "resume":
            key = (str(p.get("reason", "")), _scope(p))
            ended = open_.pop(key, None)
            if ended is not None:
                ended.update(end_seq=event.seq, end_at=event.wall_time, end_mono=event.mono_time)
    return rows


def unknown_rows(events: Iterable[LedgerEvent]) -> list[dict[str, Any]]:
    """Every stay of an order in UNKNOWN: why it entered, which fact resolved it, what was released."""
    current: dict[str, dict[str, Any]] = {}
    remaining: dict[str, Decimal] = {}
    sides: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    for event in events:
        p = event.payload
        order_id = str(p.get("order_id") or event.order_id or "")
        if event.type == "reservation":
            remaining[order_id] = dec(p.get("remaining"))
            sides[order_id] = str(p.get("side", ""))
        if event.type == "order.adopted":
            row = {
                "order_id": order_id,
                "token": str(p.get("token") or event.token or ""),
                "side": str(p.get("side", "")),
                "entered_seq": event.seq,
                "entered_at": event.wall_time,
                "entered_mono": event.mono_time,
                "why": f"adopted from {p.get('source', '?')}",
                "reserved": dec(p.get("remaining")),
            }
            _resolution(row)
            current[order_id] = row
            rows.append(row)
        elif event.type == "order.state":
            new, old = p.get("new"), p.get("old")
            if new == "UNKNOWN" and old != "UNKNOWN":
                row = {
                    "order_id": order_id,
                    "token": str(p.get("token") or event.token or ""),
                    "side": sides.get(order_id, ""),
                    "entered_seq": event.seq,
                    "entered_at": event.wall_time,
                    "entered_mono": event.mono_time,
                    "why": f"{old} -> UNKNOWN on {p.get('trigger', '?')} ({p.get('source', '?')})",
                    "reserved": remaining.get(order_id, ZERO),
                }
                _resolution(row)
                current[order_id] = row
                rows.append(row)
            elif old == "UNKNOWN" and new != "UNKNOWN" and order_id in current:
                row = current[order_id]
                source = str(p.get("source", ""))
                row.update(
                    resolved_seq=event.seq,
                    resolved_at=event.wall_time,
                    resolved_mono=event.mono_time,
                    resolved_to=str(new),
                    resolved_by=f"{p.get('trigger', '?')} ({source})",
                    fact=SOURCE_MEANING.get(source, source),
                )
                if new not in TERMINAL_STATES:
                    current.pop(order_id)
        elif event.type == "reservation" and order_id in current:
            row = current[order_id]
            cause = str(p.get("cause", ""))
            if cause.startswith("released:"):
                row.update(released=-dec(p.get("delta")), release_cause=cause, release_seq=event.seq)
                current.pop(order_id)
    return rows


def _resolution(row: dict[str, Any]) -> None:
    row.update(
        resolved_seq=None,
        resolved_at=None,
        resolved_mono=None,
        resolved_to="",
        resolved_by="",
        fact="",
        released=None,
        release_cause="",
        release_seq=None,
    )
