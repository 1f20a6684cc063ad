"""The paper-run summary: what the bot did (from its ledger) and what the exchange credited (from the
simulator's tape and books), in one JSON object.

Limit evidence comes from two independent sides:

* ``max_worst_ratio``: aqbot's own view, ``worst / limit`` sampled by :class:`WorstSampler` on every core
  change (the L1 contract).
* ``exchange_max_position_ratio`` and ``limit_violations``: the simulator's ground truth, replayed from its
  tape (every ``fill``, every ``FAILED`` reversal) and cross-checked with the engine's own
  ``max_position_seen`` (the L2 promise). A violation is a fill after which the exchange credited the bot
  more than its limit.

``pnl`` is the core's PnL book (:mod:`aqbot.core.pnl`) as of the ledger's last snapshot (written at every
shutdown): ``realized``, ``unrealized`` (marked at the best bid net of the bot's own bids), ``total``, and
``daily`` (since the start of the simulated UTC day; ``null`` if never marked), as decimal strings.

:data:`SUMMARY_FIELDS` is the exact key set of the JSON (tested).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn

import attrs
import trio

from aqbot.core.engine import Core
from aqbot.core.pnl import PnlBook
from aqbot.core.snapshot import pnl_of
from aqbot.io.hub import Hub
from aqbot.io.ledger import LedgerStore

log = logging.getLogger(__name__)

ZERO = Decimal(0)
# Violations listed in the summary (the count is always exact).
MAX_LISTED_VIOLATIONS = 50
UNITS = Decimal(1_000_000)

SUMMARY_FIELDS: tuple[str, ...] = (
    "seed",
    "faults",
    "markets",
    "bot_owner",
    "limits",
    "simulated_seconds",
    "wall_seconds",
    "orders_submitted",
    "orders_rejected",
    "fills",
    "fills_failed",
    "halts",
    "max_worst_ratio",
    "exchange_max_position_ratio",
    "limit_violations",
    "final_state_matches_exchange",
    "ledger_events",
    "open_gaps",
    "faults_injected",
    "pnl",
)


@attrs.define
class WorstSampler:
    """The largest ``worst / limit`` over tokens and time, as aqbot's core saw it (L1)."""

    limits: dict[str, Decimal]
    max_ratio: Decimal = ZERO
    max_token: str = ""
    max_at: float = 0.0
    samples: int = 0

    def sample(self, core: Core, now: float) -> None:
        self.samples += 1
        for token, limit in self.limits.items():
            ratio = core.token_exposure(token).worst / limit
            if ratio > self.max_ratio:
                self.max_ratio, self.max_token, self.max_at = ratio, token, now

    async def run(
        self, hub: Hub, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> NoReturn:
        """Sample after every applied outcome of ``hub`` (one sample per wake-up). Runs until cancelled."""
        seen = hub.version
        self.sample(hub.core, trio.current_time())
        task_status.started()
        while True:
            seen = await hub.wait_changed(seen)
            self.sample(hub.core, trio.current_time())


@attrs.frozen
class Violation:
    t_ms: int
    token: str
    position: Decimal
    limit: Decimal

    def to_json(self) -> dict[str, object]:
        return {
            "t_ms": self.t_ms,
            "token": self.token,
            "position": str(self.position),
            "limit": str(self.limit),
        }


@attrs.define
class TapeEvidence:
    """The bot owner's side of the tape."""

    fills: int = 0
    fills_failed: int = 0
    rejected: int = 0
    peak: dict[str, Decimal] = attrs.Factory(dict)
    final: dict[str, Decimal] = attrs.Factory(dict)
    violations: list[Violation] = attrs.Factory(list)
    violation_count: int = 0
    faults: dict[str, int] = attrs.Factory(dict)
    fill_trades: dict[str, int] = attrs.Factory(dict)  # trade id -> fills of the bot in it
    failed_trades: set[str] = attrs.Factory(set)
    last_t: int = 0
    first_t: int = 0


def tape_evidence(lines: Iterable[str], owner: str, limits: Mapping[str, Decimal]) -> TapeEvidence:
    """Replay a tape for ``owner``: fills, reversals, peaks and every instant above a limit.

    Raises:
        ValueError: a line is not a tape record.
    """
    ev = TapeEvidence()
    pos: dict[str, Decimal] = {}
    by_trade: dict[str, list[tuple[str, Decimal]]] = {}
    for line in lines:
        if not line.strip():
            continue
        rec = json.loads(line)
        if not isinstance(rec, dict) or "type" not in rec:
            raise ValueError(f"not a tape record: {line[:80]!r}")
        kind, t = rec["type"], int(rec["t"])
        if kind == "header":
            ev.first_t = t
        ev.last_t = max(ev.last_t, t)
        if kind == "fault":
            name = str(rec["fault"])
            ev.faults[name] = ev.faults.get(name, 0) + 1
        elif kind == "order_rejected" and rec.get("owner") == owner:
            ev.rejected += 1
        elif kind == "fill" and rec.get("owner") == owner:
            token = str(rec["token"])
            size = Decimal(rec["size"])
            delta = size - Decimal(rec["fee"]) if rec["side"] == "BUY" else -size
            pos[token] = pos.get(token, ZERO) + delta
            ev.fills += 1
            tid = str(rec["trade_id"])
            by_trade.setdefault(tid, []).append((token, delta))
            ev.fill_trades[tid] = ev.fill_trades.get(tid, 0) + 1
            _peak(ev, token, pos[token], t, limits)
        elif kind == "trade_status" and rec.get("status") == "FAILED":
            tid = str(rec["trade_id"])
            for token, delta in by_trade.get(tid, []):
                pos[token] -= delta
                ev.fills_failed += 1
                ev.failed_trades.add(tid)
                _peak(ev, token, pos[token], t, limits)
    ev.final = pos
    return ev


def _peak(ev: TapeEvidence, token: str, value: Decimal, t: int, limits: Mapping[str, Decimal]) -> None:
    if value > ev.peak.get(token, ZERO):
        ev.peak[token] = value
    limit = limits.get(token)
    if limit is not None and value > limit:
        ev.violation_count += 1
        if len(ev.violations) < MAX_LISTED_VIOLATIONS:
            ev.violations.append(Violation(t, token, value, limit))


@attrs.define
class LedgerEvidence:
    """Counts from the bot's ledger (every incarnation of the bot that wrote to it)."""

    events: int = 0
    submitted: int = 0
    rejected: int = 0
    fills_applied: int = 0
    fills_reversed: int = 0
    halts: dict[str, dict[str, float | int]] = attrs.Factory(dict)
    open_gaps: int = 0
    verify_problems: tuple[str, ...] = ()
    pnl: PnlBook = attrs.Factory(PnlBook)  # from the last snapshot


def ledger_evidence(path: Path) -> LedgerEvidence:
    """Read the ledger at ``path`` (read-only): counts, halts per reason (count and seconds), gaps.

    Halt time is measured on ``mono_time`` from a ``halt`` row to the ``resume`` of the same reason and
    scope, or to the last row when it never cleared.
    """
    ev = LedgerEvidence()
    active: dict[tuple[str, str], float] = {}
    last = 0.0
    with LedgerStore.open(path, read_only=True) as store:
        ev.verify_problems = store.verify().problems
        ev.open_gaps = len(store.gaps(unresolved_only=True))
        for event in store.iter_events():
            ev.events += 1
            last = max(last, event.mono_time)
            p = event.payload
            if event.type == "command.place":
                ev.submitted += 1
            elif event.type == "snapshot" and isinstance(p.get("state"), dict):
                ev.pnl = pnl_of(p["state"])
            elif event.type == "order.state" and p.get("new") == "REJECTED":
                ev.rejected += 1
            elif event.type == "fill.applied":
                ev.fills_applied += 1
            elif event.type == "fill.reversed":
                ev.fills_reversed += 1
            elif event.type in ("halt", "resume"):
                reason = str(p.get("reason"))
                key = (reason, json.dumps(p.get("scope"), sort_keys=True))
                entry = ev.halts.setdefault(reason, {"count": 0, "seconds": 0.0})
                if event.type == "halt":
                    entry["count"] = int(entry["count"]) + 1
                    active.setdefault(key, event.mono_time)
                elif key in active:
                    entry["seconds"] = float(entry["seconds"]) + event.mono_time - active.pop(key)
    for (reason, _), since in active.items():
        ev.halts[reason]["seconds"] = float(ev.halts[reason]["seconds"]) + last - since
    for entry in ev.halts.values():
        entry["seconds"] = round(float(entry["seconds"]), 3)
    return ev


def ratio_text(value: Decimal) -> str:
    """A ratio as a short exact-enough decimal string (6 places)."""
    return str(value.quantize(Decimal("0.000001")))


@attrs.frozen
class RunFacts:
    """What the runner knows besides the ledger and the tape."""

    seed: int
    faults: str
    markets: int
    bot_owner: str
    limits: dict[str, Decimal]
    simulated_seconds: float
    wall_seconds: float
    max_worst_ratio: Decimal
    engine_max_seen: dict[str, Decimal]
    final_state_matches_exchange: bool
    final_state_detail: str = ""


def build_summary(facts: RunFacts, ledger: LedgerEvidence, tape: TapeEvidence) -> dict[str, Any]:
    """The summary JSON object (keys: :data:`SUMMARY_FIELDS`)."""
    exchange_ratio = ZERO
    for token, limit in facts.limits.items():
        peak = max(tape.peak.get(token, ZERO), facts.engine_max_seen.get(token, ZERO))
        exchange_ratio = max(exchange_ratio, peak / limit)
    return {
        "seed": facts.seed,
        "faults": facts.faults,
        "markets": facts.markets,
        "bot_owner": facts.bot_owner,
        "limits": {t: str(v) for t, v in sorted(facts.limits.items())},
        "simulated_seconds": round(facts.simulated_seconds, 3),
        "wall_seconds": round(facts.wall_seconds, 3),
        "orders_submitted": ledger.submitted,
        "orders_rejected": ledger.rejected,
        "fills": tape.fills,
        "fills_failed": tape.fills_failed,
        "halts": {k: dict(v) for k, v in sorted(ledger.halts.items())},
        "max_worst_ratio": ratio_text(facts.max_worst_ratio),
        "exchange_max_position_ratio": ratio_text(exchange_ratio),
        "limit_violations": [v.to_json() for v in tape.violations],
        "final_state_matches_exchange": facts.final_state_matches_exchange,
        "ledger_events": ledger.events,
        "open_gaps": ledger.open_gaps,
        "faults_injected": dict(sorted(tape.faults.items())),
        "pnl": pnl_json(ledger.pnl),
    }


def pnl_json(book: PnlBook) -> dict[str, str | None]:
    """The ``pnl`` object of the summary (decimal strings, rounded to 1e-6 pUSD)."""
    f = book.figures()
    q = Decimal("0.000001")
    return {
        "realized": str(f.realized.quantize(q)),
        "unrealized": str(f.unrealized.quantize(q)),
        "total": str(f.total.quantize(q)),
        "daily": None if f.daily is None else str(f.daily.quantize(q)),
    }


def summary_ok(summary: Mapping[str, Any]) -> bool:
    """Exit code 0 material: no violation and the final state matches the exchange."""
    return not summary["limit_violations"] and bool(summary["final_state_matches_exchange"])


def summary_paragraph(summary: Mapping[str, Any]) -> str:
    """One human paragraph for the end of a run."""
    halts = (
        ", ".join(f"{r} x{v['count']} ({v['seconds']:.0f}s)" for r, v in summary["halts"].items()) or "none"
    )
    faults = sum(summary["faults_injected"].values())
    pnl = summary["pnl"]
    verdict = "PASS" if summary_ok(summary) else "FAIL"
    return (
        f"{verdict}: seed {summary['seed']}, faults {summary['faults']}, {summary['markets']} market(s), "
        f"{summary['simulated_seconds']:.0f} simulated s in {summary['wall_seconds']:.1f} wall s. "
        f"{summary['orders_submitted']} orders submitted ({summary['orders_rejected']} rejected), "
        f"{summary['fills']} fills ({summary['fills_failed']} FAILED and reversed). "
        f"Worst/limit peaked at {summary['max_worst_ratio']} in aqbot's books and the exchange credited at "
        f"most {summary['exchange_max_position_ratio']} of the limit; "
        f"{len(summary['limit_violations'])} limit violation(s). "
        f"Final state matches the exchange: {summary['final_state_matches_exchange']}. "
        f"Halts: {halts}. {faults} fault(s) injected, {summary['ledger_events']} ledger events, "
        f"{summary['open_gaps']} open gap(s). PnL {pnl['total']} pUSD (realized {pnl['realized']}, "
        f"unrealized {pnl['unrealized']} at the bid; today {pnl['daily']})."
    )


def units_to_shares(value: int) -> Decimal:
    return Decimal(value) / UNITS
