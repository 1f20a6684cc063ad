"""Builders shared by the core unit tests."""

from __future__ import annotations

from decimal import Decimal

from aqbot.core.config import CoreConfig
from aqbot.core.engine import Core
from aqbot.core.events import (
    Channel,
    MakerFill,
    OrderEvent,
    OrderEventType,
    OrdersSnapshot,
    PlacementAnswer,
    TradeEvent,
    TradeStatus,
)
from aqbot.core.exposure import Limits
from aqbot.core.facts import Outcome
from aqbot.core.types import MarketSpec, OrderId, Side

D = Decimal
YES = "1" * 77
NO = "2" * 77
MARKET = MarketSpec("0x" + "cd" * 32, YES, NO, D("0.01"))
OWNER = "api-key-1"
FUNDER = "0x" + "ab" * 20
CONFIG = CoreConfig(Limits(D(10)), owner=OWNER, funder=FUNDER, grace=5.0)


def oid(n: int) -> OrderId:
    return f"0x{n:064x}"


def ready_core(config: CoreConfig = CONFIG, now: float = 0.0) -> Core:
    """A core whose user channel is up and whose startup reconciliation completed."""
    core = Core(config, [MARKET], now)
    core.on_channel_up(Channel.USER, now)
    recon_id, _ = core.begin_reconciliation(now)
    core.on_reconciliation(recon_id, OrdersSnapshot(now), None, now)
    assert core.can_quote(YES, now).allowed
    return core


def live_buy(
    core: Core, n: int, size: str = "10", price: str = "0.5", now: float = 1.0, token: str = YES
) -> OrderId:
    order_id = oid(n)
    assert core.place(order_id, token, Side.BUY, D(price), D(size), now).ok
    core.on_placement_answer(PlacementAnswer(order_id, True, order_id, "live"), now)
    return order_id


def order_event(
    order_id: OrderId, matched: str, status: str = "LIVE", kind: OrderEventType = OrderEventType.UPDATE,
    size: str = "10", price: str = "0.5", side: Side = Side.BUY, token: str = YES,
) -> OrderEvent:  # fmt: skip
    return OrderEvent(order_id, token, side, D(price), D(size), D(matched), status, kind)


def maker_trade(
    trade_id: str, fills: list[tuple[OrderId, str]], status: TradeStatus = TradeStatus.MATCHED,
    price: str = "0.5", token: str = YES, side: Side = Side.BUY,
) -> TradeEvent:  # fmt: skip
    makers = tuple(MakerFill(o, D(a), D(price), token, OWNER, FUNDER, side) for o, a in fills)
    total = sum((D(a) for _, a in fills), start=D(0))
    return TradeEvent(trade_id, status, "0xtaker", token, side.opposite, total, D(price), "MAKER", makers)


def kinds(out: Outcome) -> list[str]:
    return [type(x).__name__ for x in (*out.facts, *out.commands)]
