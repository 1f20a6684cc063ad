"""Test-only sabotage: put the seed's bug back into a running bot, to prove the campaigns have teeth.

``optimistic_release`` makes the core release a BUY's reservation as soon as the exchange's DELETE answer
lists the order as ``canceled`` (DESIGN section 1: "never released by ... the canceled list of a DELETE
answer"); ``release_on_cancel_send`` releases it when the cancel is *sent*. Both are installed on one
bot's core through the paper runner's hook by swapping the class of its order tracker for a subclass:
nothing in ``aqbot/`` knows about them.
"""

from __future__ import annotations

from aqbot.app_state import BotHandle
from aqbot.core.events import CancelAnswer
from aqbot.core.facts import Outcome
from aqbot.core.lifecycle import Trigger
from aqbot.core.orders import Order, OrderTracker


class _OptimisticTracker(OrderTracker):
    """Releases on the DELETE answer's ``canceled`` list (the bug)."""

    __slots__ = ()

    def on_cancel_answer(self, answer: CancelAnswer, now: float, out: Outcome) -> None:
        for order_id in answer.canceled:
            order = self.orders.get(order_id)
            if order is not None and not order.state.terminal:
                self._move(order, Trigger.EXCH_CANCELED, "cancel-answer (optimistic)", now, out)
        super().on_cancel_answer(answer, now, out)


class _CancelSendTracker(OrderTracker):
    """Releases as soon as a cancel is requested (the bug, earlier)."""

    __slots__ = ()

    def request_cancel(self, order: Order, reason: str, now: float, out: Outcome) -> None:
        super().request_cancel(order, reason, now, out)
        if not order.state.terminal:
            self._move(order, Trigger.EXCH_CANCELED, "cancel-send (optimistic)", now, out)


def optimistic_release(handle: BotHandle) -> None:
    """Hook: this bot releases on the DELETE answer."""
    handle.hub.core.tracker.__class__ = _OptimisticTracker


def release_on_cancel_send(handle: BotHandle) -> None:
    """Hook: this bot releases when it sends a cancel."""
    handle.hub.core.tracker.__class__ = _CancelSendTracker
