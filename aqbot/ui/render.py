"""The dashboard frame: a pure function of a :class:`~aqbot.app_state.BotState` and its extras.

``render_dashboard(state, extras)`` returns a rich renderable and does nothing else: no clock (every age is
``state.now - something``), no I/O, no mutation, so a test renders it to text and reads it back.

Frame, top to bottom: the header (mode, uptime, whether quoting is allowed and why not, fills, PnL); the
markets table (per token: book top, aqbot's resting orders, held, open buys and sells, the worst/limit
bar, fills, the market's gate); then health (channels, heartbeat, reconciliation, positions, ledger,
counters) beside the active halts and the most recent events.
"""

from __future__ import annotations

import logging
from decimal import ROUND_HALF_UP, Decimal

from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from aqbot.app_state import BotState, QuoteState, TokenState
from aqbot.ui import fmt
from aqbot.ui.model import DashboardExtras, FillTotals
from aqbot.ui.render_side import render_events, render_halts, render_health

log = logging.getLogger(__name__)

# Width of the worst/limit bar, in cells.
BAR_WIDTH = 16
# Orders shown per token before "+N more".
MAX_QUOTES_PER_TOKEN = 4
_ORDER_OF_SIDE = {"BUY": 0, "SELL": 1}
_STATE_TAGS = {"PENDING_SUBMIT": "pending", "CANCEL_REQUESTED": "cancelling"}
_STATE_STYLES = {"PENDING_SUBMIT": "cyan", "CANCEL_REQUESTED": "yellow", "UNKNOWN": "bold red"}


def render_dashboard(state: BotState, extras: DashboardExtras | None = None) -> RenderableType:
    """The whole frame (see the module docstring). Pure: same inputs, same output."""
    ex = extras if extras is not None else DashboardExtras()
    side = Table.grid(expand=True, padding=(0, 1))
    side.add_column(ratio=1)
    side.add_column(ratio=1)
    side.add_row(render_health(state, ex), Group(render_halts(state), render_events(state, ex)))
    return Group(render_header(state, ex), render_markets(state, ex), side)


def limit_bar(worst: Decimal, limit: Decimal, width: int = BAR_WIDTH) -> Text:
    """``12/50 ████░░░░░░░░░░░░  24%``: the filled cells are ``worst/limit`` of ``width``, rounded
    half up and capped at ``width``; green below 70%, yellow below 90%, red beyond."""
    r = worst / limit if limit > 0 else (Decimal(0) if worst == 0 else Decimal(2))
    filled = min(width, int((r * width).to_integral_value(rounding=ROUND_HALF_UP)))
    style = fmt.ratio_style(r)
    pct = int((r * 100).to_integral_value(rounding=ROUND_HALF_UP))
    text = Text(f"{fmt.dec(worst)}/{fmt.dec(limit)} ", style=style)
    text.append("█" * filled, style=style)
    text.append("░" * (width - filled), style="dim")
    text.append(f" {pct:>3}%", style=style)
    if worst > limit:
        text.append(" OVER", style="bold red reverse")
    return text


def render_header(state: BotState, ex: DashboardExtras) -> RenderableType:
    ok, why = fmt.quoting_summary(state)
    up = "-" if ex.started_at is None else fmt.duration(state.now - ex.started_at)
    line1 = Text.assemble(
        ("aqbot ", "bold"),
        (f" {ex.mode.upper()} ", "bold black on cyan" if ex.mode == "paper" else "bold white on red"),
        f"  up {up}  ",
        ("quoting ", "bold"),
        (why.upper() if ok else why, "bold green" if ok else "bold red"),
        f"  markets {len(state.quoting_allowed)}  resting {len(state.quotes)}  open gaps {state.open_gaps}",
    )
    f = ex.fills
    line2 = Text(
        f"fills {f.count} (bought {fmt.dec(f.bought)} for {fmt.dec(f.buy_value)}, "
        f"sold {fmt.dec(f.sold)} for {fmt.dec(f.sell_value)} pUSD)  "
    )
    line2.append_text(pnl_text(state, ex))
    return Panel(Group(line1, line2), box=box.ROUNDED, padding=(0, 1))


def pnl_text(state: BotState, ex: DashboardExtras) -> Text:
    """``PnL +1.20 (realized +0.40, unrealized +0.80 at mid)``; unrealized needs costs and books."""
    realized = ex.fills.realized
    unreal = None if ex.costs is None else fmt.unrealized(state, ex.costs)
    if unreal is None:
        return Text(f"PnL realized {fmt.signed(realized)} (unrealized n/a)")
    total = realized + unreal
    style = "green" if total > 0 else "red" if total < 0 else ""
    text = Text("PnL ")
    text.append(fmt.signed(total), style=f"bold {style}".strip())
    text.append(f" (realized {fmt.signed(realized)}, unrealized {fmt.signed(unreal)} at mid)")
    return text


def render_markets(state: BotState, ex: DashboardExtras) -> RenderableType:
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), title="markets", title_justify="left")
    for name, justify in (
        ("market", "left"), ("out", "left"), ("bid/ask", "center"),
    ):  # fmt: skip
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    table.add_column("our orders", min_width=18, overflow="fold")
    for name in ("held", "buys", "sells"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("worst/limit", no_wrap=True)
    table.add_column("fills", justify="right", no_wrap=True)
    table.add_column("gate", min_width=12, overflow="fold")
    if not state.tokens:
        table.add_row("(no markets)")
    quotes = _quotes_by_token(state)
    previous = ""
    for token in state.tokens:
        first = token.market != previous
        previous = token.market
        table.add_row(
            fmt.short(token.market) if first else "",
            fmt.outcome_label(ex.labels, state, token),
            f"{fmt.price(token.best_bid)}/{fmt.price(token.best_ask)}",
            _quotes_cell(quotes.get(token.token, [])),
            fmt.dec(token.held),
            fmt.dec(token.open_buy),
            fmt.dec(token.open_sell),
            limit_bar(token.worst, token.limit),
            _fills_cell(ex.token_fills.get(token.token)),
            _gate_cell(state, token) if first else Text(""),
        )
    orphans = [q for q in state.quotes if q.token not in {t.token for t in state.tokens}]
    if orphans:
        table.add_row("(other)", "", "", _quotes_cell(orphans))
    return table


def _quotes_by_token(state: BotState) -> dict[str, list[QuoteState]]:
    out: dict[str, list[QuoteState]] = {}
    for q in sorted(state.quotes, key=lambda q: (_ORDER_OF_SIDE.get(q.side, 2), -q.price, q.order_id)):
        out.setdefault(q.token, []).append(q)
    return out


def _quotes_cell(quotes: list[QuoteState]) -> Text:
    """``B 10@0.47  S 5@0.53``; a state other than LIVE follows its order (``pending``, ``UNKNOWN``...)."""
    if not quotes:
        return Text("-", style="dim")
    text = Text()
    for i, q in enumerate(quotes[:MAX_QUOTES_PER_TOKEN]):
        if i:
            text.append("  ")
        text.append(f"{q.side[0]} {fmt.dec(q.remaining)}@{fmt.price(q.price)}",
                    style="green" if q.side == "BUY" else "magenta")  # fmt: skip
        if q.state != "LIVE":
            text.append(f" {_STATE_TAGS.get(q.state, q.state)}", style=_STATE_STYLES.get(q.state, ""))
    if len(quotes) > MAX_QUOTES_PER_TOKEN:
        text.append(f"  +{len(quotes) - MAX_QUOTES_PER_TOKEN} more")
    return text


def _fills_cell(totals: FillTotals | None) -> str:
    if totals is None or totals.count == 0:
        return "0"
    return f"{totals.count} (+{fmt.dec(totals.bought)}/-{fmt.dec(totals.sold)})"


def _gate_cell(state: BotState, token: TokenState) -> Text:
    if state.quoting_allowed.get(token.market, False):
        return Text("quoting", style="green")
    return Text("HALT " + " ".join(fmt.gate_reasons(state, token.market)), style="bold red")
