"""Exposure accounting and the atomic reserve (DESIGN section 1).

Per token: ``held`` (shares owned, from aqbot's own fill accounting), ``cost`` (pUSD paid for them),
``open_buy`` / ``open_sell`` (the summed remaining size of every order the exchange might still fill) and
``worst = held + open_buy + unsettled_sell`` (a sell that may still FAIL gives its shares back).
Reservations are kept per order, so every change is attributable and the
aggregates can be re-derived (:meth:`Exposure.recompute`).

:meth:`Exposure.reserve` checks and reserves in one synchronous call, so no other task can interleave. It
refuses (returns a reason) when

* L1: ``worst + size > max_position`` for a BUY;
* L3: ``open_sell + size > held - unsettled_buy`` for a SELL (a buy that may still FAIL is not sellable);
* a notional cap: market or global ``held_cost + open_buy * price`` would exceed its limit.

Releasing is the caller's decision (only on exchange-confirmed facts); this module only does arithmetic.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from decimal import Decimal

import attrs

from aqbot.core.types import ConditionId, OrderId, Side, TokenId

logger = logging.getLogger(__name__)

ZERO = Decimal(0)
_BUY = Side.BUY  # (bound once: an Enum member read off its class costs ~70 ns in Python 3.11)


@attrs.frozen
class Limits:
    """Position and notional caps. ``token_max_position`` overrides ``max_position`` per token."""

    max_position: Decimal
    max_market_notional: Decimal | None = None
    max_global_notional: Decimal | None = None
    token_max_position: tuple[tuple[TokenId, Decimal], ...] = ()

    def max_for(self, token: TokenId) -> Decimal:
        for t, cap in self.token_max_position:
            if t == token:
                return cap
        return self.max_position


@attrs.define
class Reservation:
    order_id: OrderId
    token: TokenId
    side: Side
    price: Decimal
    remaining: Decimal


@attrs.define
class TokenExposure:
    held: Decimal = ZERO
    cost: Decimal = ZERO
    open_buy: Decimal = ZERO
    open_sell: Decimal = ZERO
    open_buy_notional: Decimal = ZERO
    adjusted: Decimal = ZERO  # net change of held made by the positions API (not by fills)
    unsettled_buy: Decimal = ZERO  # counted BUY fills not yet CONFIRMED: may still FAIL (held drops)
    unsettled_sell: Decimal = ZERO  # counted SELL fills not yet CONFIRMED: may still FAIL (held rises)

    @property
    def worst(self) -> Decimal:
        """The most aqbot may end up holding: held, every open BUY, and every sell that may revert."""
        return self.held + self.open_buy + self.unsettled_sell

    @property
    def sellable(self) -> Decimal:
        """The shares aqbot surely has: held minus the buys that may still revert."""
        return self.held - self.unsettled_buy

    @property
    def notional(self) -> Decimal:
        return self.cost + self.open_buy_notional


@attrs.define
class Exposure:
    """Per-token exposure and per-order reservations."""

    limits: Limits
    market_of: dict[TokenId, ConditionId]
    tokens: dict[TokenId, TokenExposure] = attrs.Factory(dict)
    reservations: dict[OrderId, Reservation] = attrs.Factory(dict)
    # What :meth:`breached` (after every core call) needs to look at again: the tokens whose ``worst`` may
    # have moved since its last answer (every method here that changes the value of held, open_buy or
    # unsettled_sell adds its token), the tokens over their cap at that answer, and the ``tokens`` dict and
    # ``limits`` it read (a restore that replaces ``tokens``, or ``rebuild_aggregates``, makes it check
    # every token).
    _moved: set[TokenId] = attrs.field(factory=set, init=False, repr=False, eq=False)
    _over: set[TokenId] = attrs.field(factory=set, init=False, repr=False, eq=False)
    _checked: tuple[object, object] | None = attrs.field(default=None, init=False, repr=False, eq=False)

    def token(self, token: TokenId) -> TokenExposure:
        e = self.tokens.get(token)
        if e is None:
            e = self.tokens[token] = TokenExposure()
            self._moved.add(token)
        return e

    def market_notional(self, market: ConditionId) -> Decimal:
        return sum(
            (e.notional for t, e in self.tokens.items() if self.market_of.get(t) == market), start=ZERO
        )

    def global_notional(self) -> Decimal:
        return sum((e.notional for e in self.tokens.values()), start=ZERO)

    def refusal(self, token: TokenId, side: Side, price: Decimal, size: Decimal) -> str | None:
        """Why placing this order would break a limit, or ``None`` when it fits."""
        if size <= ZERO:
            return f"size must be positive, got {size}"
        if token not in self.market_of:
            return f"unknown token {token}"
        e = self.token(token)
        if side is Side.SELL:
            if e.open_sell + size > e.sellable:
                return f"L3: open_sell {e.open_sell} + {size} > sellable {e.sellable} (held {e.held})"
            return None
        cap = self.limits.max_for(token)
        if e.worst + size > cap:
            return f"L1: worst {e.worst} + {size} > max_position {cap}"
        added = price * size
        market_cap = self.limits.max_market_notional
        market = self.market_of[token]
        if market_cap is not None and self.market_notional(market) + added > market_cap:
            return f"market notional {self.market_notional(market)} + {added} > {market_cap}"
        global_cap = self.limits.max_global_notional
        if global_cap is not None and self.global_notional() + added > global_cap:
            return f"global notional {self.global_notional()} + {added} > {global_cap}"
        return None

    def reserve(
        self, order_id: OrderId, token: TokenId, side: Side, price: Decimal, size: Decimal
    ) -> str | None:
        """Check and reserve in one call. Returns the refusal reason, or ``None`` when reserved."""
        if order_id in self.reservations:
            return f"order {order_id} already reserved"
        reason = self.refusal(token, side, price, size)
        if reason is None:
            self.force_reserve(order_id, token, side, price, size)
        return reason

    def force_reserve(
        self, order_id: OrderId, token: TokenId, side: Side, price: Decimal, size: Decimal
    ) -> None:
        """Reserve without checking: for orders that exist on the exchange whatever we think (adoption)."""
        self.reservations[order_id] = Reservation(order_id, token, side, price, ZERO)
        self.set_remaining(order_id, size)

    def remaining(self, order_id: OrderId) -> Decimal:
        r = self.reservations.get(order_id)
        return ZERO if r is None else r.remaining

    def set_remaining(self, order_id: OrderId, remaining: Decimal) -> Decimal:
        """Set an order's reserved remaining size; returns the signed change."""
        r = self.reservations[order_id]
        if remaining < ZERO:  # max(remaining, ZERO), the same operand on a tie
            remaining = ZERO
        delta = remaining - r.remaining
        e = self.tokens.get(r.token) or self.token(r.token)
        if r.side is _BUY:
            e.open_buy += delta
            e.open_buy_notional += delta * r.price
            if delta:  # (a zero delta leaves the value of worst as it was: breached() need not look)
                self._moved.add(r.token)
        else:
            e.open_sell += delta
        r.remaining = remaining
        return delta

    def release(self, order_id: OrderId) -> Decimal:
        """Drop the reservation entirely; returns the released (non-negative) size."""
        if order_id not in self.reservations:
            return ZERO
        released = -self.set_remaining(order_id, ZERO)
        del self.reservations[order_id]
        return released

    def add_held(self, token: TokenId, qty: Decimal, price: Decimal) -> None:
        """Move ``held`` by a signed quantity; buys add cost at ``price``, sells remove average cost."""
        e = self.tokens.get(token) or self.token(token)
        if qty >= ZERO:
            e.cost += qty * price
        elif e.held > ZERO:
            e.cost += e.cost * qty / e.held
        e.held += qty
        self._moved.add(token)
        if e.held <= ZERO:
            e.cost = ZERO

    def set_held(self, token: TokenId, value: Decimal, price: Decimal) -> None:
        """Overwrite ``held`` (positions-API policy); extra shares are costed at ``price``."""
        e = self.token(token)
        e.adjusted += value - e.held
        self.add_held(token, value - e.held, price)

    def add_unsettled(self, token: TokenId, side: Side, delta: Decimal) -> None:
        e = self.tokens.get(token) or self.token(token)
        if side is _BUY:
            e.unsettled_buy += delta
        else:
            e.unsettled_sell += delta
            self._moved.add(token)

    def over_limit(self, token: TokenId) -> bool:
        """L1 broken right now (possible only through adoption, positions raise or exchange overfill)."""
        return self.token(token).worst > self.limits.max_for(token)

    def breached(self) -> list[TokenId]:
        """The tokens of ``market_of`` over their cap (:meth:`over_limit`), sorted: checked after every
        core call, so only the tokens whose ``worst`` moved since the last answer are looked at again."""
        return sorted(self.over())

    def over(self) -> set[TokenId]:
        """:meth:`breached` as the exposure's own set, unsorted (the engine's check after every call sorts
        it only when it is not empty). Read it, never change it: the next call updates it in place."""
        moved: Iterable[TokenId] = self._moved
        limits, tokens, checked = self.limits, self.tokens, self._checked
        if checked is None or checked[0] is not tokens or checked[1] is not limits:
            moved = self.market_of  # every token, as the first time
            self._over.clear()
            self._checked = (tokens, limits)
        elif not moved:
            return self._over  # (the usual answer: nothing moved)
        market_of, over = self.market_of, self._over
        self._moved = set()
        default, per_token = limits.max_position, limits.token_max_position
        for token in moved:
            if token not in market_of:
                continue
            e = tokens.get(token) or self.token(token)
            cap = limits.max_for(token) if per_token else default
            if e.held + e.open_buy + e.unsettled_sell > cap:  # e.worst, inline: a property call per token
                over.add(token)
            else:
                over.discard(token)
        return over

    def recompute(self) -> dict[TokenId, tuple[Decimal, Decimal, Decimal]]:
        """Re-derive (open_buy, open_sell, open_buy_notional) per token from the reservations."""
        out: dict[TokenId, tuple[Decimal, Decimal, Decimal]] = dict.fromkeys(self.tokens, (ZERO, ZERO, ZERO))
        for r in self.reservations.values():
            b, s, n = out.get(r.token, (ZERO, ZERO, ZERO))
            if r.side is Side.BUY:
                out[r.token] = (b + r.remaining, s, n + r.remaining * r.price)
            else:
                out[r.token] = (b, s + r.remaining, n)
        return out

    def rebuild_aggregates(self) -> None:
        """Set the open aggregates from the reservations (after a restore)."""
        for token, (b, s, n) in self.recompute().items():
            e = self.token(token)
            e.open_buy, e.open_sell, e.open_buy_notional = b, s, n
        self._checked = None  # breached() looks at every token again

    def tokens_of(self, market: ConditionId) -> Iterable[TokenId]:
        return (t for t, m in self.market_of.items() if m == market)
