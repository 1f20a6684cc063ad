"""Builders for the adversarial limit-contract tests (sync Core only, no I/O)."""

from __future__ import annotations

from decimal import Decimal

from aqbot.core.config import CoreConfig
from aqbot.core.engine import Core
from aqbot.core.events import (
    Channel,
    MakerFill,
    OpenOrderRow,
    OrderEvent,
    OrderEventType,
    OrdersSnapshot,
    PlacementAnswer,
    PositionsSnapshot,
    TradeEvent,
    TradeStatus,
)
from aqbot.core.exposure import Limits
from aqbot.core.facts import CancelOrder, Outcome
from aqbot.core.types import MarketSpec, OrderId, Side, TokenId

D = Decimal
ZERO = D(0)
YES = "3" * 77
NO = "4" * 77
MARKET = MarketSpec("0x" + "ef" * 32, YES, NO, D("0.01"))
OWNER = "adv-api-key"
FUNDER = "0x" + "cd" * 20
LIMIT = D(10)
CONFIG = CoreConfig(Limits(LIMIT), owner=OWNER, funder=FUNDER, grace=5.0, protection_window=60.0)


def oid(n: int) -> OrderId:
    return f"0x{n:064x}"


def ready(config: CoreConfig = CONFIG, now: float = 0.0) -> Core:
    """A core with the user channel up and its startup reconciliation completed."""
    core = Core(config, [MARKET], now)
    core.on_channel_up(Channel.USER, now)
    reconcile(core, now)
    assert core.can_quote(YES, now).allowed
    return core


def reconcile(
    core: Core,
    now: float,
    rows: tuple[OpenOrderRow, ...] = (),
    trades: tuple[TradeEvent, ...] = (),
    positions: PositionsSnapshot | None = None,
    *,
    finish_at: float | None = None,
) -> Outcome:
    """One complete reconciliation begun at ``now`` (applied at ``finish_at``, default ``now``)."""
    recon_id, _ = core.begin_reconciliation(now)
    end = now if finish_at is None else finish_at
    return core.on_reconciliation(recon_id, OrdersSnapshot(now, rows, trades), positions, end)


def buy(
    core: Core, n: int, size: str = "10", price: str = "0.5", now: float = 1.0, token: TokenId = YES
) -> OrderId:
    """Reserve and accept (LIVE) a BUY."""
    order_id = oid(n)
    result = core.place(order_id, token, Side.BUY, D(price), D(size), now)
    assert result.ok, result.refused
    core.on_placement_answer(PlacementAnswer(order_id, True, order_id, "live"), now)
    return order_id


def sell(
    core: Core, n: int, size: str = "10", price: str = "0.5", now: float = 1.0, token: TokenId = YES
) -> OrderId:
    order_id = oid(n)
    result = core.place(order_id, token, Side.SELL, D(price), D(size), now)
    assert result.ok, result.refused
    core.on_placement_answer(PlacementAnswer(order_id, True, order_id, "live"), now)
    return order_id


def order_ev(
    order_id: OrderId, matched: str, status: str = "LIVE", kind: OrderEventType = OrderEventType.UPDATE,
    size: str = "10", price: str = "0.5", side: Side = Side.BUY, token: TokenId = YES,
) -> OrderEvent:  # fmt: skip
    return OrderEvent(order_id, token, side, D(price), D(size), D(matched), status, kind)


def row(
    order_id: OrderId, matched: str = "0", size: str = "10", price: str = "0.5", side: Side = Side.BUY,
    token: TokenId = YES,
) -> OpenOrderRow:  # fmt: skip
    return OpenOrderRow(order_id, token, side, D(price), D(size), D(matched))


def maker_trade(
    trade_id: str, fills: list[tuple[OrderId, str]], status: TradeStatus = TradeStatus.MATCHED,
    price: str = "0.5", token: TokenId = YES, side: Side = Side.BUY, taker_token: TokenId | None = None,
    match_time: float = 0.0,
) -> TradeEvent:  # fmt: skip
    """A trade in which aqbot's orders are makers (entries in ``token``; the taker may be in another;
    ``match_time``: the exchange's unix seconds, 0 for none)."""
    makers = tuple(MakerFill(o, D(a), D(price), token, OWNER, FUNDER, side) for o, a in fills)
    total = sum((D(a) for _, a in fills), start=ZERO)
    top = token if taker_token is None else taker_token
    taker_side = side.opposite if top == token else side
    taker = "0x" + "f" * 64
    return TradeEvent(trade_id, status, taker, top, taker_side, total, D(price), "MAKER", makers, match_time)


def worst(core: Core, token: TokenId = YES) -> Decimal:
    return core.token_exposure(token).worst


def cancels(out: Outcome) -> list[OrderId]:
    return [c.order_id for c in out.commands if isinstance(c, CancelOrder)]


def buy_allowed(core: Core, n: int, size: Decimal, now: float, token: TokenId = YES) -> bool:
    """Whether the core would let a new BUY of ``size`` out (it reserves it when it does)."""
    return core.place(oid(n), token, Side.BUY, D("0.5"), size, now).ok
