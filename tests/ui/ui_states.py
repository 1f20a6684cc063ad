"""Hand-built BotState values for the dashboard tests."""

from __future__ import annotations

import io
from decimal import Decimal

import attrs
from rich.console import Console, RenderableType

from aqbot.app_state import BotState, HaltState, Health, QuoteState, TokenState

D = Decimal
M1 = "0xaaaa000000000000000000000000000000000000000000000000000000001111"
M2 = "0xbbbb000000000000000000000000000000000000000000000000000000002222"
Y1, N1, Y2, N2 = "1111111111", "2222222222", "3333333333", "4444444444"
LABELS = {Y1: "YES", N1: "NO", Y2: "YES", N2: "NO"}


def health(**kw: object) -> Health:
    base: dict[str, object] = {
        "user_connected": True, "market_connected": True, "user_gaps": 0, "market_gaps": 0,
        "heartbeat_last_ok": 998.0, "heartbeat_lapsed": False, "reconcile_last_ok": 990.0,
        "reconcile_failures": 0, "positions_last_ok": 995.0, "ledger_buffered": 3, "ledger_failing": False,
        "placed": 40, "rejected": 1, "unknown": 0,
    }  # fmt: skip
    base.update(kw)
    return Health(**base)  # type: ignore[arg-type]


def token(tok: str, market: str, *, held: str = "0", open_buy: str = "0", open_sell: str = "0",
          limit: str = "50", bid: str | None = "0.48", ask: str | None = "0.52") -> TokenState:  # fmt: skip
    h, b = D(held), D(open_buy)
    return TokenState(tok, market, h, b, D(open_sell), h + b, D(limit),
                      None if bid is None else D(bid), None if ask is None else D(ask))  # fmt: skip


def quote(oid: str, tok: str, side: str, price: str, remaining: str, state: str = "LIVE") -> QuoteState:
    return QuoteState(oid, tok, side, D(price), D(remaining), state)


def healthy(now: float = 1000.0) -> BotState:
    """Two markets quoting, YES of M1 holding 12 with 10 more on the bid."""
    tokens = (
        token(Y1, M1, held="12", open_buy="10", open_sell="5"),
        token(N1, M1, open_buy="10", bid="0.47", ask="0.51"),
        token(Y2, M2, open_buy="10", bid="0.3", ask="0.32"),
        token(N2, M2, open_buy="10", bid="0.68", ask="0.7"),
    )
    quotes = (
        quote("0xo1aaaaaaaaaaaaaaaaaaaa", Y1, "BUY", "0.47", "10"),
        quote("0xo2bbbbbbbbbbbbbbbbbbbb", Y1, "SELL", "0.53", "5"),
        quote("0xo3cccccccccccccccccccc", N1, "BUY", "0.46", "10"),
        quote("0xo4dddddddddddddddddddd", Y2, "BUY", "0.29", "10", "PENDING_SUBMIT"),
        quote("0xo5eeeeeeeeeeeeeeeeeeee", N2, "BUY", "0.67", "10", "UNKNOWN"),
    )
    return BotState(now, tokens, quotes, (), 0, {M1: True, M2: True}, health())


def halted(now: float = 1000.0) -> BotState:
    """The user channel dropped 12 s ago (global halt), M2's data went stale 3 s ago, a gap is open."""
    base = healthy(now)
    halts = (
        HaltState("USER_WS_DOWN", "global:", now - 12, "user channel down: connection closed"),
        HaltState("MARKET_DATA_STALE", f"market:{M2}", now - 3, "no book update for 120s"),
    )
    return attrs.evolve(
        base, halts=halts, open_gaps=1, quoting_allowed={M1: False, M2: False},
        health=health(user_connected=False, user_gaps=2),
    )  # fmt: skip


def render_text(renderable: RenderableType, width: int = 160) -> str:
    console = Console(record=True, width=width, force_terminal=False, color_system=None, file=io.StringIO())
    console.print(renderable)
    return console.export_text()
