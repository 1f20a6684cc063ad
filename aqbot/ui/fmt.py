"""Pure helpers shared by the dashboard, the progress line and the shutdown summary.

Numbers are Decimals end to end; these functions only turn them into short text. Durations are Trio-time
differences (seconds). Nothing here reads a clock.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal

from aqbot.app_state import BotState, HaltState, TokenState

log = logging.getLogger(__name__)

ZERO = Decimal(0)
_CENT = Decimal("0.01")
# A token is "near" its limit from this worst/limit ratio (yellow), and "at" it from the next (red).
WARN_RATIO = Decimal("0.7")
DANGER_RATIO = Decimal("0.9")


def dec(value: Decimal, places: Decimal = _CENT) -> str:
    """A Decimal rounded to ``places`` (two decimals by default), without trailing zeros: ``12``, ``2.5``."""
    q = value.quantize(places, rounding=ROUND_HALF_UP)
    text = format(q, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def price(value: Decimal | None) -> str:
    """A price as the exchange shows it (``0.485``), or ``-`` when there is none."""
    return "-" if value is None else dec(value, Decimal("0.0001"))


def signed(value: Decimal) -> str:
    """A signed pUSD amount with two decimals: ``+1.20``, ``-0.05``."""
    q = value.quantize(_CENT, rounding=ROUND_HALF_UP)
    if q == 0:
        return "0.00"
    return f"{q:+.2f}"


def duration(seconds: float) -> str:
    """``12s``, ``3m04s``, ``2h05m``; negative values (clock skew between sources) read as ``0s``."""
    s = max(int(seconds), 0)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def ago(now: float, at: float | None) -> str:
    """``1.2s ago`` (under 10 s), ``3m04s ago``, or ``never``."""
    if at is None:
        return "never"
    delta = now - at
    if delta < 10:
        return f"{max(delta, 0.0):.1f}s ago"
    return f"{duration(delta)} ago"


def short(ident: str, head: int = 6, tail: int = 4) -> str:
    """A long id shortened for a table: ``0x1234…cdef``."""
    if len(ident) <= head + tail + 1:
        return ident
    return f"{ident[:head]}…{ident[-tail:]}"


def ratio(token: TokenState) -> Decimal:
    """``worst / limit`` (a zero limit with any exposure counts as 100% and beyond)."""
    if token.limit > 0:
        return token.worst / token.limit
    return ZERO if token.worst == 0 else Decimal(1) + token.worst


def ratio_style(r: Decimal) -> str:
    """green below 70%, yellow below 90%, red from 90% (and beyond the limit)."""
    if r < WARN_RATIO:
        return "green"
    if r < DANGER_RATIO:
        return "yellow"
    return "bold red"


def mid(token: TokenState) -> Decimal | None:
    """The book's midpoint, or None unless both sides are there."""
    if token.best_bid is None or token.best_ask is None:
        return None
    return (token.best_bid + token.best_ask) / 2


def covers(halt: HaltState, market: str, tokens: set[str]) -> bool:
    """Whether a halt (scope ``kind:key``) covers a market or one of its tokens."""
    kind, _, key = halt.scope.partition(":")
    if kind == "global":
        return True
    if kind == "market":
        return key == market
    return key in tokens


def gate_reasons(state: BotState, market: str) -> list[str]:
    """Why a market may not quote: the reasons of the halts covering it, plus ``RECONCILE_PENDING`` when
    the gate is closed by an open gap that has not yet latched ``WS_GAP_UNRESOLVED``."""
    tokens = {t.token for t in state.tokens if t.market == market}
    reasons: list[str] = []
    for halt in state.halts:
        if covers(halt, market, tokens) and halt.reason not in reasons:
            reasons.append(halt.reason)
    if (
        not state.quoting_allowed.get(market, True)
        and state.open_gaps
        and "WS_GAP_UNRESOLVED" not in reasons
        and "RECONCILE_PENDING" not in reasons
    ):
        reasons.append("RECONCILE_PENDING")
    if not reasons and not state.quoting_allowed.get(market, True):
        reasons.append("gate closed")
    return sorted(reasons)


def quoting_summary(state: BotState) -> tuple[bool, str]:
    """(every market may quote, a short ``yes`` / ``no: REASONS`` / ``3/4: REASONS`` text)."""
    markets = list(state.quoting_allowed)
    allowed = [m for m in markets if state.quoting_allowed[m]]
    if len(allowed) == len(markets):
        return True, "yes"
    why = ",".join(sorted({r for m in markets for r in gate_reasons(state, m)}))
    if not allowed:
        return False, f"no: {why}"
    return False, f"{len(allowed)}/{len(markets)}: {why}"


def outcome_label(labels: Mapping[str, str], state: BotState, token: TokenState) -> str:
    """The token's outcome label, else its position in its market (``BotState`` lists YES before NO)."""
    label = labels.get(token.token)
    if label is not None:
        return label
    same = [t.token for t in state.tokens if t.market == token.market]
    return ("YES", "NO")[same.index(token.token)] if len(same) == 2 else short(token.token)


def scope_text(scope: str, state: BotState, labels: Mapping[str, str]) -> str:
    """A halt scope for people: ``global``, ``market 0x1234…abcd``, ``token NO 0x1234…abcd``."""
    kind, _, key = scope.partition(":")
    if not key:
        return kind
    if kind == "token":
        token = next((t for t in state.tokens if t.token == key), None)
        if token is not None:
            return f"token {outcome_label(labels, state, token)} {short(token.market)}"
    return f"{kind} {short(key)}"
