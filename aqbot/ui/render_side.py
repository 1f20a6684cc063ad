"""The dashboard's lower panels as lines: health, active halts, recent events (pure, like
:mod:`aqbot.ui.render`)."""

from __future__ import annotations

import logging

from rich.text import Text

from aqbot.app_state import BotState
from aqbot.ui import fmt
from aqbot.ui.layout import cell, columns
from aqbot.ui.model import ChannelIo, DashboardExtras

log = logging.getLogger(__name__)

# Recent events shown (the tracker keeps more).
MAX_EVENT_ROWS = 10
# A health age is yellow beyond this many seconds since the last success.
STALE_SECONDS = 15.0
# Reconciliation runs every 60 s: its age turns yellow later.
RECONCILE_STALE_SECONDS = 135.0
# Error texts are cut to this many characters in the health panel.
ERROR_CHARS = 32
_LABEL = 10
_EVENT_STYLES = {
    "halt": "bold red",
    "resume": "green",
    "fill": "cyan",
    "gap": "yellow",
    "ws": "yellow",
    "health": "yellow",
    "held": "magenta",
}


def _ok(flag: bool, good: str, bad: str) -> Text:
    return Text(good, style="green") if flag else Text(bad, style="bold red")


def _age(state: BotState, at: float | None, stale: float = STALE_SECONDS) -> Text:
    text = fmt.ago(state.now, at)
    if at is None or state.now - at > stale:
        return Text(text, style="yellow")
    return Text(text)


def _error(text: str) -> str:
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 1] + "…"


def _channel(state: BotState, connected: bool, gaps: int, io: ChannelIo | None) -> Text:
    text = _ok(connected, "● up", "○ DOWN")
    text.append(f"  gaps {gaps}", style="yellow" if gaps else "")
    if io is not None:
        text.append(f"  frames {io.frames}  conn {io.connects}")
        if io.decode_errors:
            text.append(f"  bad {io.decode_errors}", style="yellow")
        text.append("  last ")
        text.append_text(_age(state, io.last_frame_at))
    return text


def _row(label: str, value: Text) -> Text:
    out = Text(label.ljust(_LABEL), style="bold")
    out.append_text(value)
    return out


def health_lines(state: BotState, ex: DashboardExtras) -> list[Text]:
    """Channels, heartbeat, reconciliation, positions, ledger and order counters."""
    h, io = state.health, ex.io
    user, market = (None, None) if io is None else (io.user, io.market)
    lines = [
        _row("user ws", _channel(state, h.user_connected, h.user_gaps, user)),
        _row("market ws", _channel(state, h.market_connected, h.market_gaps, market)),
    ]
    beat = Text("last ok ")
    beat.append_text(_age(state, h.heartbeat_last_ok))
    if io is not None:
        beat.append(f"  beats {io.heartbeat_beats}  failures {io.heartbeat_failures}")
    if h.heartbeat_lapsed:
        beat.append("  LAPSED", style="bold red")
    lines.append(_row("heartbeat", beat))
    recon = Text("last ok ")
    recon.append_text(_age(state, h.reconcile_last_ok, RECONCILE_STALE_SECONDS))
    recon.append(f"  failures {h.reconcile_failures}", style="yellow" if h.reconcile_failures else "")
    if io is not None:
        recon.append(f"  runs {io.reconcile_runs}")
        if io.reconcile_last_error:
            recon.append(f"  last error: {_error(io.reconcile_last_error)}", style="yellow")
    lines.append(_row("reconcile", recon))
    pos = Text("last ok ")
    pos.append_text(_age(state, h.positions_last_ok, 3 * STALE_SECONDS))
    if io is not None:
        pos.append(f"  syncs {io.positions_syncs}  failures {io.positions_failures}")
        if io.positions_last_error:
            pos.append(f"  last error: {_error(io.positions_last_error)}", style="yellow")
    lines.append(_row("positions", pos))
    ledger = _ok(not h.ledger_failing, "ok", "FAILING")
    ledger.append(f"  buffered {h.ledger_buffered}")
    lines.append(_row("ledger", ledger))
    orders = Text(f"placed {h.placed}  rejected {h.rejected}  ")
    orders.append(f"unknown {h.unknown}", style="bold yellow" if h.unknown else "")
    lines.append(_row("orders", orders))
    if ex.frame_ms is not None:
        lines.append(_row("frame", Text(f"{ex.frame_ms:.1f} ms", style="dim")))
    return lines


def halts_lines(state: BotState, ex: DashboardExtras) -> tuple[list[Text], str]:
    """Every active halt (reason, scope, for how long, detail), and the box's border style."""
    if not state.halts:
        return [Text(f"none  (open gaps {state.open_gaps})", style="green")], ""
    rows = []
    for halt in sorted(state.halts, key=lambda x: (x.since, x.reason, x.scope)):
        scope = fmt.scope_text(halt.scope, state, ex.labels)
        rows.append(
            [
                cell(halt.reason, "bold red"),
                cell(scope),
                cell(f"for {fmt.duration(state.now - halt.since)}"),
                cell(halt.detail),
            ]
        )
    return columns(("reason", "scope", "for", "detail"), rows, show_header=False), "red"


def events_lines(state: BotState, ex: DashboardExtras) -> list[Text]:
    """The last :data:`MAX_EVENT_ROWS` events, newest last, each with its age."""
    events = ex.events[-MAX_EVENT_ROWS:]
    if not events:
        return [Text("(nothing yet)", style="dim")]
    ages = ["now" if state.now - e.at < 1 else f"-{fmt.duration(state.now - e.at)}" for e in events]
    width = max(len(a) for a in ages)
    out = []
    for age, event in zip(ages, events, strict=True):
        line = Text(age.rjust(width), style="dim")
        line.append("  ")
        line.append(event.kind.ljust(6), style=_EVENT_STYLES.get(event.kind, ""))
        line.append("  ")
        line.append(event.text)
        out.append(line)
    return out
