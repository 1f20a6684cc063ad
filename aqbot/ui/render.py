"""The dashboard frame: a pure function of a :class:`~aqbot.app_state.BotState` and its extras.

``render_dashboard(state, extras)`` returns a rich renderable and does nothing else: no clock (every age is
``state.now - something``), no I/O, no mutation. The renderable lays itself out for the console's width
when drawn (health beside halts and events when they fit, stacked otherwise), so a test renders it to
text at a given width and reads it back.

Frame, top to bottom: the header box (mode, uptime, whether quoting is allowed and why not, fills, PnL);
the markets table (per token: book top, aqbot's resting orders, held, open buys and sells, the
worst/limit bar, fills, the market's gate); then health (channels, heartbeat, reconciliation, positions,
ledger, counters) beside the active halts and the most recent events. Lines are built with
:mod:`aqbot.ui.layout` (aligned single-line Text rows), not rich tables: see there why.
"""

from __future__ import annotations

import logging
from decimal import ROUND_HALF_UP, Decimal

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.segment import Segment
from rich.text import Text

from aqbot.app_state import BotState, QuoteState, TokenState
from aqbot.ui import fmt
from aqbot.ui.layout import box, cell, columns, side_by_side, width_of
from aqbot.ui.model import DashboardExtras, FillTotals
from aqbot.ui.render_side import events_lines, halts_lines, health_lines

log = logging.getLogger(__name__)

# Width of the worst/limit bar, in cells.
BAR_WIDTH = 16
# Orders shown per token before "+N more".
MAX_QUOTES_PER_TOKEN = 4
# Narrowest right-hand column (halts, events) worth drawing beside health; below it they stack.
MIN_SIDE_WIDTH = 48
_ORDER_OF_SIDE = {"BUY": 0, "SELL": 1}
_STATE_TAGS = {"PENDING_SUBMIT": "pend", "CANCEL_REQUESTED": "cxl", "UNKNOWN": "UNK"}
_STATE_STYLES = {"PENDING_SUBMIT": "cyan", "CANCEL_REQUESTED": "yellow", "UNKNOWN": "bold red"}
_MARKET_HEADER = (
    "market",
    "out",
    "bid/ask",
    "held",
    "buys",
    "sells",
    "worst/limit",
    "fills",
    "gate",
    "our orders",
)
_RIGHT = frozenset({3, 4, 5, 7})  # fmt: skip


class DashboardView:
    """The frame as a rich renderable (built by :func:`render_dashboard`)."""

    def __init__(self, state: BotState, extras: DashboardExtras) -> None:
        self.state = state
        self.extras = extras

    def lines(self, width: int) -> list[Text]:
        """Every line of the frame for a console ``width`` cells wide."""
        state, ex = self.state, self.extras
        out = box("aqbot", header_lines(state, ex), width=max(width - 4, 20))
        out.append(Text(""))
        out += market_lines(state, ex)
        out.append(Text(""))
        left = box("health", health_lines(state, ex))
        room = width - width_of(left) - 1
        side_width = room - 4 if room >= MIN_SIDE_WIDTH else width - 4
        halts, style = halts_lines(state, ex)
        right = box(_halts_title(state), halts, width=side_width, style=style)
        right += box("recent events", events_lines(state, ex), width=side_width)
        out += side_by_side(left, right) if room >= MIN_SIDE_WIDTH else left + right
        return out

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        # Each line is one row already: render its spans straight to segments (no wrapping pass), crop
        # what is wider than the console.
        width = options.max_width
        newline = Segment.line()
        for line in self.lines(width):
            segments = list(line.render(console))
            if line.cell_len > width:
                segments = Segment.adjust_line_length(segments, width, pad=False)
            yield from segments
            yield newline


def render_dashboard(state: BotState, extras: DashboardExtras | None = None) -> RenderableType:
    """The whole frame (see the module docstring). Pure: same inputs (and width), same output."""
    return DashboardView(state, extras if extras is not None else DashboardExtras())


def _halts_title(state: BotState) -> str:
    return f"halts ({len(state.halts)}, open gaps {state.open_gaps})" if state.halts else "halts"


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


def header_lines(state: BotState, ex: DashboardExtras) -> list[Text]:
    ok, why = fmt.quoting_summary(state)
    up = "-" if ex.started_at is None else fmt.duration(state.now - ex.started_at)
    line1 = Text.assemble(
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
    return [line1, line2]


def pnl_text(state: BotState, ex: DashboardExtras) -> Text:
    """``PnL +1.20 (realized +0.40, unrealized +0.80 at bid) today -0.30 / -50``: the core's PnL book
    (:mod:`aqbot.core.pnl`; marked at the best bid net of aqbot's own bids), and the UTC day's PnL against
    the daily loss limit."""
    p = state.pnl
    style = "green" if p.total > 0 else "red" if p.total < 0 else ""
    text = Text("PnL ")
    text.append(fmt.signed(p.total), style=f"bold {style}".strip())
    text.append(f" (realized {fmt.signed(p.realized)}, unrealized {fmt.signed(p.unrealized)} at bid)")
    if p.daily is None:
        text.append(" today n/a")
        return text
    limit = p.daily_loss_limit
    near = limit is not None and limit > 0 and p.daily <= -limit * Decimal("0.7")
    text.append(" today ")
    text.append(fmt.signed(p.daily), style="bold red" if near else "")
    if limit is not None:
        text.append(f" / -{fmt.dec(limit)}")
    return text


def market_lines(state: BotState, ex: DashboardExtras) -> list[Text]:
    """The markets table: one row per token, the market's id and gate on its first token's row."""
    quotes = _quotes_by_token(state)
    rows: list[list[Text]] = []
    previous = ""
    for token in state.tokens:
        first = token.market != previous
        previous = token.market
        rows.append(
            [
                cell(fmt.short(token.market) if first else ""),
                cell(fmt.outcome_label(ex.labels, state, token)),
                cell(f"{fmt.price(token.best_bid)}/{fmt.price(token.best_ask)}"),
                cell(fmt.dec(token.held)),
                cell(fmt.dec(token.open_buy)),
                cell(fmt.dec(token.open_sell)),
                limit_bar(token.worst, token.limit),
                cell(_fills_cell(ex.token_fills.get(token.token))),
                _gate_cell(state, token) if first else Text(""),
                _quotes_cell(quotes.get(token.token, [])),
            ]
        )
    known = {t.token for t in state.tokens}
    orphans = [q for q in state.quotes if q.token not in known]
    if orphans:
        rows.append([cell("(other)"), *(cell("") for _ in range(8)), _quotes_cell(orphans)])
    if not rows:
        rows.append([cell("(no markets)")])
    return [Text("markets", style="bold"), *columns(_MARKET_HEADER, rows, _RIGHT)]


def _quotes_by_token(state: BotState) -> dict[str, list[QuoteState]]:
    out: dict[str, list[QuoteState]] = {}
    for q in sorted(state.quotes, key=lambda q: (_ORDER_OF_SIDE.get(q.side, 2), -q.price, q.order_id)):
        out.setdefault(q.token, []).append(q)
    return out


def _quotes_cell(quotes: list[QuoteState]) -> Text:
    """``B 10@0.47  S 5@0.53``; a state other than LIVE follows its order (``pend``: submit in flight,
    ``cxl``: cancel requested, ``UNK``: UNKNOWN)."""
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
