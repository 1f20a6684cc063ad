"""When a REST snapshot's silence about an order counts (review D1; stricter than DESIGN rule 3).

A complete snapshot past grace that no longer lists an order marks it (``Order.absent_seq`` /
``absent_at``) unless its trades already show it fully filled; only a second snapshot, begun after the
first absence was applied and more than ``grace`` seconds later, ends it
(:meth:`aqbot.core.orders.OrderTracker.on_absent`). These are the pure rules on those marks.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from aqbot.core.order import Order


def past_grace(since: float, grace: float) -> float:
    """The first float time ``t`` with ``t - since > grace`` (the grace rule is strict)."""
    t = since + grace
    while t - since <= grace:
        t = math.nextafter(t, math.inf)
    return t


def confirms_absence(order: Order, begun_seq: int, started_at: float, grace: float) -> bool:
    """Whether a snapshot begun at ``started_at`` (logical ``begun_seq``) that misses the order is the
    second, confirming one: begun after the first absence was applied, and more than ``grace`` later."""
    first = order.absent_at
    return first is not None and begun_seq > order.absent_seq and started_at - first > grace


def recheck_at(orders: Iterable[Order], grace: float) -> float | None:
    """When a snapshot could confirm the earliest pending absence among ``orders`` (``None``: none is
    pending): the first instant more than ``grace`` after both the absence and the order's last local
    action."""
    due = [past_grace(max(o.absent_at, o.last_action_at), grace) for o in orders if o.absent_at is not None]
    return min(due, default=None)


def clear_absence(order: Order) -> None:
    """The exchange shows the order alive: a pending absence no longer counts."""
    order.absent_seq, order.absent_at = 0, None
