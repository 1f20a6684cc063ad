"""One tracked order: the record the order tracker (:mod:`aqbot.core.orders`) moves through its states."""

from __future__ import annotations

from decimal import Decimal

import attrs

from aqbot.core.lifecycle import OrderState
from aqbot.core.types import ConditionId, OrderId, OrderType, Side, TokenId

ZERO = Decimal(0)
ONE = Decimal(1)
MINUS_ONE = Decimal(-1)


@attrs.define
class Order:
    order_id: OrderId
    token: TokenId
    market: ConditionId
    side: Side
    price: Decimal
    original_size: Decimal
    state: OrderState
    created_at: float
    last_action_at: float
    order_type: OrderType = OrderType.GTC
    expiration: float = 0.0
    event_matched: Decimal = ZERO
    counted: Decimal = ZERO
    unsettled: Decimal = ZERO  # counted - failed - confirmed: fills that may still FAIL
    seen_on_exchange: bool = False
    post_in_flight: bool = False  # the POST has neither been answered nor failed: it may rest at any moment
    cancel_sent: bool = False
    terminal_at: float | None = None
    ended_by: str = ""  # the source of the fact that made it terminal ("order_event", "rest", "answer", ...)
    # A complete REST snapshot past grace found it absent, with fewer fills in /data/trades than its size
    # (review D1): the reconciliations' logical clock and the local time when that absence was applied.
    # Only a snapshot begun after both (and ``grace`` seconds later) may resolve it by absence. 0 / None:
    # not pending; cleared when the exchange lists it open again.
    absent_seq: int = 0
    absent_at: float | None = None
    history: list[str] = attrs.Factory(list)

    @property
    def sign(self) -> Decimal:
        return ONE if self.side is Side.BUY else MINUS_ONE
