"""The order tracker: applies exchange facts to orders, fills and reservations (DESIGN sections 1-2).

The tracker owns three things that must move together: order records (states through
:func:`~aqbot.core.lifecycle.transition`), the :class:`~aqbot.core.fills.FillBook`, and the
:class:`~aqbot.core.exposure.Exposure` reservations and ``held``. They, and the steps that move them
together, are :class:`~aqbot.core.records.OrderRecords` (its base class); this module decides what each
exchange fact and local action does with them.

Per order ``matched = max(size_matched seen on order events or REST rows, sum of its trade fills)``; ``held``
moves by the change of ``matched`` (``counted`` remembers how much already moved), whichever source reports
it first. A non-terminal order reserves ``min(original, original - matched + failed)``: a FAILED trade takes
its shares out of ``held`` but, while the order may still fill, puts them back in the reservation, so a
reversal never lowers ``worst`` of a live order. A reservation is released only when the order reaches a
terminal state, and the table only allows that on confirmed facts.

Problems are reported, never repaired: a contradiction becomes a :class:`~aqbot.core.facts.Defect` fact (the
engine halts the token); an inconsistency that means events may have been missed (``size_matched`` going
down, an event for an order never placed, a trade for an unknown order of ours) is returned as a reason
string, and the engine opens a gap for it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import attrs

from aqbot.core.absence import clear_absence, confirms_absence, recheck_at
from aqbot.core.events import CancelAnswer, OpenOrderRow, OrderEvent, PlacementAnswer, TradeEvent
from aqbot.core.facts import (
    CancelOrder,
    FillReversed,
    OrderAdopted,
    Outcome,
    ReservationChanged,
    TradeRecorded,
)
from aqbot.core.fills import Observation, OwnFill
from aqbot.core.lifecycle import OrderState, Trigger, classify, next_state
from aqbot.core.order import ZERO, Order
from aqbot.core.records import HISTORY_LIMIT, OrderRecords
from aqbot.core.types import Side

__all__ = ["ACCEPTED_STATUSES", "HISTORY_LIMIT", "Order", "OrderTracker"]

logger = logging.getLogger(__name__)

ACCEPTED_STATUSES = frozenset({"live", "matched", "delayed"})
NO_GAPS: tuple[str, ...] = ()  # the gap reasons of an event that has none (shared: it cannot change)
# Enum members read on every event, bound once: reading a member off its class goes through
# ``EnumType.__getattr__`` in Python 3.11 (~70 ns; a module global ~5 ns).
_REJECTED, _EXCH_OPEN, _FILL = OrderState.REJECTED, Trigger.EXCH_OPEN, Trigger.FILL
# The states that a FILL / an open event leaves as they are (legal no-ops: the usual case), from the table:
# a set test instead of building a (state, trigger) pair to look up.
_FILL_KEEPS = frozenset(s for s in OrderState if next_state((s, _FILL)) is s)
_OPEN_KEEPS = frozenset(s for s in OrderState if next_state((s, _EXCH_OPEN)) is s)


@attrs.define
class OrderTracker(OrderRecords):
    """Applies each exchange fact (and each local action) to the records (:class:`OrderRecords`)."""

    # --- local actions --------------------------------------------------------------------------------

    def add(self, order: Order, out: Outcome) -> None:
        """Track a freshly reserved order (its reservation already exists)."""
        self._track(order)
        order.history.append(f"{order.created_at:.3f} reserved {order.side._value_} {order.original_size}")
        out.fact(
            ReservationChanged(
                order.order_id, order.token, order.side, order.original_size, order.original_size, "reserve"
            )
        )

    def request_cancel(self, order: Order, reason: str, now: float, out: Outcome) -> None:
        if order.state.terminal:
            return
        if self._move(order, Trigger.CANCEL_SEND, "local", now, out):
            order.cancel_sent = True
            order.last_action_at = now
            out.command(CancelOrder(order.order_id, reason))

    # --- exchange facts -------------------------------------------------------------------------------

    def on_answer(self, answer: PlacementAnswer, now: float, out: Outcome) -> None:
        order = self.orders.get(answer.order_id)
        if order is None:
            self.defect(out, None, "", answer.order_id, "placement answer for an order never placed")
            return
        order.post_in_flight = False
        order.last_action_at = max(order.last_action_at, now)  # grace counts from when the POST ended
        if answer.http_status >= 500 or answer.http_status == 408:
            self.on_submit_failed(order, f"http {answer.http_status}", now, out)
            return
        accepted_shape = answer.success and answer.returned_order_id != "" and answer.error == ""
        returned = answer.returned_order_id
        if accepted_shape and returned != order.order_id and returned.lower() != order.order_id.lower():
            self.defect(out, order, order.token, order.order_id, f"exchange id {answer.returned_order_id}")
            self.on_submit_failed(order, "id mismatch", now, out)
            return
        status = answer.status.lower()
        if accepted_shape and status in ACCEPTED_STATUSES:
            order.seen_on_exchange = True
            self._move(order, Trigger.ACCEPT, "answer", now, out)
            return
        definitive = (not answer.success) or answer.returned_order_id == "" or status == "unmatched"
        if not definitive:
            self.on_submit_failed(order, f"unrecognized answer status {answer.status!r}", now, out)
            return
        if order.seen_on_exchange and not order.state.terminal:
            self.defect(
                out, order, order.token, order.order_id, f"rejected after exchange evidence: {answer.error}"
            )
            return
        self._move(order, Trigger.REJECT, "answer", now, out)

    def on_submit_failed(self, order: Order, reason: str, now: float, out: Outcome) -> None:
        order.history.append(f"{now:.3f} submit failed: {reason}")
        order.post_in_flight = False
        if self._move(order, Trigger.SUBMIT_UNKNOWN, "transport", now, out):
            order.last_action_at = now

    def on_cancel_answer(self, answer: CancelAnswer, now: float, out: Outcome) -> None:
        for order_id in answer.canceled:
            order = self.orders.get(order_id)
            if order is not None:
                self._move(order, Trigger.CANCEL_ACK, "cancel-answer", now, out)
        for order_id, reason in answer.not_canceled:
            order = self.orders.get(order_id)
            if order is not None:
                order.history.append(f"{now:.3f} not canceled: {reason}")
                self._move(order, Trigger.CANCEL_NOT_FOUND, "cancel-answer", now, out)

    def adopt(self, event: OrderEvent | OpenOrderRow, source: str, now: float, out: Outcome) -> Order | None:
        """Start tracking an order of ours that we did not place (or forgot); it reserves what it may fill."""
        market = self.exposure.market_of.get(event.token)
        if market is None:
            self.defect(out, None, event.token, event.order_id, f"{source} for an order in an unknown token")
            return None
        order = Order(
            event.order_id, event.token, market, event.side, event.price, event.original_size,
            OrderState.UNKNOWN, created_at=now, last_action_at=now, order_type=event.order_type,
            expiration=event.expiration, seen_on_exchange=True,
        )  # fmt: skip
        self._track(order)
        self.exposure.force_reserve(order.order_id, order.token, order.side, order.price, order.original_size)
        out.fact(OrderAdopted(order.order_id, order.token, order.side, order.original_size, source))
        return order

    def on_order_event(self, event: OrderEvent, now: float, out: Outcome) -> Sequence[str]:
        """Apply a user-channel order event; returns gap reasons (inconsistencies)."""
        gaps: Sequence[str] = NO_GAPS  # (a list only when there is one: most events have none)
        order = self.orders.get(event.order_id)
        if order is None and event.order_id in self.pruned:
            return gaps  # a late duplicate about an order that ended long ago
        if order is None:
            gaps = [f"order event for unknown order {event.order_id}"]
            order = self.adopt(event, "order_event", now, out)
            if order is None:
                return gaps
        # (order.token, order.side, order.original_size) != (event.token, ...), without the two tuples: a
        # tuple compares its items by identity first, then ==
        original = order.original_size
        if (
            order.token != event.token
            or order.side is not event.side
            or (original is not event.original_size and original != event.original_size)
        ):
            self._consistent(order, event.token, event.side, event.original_size, out)  # reports the defect
            return gaps
        event_matched, size_matched = order.event_matched, event.size_matched
        if size_matched > event_matched:  # max(event_matched, size_matched): the first on a tie
            order.event_matched = size_matched
        elif size_matched < event_matched:
            gaps = [*gaps, f"size_matched went down on {order.order_id}: {event_matched} -> {size_matched}"]
        trigger = classify(event, order.original_size, order.order_type, order.expiration)
        if order.state is _REJECTED:
            self._revive(
                order, "order_event", now, out, f"order event {event.status} for an order answered REJECTED"
            )
        elif order.state.terminal and order.ended_by == "rest" and trigger is _EXCH_OPEN:
            # Ended by REST absence, now shown open by the user channel: the absence was wrong (review B4).
            self._revive(order, "order_event", now, out, f"order event {event.status} after absence")
        order.seen_on_exchange = True
        if trigger is _EXCH_OPEN:
            # (an open event that leaves the state as it is needs no _move)
            if order.state in _OPEN_KEEPS or self._move(order, trigger, "order_event", now, out):
                order.absent_seq, order.absent_at = 0, None  # clear_absence(order), inline
                self._sync_matched(order, "order_event", now, out)
        else:
            self._sync_matched(order, "order_event", now, out)
            self._move(order, trigger, "order_event", now, out)
        return gaps

    def on_trade_fill(
        self, fill: OwnFill, trade: TradeEvent, source: str, now: float, out: Outcome
    ) -> Sequence[str]:
        """Apply one of aqbot's fills inside a trade; returns gap reasons."""
        if trade.match_time > self.newest_match:
            self.newest_match = trade.match_time
        order = self.orders.get(fill.order_id)
        if order is None and fill.order_id in self.pruned:
            if self.is_late_duplicate(fill.order_id, trade.trade_id):
                return NO_GAPS
            # A trade id never seen proves the pruned order was alive: count it (review N5).
            self.defect(out, None, fill.token, fill.order_id, f"new trade {trade.trade_id} of a pruned order")
            self._unprune(fill.order_id)
            self.adopt_fill(fill, now, out)
            order = self.orders.get(fill.order_id)
        if order is None:
            return [f"trade {trade.trade_id} for unknown order {fill.order_id}"]
        if fill.token != order.token:
            self.defect(
                out, order, order.token, order.order_id, f"trade {trade.trade_id} in token {fill.token}"
            )
            return NO_GAPS
        state = order.state
        if state is _REJECTED:
            self._revive(order, source, now, out, f"trade {trade.trade_id} fills an order answered REJECTED")
            state = order.state
        # (a FILL that leaves the state as it is, the usual case, is a legal no-op: no need for _move)
        if state not in _FILL_KEEPS and not self._move(order, _FILL, source, now, out):
            return NO_GAPS
        order.seen_on_exchange = True
        obs = self.fills.observe(trade.trade_id, order.order_id, fill.amount, fill.price, trade.status)
        if obs.conflict is not None:
            self.defect(out, order, order.token, order.order_id, obs.conflict)
            record = self.fills.record(trade.trade_id, order.order_id)
            if not (obs.failed_after_confirmed and order.side is Side.SELL and record is not None):
                return NO_GAPS  # keep the higher held: a BUY's shares stay counted
            self.fills.fail(record)  # a SELL's shares come back: count them (worst must not drop)
            obs = Observation(new=False, reverse=fill.amount, status_changed=True)
        if obs.status_changed:
            out.facts.append(
                TradeRecorded(trade.trade_id, order.order_id, fill.amount, fill.price, trade.status)
            )
        added = obs.added
        if added:
            self._sync_matched(order, source, now, out, trade.trade_id)
        if obs.reverse:
            delta = -order.sign * obs.reverse
            self.exposure.add_held(order.token, delta, fill.price)
            self.last_fill_at[order.token] = now
            out.fact(FillReversed(trade.trade_id, order.order_id, order.token, delta))
            self._resize(order, "fill-failed", out)
        if not added:  # (``_sync_matched`` resettled it, and nothing since changed what that reads)
            fills, order_id = self.fills, order.order_id  # self._resettle(order), inline: most trade events
            unsettled = (
                order.counted
                - fills.failed_sums.get(order_id, ZERO)
                - fills.confirmed_sums.get(order_id, ZERO)
            )
            if unsettled < ZERO:  # max(unsettled, ZERO), the same operand on a tie
                unsettled = ZERO
            if unsettled != order.unsettled:
                self.exposure.add_unsettled(order.token, order.side, unsettled - order.unsettled)
                order.unsettled = unsettled
        return NO_GAPS

    def on_open_row(self, row: OpenOrderRow, started_at: float, now: float, out: Outcome) -> None:
        """A REST snapshot begun at ``started_at`` shows the order open."""
        order = self.orders.get(row.order_id)
        if order is None and row.order_id in self.pruned:
            # The terminal state was wrong (a lagging listing, found out after pruning): report it, and
            # track the order again, reserved, so that the DEFECT halt's sweep cancels it (review N4).
            self.defect(out, None, row.token, row.order_id, "REST lists open an order that ended long ago")
            self._unprune(row.order_id)
            order = self.adopt(row, "rest-pruned", now, out)
            if order is None:
                return
            order.counted = min(row.size_matched, row.original_size)  # counted before it was pruned
        if order is None:
            order = self.adopt(row, "rest", now, out)
            if order is None:
                return
        if not self._consistent(order, row.token, row.side, row.original_size, out):
            return
        order.event_matched = max(order.event_matched, row.size_matched)
        ended = order.terminal_at
        if order.state is OrderState.REJECTED or (ended is not None and started_at > ended):
            # A user-channel terminal event is authoritative: a REST row after it is a lagging replica,
            # handled by reserving and cancelling without latching a DEFECT halt (review N6).
            lagging = order.state is not OrderState.REJECTED and order.ended_by == "order_event"
            detail = f"REST snapshot begun at {started_at} lists it open"
            if self._revive(order, "rest", now, out, detail, defect=not lagging) and lagging:
                self._move(order, Trigger.EXCH_OPEN, "rest", now, out)
                order.seen_on_exchange = True
                self._sync_matched(order, "rest", now, out)
                self.request_cancel(order, "revived by a lagging REST row", now, out)
                return
        if self._move(order, Trigger.EXCH_OPEN, "rest", now, out):
            order.seen_on_exchange = True
            clear_absence(order)
            self._sync_matched(order, "rest", now, out)

    def on_absent(
        self, order: Order, begun_seq: int, started_at: float, applied_seq: int, now: float, out: Outcome
    ) -> None:
        """A complete REST snapshot, past grace, begun at ``started_at`` (logical clock ``begun_seq``), no
        longer lists the order. Stricter than DESIGN rule 3 (review D1): ``/data/trades`` may lag
        ``/data/orders``, so one snapshot ends the order only when its trades already show it fully filled.
        Otherwise the order goes UNKNOWN, keeps the reservation for what is not shown filled, and is marked
        with the logical clock ``applied_seq`` and time of this absence; a later snapshot ends it (fills:
        the larger of what the core knew and what the trades say) only if it began after this one was
        applied and more than ``grace`` seconds later (see :func:`aqbot.core.absence.confirms_absence`)."""
        self._sync_matched(order, "rest", now, out)
        # Fully filled only by fills that have not FAILED: a failed fill gives its shares back to what the
        # order might still fill (the reservation's target is ``size - matched + failed``), so an order
        # whose fills failed is not shown filled, and the two-snapshot rule below applies to it.
        if self.matched(order) - self.fills.failed_sums.get(order.order_id, ZERO) >= order.original_size:
            self._move(order, Trigger.EXCH_FILLED, "rest", now, out)
        elif confirms_absence(order, begun_seq, started_at, self.grace):
            self._move(order, Trigger.EXCH_CANCELED, "rest", now, out)
        elif order.absent_at is None and self._move(order, Trigger.EXCH_ABSENT, "rest", now, out):
            order.absent_seq, order.absent_at = applied_seq, now
            order.history.append(f"{now:.3f} absent from a REST snapshot; waiting for a second one")
            del order.history[:-HISTORY_LIMIT]

    def absence_recheck_at(self) -> float | None:
        """When a snapshot could confirm the earliest pending absence (``absence.recheck_at``)."""
        return recheck_at(self._open.values(), self.grace)
