"""How long the engine remembers what has ended: terminal orders, final trades, position history.

A real exchange keeps its history in a database; the simulator keeps it in memory, so a long run (24
simulated hours and more) would grow without bound. :class:`Retention` forgets, in time order:

* a **terminal order** (MATCHED, CANCELED) ``orders_ms`` after it ended (default 2 min): ``engine.orders``
  then no longer holds it (a trade still held keeps its orders alive), a cancel of its id answers
  ``order not found`` instead of ``already canceled or matched``, and a new order with the same id is no
  longer refused as a duplicate (ids are salted hashes: never in practice);
* a **final trade** (CONFIRMED, FAILED) ``trades_ms`` after its final status (default 1 h): ``GET
  /data/trades`` no longer lists it and ``engine.trades`` no longer holds it (``summary()`` still counts it);
* **position history** points superseded more than ``history_ms`` ago (default 1 h; the last point before
  the cut is kept, so ``true_position(owner, token, at_ms)`` stays exact for ``at_ms >= now - history_ms``;
  the lagged Data API never looks further back than its lag and stale window).

Orders are the bulk (the flow's makers re-quote: 7,000 to 30,000 orders an hour in the standard paper
scenario), and nothing asks about a terminal order but a late cancel (which aqbot's core treats alike
whatever the ``not_canceled`` reason). The trade window covers every
look-back aqbot makes in steady state: the reconciler asks for trades since ``max(newest seen,
now - 600 s) - 600 s``; a freshly started bot (no watermark) asks for the last 24 h and gets the last hour.
Forgetting changes neither matching nor balances; the tape changes only where an answer does (a cancel of
a forgotten order).
"""

from __future__ import annotations

import collections
import logging

import attrs

logger = logging.getLogger(__name__)

HOUR_MS = 3_600_000
TWO_MINUTES_MS = 120_000


@attrs.frozen
class RetentionConfig:
    """How long ended things stay in memory, in simulated ms (each at least 1 minute)."""

    orders_ms: int = attrs.field(default=TWO_MINUTES_MS, validator=attrs.validators.ge(60_000))
    trades_ms: int = attrs.field(default=HOUR_MS, validator=attrs.validators.ge(60_000))
    history_ms: int = attrs.field(default=HOUR_MS, validator=attrs.validators.ge(60_000))


class Retention:
    """The queues of what may be forgotten, in the order it ended (time never goes backwards).

    The engine calls :meth:`order_ended` / :meth:`trade_final` when things end, and pops what is due with
    :meth:`orders_due` / :meth:`trades_due`. ``pruned_statuses`` counts the final statuses of forgotten
    trades (for ``summary()``).
    """

    def __init__(self, config: RetentionConfig) -> None:
        self.config = config
        self._orders: collections.deque[tuple[int, str]] = collections.deque()
        self._trades: collections.deque[tuple[int, str]] = collections.deque()
        self.orders_pruned = 0
        self.trades_pruned = 0
        self.pruned_statuses: collections.Counter[str] = collections.Counter()
        self.next_history_ms = 0

    def order_ended(self, order_id: str, now_ms: int) -> None:
        self._orders.append((now_ms + self.config.orders_ms, order_id))

    def trade_final(self, trade_id: str, now_ms: int) -> None:
        self._trades.append((now_ms + self.config.trades_ms, trade_id))

    def orders_due(self, now_ms: int) -> list[str]:
        """Ids of the terminal orders to forget at ``now_ms``."""
        return _pop_due(self._orders, now_ms)

    def trades_due(self, now_ms: int) -> list[str]:
        """Ids of the final trades to forget at ``now_ms``."""
        return _pop_due(self._trades, now_ms)

    def history_due(self, now_ms: int) -> int | None:
        """The cut for position histories when one is due (about once a minute), else None."""
        if now_ms < self.next_history_ms:
            return None
        self.next_history_ms = now_ms + 60_000
        return now_ms - self.config.history_ms


def _pop_due(queue: collections.deque[tuple[int, str]], now_ms: int) -> list[str]:
    out: list[str] = []
    while queue and queue[0][0] <= now_ms:
        out.append(queue.popleft()[1])
    return out
