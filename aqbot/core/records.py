"""The order tracker's records and the arithmetic that moves them together (DESIGN sections 1-2).

:class:`OrderRecords` holds what the tracker (:class:`aqbot.core.orders.OrderTracker`, which applies each
exchange fact) owns: the order records, moved through their states only by :meth:`OrderRecords._move`
(:func:`~aqbot.core.lifecycle.transition`'s table), the :class:`~aqbot.core.fills.FillBook`, and the
:class:`~aqbot.core.exposure.Exposure` reservations and ``held``; and the steps that keep the three
consistent: ``matched``/``counted`` and ``held`` (:meth:`OrderRecords._sync_matched`), the reservation
(:meth:`OrderRecords._resize`, released only on a terminal state), the unsettled tallies, revival,
adoption and pruning. The rules are in :mod:`aqbot.core.orders`' docstring.
"""

from __future__ import annotations

import logging
from decimal import Decimal

import attrs

from aqbot.core.absence import clear_absence
from aqbot.core.events import TradeEvent
from aqbot.core.exposure import Exposure
from aqbot.core.facts import (
    Defect,
    FillApplied,
    OrderAdopted,
    OrderTransitioned,
    Outcome,
    ReservationChanged,
)
from aqbot.core.fills import FillBook, OwnFill
from aqbot.core.lifecycle import IllegalTransition, OrderState, Trigger, next_state, transition
from aqbot.core.order import MINUS_ONE, ONE, ZERO, Order
from aqbot.core.types import OrderId, Side, TokenId

logger = logging.getLogger(__name__)

HISTORY_LIMIT = 32
_BUY = Side.BUY  # (bound once: an Enum member read off its class costs ~70 ns in Python 3.11)


@attrs.define
class OrderRecords:
    """The tracker's state and the steps that move orders, fills and reservations together."""

    exposure: Exposure
    grace: float = 5.0  # CoreConfig.grace: also the least spacing of the two snapshots that end an absence
    fills: FillBook = attrs.Factory(FillBook)
    orders: dict[OrderId, Order] = attrs.Factory(dict)
    last_fill_at: dict[TokenId, float] = attrs.Factory(dict)
    pruned: dict[OrderId, float] = attrs.Factory(dict)  # order id -> when it was pruned
    # The trade ids of each pruned order that had fills: a trade id not in it is new, not a late duplicate.
    pruned_trades: dict[OrderId, list[str]] = attrs.Factory(dict)
    # Exchange time (a trade's ``match_time``, unix s) of the newest trade of ours seen so far; kept with
    # each pruned id, and when a pruned id is forgotten its value raises ``forgotten_match``: every fill of
    # every forgotten order had been seen by then, so a REST trade of an unknown order matched no later than
    # ``forgotten_match`` may be a forgotten order's, re-read, and is not adopted (review N1).
    newest_match: float = 0.0
    pruned_match: dict[OrderId, float] = attrs.Factory(dict)
    forgotten_match: float = 0.0
    # The non-terminal subset of ``orders``, in the same (insertion) order: the hot paths (settle on every
    # event, the quoters) visit only these instead of every order still remembered until pruning.
    _open: dict[OrderId, Order] = attrs.field(factory=dict, init=False, repr=False, eq=False)

    # --- helpers --------------------------------------------------------------------------------------

    def matched(self, order: Order) -> Decimal:
        return max(order.event_matched, self.fills.trade_sum(order.order_id))

    def open_orders(self) -> list[Order]:
        return list(self._open.values())

    def reindex(self) -> None:
        """Rebuild the open-order index from ``orders`` (after a restore or an out-of-order revival)."""
        self._open = {k: o for k, o in self.orders.items() if not o.state.terminal}

    def _track(self, order: Order) -> None:
        """Insert ``order`` into ``orders`` and keep the index in ``orders``' iteration order."""
        replaced = order.order_id in self.orders
        self.orders[order.order_id] = order
        if replaced:
            self.reindex()
        elif not order.state.terminal:
            self._open[order.order_id] = order

    def defect(
        self, out: Outcome, order: Order | None, token: TokenId, order_id: OrderId, detail: str
    ) -> None:
        logger.error("defect on %s / %s: %s", token, order_id, detail)
        history = tuple(order.history) if order is not None else ()
        out.fact(Defect(token, order_id, detail, history))

    def _move(self, order: Order, trigger: Trigger, source: str, now: float, out: Outcome) -> bool:
        """Apply one trigger; returns False (and reports a defect) when it is illegal."""
        old = order.state
        new = next_state((old, trigger))
        if new is None:
            try:
                new = transition(old, trigger)  # illegal: raises (and logs) IllegalTransition
            except IllegalTransition as exc:
                self.defect(out, order, order.token, order.order_id, f"{exc} (source {source})")
                return False
        if new is not old:
            order.state = new
            if new.terminal:
                self._open.pop(order.order_id, None)
            elif old.terminal:
                self.reindex()  # revived: rare; keeps the index in the same order as ``orders``
            # ``_value_`` is ``value`` without the enum property's descriptor call
            order.history.append(f"{now:.3f} {old._value_}->{new._value_} on {trigger._value_} ({source})")
            del order.history[:-HISTORY_LIMIT]
            out.facts.append(OrderTransitioned(order.order_id, order.token, old, new, trigger, source))
            if new.terminal:
                order.terminal_at, order.ended_by = now, source
                self._release(order, source, out)
        return True

    def _release(self, order: Order, cause: str, out: Outcome) -> None:
        released = self.exposure.release(order.order_id)
        out.facts.append(
            ReservationChanged(order.order_id, order.token, order.side, -released, ZERO, f"released:{cause}")
        )

    def _resize(self, order: Order, cause: str, out: Outcome) -> None:
        """Set a non-terminal order's reservation from its matched/failed amounts."""
        if not order.state.terminal:
            self._resize_to(order, self.matched(order), self.fills.failed_amount(order.order_id), cause, out)

    def _resize_to(self, order: Order, matched: Decimal, failed: Decimal, cause: str, out: Outcome) -> None:
        """:meth:`_resize` of a non-terminal order whose matched and failed amounts the caller has."""
        original = order.original_size
        target = original - matched + failed
        if not target < original:  # min(original, target), the same operand on a tie
            target = original
        exposure = self.exposure
        delta = exposure.set_remaining(order.order_id, target)
        if delta:
            remaining = exposure.reservations[order.order_id].remaining  # exposure.remaining(order_id)
            out.facts.append(
                ReservationChanged(order.order_id, order.token, order.side, delta, remaining, cause)
            )

    def _sync_matched(self, order: Order, source: str, now: float, out: Outcome, trade_id: str = "") -> None:
        """Move ``held`` by the growth of ``matched`` since last counted, then resize the reservation."""
        order_id, fills = order.order_id, self.fills
        event_matched, trade_sum = order.event_matched, fills.trade_sums.get(order_id, ZERO)
        matched = trade_sum if trade_sum > event_matched else event_matched  # self.matched(order)
        counted = order.counted
        if matched > counted:  # (delta > 0: a nonzero difference keeps its sign when rounded)
            delta = matched - counted
            order.counted = matched
            signed = (ONE if order.side is _BUY else MINUS_ONE) * delta  # order.sign * delta
            self.exposure.add_held(order.token, signed, order.price)
            self.last_fill_at[order.token] = now
            out.facts.append(
                FillApplied(order_id, order.token, order.side, signed, matched, source, trade_id)
            )
        failed = fills.failed_sums.get(order_id, ZERO)
        # _resettle and _resize, inline (this runs for most events)
        unsettled = order.counted - failed - fills.confirmed_sums.get(order_id, ZERO)
        if unsettled < ZERO:  # max(unsettled, ZERO), the same operand on a tie
            unsettled = ZERO
        if unsettled != order.unsettled:
            self.exposure.add_unsettled(order.token, order.side, unsettled - order.unsettled)
            order.unsettled = unsettled
        if not order.state.terminal:  # self._resize_to(order, matched, failed, f"fill:{source}", out), inline
            original = order.original_size
            target = original - matched + failed
            if not target < original:  # min(original, target), the same operand on a tie
                target = original
            exposure = self.exposure
            reserved = exposure.set_remaining(order_id, target)
            if reserved:
                remaining = exposure.reservations[order_id].remaining  # exposure.remaining(order_id)
                change = ReservationChanged(
                    order_id, order.token, order.side, reserved, remaining, f"fill:{source}"
                )
                out.facts.append(change)

    def _resettle(self, order: Order) -> None:
        """Keep the order's not-yet-final fills (and the token's total of them) up to date."""
        fills, order_id = self.fills, order.order_id
        unsettled = (
            order.counted - fills.failed_sums.get(order_id, ZERO) - fills.confirmed_sums.get(order_id, ZERO)
        )
        if unsettled < ZERO:  # max(unsettled, ZERO), the same operand on a tie
            unsettled = ZERO
        if unsettled != order.unsettled:
            self.exposure.add_unsettled(order.token, order.side, unsettled - order.unsettled)
            order.unsettled = unsettled

    def _revive(
        self, order: Order, source: str, now: float, out: Outcome, detail: str, *, defect: bool = True
    ) -> bool:
        """The exchange contradicts the order's terminal state: reserve it again and cancel it.

        With ``defect`` the contradiction is reported (the DEFECT halt's sweep sends the cancel); without it
        (a lagging read of a state the user channel already ended, review N6) the cancel is sent here and
        nothing latches. Returns whether the order was revived.
        """
        if defect:
            self.defect(out, order, order.token, order.order_id, detail)
        else:
            order.history.append(f"{now:.3f} revived without defect: {detail}")
        if not self._move(order, Trigger.REVIVE, source, now, out):
            return False
        order.terminal_at, order.ended_by, order.cancel_sent, order.post_in_flight = None, "", False, False
        clear_absence(order)
        order.last_action_at = now
        self.exposure.force_reserve(order.order_id, order.token, order.side, order.price, order.original_size)
        self._resize(order, f"revive:{source}", out)
        return True

    def adopt_fill(self, fill: OwnFill, now: float, out: Outcome) -> None:
        """A REST trade of ours for an order the core never knew (lost in a crash): track it so that the
        fill counts. It reserves nothing beyond the fill; if it were still open the snapshot's open orders
        (applied first) would have adopted it with its full size."""
        market = self.exposure.market_of.get(fill.token)
        if market is None:
            self.defect(out, None, fill.token, fill.order_id, "REST trade in an unknown token")
            return
        order = Order(
            fill.order_id, fill.token, market, fill.side, fill.price, fill.amount, OrderState.UNKNOWN,
            created_at=now, last_action_at=now, seen_on_exchange=True,
        )  # fmt: skip
        self._track(order)
        self.exposure.force_reserve(order.order_id, order.token, order.side, order.price, order.original_size)
        out.fact(OrderAdopted(order.order_id, order.token, order.side, order.original_size, "rest-trade"))

    def _consistent(self, order: Order, token: TokenId, side: Side, original: Decimal, out: Outcome) -> bool:
        if (order.token, order.side, order.original_size) != (token, side, original):
            self.defect(
                out, order, order.token, order.order_id,
                f"exchange says {side.value} {original} of {token}, we placed "
                f"{order.side.value} {order.original_size} of {order.token}",
            )  # fmt: skip
            return False
        return True

    def prune(self, now: float, retention: float, horizon: float) -> int:
        """Forget orders that ended more than ``retention`` seconds ago and whose fills are all final
        (CONFIRMED or FAILED): nothing can change them any more. Their ids are remembered for ``horizon``
        seconds so that late duplicates are ignored instead of looking like unknown orders."""
        done = [
            o for o in self.orders.values()
            if o.terminal_at is not None and now - o.terminal_at >= retention and o.unsettled == ZERO
            and self.fills.all_final(o.order_id)
        ]  # fmt: skip
        for order in done:
            del self.orders[order.order_id]
            self._open.pop(order.order_id, None)
            trades = self.fills.trade_ids(order.order_id)
            if trades:
                self.pruned_trades[order.order_id] = trades
            self.fills.forget(order.order_id)
            self.pruned[order.order_id] = now
            self.pruned_match[order.order_id] = self.newest_match
        for order_id in [k for k, at in self.pruned.items() if now - at > horizon]:
            self.forgotten_match = max(self.forgotten_match, self.pruned_match.get(order_id, 0.0))
            self._unprune(order_id)
        return len(done)

    def _unprune(self, order_id: OrderId) -> None:
        self.pruned.pop(order_id, None)
        self.pruned_trades.pop(order_id, None)
        self.pruned_match.pop(order_id, None)

    def adopt_lost_fill(self, fill: OwnFill, trade: TradeEvent, now: float, out: Outcome) -> bool:
        """Before a REST trade's fill is applied: the fill of an order neither tracked nor pruned is an order
        lost in a crash, adopted so that its fills count (review B2); returns False instead, and the fill is
        not applied, when the trade may be a forgotten order's, re-read: it matched no later than the newest
        trade seen when some forgotten order was pruned (review N1; a trade without a ``match_time`` is not
        judged). A pruned order's new trade is adopted by ``on_trade_fill``; a known one is ignored there."""
        if fill.order_id in self.orders or fill.order_id in self.pruned:
            return True
        if 0.0 < trade.match_time <= self.forgotten_match:
            logger.info("REST trade %s of unknown order %s: a forgotten order's, not counted again",
                        trade.trade_id, fill.order_id)  # fmt: skip
            return False
        self.adopt_fill(fill, now, out)
        return True

    def is_late_duplicate(self, order_id: OrderId, trade_id: str) -> bool:
        """Whether a fill of a pruned order is one the core already counted before pruning it."""
        return order_id in self.pruned and trade_id in self.pruned_trades.get(order_id, ())
