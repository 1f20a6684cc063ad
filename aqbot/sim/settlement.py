"""Trades and their on-chain settlement lifecycle.

A :class:`Trade` is one taker order matched at one price level against one or more maker orders (so the
top-level ``price`` of the trade message is exact). Balances move at MATCHED (that is what the exchange
credits, and what the ground truth measures). Then, in simulated time:

* ``ok``:    MATCHED -> MINED (``mined_ms``) -> CONFIRMED (``confirmed_ms``)
* ``retry``: MATCHED -> RETRYING (``mined_ms``) -> MINED (+``retry_ms``) -> CONFIRMED (+``confirmed_ms``)
* ``fail``:  MATCHED -> RETRYING (``mined_ms``) -> FAILED (+``retry_ms``): every balance move of the trade is
  reversed (tokens, pUSD, fees, mint/merge collateral).

The fate is drawn by the fault layer when the trade is created.
"""

from __future__ import annotations

import heapq
import logging

import attrs

from aqbot.sim.accounts import Accounts
from aqbot.sim.book import SimOrder

logger = logging.getLogger(__name__)


@attrs.frozen
class SettlementConfig:
    """Delays of the settlement lifecycle, in simulated ms."""

    mined_ms: int = 2_000
    confirmed_ms: int = 6_000
    retry_ms: int = 8_000


@attrs.frozen
class Move:
    """One balance change, kept so a FAILED trade can be reversed exactly."""

    owner: str
    pusd: int
    token: str
    shares: int
    cash: int


@attrs.define(eq=False, slots=True)
class MakerFill:
    """One maker order's part of a trade: ``size_u`` shares of its token at its ``price_u``."""

    order: SimOrder
    size_u: int
    price_u: int


@attrs.define(eq=False, slots=True)
class Trade:
    """One trade: a taker order against the makers of one level."""

    trade_id: str
    market: str
    taker: SimOrder
    size_u: int
    price_u: int
    fee_u: int
    fee_rate_bps: int
    match_ms: int
    makers: list[MakerFill] = attrs.field(factory=list)
    moves: list[Move] = attrs.field(factory=list)
    locked_delta: int = 0
    status: str = "MATCHED"
    last_update_ms: int = 0
    tx_hash: str = ""
    fate: str = "ok"

    def owners(self) -> list[str]:
        """Every owner party to the trade, taker first, without repeats."""
        seen: dict[str, None] = {self.taker.owner: None}
        for m in self.makers:
            seen.setdefault(m.order.owner, None)
        return list(seen)


class Settlement:
    """Schedules status changes of trades. :meth:`due` pops the changes that are due, in time order."""

    def __init__(self, config: SettlementConfig) -> None:
        self.config = config
        self._heap: list[tuple[int, int, str, str]] = []
        self._seq = 0

    def schedule(self, trade: Trade) -> None:
        """Plan the status sequence of a fresh (MATCHED) trade according to its ``fate``."""
        c = self.config
        t0 = trade.match_ms
        if trade.fate == "ok":
            plan = [(t0 + c.mined_ms, "MINED"), (t0 + c.confirmed_ms, "CONFIRMED")]
        elif trade.fate == "retry":
            t1 = t0 + c.mined_ms
            plan = [
                (t1, "RETRYING"),
                (t1 + c.retry_ms, "MINED"),
                (t1 + c.retry_ms + c.confirmed_ms, "CONFIRMED"),
            ]
        else:
            t1 = t0 + c.mined_ms
            plan = [(t1, "RETRYING"), (t1 + c.retry_ms, "FAILED")]
        for due, status in plan:
            self._seq += 1
            heapq.heappush(self._heap, (due, self._seq, trade.trade_id, status))

    def due(self, now_ms: int) -> list[tuple[int, str, str]]:
        """``(due_ms, trade_id, status)`` of every change due at or before ``now_ms``, in order."""
        out: list[tuple[int, str, str]] = []
        while self._heap and self._heap[0][0] <= now_ms:
            due, _, tid, status = heapq.heappop(self._heap)
            out.append((due, tid, status))
        return out

    def peek(self) -> int | None:
        """When the next status change is due (None: nothing scheduled)."""
        return self._heap[0][0] if self._heap else None

    def pending(self) -> int:
        return len(self._heap)


def reverse_moves(accounts: Accounts, trade: Trade, now_ms: int) -> None:
    """Undo every balance move of ``trade`` (a FAILED settlement)."""
    for mv in reversed(trade.moves):
        acct = accounts.by_owner[mv.owner]
        acct.pusd -= mv.pusd
        if mv.shares:
            accounts.move_tokens(acct, mv.token, -mv.shares, mv.cash, now_ms)
