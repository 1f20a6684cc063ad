"""``aqbot ledger verify``: the store's structural checks plus the fact replay against the snapshots.

Structural (:meth:`aqbot.io.ledger.LedgerStore.verify`): schema version, the append-only triggers exist
and abort, ``seq`` starts at 1 with no hole, every payload is a JSON object, every type is well formed,
the ``gaps`` table agrees with the ``gap.*`` events. Replay (:mod:`aqbot.tools.ledger_state`): replaying
the recorded facts reproduces every recorded ``snapshot`` (held, open BUY/SELL per token, reservations per
order), each reservation's ``delta`` agrees with its ``remaining``, and each positions decision starts from
the replayed ``held``.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import attrs

from aqbot.io.ledger import LedgerStore
from aqbot.tools.ledger_state import LedgerState

log = logging.getLogger(__name__)


@attrs.frozen
class VerifyResult:
    """Everything ``verify`` found; ``ok`` when there is no problem."""

    path: str
    event_count: int
    last_seq: int
    structural: tuple[str, ...]
    replay: tuple[str, ...]
    replay_problem_count: int
    snapshots_checked: int
    restarts: tuple[int, ...]
    unknown_types: tuple[str, ...]
    replay_ran: bool

    @property
    def ok(self) -> bool:
        return not self.structural and not self.replay and self.replay_ran

    def as_dict(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "ok": self.ok}

    def lines(self) -> list[str]:
        """Human-readable report: one ``ok:``/``FAIL:`` line per check, then the problems."""
        out = [f"ledger {self.path}: {self.event_count} event(s), last seq {self.last_seq}"]
        out.append(
            "FAIL: structure"
            if self.structural
            else "ok: structure (schema, append-only triggers, seq continuity, JSON payloads, gaps table)"
        )
        out.extend(f"  - {p}" for p in self.structural)
        if not self.replay_ran:
            out.append("FAIL: replay could not run (see the structural problems)")
        elif self.replay:
            more = self.replay_problem_count - len(self.replay)
            out.append(
                f"FAIL: replay: {self.replay_problem_count} discrepancy(ies) between the facts and the "
                f"{self.snapshots_checked} snapshot(s)"
            )
            out.extend(f"  - {p}" for p in self.replay)
            if more > 0:
                out.append(f"  - ... and {more} more")
        else:
            out.append(
                f"ok: replay of the facts reproduces all {self.snapshots_checked} snapshot(s)"
                + (f" (restarts at seq {', '.join(map(str, self.restarts))})" if self.restarts else "")
            )
        if self.unknown_types:
            out.append(f"note: event types this aqbot does not document: {', '.join(self.unknown_types)}")
        return out


def verify_ledger(store: LedgerStore) -> VerifyResult:
    """Run every check on an open (read-only) store."""
    try:
        report = store.verify()
    except sqlite3.DatabaseError as exc:
        return VerifyResult(
            str(store.path),
            0,
            0,
            (f"the database is unreadable ({exc}): corrupted or truncated; restore it from a backup",),
            (),
            0,
            0,
            (),
            (),
            False,
        )
    state = LedgerState()
    replay_ran = True
    structural = list(report.problems)
    try:
        for event in store.iter_events():
            state.apply(event)
    except (ValueError, sqlite3.Error) as exc:
        replay_ran = False
        structural.append(f"events cannot be read for replay ({exc})")
    return VerifyResult(
        path=str(store.path),
        event_count=report.event_count,
        last_seq=report.last_seq,
        structural=tuple(dict.fromkeys(structural)),
        replay=tuple(state.problems),
        replay_problem_count=state.problem_count,
        snapshots_checked=state.snapshots_checked,
        restarts=tuple(state.restarts),
        unknown_types=report.unknown_types,
        replay_ran=replay_ran,
    )
