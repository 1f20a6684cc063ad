"""Text for runs without a terminal: the periodic progress line and the summary after a clean stop."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aqbot.app_state import BotState
from aqbot.ui import fmt
from aqbot.ui.model import DashboardExtras

log = logging.getLogger(__name__)


def log_progress_line(state: BotState, extras: DashboardExtras | None = None) -> str:
    """One compact line for logs (CI, pipes), e.g.
    ``t=120s quoting=yes markets=4 worst/limit max=0.62 quotes=14 fills=9 halts=none gaps=0``.

    ``t`` (seconds since the first frame) and ``fills`` need the tracker's ``extras``; without them they
    are left out. ``worst/limit max`` is the largest ratio over every token (two decimals).
    """
    parts: list[str] = []
    if extras is not None and extras.started_at is not None:
        parts.append(f"t={state.now - extras.started_at:.0f}s")
    _, why = fmt.quoting_summary(state)
    parts.append(f"quoting={why.replace(' ', '')}")
    parts.append(f"markets={len(state.quoting_allowed)}")
    peak = max((fmt.ratio(t) for t in state.tokens), default=fmt.ZERO)
    parts.append(f"worst/limit max={peak:.2f}")
    parts.append(f"quotes={len(state.quotes)}")
    if extras is not None:
        parts.append(f"fills={extras.fills.count}")
    halts = ",".join(sorted({h.reason for h in state.halts})) or "none"
    h = state.health
    parts += [f"halts={halts}", f"gaps={state.open_gaps}"]
    parts.append(f"placed={h.placed} rejected={h.rejected} unknown={h.unknown}")
    if not (h.user_connected and h.market_connected):
        parts.append(f"ws=user:{_updown(h.user_connected)},market:{_updown(h.market_connected)}")
    if h.ledger_failing:
        parts.append("ledger=FAILING")
    return " ".join(parts)


def _updown(flag: bool) -> str:
    return "up" if flag else "DOWN"


def shutdown_summary(
    state: BotState,
    *,
    ledger_path: str | None = None,
    report_hint: str | None = None,
    extras: DashboardExtras | None = None,
) -> str:
    """The paragraph printed after a clean stop: orders left open (should be 0), fills and the core's PnL
    (with the tracker's ``extras``), final positions against limits, halts still active, the ledger and how to
    turn it into a report (``report_hint`` overrides the default ``aqbot report LEDGER``)."""
    sentences: list[str] = []
    n = len(state.quotes)
    if n == 0:
        sentences.append("aqbot stopped cleanly: 0 orders left open.")
    else:
        states = ", ".join(f"{k} {v}" for k, v in sorted(_count(q.state for q in state.quotes).items()))
        sentences.append(
            f"aqbot stopped with {n} order(s) that may still rest ({states}): check the exchange; the "
            "next start reconciles them."
        )
    if extras is not None:
        f = extras.fills
        sentences.append(
            f"Fills seen: {f.count} (bought {fmt.dec(f.bought)} for {fmt.dec(f.buy_value)} pUSD, sold "
            f"{fmt.dec(f.sold)} for {fmt.dec(f.sell_value)} pUSD)."
        )
        p = state.pnl  # the core's PnL book (aqbot.core.pnl)
        today = "" if p.daily is None else f", today {fmt.signed(p.daily)}"
        sentences.append(
            f"PnL {fmt.signed(p.total)} pUSD (realized {fmt.signed(p.realized)}, unrealized "
            f"{fmt.signed(p.unrealized)} at the bid{today})."
        )
    held = [t for t in state.tokens if t.held or t.worst]
    labels = {} if extras is None else extras.labels
    if held:
        rows = "; ".join(
            f"{fmt.outcome_label(labels, state, t)} {fmt.short(t.market)} held {fmt.dec(t.held)} "
            f"(worst {fmt.dec(t.worst)}) / limit {fmt.dec(t.limit)}"
            for t in held
        )
        sentences.append(f"Final positions: {rows}.")
    else:
        sentences.append(f"Final positions: flat on all {len(state.tokens)} tokens.")
    over = [t for t in state.tokens if t.worst > t.limit]
    if over:
        sentences.append(f"LIMIT EXCEEDED on {len(over)} token(s).")
    else:
        sentences.append("Every token stayed within its limit at the end.")
    others = [h for h in state.halts if (h.reason, h.detail) != ("MANUAL", "shutdown")]
    if others:
        halts = ", ".join(f"{h.reason} ({h.detail})" if h.detail else h.reason for h in others)
        sentences.append(f"Halts active at exit: {halts}.")
    elif state.halts:
        sentences.append("No halt active at exit besides the stop's own MANUAL halt.")
    else:
        sentences.append("No halt active at exit.")
    if ledger_path is not None:
        hint = report_hint if report_hint is not None else f"aqbot report {ledger_path}"
        sentences.append(f"Ledger: {ledger_path}; make the report with: {hint}")
    elif report_hint is not None:
        sentences.append(f"Make the report with: {report_hint}")
    return " ".join(sentences)


def _count(items: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return out
