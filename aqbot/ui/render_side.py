"""The dashboard's lower panels: health, active halts, recent events (pure, like :mod:`aqbot.ui.render`)."""

from __future__ import annotations

import logging

from rich import box
from rich.console import RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from aqbot.app_state import BotState
from aqbot.ui import fmt
from aqbot.ui.model import ChannelIo, DashboardExtras

log = logging.getLogger(__name__)

# Recent events shown (the tracker keeps more).
MAX_EVENT_ROWS = 10
# A health age is yellow beyond this many seconds since the last success (reconciliation: 2x).
STALE_SECONDS = 15.0
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


def _channel(state: BotState, connected: bool, gaps: int, io: ChannelIo | None) -> Text:
    text = _ok(connected, "● connected", "○ DOWN")
    text.append(f"  gaps {gaps}", style="yellow" if gaps else "")
    if io is not None:
        text.append(f"  frames {io.frames}  connects {io.connects}")
        if io.decode_errors:
            text.append(f"  decode errors {io.decode_errors}", style="yellow")
        text.append("  last frame ")
        text.append_text(_age(state, io.last_frame_at))
    return text


def render_health(state: BotState, ex: DashboardExtras) -> RenderableType:
    """Channels, heartbeat, reconciliation, positions, ledger and order counters."""
    h, io = state.health, ex.io
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    user, market = (None, None) if io is None else (io.user, io.market)
    grid.add_row("user ws", _channel(state, h.user_connected, h.user_gaps, user))
    grid.add_row("market ws", _channel(state, h.market_connected, h.market_gaps, market))
    beat = Text("last ok ")
    beat.append_text(_age(state, h.heartbeat_last_ok))
    if io is not None:
        beat.append(f"  beats {io.heartbeat_beats}  failures {io.heartbeat_failures}")
    if h.heartbeat_lapsed:
        beat.append("  LAPSED", style="bold red")
    grid.add_row("heartbeat", beat)
    recon = Text("last ok ")
    recon.append_text(_age(state, h.reconcile_last_ok, 2 * 60.0 + STALE_SECONDS))
    recon.append(f"  failures {h.reconcile_failures}", style="yellow" if h.reconcile_failures else "")
    if io is not None:
        recon.append(f"  runs {io.reconcile_runs}")
        if io.reconcile_last_error:
            recon.append(f"  last error: {io.reconcile_last_error}", style="yellow")
    grid.add_row("reconcile", recon)
    pos = Text("last ok ")
    pos.append_text(_age(state, h.positions_last_ok, 2 * STALE_SECONDS + STALE_SECONDS))
    if io is not None:
        pos.append(f"  syncs {io.positions_syncs}  failures {io.positions_failures}")
        if io.positions_last_error:
            pos.append(f"  last error: {io.positions_last_error}", style="yellow")
    grid.add_row("positions", pos)
    ledger = _ok(not h.ledger_failing, "ok", "FAILING")
    ledger.append(f"  buffered {h.ledger_buffered}")
    grid.add_row("ledger", ledger)
    orders = Text(f"placed {h.placed}  rejected {h.rejected}  ")
    orders.append(f"unknown {h.unknown}", style="bold yellow" if h.unknown else "")
    grid.add_row("orders", orders)
    if ex.frame_ms is not None:
        grid.add_row("frame", Text(f"{ex.frame_ms:.1f} ms", style="dim"))
    return Panel(grid, title="health", title_align="left", box=box.ROUNDED)


def render_halts(state: BotState) -> RenderableType:
    """Every active halt: reason, scope, for how long, detail; and the open gap count."""
    if not state.halts:
        body: RenderableType = Text(f"none  (open gaps {state.open_gaps})", style="green")
        return Panel(body, title="halts", title_align="left", box=box.ROUNDED)
    table = Table(box=None, padding=(0, 1), show_header=False)
    table.add_column(style="bold red", no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    for halt in sorted(state.halts, key=lambda x: (x.since, x.reason, x.scope)):
        kind, _, key = halt.scope.partition(":")
        scope = kind if not key else f"{kind} {fmt.short(key)}"
        table.add_row(halt.reason, scope, f"for {fmt.duration(state.now - halt.since)}", halt.detail)
    title = f"halts ({len(state.halts)}, open gaps {state.open_gaps})"
    return Panel(table, title=title, title_align="left", box=box.ROUNDED, border_style="red")


def render_events(state: BotState, ex: DashboardExtras) -> RenderableType:
    """The last :data:`MAX_EVENT_ROWS` events, newest last, each with its age."""
    table = Table(box=None, padding=(0, 1), show_header=False)
    table.add_column(justify="right", no_wrap=True, style="dim")
    table.add_column(no_wrap=True)
    table.add_column(overflow="ellipsis", no_wrap=True)
    events = ex.events[-MAX_EVENT_ROWS:]
    if not events:
        table.add_row("", "", "(nothing yet)")
    for event in events:
        age = f"-{fmt.duration(state.now - event.at)}"
        table.add_row(age, Text(event.kind, style=_EVENT_STYLES.get(event.kind, "")), event.text)
    return Panel(table, title="recent events", title_align="left", box=box.ROUNDED)
