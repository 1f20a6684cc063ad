"""A small exchange model for the core state machines: it holds the truth.

It knows which of aqbot's orders rest, what filled, which trades FAILED, and what aqbot's position really is
(L2 is checked against :meth:`Exchange.true_position`, never against the core). It produces the user-channel
events the real exchange would send into an outbox, from which the machine delivers, drops, duplicates
and reorders them, and it answers REST snapshots and a lagging positions API.
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from aqbot.core.events import (
    CancelAnswer,
    MakerFill,
    OpenOrderRow,
    OrderEvent,
    OrderEventType,
    OrdersSnapshot,
    PlacementAnswer,
    PositionRow,
    PositionsSnapshot,
    TradeEvent,
    TradeStatus,
)
from aqbot.core.types import MarketSpec, OrderId, Side, TokenId

ZERO = Decimal(0)
ONE = Decimal(1)
MARKET = MarketSpec("0x" + "ab" * 32, "1111", "2222", Decimal("0.01"))
TOKENS = MARKET.tokens
OWNER = "me-api-key"
FUNDER = "0x" + "f" * 40

UserEvent = OrderEvent | TradeEvent

# Model order states.
UNSENT = "unsent"  # the POST is in flight, not yet processed
ZOMBIE = "zombie"  # the POST timed out locally; the exchange may still process it until ``deadline``
RESTING = "resting"
FILLED = "filled"
CANCELED = "canceled"
REJECTED = "rejected"
LOST = "lost"  # never processed
MAY_FILL = frozenset({UNSENT, ZOMBIE, RESTING})


@attrs.define
class MOrder:
    oid: OrderId
    token: TokenId
    side: Side
    price: Decimal
    size: Decimal
    state: str = UNSENT
    matched: Decimal = ZERO
    deadline: float = 0.0
    answer: PlacementAnswer | None = None

    @property
    def remaining(self) -> Decimal:
        return self.size - self.matched


@attrs.define
class MTrade:
    trade_id: str
    entries: list[tuple[OrderId, Decimal]]
    role: str  # "maker", "cross", "taker"
    matched_at: float
    status: TradeStatus = TradeStatus.MATCHED


@attrs.define
class Exchange:
    now: float = 0.0
    connected: bool = False
    orders: dict[OrderId, MOrder] = attrs.Factory(dict)
    trades: dict[str, MTrade] = attrs.Factory(dict)
    outbox: list[UserEvent] = attrs.Factory(list)
    cancel_requests: list[OrderId] = attrs.Factory(list)
    cancel_answers: list[CancelAnswer] = attrs.Factory(list)
    next_trade: int = 0

    # --- truth ----------------------------------------------------------------------------------------

    def _signed(self, oid: OrderId, amount: Decimal) -> Decimal:
        return amount if self.orders[oid].side is Side.BUY else -amount

    def true_position(self, token: TokenId, *, as_of: float | None = None) -> Decimal:
        """Shares the exchange credits to aqbot (FAILED trades never happened on chain)."""
        total = ZERO
        for trade in self.trades.values():
            if trade.status is TradeStatus.FAILED or (as_of is not None and trade.matched_at > as_of):
                continue
            for oid, amount in trade.entries:
                if self.orders[oid].token == token:
                    total += self._signed(oid, amount)
        return total

    def may_still_buy(self, token: TokenId) -> Decimal:
        return sum(
            (
                o.remaining
                for o in self.orders.values()
                if o.token == token and o.side is Side.BUY and o.state in MAY_FILL
            ),
            start=ZERO,
        )

    def failed_amount(self, oid: OrderId) -> Decimal:
        return sum(
            (
                a
                for t in self.trades.values()
                if t.status is TradeStatus.FAILED
                for o, a in t.entries
                if o == oid
            ),
            start=ZERO,
        )

    # --- events ---------------------------------------------------------------------------------------

    def emit(self, event: UserEvent) -> None:
        if self.connected:  # the user channel never replays
            self.outbox.append(event)

    def order_event(self, order: MOrder, status: str, kind: OrderEventType) -> OrderEvent:
        return OrderEvent(
            order.oid, order.token, order.side, order.price, order.size, order.matched, status, kind
        )

    def trade_event(self, trade: MTrade) -> TradeEvent:
        first = self.orders[trade.entries[0][0]]
        if trade.role == "taker":
            oid, amount = trade.entries[0]
            other = MakerFill("0xother", amount, first.price, first.token, owner="other", maker_address="0x1")
            return TradeEvent(
                trade.trade_id, trade.status, oid, first.token, first.side, amount, first.price, "TAKER",
                (other,), trade.matched_at,
            )  # fmt: skip
        makers = tuple(
            MakerFill(
                oid,
                amount,
                self.orders[oid].price,
                self.orders[oid].token,
                OWNER,
                FUNDER,
                self.orders[oid].side,
            )
            for oid, amount in trade.entries
        )
        size = sum((a for _, a in trade.entries), start=ZERO)
        if trade.role == "cross":  # BUY YES against BUY NO: the taker is in the other token, same side
            token, side, price = MARKET.complement(first.token), first.side, ONE - first.price
        else:
            token, side, price = first.token, first.side.opposite, first.price
        return TradeEvent(
            trade.trade_id,
            trade.status,
            "0xtaker",
            token,
            side,
            size,
            price,
            "MAKER",
            makers,
            trade.matched_at,
        )

    # --- exchange actions -----------------------------------------------------------------------------

    def process_post(self, oid: OrderId, reject: str) -> None:
        """The exchange handles a POST. ``reject`` is "" (accept) or a rejection style."""
        order = self.orders[oid]
        answer_due = order.state == UNSENT
        if reject:
            order.state = REJECTED
            answer = {
                "false": PlacementAnswer(oid, False, "", "", "not enough balance / allowance"),
                "empty-id": PlacementAnswer(oid, True, "", "", "invalid post-only order"),
                "http400": PlacementAnswer(oid, False, "", "", "invalid order", http_status=400),
            }[reject]
        else:
            order.state = RESTING
            answer = PlacementAnswer(oid, True, oid, "live")
            self.emit(self.order_event(order, "LIVE", OrderEventType.PLACEMENT))
        order.answer = answer if answer_due else None

    def fill(self, oids: list[OrderId], amounts: list[Decimal], role: str) -> MTrade:
        trade = MTrade(f"t{self.next_trade}", list(zip(oids, amounts, strict=True)), role, self.now)
        self.next_trade += 1
        self.trades[trade.trade_id] = trade
        self.emit(self.trade_event(trade))
        for oid, amount in trade.entries:
            order = self.orders[oid]
            order.matched += amount
            full = order.matched >= order.size
            if full:
                order.state = FILLED
            self.emit(self.order_event(order, "MATCHED" if full else "LIVE", OrderEventType.UPDATE))
        return trade

    def settle(self, trade: MTrade, status: TradeStatus) -> None:
        trade.status = status
        self.emit(self.trade_event(trade))

    def cancel(self, oid: OrderId, status: str = "CANCELED") -> None:
        order = self.orders[oid]
        order.state = CANCELED
        self.emit(self.order_event(order, status, OrderEventType.CANCELLATION))

    def process_cancel(self, oid: OrderId) -> None:
        order = self.orders[oid]
        if order.state == RESTING:
            self.cancel(oid)
            self.cancel_answers.append(CancelAnswer(canceled=(oid,)))
        elif order.state in (UNSENT, ZOMBIE):
            self.cancel_answers.append(CancelAnswer(not_canceled=((oid, "order not found"),)))
        else:
            self.cancel_answers.append(CancelAnswer(not_canceled=((oid, "already canceled or matched"),)))

    def advance(self, dt: float) -> None:
        self.now += dt
        for order in self.orders.values():
            if order.state == ZOMBIE and order.deadline < self.now:
                order.state = LOST

    # --- REST -----------------------------------------------------------------------------------------

    def orders_snapshot(self, trades_lag: float = 0.0) -> OrdersSnapshot:
        """/data/orders now, and /data/trades as of ``trades_lag`` seconds ago (the trade listing may lag
        the order listing: an order can vanish from the first before its fill shows in the second)."""
        rows = tuple(
            OpenOrderRow(o.oid, o.token, o.side, o.price, o.size, o.matched)
            for o in sorted(self.orders.values(), key=lambda o: o.oid)
            if o.state == RESTING
        )
        listed = [t for t in self.trades.values() if t.matched_at <= self.now - trades_lag]
        trades = tuple(self.trade_event(t) for t in listed)
        return OrdersSnapshot(self.now, rows, trades)

    def positions_snapshot(self, lag: float, omit_zero: bool) -> PositionsSnapshot:
        rows = []
        for token in TOKENS:
            size = self.true_position(token, as_of=self.now - lag)
            if size or not omit_zero:
                rows.append(PositionRow(token, size, Decimal("0.5")))
        return PositionsSnapshot(self.now, tuple(rows))
