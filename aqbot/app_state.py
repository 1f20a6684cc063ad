"""The running bot's handle and its read-only state (for dashboards, metrics and tests).

:meth:`BotHandle.state` returns a :class:`BotState`: an immutable snapshot built from the core's public
queries and the tasks' counters, so a dashboard never touches the core's internals and never holds a
reference into mutable state. Reading it is synchronous and cheap (call it every frame).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import NoReturn

import attrs
import trio

from aqbot.core.book import OrderBook
from aqbot.core.engine import Core
from aqbot.core.halts import HaltReason, Scope, ScopeKind
from aqbot.core.types import MarketSpec, Side, TokenId
from aqbot.io.heartbeat import HeartbeatStats
from aqbot.io.hub import Hub
from aqbot.io.ledger_writer import LedgerWriterHandle
from aqbot.io.metrics import AqbotMetrics
from aqbot.io.positions import PositionSyncStats
from aqbot.io.quoter import QuoteContext
from aqbot.io.reconcile import ReconcileStats
from aqbot.io.ws import ChannelStats
from aqbot.io.ws_market import BookBoard
from aqbot.io.ws_replay import snapshot_event

log = logging.getLogger(__name__)

ZERO = Decimal(0)

# The scope of the heartbeat's halt: global, keyed apart from the placement guard's global halt.
HEARTBEAT_SCOPE = Scope(ScopeKind.GLOBAL, "heartbeat")


@attrs.define
class BotStats:
    """Mutable counters owned by the tasks (read through :meth:`BotHandle.state`)."""

    user: ChannelStats = attrs.Factory(ChannelStats)
    market: ChannelStats = attrs.Factory(ChannelStats)
    heartbeat: HeartbeatStats = attrs.Factory(HeartbeatStats)
    positions: PositionSyncStats = attrs.Factory(PositionSyncStats)


@attrs.frozen
class TokenState:
    """One token: ``worst = held + open_buy`` against ``limit`` (the L1 contract)."""

    token: str
    market: str
    held: Decimal
    open_buy: Decimal
    open_sell: Decimal
    worst: Decimal
    limit: Decimal
    best_bid: Decimal | None
    best_ask: Decimal | None
    mark: Decimal | None = None  # the PnL book's mark (best bid net of aqbot's own bids; see core/pnl.py)
    avg_cost: Decimal | None = None  # the PnL book's average cost per share (None when flat)
    realized: Decimal = ZERO
    unrealized: Decimal = ZERO


@attrs.frozen
class PnlState:
    """The core's PnL book, summed over tokens (pUSD). ``daily`` is the total since the start of the UTC
    day (``None`` before the first wall-time mark); ``daily_loss_limit`` ``None`` means no DAILY_LOSS halt."""

    realized: Decimal = ZERO
    unrealized: Decimal = ZERO
    total: Decimal = ZERO
    daily: Decimal | None = None
    daily_loss_limit: Decimal | None = None


@attrs.frozen
class QuoteState:
    """One of aqbot's orders that may still rest."""

    order_id: str
    token: str
    side: str
    price: Decimal
    remaining: Decimal
    state: str


@attrs.frozen
class HaltState:
    reason: str
    scope: str
    since: float
    detail: str


@attrs.frozen
class Health:
    user_connected: bool
    market_connected: bool
    user_gaps: int
    market_gaps: int
    heartbeat_last_ok: float | None
    heartbeat_lapsed: bool
    reconcile_last_ok: float | None
    reconcile_failures: int
    positions_last_ok: float | None
    ledger_buffered: int
    ledger_failing: bool
    placed: int
    rejected: int
    unknown: int


@attrs.frozen
class BotState:
    """A read-only picture of the bot at ``now`` (Trio time)."""

    now: float
    tokens: tuple[TokenState, ...]
    quotes: tuple[QuoteState, ...]
    halts: tuple[HaltState, ...]
    open_gaps: int
    quoting_allowed: dict[str, bool]
    health: Health
    pnl: PnlState = PnlState()


@attrs.define
class BotHandle:
    """What :func:`aqbot.app.run_bot` hands to ``task_status.started``."""

    hub: Hub
    board: BookBoard
    markets: tuple[MarketSpec, ...]
    stats: BotStats
    quotes: QuoteContext
    reconcile: ReconcileStats
    shutdown_requested: trio.Event = attrs.Factory(trio.Event)
    metrics_port: int | None = None
    metrics: AqbotMetrics | None = None
    ledger: LedgerWriterHandle | None = None

    def request_shutdown(self) -> None:
        """Graceful stop: quoters cancel their orders and wait for confirmations, then the bot exits."""
        self.shutdown_requested.set()

    # HeartbeatListener (the heartbeat task reports here). A lapsed chain latches EXCHANGE_UNAVAILABLE
    # under its own global scope key (distinct from the placement guard's), cleared by the next good beat.
    def heartbeat_ok(self, now: float) -> None:
        if self.hub.core.halts.find(HaltReason.EXCHANGE_UNAVAILABLE, HEARTBEAT_SCOPE) is not None:
            self.hub.clear_halt(HaltReason.EXCHANGE_UNAVAILABLE, HEARTBEAT_SCOPE)

    def heartbeat_failed(self, reason: str, now: float) -> None:
        self.hub.alert("heartbeat", f"heartbeat failed: {reason}")

    def heartbeat_lapsed(self, now: float, last_ok: float | None) -> None:
        detail = "heartbeat lapsed: the exchange may have cancelled every order"
        self.hub.alert("heartbeat-lapsed", detail)
        self.hub.set_halt(HaltReason.EXCHANGE_UNAVAILABLE, detail, HEARTBEAT_SCOPE)
        self.hub.waker.wake("heartbeat lapsed")

    def state(self) -> BotState:
        """An immutable snapshot (see the module docstring)."""
        core = self.hub.core
        now = trio.current_time()
        tokens = []
        for spec in self.markets:
            for token in spec.tokens:
                e = core.token_exposure(token)
                book = self.board.books[token]
                bid, ask = book.best_bid(), book.best_ask()
                p = core.pnl.tokens.get(token)
                tokens.append(
                    TokenState(
                        token,
                        spec.condition_id,
                        e.held,
                        e.open_buy,
                        e.open_sell,
                        e.worst,
                        core.exposure.limits.max_for(token),
                        None if bid is None else bid.price,
                        None if ask is None else ask.price,
                        None if p is None else p.mark,
                        None if p is None else p.average,
                        ZERO if p is None else p.realized,
                        ZERO if p is None else p.unrealized,
                    )
                )
        quotes = tuple(
            QuoteState(
                o.order_id, o.token, o.side.value, o.price, core.exposure.remaining(o.order_id), o.state.value
            )
            for o in core.open_orders()
        )
        halts = tuple(
            HaltState(h.reason.value, f"{h.scope.kind.value}:{h.scope.key}", h.since, h.detail)
            for h in core.halts.active
        )
        s = self.stats
        health = Health(
            s.user.connected, s.market.connected, s.user.gaps, s.market.gaps,
            s.heartbeat.last_ok, s.heartbeat.lapsed, self.reconcile.last_ok, self.reconcile.failures,
            s.positions.last_ok, self.hub.sink.buffered, self.hub.ledger_failing,
            self.quotes.placed, self.quotes.rejected, self.quotes.unknown,
        )  # fmt: skip
        allowed = {m.condition_id: core.can_quote(m.condition_id, now).allowed for m in self.markets}
        f = core.pnl.figures()
        pnl = PnlState(f.realized, f.unrealized, f.total, f.daily, core.config.daily_loss_limit)
        return BotState(now, tuple(tokens), quotes, halts, len(core.gaps.gaps), allowed, health, pnl)


def update_metrics(metrics: AqbotMetrics, state: BotState) -> None:
    """Set the state gauges from one :class:`BotState` (positions, worst vs limit, open orders,
    reservations, halts per reason, open gaps, ledger buffer, PnL). Every halt reason is exported (0 or 1).
    :func:`update_runtime_metrics` adds what the handle's tasks count."""
    for t in state.tokens:
        metrics.position_shares.set(t.held, token=t.token)
        metrics.worst_case_shares.set(t.worst, token=t.token)
        metrics.limit_shares.set(t.limit, token=t.token)
        metrics.reserved_shares.set(t.open_buy, token=t.token)
    metrics.open_orders.set(len(state.quotes))
    active = {h.reason for h in state.halts}
    for reason in HaltReason:
        metrics.halt_active.set(int(reason.value in active), reason=reason.value)
    metrics.gaps_open.set(state.open_gaps)
    metrics.ledger_lag_events.set(state.health.ledger_buffered)
    p = state.pnl
    for kind, value in (("realized", p.realized), ("unrealized", p.unrealized), ("total", p.total)):
        metrics.pnl_pusd.set(value, kind=kind)
    if p.daily is not None:
        metrics.pnl_pusd.set(p.daily, kind="daily")


def update_runtime_metrics(metrics: AqbotMetrics, handle: BotHandle, now: float) -> None:
    """The ledger lag (events recorded and not yet durable: the hub's buffer, the writer's channel and
    its pending batch; the hub's sink is the channel's only producer), the writer's failed attempts, and
    the seconds since each channel's last frame."""
    if handle.ledger is not None:
        writer = handle.ledger.statistics()
        lag = handle.hub.sink.recorded - writer.written
        metrics.ledger_lag_events.set(lag)
        metrics.ledger_failures_total.set_total(writer.failures)
    for channel, stats in (("user", handle.stats.user), ("market", handle.stats.market)):
        if stats.last_frame_at is not None:
            metrics.ws_idle_seconds.set(round(now - stats.last_frame_at, 3), channel=channel)


async def run_metrics_updater(
    handle: BotHandle,
    metrics: AqbotMetrics,
    interval: float = 1.0,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> NoReturn:
    """Refresh the state gauges from :meth:`BotHandle.state` every ``interval`` seconds (first update
    before ``started``). Runs until cancelled."""
    update_metrics(metrics, handle.state())
    update_runtime_metrics(metrics, handle, trio.current_time())
    task_status.started()
    deadline = trio.current_time()
    while True:
        deadline += interval
        await trio.sleep_until(deadline)
        update_metrics(metrics, handle.state())
        update_runtime_metrics(metrics, handle, trio.current_time())


def conservative_mark(book: OrderBook, own_bids: dict[Decimal, Decimal]) -> Decimal | None:
    """The best bid that is not aqbot's own: the first bid level (best first) with size left after
    taking out aqbot's own resting BUYs at that price. ``None`` when there is none (or the book is
    invalid): the PnL book then keeps the token's last mark."""
    for level in book.levels(Side.BUY):
        if level.size - own_bids.get(level.price, ZERO) > ZERO:
            return level.price
    return None


def marks_of(core: Core, books: dict[TokenId, OrderBook]) -> dict[TokenId, Decimal]:
    """Conservative marks (:func:`conservative_mark`) for every token that has one."""
    own: dict[TokenId, dict[Decimal, Decimal]] = {}
    for order in core.open_orders():
        if order.side is Side.BUY:
            bids = own.setdefault(order.token, {})
            bids[order.price] = bids.get(order.price, ZERO) + core.exposure.remaining(order.order_id)
    marks = {}
    for token, book in books.items():
        mark = conservative_mark(book, own.get(token, {}))
        if mark is not None:
            marks[token] = mark
    return marks


def mark_pnl(hub: Hub, books: dict[TokenId, OrderBook], wall: float) -> None:
    """Mark the core's PnL book once (``Core.mark``: may raise or clear DAILY_LOSS). When a new UTC day
    begins, a snapshot is written at once, so a crash cannot lose the day's baseline."""
    core = hub.core
    day = core.pnl.day
    hub.apply(core.mark(marks_of(core, books), trio.current_time(), wall))
    if core.pnl.day != day:
        hub.sink.record([snapshot_event(core, trio.current_time())])


async def run_pnl_marks(
    hub: Hub,
    board: BookBoard,
    wall_clock: Callable[[], float],
    interval: float = 1.0,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> NoReturn:
    """Mark the PnL book from the market books every ``interval`` seconds, with ``wall_clock()`` (Unix
    seconds, the exchange's clock in a simulation) for the UTC day (first mark before ``started``). Runs
    until cancelled."""
    mark_pnl(hub, board.books, wall_clock())
    task_status.started()
    deadline = trio.current_time()
    while True:
        deadline += interval
        await trio.sleep_until(deadline)
        mark_pnl(hub, board.books, wall_clock())


async def run_snapshots(
    hub: Hub, interval: float, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> NoReturn:
    """Write a ``snapshot`` ledger row every ``interval`` seconds (shortens the replay). Runs until
    cancelled."""
    task_status.started()
    deadline = trio.current_time()
    while True:
        deadline += interval
        await trio.sleep_until(deadline)
        hub.sink.record([snapshot_event(hub.core, trio.current_time())])
