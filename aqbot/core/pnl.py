"""The PnL book: per-token position, average cost, realized and marked (unrealized) PnL, and the UTC day's
baseline for the ``DAILY_LOSS`` halt. Sans-IO: marks and wall time are arguments.

Per token the book keeps ``position`` (shares, signed), ``cost`` (the pUSD basis of ``position``, same
sign), ``realized`` (pUSD) and the last ``mark`` (pUSD per share). Accounting is average cost:

* a fill that opens or grows the position adds ``qty * price`` to ``cost``;
* a fill that shrinks it realizes ``qty * price`` minus the share of ``cost`` it takes out (the whole
  ``cost`` when it closes the position, so a flat token holds no residue); the rest of a fill that
  crosses zero opens the other side at its price;
* a FAILED settlement reverses its fill: a reversed BUY takes its own ``qty * price`` back out of ``cost``
  (its realized PnL was zero); a reversed SELL puts its shares back at the current average cost and takes
  back the PnL the sale realized against that average (at its own price when the token is flat).

Whatever the order of events, ``realized - cost`` is exactly the cash flow of the fills still standing
(``- qty * price`` per BUY, ``+ qty * price`` per SELL), so ``realized + unrealized = cash + position *
mark`` holds exactly (a Hypothesis property checks it). Only the split between realized and unrealized
depends on the averaging.

``unrealized = position * mark - cost``. The mark is what the runtime passes to :meth:`PnlBook.mark`:
the best bid net of aqbot's own resting bids (what a long position could be sold for now, the
conservative side for a long-only book; L3 keeps positions long). A token without a new mark keeps its
last one; a token never marked is valued at its cost (unrealized zero).

Prices: a fill is booked at its order's limit price. aqbot's quotes are post-only makers, filled at their
own price; a taker fill (only after adoption) may be better than its limit, so the book errs on the
conservative side. Fees are not booked: the core's fills carry none (Polymarket charges makers no fee;
rebates and rewards are paid separately and are not counted). YES and NO are separate tokens: a YES+NO
pair (worth 1 pUSD at resolution, mergeable) is valued at the sum of the two bids, which is conservative;
merges, splits and redemptions are not modelled.

The day: :meth:`PnlBook.roll` takes wall time (Unix seconds, UTC). On the first call of a new UTC day the
baseline becomes the total PnL at that moment; ``daily = total - baseline``. The book (baseline and day
included) is part of the core snapshot, so a restart within the day keeps the day's loss.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from decimal import Decimal

import attrs

from aqbot.core.facts import Fact, FillApplied, FillReversed, PositionDecision
from aqbot.core.types import OrderId, TokenId

logger = logging.getLogger(__name__)

ZERO = Decimal(0)
DAY_SECONDS = 86_400
# Shares of a cost basis taken out by a partial close are rounded to this (pUSD), so every figure keeps
# a bounded number of decimals and sums stay exact in Decimal's 28 digits.
QUANTUM = Decimal("1e-12")
_QUANTIZABLE = 16  # the adjusted exponent from which a figure cannot be quantized to QUANTUM in 28 digits


def _part(cost: Decimal, qty: Decimal, position: Decimal) -> Decimal:
    """``cost * qty / position``, the basis of ``qty`` of ``position`` shares, rounded to :data:`QUANTUM`.
    From 1e16 pUSD on, Decimal's 28 digits hold no 1e-12 place (``quantize`` would raise InvalidOperation:
    an absurd over-fill reported by the exchange must not crash the bot): the quotient is kept as it is."""
    part = cost * qty / position
    if part.adjusted() >= _QUANTIZABLE:
        return part
    return part.quantize(QUANTUM)


_FILL_FACTS = (FillApplied, FillReversed)
# The facts :meth:`PnlBook.book` books (final classes: a set test of the class skips the others, where each
# failed isinstance would look ``__class__`` up again, generically).
_BOOKED = frozenset({FillApplied, FillReversed, PositionDecision})


def utc_day(wall: float) -> int:
    """The UTC day number of a Unix time (days since 1970-01-01)."""
    return int(wall // DAY_SECONDS)


@attrs.define
class TokenPnl:
    position: Decimal = ZERO
    cost: Decimal = ZERO
    realized: Decimal = ZERO
    mark: Decimal | None = None

    @property
    def average(self) -> Decimal | None:
        """Average cost per share, or ``None`` when flat."""
        return None if self.position == ZERO else self.cost / self.position

    @property
    def unrealized(self) -> Decimal:
        if self.mark is None:
            return ZERO  # never marked: valued at cost
        return self.position * self.mark - self.cost

    @property
    def total(self) -> Decimal:
        return self.realized + self.unrealized


@attrs.frozen
class PnlFigures:
    """Read-only totals (pUSD). ``daily`` is ``None`` before the first wall time is known."""

    realized: Decimal
    unrealized: Decimal
    total: Decimal
    daily: Decimal | None
    day: int | None
    baseline: Decimal


@attrs.define
class PnlBook:
    tokens: dict[TokenId, TokenPnl] = attrs.Factory(dict)
    day: int | None = None  # the UTC day of ``baseline``
    baseline: Decimal = ZERO  # total PnL at the first roll of ``day``

    def token(self, token: TokenId) -> TokenPnl:
        t = self.tokens.get(token)
        if t is None:
            t = self.tokens[token] = TokenPnl()
        return t

    # --- bookings -------------------------------------------------------------------------------------

    def fill(self, token: TokenId, qty: Decimal, price: Decimal) -> None:
        """A fill of signed ``qty`` shares (BUY > 0) at ``price``."""
        t = self.tokens.get(token) or self.token(token)
        if qty == ZERO:
            return
        pos = t.position
        if pos != ZERO and (pos > ZERO) != (qty > ZERO):
            closing = qty if abs(qty) <= abs(pos) else -pos
            removed = t.cost if closing == -pos else _part(t.cost, -closing, pos)
            t.realized += -closing * price - removed
            t.cost -= removed
            t.position += closing
            qty -= closing
        t.cost += qty * price
        t.position += qty
        if t.position == ZERO and t.cost != ZERO:  # self._normalize(t), inline: a call per fill
            self._normalize(t)

    def reverse(self, token: TokenId, qty: Decimal, price: Decimal) -> None:
        """A FAILED fill of signed ``qty`` (the original fill's sign) at ``price`` is taken back."""
        t = self.token(token)
        if qty > ZERO:  # a BUY: its cost goes, its shares go
            t.cost -= qty * price
        elif qty < ZERO:  # a SELL: its shares come back at the average cost, its realized PnL goes
            back = -qty
            added = _part(t.cost, back, t.position) if t.position > ZERO else back * price
            t.realized += qty * price + added
            t.cost += added
        t.position -= qty
        self._normalize(t)

    def adjust(self, token: TokenId, qty: Decimal, price: Decimal) -> None:
        """Shares added (``qty`` > 0, costed at ``price``) or removed (at the average cost: no PnL) by the
        positions API, not by a fill."""
        t = self.token(token)
        if qty > ZERO or t.position <= ZERO:
            t.cost += qty * price
        else:
            removed = t.cost if -qty >= t.position else _part(t.cost, -qty, t.position)
            t.cost -= removed
        t.position += qty
        self._normalize(t)

    def book(
        self,
        facts: Iterable[Fact],
        order_price: Callable[[OrderId], Decimal | None],
        average_cost: Callable[[TokenId], Decimal],
    ) -> bool:
        """Book one core call's fills and reversals (at the order's limit price: a post-only maker fills
        there) and its position adjustments (at the token's mark, else ``average_cost``: no PnL at that
        moment). Returns whether anything was booked."""
        booked = False
        for fact in facts:
            if fact.__class__ not in _BOOKED:  # (most facts; see _BOOKED)
                continue
            if isinstance(fact, _FILL_FACTS):
                price = order_price(fact.order_id)
                if price is None:  # cannot happen: the tracker has just moved the order
                    logger.error("pnl: no order %s for %s", fact.order_id, type(fact).__name__)
                    continue
                if isinstance(fact, FillApplied):
                    self.fill(fact.token, fact.delta, price)
                else:
                    self.reverse(fact.token, -fact.delta, price)
                booked = True
            elif isinstance(fact, PositionDecision) and fact.held_after != fact.held_before:
                mark = self.token(fact.token).mark
                self.adjust(
                    fact.token,
                    fact.held_after - fact.held_before,
                    mark if mark is not None else average_cost(fact.token),
                )
                booked = True
        return booked

    def mark(self, token: TokenId, price: Decimal) -> None:
        self.token(token).mark = price

    @staticmethod
    def _normalize(t: TokenPnl) -> None:
        if t.position == ZERO and t.cost != ZERO:
            t.realized -= t.cost  # a flat token has no basis left: the residue is realized
            t.cost = ZERO

    # --- figures --------------------------------------------------------------------------------------

    def realized(self, tokens: Iterable[TokenId] | None = None) -> Decimal:
        keys = self.tokens if tokens is None else tokens
        return sum((self.tokens[k].realized for k in keys if k in self.tokens), start=ZERO)

    def unrealized(self, tokens: Iterable[TokenId] | None = None) -> Decimal:
        keys = self.tokens if tokens is None else tokens
        return sum((self.tokens[k].unrealized for k in keys if k in self.tokens), start=ZERO)

    def total(self) -> Decimal:
        return self.realized() + self.unrealized()

    def daily(self) -> Decimal | None:
        """Total PnL since the start of the current UTC day (``None`` before the first :meth:`roll`)."""
        return None if self.day is None else self.total() - self.baseline

    def roll(self, wall: float) -> bool:
        """Enter the UTC day of ``wall``; returns True when a new day began (the baseline was reset).
        A wall time earlier than the current day (a clock step back) changes nothing."""
        day = utc_day(wall)
        if self.day is not None and day <= self.day:
            return False
        self.day, self.baseline = day, self.total()
        logger.info("pnl: UTC day %d begins at total PnL %s", day, self.baseline)
        return True

    def figures(self) -> PnlFigures:
        realized, unrealized = self.realized(), self.unrealized()
        total = realized + unrealized
        daily = None if self.day is None else total - self.baseline
        return PnlFigures(realized, unrealized, total, daily, self.day, self.baseline)
