"""Rebuild aqbot's exposure from the ledger's facts alone, and check it against the recorded snapshots.

The runtime records every core fact (``reservation``, ``fill.applied``, ``fill.reversed``,
``position.decision``, ``order.adopted``, ``order.state``) in the order the core produced it, and a
``snapshot`` of the whole core state every ``snapshot_interval`` seconds and at shutdown. Replaying the
facts between two snapshots must reproduce the second one exactly; :class:`LedgerState` does that replay:

* ``held[t]`` moves by ``fill.applied.delta`` and ``fill.reversed.delta`` (both signed) and is set to
  ``position.decision.held_after`` (whose ``held_before`` must equal the replayed value);
* a ``reservation`` event sets its order's remaining size (``remaining``; ``previous + delta`` must equal
  it), ``order.adopted`` reserves ``remaining``; ``open_buy[t]``/``open_sell[t]`` are the sums;
* at each ``snapshot`` the replayed ``held``, ``open_buy``, ``open_sell`` per token and the nonzero
  reservations per order must equal the snapshot's, and the snapshot's own aggregates must equal the sum
  of its reservations.

A restart is where the runtime rebuilt its state from the newest snapshot: the event after ``shutdown``,
a ``startup`` event, or the monotonic clock going backwards or jumping forward by more than
:data:`RESTART_JUMP` (a new process has a new clock origin; a live bot writes a snapshot every 30 s, so a
silent jump that long does not happen inside one process). There the replay restarts from the newest
snapshot, as the runtime did.

This module is pure computation over :class:`~aqbot.io.ledger_events.LedgerEvent` objects (no I/O).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

from aqbot.io.ledger_events import LedgerEvent

log = logging.getLogger(__name__)

ZERO = Decimal(0)
# A forward jump of the monotonic clock between two events longer than this marks a restart (seconds).
RESTART_JUMP = 600.0
# Problems listed before the rest are only counted.
MAX_PROBLEMS = 20


def dec(value: object, default: Decimal = ZERO) -> Decimal:
    """A payload number (stored as a decimal string) as ``Decimal``; ``default`` when absent or bad."""
    if value is None or isinstance(value, bool):
        return default
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return default
    return result if result.is_finite() else default


@attrs.define
class TokenBook:
    """Replayed exposure of one token."""

    held: Decimal = ZERO
    open_buy: Decimal = ZERO
    open_sell: Decimal = ZERO

    @property
    def worst(self) -> Decimal:
        """``held + open_buy``: the L1 worst case (the core also counts sells that may still FAIL)."""
        return self.held + self.open_buy


@attrs.define
class Reserved:
    token: str
    side: str
    remaining: Decimal


@attrs.define
class LedgerState:
    """The fact replay; feed it every event in ``seq`` order with :meth:`apply`."""

    tokens: dict[str, TokenBook] = attrs.Factory(dict)
    reservations: dict[str, Reserved] = attrs.Factory(dict)
    problems: list[str] = attrs.Factory(list)
    problem_count: int = 0
    snapshots_checked: int = 0
    restarts: list[int] = attrs.Factory(list)
    last_snapshot: Mapping[str, Any] | None = None
    _prev_type: str | None = None
    _prev_mono: float | None = None

    def book(self, token: str) -> TokenBook:
        if token not in self.tokens:
            self.tokens[token] = TokenBook()
        return self.tokens[token]

    def problem(self, seq: int | None, text: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(f"seq {seq}: {text}")

    def apply(self, event: LedgerEvent) -> set[str]:
        """Apply one event; returns the tokens whose exposure it changed."""
        if self._is_restart(event):
            self.restarts.append(event.seq or 0)
            self._reset_to_snapshot()
        self._prev_type, self._prev_mono = event.type, event.mono_time
        handler = _HANDLERS.get(event.type)
        return handler(self, event) if handler is not None else set()

    def apply_all(self, events: Iterable[LedgerEvent]) -> LedgerState:
        for event in events:
            self.apply(event)
        return self

    def _is_restart(self, event: LedgerEvent) -> bool:
        if self._prev_type is None:
            return False
        if event.type == "startup" or self._prev_type == "shutdown":
            return True
        assert self._prev_mono is not None
        step = event.mono_time - self._prev_mono
        return step < 0 or step > RESTART_JUMP

    def _reset_to_snapshot(self) -> None:
        self.tokens, self.reservations = {}, {}
        state = self.last_snapshot
        if state is None:
            return
        for token, row in _mapping(state.get("tokens")).items():
            row = _mapping(row)
            self.tokens[str(token)] = TokenBook(
                dec(row.get("held")), dec(row.get("open_buy")), dec(row.get("open_sell"))
            )
        for order_id, row in _mapping(state.get("reservations")).items():
            row = _mapping(row)
            self.reservations[str(order_id)] = Reserved(
                str(row.get("token", "")), str(row.get("side", "")), dec(row.get("remaining"))
            )

    # --- facts ----------------------------------------------------------------------------------------

    def _reservation(self, event: LedgerEvent) -> set[str]:
        p = event.payload
        order_id = str(p.get("order_id") or event.order_id or "")
        token = str(p.get("token") or event.token or "")
        side = str(p.get("side", ""))
        remaining, delta = dec(p.get("remaining")), dec(p.get("delta"))
        previous = self.reservations.get(order_id)
        before = previous.remaining if previous is not None else ZERO
        if before + delta != remaining:
            self.problem(
                event.seq,
                f"reservation of {order_id}: previous {before} + delta {delta} != remaining {remaining}",
            )
        self._set_reserved(order_id, token, side, remaining)
        return {token}

    def _adopted(self, event: LedgerEvent) -> set[str]:
        p = event.payload
        token = str(p.get("token") or event.token or "")
        self._set_reserved(
            str(p.get("order_id") or event.order_id), token, str(p.get("side", "")), dec(p.get("remaining"))
        )
        return {token}

    def _set_reserved(self, order_id: str, token: str, side: str, remaining: Decimal) -> None:
        previous = self.reservations.get(order_id)
        if previous is not None:
            self._add_open(previous.token, previous.side, -previous.remaining)
        self._add_open(token, side, remaining)
        self.reservations[order_id] = Reserved(token, side, remaining)

    def _add_open(self, token: str, side: str, qty: Decimal) -> None:
        book = self.book(token)
        if side == "BUY":
            book.open_buy += qty
        else:
            book.open_sell += qty

    def _fill(self, event: LedgerEvent) -> set[str]:
        p = event.payload
        token = str(p.get("token") or event.token or "")
        self.book(token).held += dec(p.get("delta"))
        return {token}

    def _position(self, event: LedgerEvent) -> set[str]:
        p = event.payload
        token = str(p.get("token") or event.token or "")
        book = self.book(token)
        before = dec(p.get("held_before"), book.held)
        if before != book.held:
            self.problem(
                event.seq,
                f"position.decision on {token[:12]}…: held_before {before}, "
                f"the replayed fills give {book.held}",
            )
        book.held = dec(p.get("held_after"), book.held)
        return {token}

    def _snapshot(self, event: LedgerEvent) -> set[str]:
        state = _mapping(event.payload.get("state"))
        self.snapshots_checked += 1
        self._check_snapshot(event.seq, state)
        self.last_snapshot = state
        # Continue from the recorded state, so one discrepancy is reported once, not at every snapshot.
        changed = set(self.tokens)
        self._reset_to_snapshot()
        return changed | set(self.tokens)

    def _check_snapshot(self, seq: int | None, state: Mapping[str, Any]) -> None:
        recorded = {str(t): _mapping(r) for t, r in _mapping(state.get("tokens")).items()}
        sums: dict[str, list[Decimal]] = {}
        for order_id, row in _mapping(state.get("reservations")).items():
            row = _mapping(row)
            remaining = dec(row.get("remaining"))
            entry = sums.setdefault(str(row.get("token", "")), [ZERO, ZERO])
            entry[0 if row.get("side") == "BUY" else 1] += remaining
            mine = self.reservations.get(str(order_id))
            if remaining != (mine.remaining if mine else ZERO):
                self.problem(
                    seq,
                    f"snapshot reserves {remaining} for order {order_id}, the replayed facts "
                    f"{mine.remaining if mine else ZERO}",
                )
        for order_id, mine in self.reservations.items():
            if mine.remaining != ZERO and str(order_id) not in _mapping(state.get("reservations")):
                self.problem(
                    seq,
                    f"replayed facts reserve {mine.remaining} for order {order_id}, absent from the snapshot",
                )
        for token in sorted(set(recorded) | set(self.tokens)):
            row = recorded.get(token, {})
            replayed = self.tokens.get(token, TokenBook())
            for name, value in (
                ("held", replayed.held),
                ("open_buy", replayed.open_buy),
                ("open_sell", replayed.open_sell),
            ):
                if dec(row.get(name)) != value:
                    self.problem(
                        seq,
                        f"snapshot {name} of token {token[:12]}… is {dec(row.get(name))}, "
                        f"replaying the facts gives {value}",
                    )
            buy, sell = sums.get(token, [ZERO, ZERO])
            if dec(row.get("open_buy")) != buy or dec(row.get("open_sell")) != sell:
                self.problem(
                    seq,
                    f"snapshot of token {token[:12]}…: open_buy/open_sell "
                    f"{dec(row.get('open_buy'))}/{dec(row.get('open_sell'))} disagree with "
                    f"its reservations {buy}/{sell}",
                )


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


_HANDLERS = {
    "reservation": LedgerState._reservation,
    "order.adopted": LedgerState._adopted,
    "fill.applied": LedgerState._fill,
    "fill.reversed": LedgerState._fill,
    "position.decision": LedgerState._position,
    "snapshot": LedgerState._snapshot,
}
