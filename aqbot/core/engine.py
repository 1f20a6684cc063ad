"""The core facade: one object, one synchronous method per input, each returning an :class:`Outcome`.

The runtime calls :class:`Core` from its tasks with no ``await`` in between a check and its reservation
(``Core.place`` checks the gates and the limits and reserves in one call). Every method ends with the same
sweep (:meth:`Core._settle`): defects halt their token, a broken L1 latches ``LIMIT_BREACH``, gap latches
follow the reconciliation state, and every order the gates now forbid gets a cancel command.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

from aqbot.core.config import CoreConfig, Gate, PlaceResult
from aqbot.core.events import (
    CancelAnswer,
    Channel,
    OrderEvent,
    OrdersSnapshot,
    PlacementAnswer,
    PositionsSnapshot,
    SubmitFailed,
    TradeEvent,
)
from aqbot.core.exposure import Exposure, TokenExposure
from aqbot.core.facts import (
    Defect,
    FillApplied,
    FillReversed,
    GapClosed,
    GapOpened,
    GapResolved,
    HaltCleared,
    HaltRaised,
    Outcome,
    PositionDecision,
    Reconcile,
    ReconciliationFinished,
    ReconciliationStarted,
    ReserveRefused,
)
from aqbot.core.fills import own_fills_of
from aqbot.core.gaps import GapTracker
from aqbot.core.halts import CORE_OWNED, HaltReason, Halts, Scope
from aqbot.core.lifecycle import OrderState
from aqbot.core.orders import Order, OrderTracker
from aqbot.core.pnl import PnlBook
from aqbot.core.positions import PositionPolicy
from aqbot.core.types import ConditionId, MarketSpec, OrderId, OrderType, Side, TokenId

logger = logging.getLogger(__name__)

ZERO = Decimal(0)
_OPEN = Gate(True, ())
_GLOBAL = Scope.global_()
_BOOKED = frozenset({FillApplied, FillReversed, PositionDecision})  # the facts PnlBook.book books


class Core:
    """All of aqbot's trading state, sans-IO."""

    def __init__(self, config: CoreConfig, markets: Sequence[MarketSpec], now: float) -> None:
        self.config = config
        self._funder = config.funder.lower()  # (the config is frozen)
        self.markets = {m.condition_id: m for m in markets}
        market_of = {t: m.condition_id for m in markets for t in m.tokens}
        self.tracker = OrderTracker(Exposure(config.limits, market_of), grace=config.grace)
        self.positions = PositionPolicy(config.protection_window, config.position_mismatch_syncs)
        self.halts = Halts()
        self.pnl = PnlBook()
        c = config
        self.gaps = GapTracker(c.ws_gap_reconcile_attempts, c.ws_gap_recovery_interval, c.reconcile_interval)
        gap = self.gaps.open(Channel.USER, now, "startup: not connected and not reconciled")
        self.initial_outcome = Outcome([GapOpened(gap.gap_id, gap.channel, gap.started, gap.reason)])
        """The facts of construction (the startup gap), for the ledger."""

    # --- queries ----------------------------------------------------------------------------------------

    @property
    def exposure(self) -> Exposure:
        return self.tracker.exposure

    def market_of(self, token: TokenId) -> ConditionId:
        return self.exposure.market_of[token]

    def token_exposure(self, token: TokenId) -> TokenExposure:
        return self.exposure.token(token)

    def order(self, order_id: OrderId) -> Order | None:
        return self.tracker.orders.get(order_id)

    def open_orders(self, token: TokenId | None = None) -> list[Order]:
        return [o for o in self.tracker.open_orders() if token is None or o.token == token]

    def can_quote(self, token_or_market: str, now: float) -> Gate:
        """Whether new orders may be placed on a token (or on every token of a market), and why not."""
        gaps = self.gaps  # (self._gap_pending(), inline)
        if not self.halts.active and not (
            self.config.halt_on_ws_gaps and gaps.gaps and gaps.failures < gaps.attempts
        ):
            return _OPEN  # hot path (every quote, every sweep): nothing latched, nothing pending
        if token_or_market in self.markets:
            tokens: Iterable[TokenId] = self.markets[token_or_market].tokens
        else:
            tokens = (token_or_market,)
        reasons: set[HaltReason] = set()
        for token in tokens:
            market = self.exposure.market_of.get(token, "")
            reasons.update(r.reason for r in self.halts.covering(token, market))
        if self._gap_pending():
            reasons.add(HaltReason.RECONCILE_PENDING)
        ordered = tuple(sorted(reasons, key=lambda r: r.value))
        return Gate(not ordered, ordered)

    def _gap_pending(self) -> bool:
        """A gap is unresolved and its reconciliation attempts have not run out (RECONCILE_PENDING)."""
        return self.config.halt_on_ws_gaps and bool(self.gaps.gaps) and not self.gaps.latched

    def next_reconcile_at(self, now: float) -> float | None:
        """When the runtime should start the next reconciliation (``None``: one is in flight).

        Besides the gap and periodic schedule (:meth:`GapTracker.next_due`), a follow-up is due as soon as
        a snapshot could confirm a pending absence (``grace`` after it was applied), so that an order absent
        once does not hold its reservation for a whole ``reconcile_interval``; after a failed attempt, not
        before ``ws_gap_recovery_interval`` has passed (no hammering of a failing REST API)."""
        due = self.gaps.next_due(now)
        recheck = self.tracker.absence_recheck_at()
        if due is None or recheck is None:
            return due
        gaps = self.gaps
        failed = gaps.last_failure_at
        if failed is not None and (gaps.last_completed_at is None or failed > gaps.last_completed_at):
            recheck = max(recheck, failed + gaps.recovery_interval)
        return min(due, recheck)

    # --- local actions ----------------------------------------------------------------------------------

    def place(
        self,
        order_id: OrderId,
        token: TokenId,
        side: Side,
        price: Decimal,
        size: Decimal,
        now: float,
        *,
        order_type: OrderType = OrderType.GTC,
        expiration: float = 0.0,
    ) -> PlaceResult:
        """Check the gates and limits and reserve, atomically. Send the order only if ``ok``."""
        out = Outcome()
        refused: str | None
        exposure = self.tracker.exposure
        gate = self.can_quote(token, now) if token in exposure.market_of else None
        if order_id in self.tracker.orders:
            refused = f"duplicate order id {order_id}"
        elif gate is not None and not gate.allowed:
            refused = "halted: " + ",".join(r.value for r in gate.reasons)
        else:
            refused = exposure.reserve(order_id, token, side, price, size)
        if refused is not None:
            out.fact(ReserveRefused(token, side, price, size, refused))
            return PlaceResult(refused, out)
        order = Order(
            order_id, token, exposure.market_of[token], side, price, size, OrderState.PENDING_SUBMIT,
            created_at=now, last_action_at=now, order_type=order_type, expiration=expiration,
            post_in_flight=True,
        )  # fmt: skip
        self.tracker.add(order, out)
        return PlaceResult(None, out)

    def request_cancel(self, order_ids: Iterable[OrderId], now: float, reason: str = "requested") -> Outcome:
        """Cancel these orders (never releases anything: only the exchange's confirmation will)."""
        out = Outcome()
        for order_id in order_ids:
            order = self.tracker.orders.get(order_id)
            if order is not None:
                self.tracker.request_cancel(order, reason, now, out)
        return self._settle(out, now)

    def settle(self, now: float) -> Outcome:
        """Re-derive the latches and cancel what the gates forbid (after a restore, or on a timer)."""
        return self._settle(Outcome(), now)

    def set_halt(self, reason: HaltReason, scope: Scope, now: float, detail: str = "") -> Outcome:
        """Latch a runtime-owned halt (MARKET_DATA_STALE, EXCHANGE_UNAVAILABLE, MANUAL, ...)."""
        self._runtime_owned(reason)
        out = Outcome()
        self._raise(reason, scope, now, detail, out)
        return self._settle(out, now)

    def clear_halt(self, reason: HaltReason, scope: Scope, now: float) -> Outcome:
        """Clear a runtime-owned halt whose condition the runtime has seen go away."""
        self._runtime_owned(reason)
        out = Outcome()
        self._clear(reason, scope, out)
        return self._settle(out, now)

    def mark(self, marks: Mapping[TokenId, Decimal], now: float, wall: float) -> Outcome:
        """Mark positions (``marks``: token -> price; a token left out keeps its last mark) at wall time
        ``wall`` (Unix seconds, UTC). The first call of a UTC day resets the day's PnL baseline, which
        clears ``DAILY_LOSS``; a daily PnL at or below ``-daily_loss_limit`` latches it (global)."""
        out = Outcome()
        for token, price in marks.items():
            self.pnl.mark(token, price)
        if self.pnl.roll(wall):
            self._clear(HaltReason.DAILY_LOSS, Scope.global_(), out)
        self._check_daily_loss(now, out)
        return self._settle(out, now)

    # --- exchange facts ---------------------------------------------------------------------------------

    def on_placement_answer(self, answer: PlacementAnswer, now: float) -> Outcome:
        out = Outcome()
        self.tracker.on_answer(answer, now, out)
        return self._settle(out, now)

    def on_submit_failed(self, event: SubmitFailed, now: float) -> Outcome:
        out = Outcome()
        order = self.tracker.orders.get(event.order_id)
        if order is None:
            self.tracker.defect(out, None, "", event.order_id, "submit failure for an order never placed")
        else:
            self.tracker.on_submit_failed(order, event.reason, now, out)
        return self._settle(out, now)

    def on_cancel_answer(self, answer: CancelAnswer, now: float) -> Outcome:
        out = Outcome()
        self.tracker.on_cancel_answer(answer, now, out)
        return self._settle(out, now)

    def on_order_event(self, event: OrderEvent, now: float) -> Outcome:
        out = Outcome()
        for reason in self.tracker.on_order_event(event, now, out):
            self._gap(Channel.USER, now, reason, out)
        return self._settle(out, now)

    def on_trade_event(self, event: TradeEvent, now: float) -> Outcome:
        out = Outcome()
        gaps: Sequence[str] = ()  # opened after every fill of the trade is applied
        tracker = self.tracker
        for fill in own_fills_of(event, tracker.orders, self.config.owner, self._funder):
            reasons = tracker.on_trade_fill(fill, event, "trade", now, out)
            if reasons:  # (most fills have none: then no list is built)
                gaps = [*gaps, *reasons]
        for reason in gaps:
            self._gap(Channel.USER, now, reason, out)
        return self._settle(out, now)

    def on_positions(self, snapshot: PositionsSnapshot, now: float) -> Outcome:
        out = Outcome()
        self._apply_positions(snapshot, out)
        return self._settle(out, now)

    def _apply_positions(self, snapshot: PositionsSnapshot, out: Outcome) -> None:
        """Every configured token's positions decision (:meth:`PositionPolicy.apply`)."""
        self.positions.apply(
            snapshot, self.tracker.exposure, self.tracker.last_fill_at, out, self._raise, self._clear
        )

    # --- channels and gaps ------------------------------------------------------------------------------

    def on_channel_down(self, channel: Channel, now: float, reason: str) -> Outcome:
        """A channel disconnected (or went stale). The user channel opens a gap until it is back."""
        out = Outcome()
        if channel is Channel.USER:
            self._raise(HaltReason.USER_WS_DOWN, Scope.global_(), now, reason, out)
            if self.gaps.channel_open_gap(channel) is None:
                self._gap(channel, now, reason, out, ended=None)
        else:
            self._raise(HaltReason.MARKET_DATA_STALE, Scope.global_(), now, reason, out)
        return self._settle(out, now)

    def on_channel_up(self, channel: Channel, now: float) -> Outcome:
        """A channel is connected and subscribed: its open gaps end now (they still need a reconciliation)."""
        out = Outcome()
        if channel is Channel.USER:
            self._clear(HaltReason.USER_WS_DOWN, Scope.global_(), out)
            for gap in self.gaps.close(channel, now):
                out.fact(GapClosed(gap.gap_id, now))
            out.command(Reconcile("user channel back"))
        else:
            self._clear(HaltReason.MARKET_DATA_STALE, Scope.global_(), out)
        return self._settle(out, now)

    def on_channel_gap(self, channel: Channel, now: float, reason: str) -> Outcome:
        """An instantaneous gap: a decode failure or an inconsistency the runtime saw on the wire."""
        out = Outcome()
        self._gap(channel, now, reason, out)
        return self._settle(out, now)

    def begin_reconciliation(self, now: float) -> tuple[int, Outcome]:
        """Start a reconciliation; fetch open orders, trades and positions AFTER this call.

        Also the housekeeping point: terminal orders whose fills are all final are pruned here after
        ``config.prune_after`` seconds (so snapshots stay small)."""
        out = Outcome()
        pruned = self.tracker.prune(now, self.config.prune_after, self.config.prune_horizon)
        if pruned:
            logger.info("pruned %d settled terminal orders", pruned)
        recon_id = self.gaps.begin(now)
        out.fact(ReconciliationStarted(recon_id, now))
        return recon_id, self._settle(out, now)

    def on_reconciliation(
        self, recon_id: int, orders: OrdersSnapshot, positions: PositionsSnapshot | None, now: float
    ) -> Outcome:
        """Apply a reconciliation's snapshots; if complete, resolve the gaps that ended before it began."""
        out = Outcome()
        started = self.gaps.started_at(recon_id)
        if started is None:
            raise ValueError(f"reconciliation {recon_id} was not begun or already finished")
        if orders.started_at < started:
            raise ValueError(
                f"snapshot taken at {orders.started_at} before reconciliation began at {started}"
            )
        self._apply_orders_snapshot(orders, self.gaps.begun_seq(recon_id), now, out)
        if positions is not None:
            self._apply_positions(positions, out)
        if orders.complete:
            for gap in self.gaps.complete(recon_id, now):
                out.fact(GapResolved(gap.gap_id, recon_id))
            out.fact(ReconciliationFinished(recon_id, True, self.gaps.failures))
        else:
            failures = self.gaps.fail(recon_id, now)
            out.fact(ReconciliationFinished(recon_id, False, failures, "incomplete orders snapshot"))
        return self._settle(out, now)

    def on_reconciliation_failed(self, recon_id: int, now: float, reason: str) -> Outcome:
        out = Outcome()
        failures = self.gaps.fail(recon_id, now)
        out.fact(ReconciliationFinished(recon_id, False, failures, reason))
        return self._settle(out, now)

    # --- internals --------------------------------------------------------------------------------------

    def _apply_orders_snapshot(
        self, snapshot: OrdersSnapshot, begun_seq: int, now: float, out: Outcome
    ) -> None:
        listed = set()
        for row in snapshot.open_orders:  # first: unknown open orders are adopted with their full size
            listed.add(row.order_id)
            self.tracker.on_open_row(row, snapshot.started_at, now, out)
        for trade in snapshot.trades:
            for fill in own_fills_of(trade, self.tracker.orders, self.config.owner, self._funder):
                if self.tracker.adopt_lost_fill(fill, trade, now, out):  # (False: a forgotten order's)
                    self.tracker.on_trade_fill(fill, trade, "rest", now, out)
        if not snapshot.complete:
            return
        for order in self.tracker.open_orders():
            if order.order_id in listed or order.post_in_flight:
                continue  # a POST still in flight may rest after the snapshot was taken
            if snapshot.started_at - order.last_action_at > self.config.grace:
                self.tracker.on_absent(order, begun_seq, snapshot.started_at, self.gaps.seq, now, out)

    def _gap(
        self, channel: Channel, now: float, reason: str, out: Outcome, *, ended: float | None = -1.0
    ) -> None:
        gap = self.gaps.open(channel, now, reason, ended=now if ended == -1.0 else ended)
        out.fact(GapOpened(gap.gap_id, channel, now, reason))
        if gap.ended is not None:
            out.fact(GapClosed(gap.gap_id, gap.ended))
            out.command(Reconcile(f"gap {gap.gap_id}: {reason}"))

    def _raise(self, reason: HaltReason, scope: Scope, now: float, detail: str, out: Outcome) -> None:
        if self.halts.raise_(reason, scope, now, detail):
            out.fact(HaltRaised(reason, scope, detail))

    def _clear(self, reason: HaltReason, scope: Scope, out: Outcome) -> None:
        if self.halts.clear(reason, scope):
            out.fact(HaltCleared(reason, scope))

    @staticmethod
    def _runtime_owned(reason: HaltReason) -> None:
        if reason in CORE_OWNED:
            raise ValueError(f"{reason.value} is raised and cleared by the core only")

    def _order_price(self, order_id: OrderId) -> Decimal | None:
        order = self.tracker.orders.get(order_id)
        return None if order is None else order.price

    def _average_cost(self, token: TokenId) -> Decimal:
        e = self.exposure.token(token)
        return e.cost / e.held if e.held > ZERO else ZERO

    def _check_daily_loss(self, now: float, out: Outcome) -> None:
        limit = self.config.daily_loss_limit
        if limit is None:
            return  # (without a limit, no need to sum every token's PnL)
        daily = self.pnl.daily()
        if daily is not None and daily <= -limit:
            detail = f"daily PnL {daily:.4f} <= -{limit} pUSD (UTC day {self.pnl.day})"
            self._raise(HaltReason.DAILY_LOSS, Scope.global_(), now, detail, out)

    def _settle(self, out: Outcome, now: float) -> Outcome:
        """Derive the latches from the state, then cancel every order that the gates now forbid."""
        facts = out.facts
        book = defects = False
        for fact in facts:  # one pass tells which of the two (rarer) steps below have work
            kind = fact.__class__
            if kind in _BOOKED:
                book = True
            elif kind is Defect:
                defects = True
        if book:  # book this call's fills, reversals and position adjustments, then check the daily loss
            if self.pnl.book(facts, self._order_price, self._average_cost) and (
                self.config.daily_loss_limit is not None  # (_check_daily_loss does nothing without one)
            ):
                self._check_daily_loss(now, out)
            self.positions.observe(facts, now)  # held's path, for the lag test
        if defects:
            for fact in list(facts):
                if isinstance(fact, Defect):
                    scope = Scope.token(fact.token) if fact.token else Scope.global_()
                    self._raise(HaltReason.DEFECT, scope, now, fact.detail, out)
        over = self.tracker.exposure.over()  # breached(), sorted below only when not empty
        halts, gaps = self.halts, self.gaps
        if not (over or halts.active or gaps.gaps):
            return out  # nothing over its cap, latched or pending: nothing to raise, clear or sweep
        if over:
            self._raise(HaltReason.LIMIT_BREACH, _GLOBAL, now, f"worst > max on {sorted(over)}", out)
        elif halts.active:  # clearing when nothing is latched is a no-op
            self._clear(HaltReason.LIMIT_BREACH, _GLOBAL, out)
        if gaps.gaps and gaps.failures >= gaps.attempts:  # gaps.latched
            detail = f"{gaps.failures} failed reconciliations"
            self._raise(HaltReason.WS_GAP_UNRESOLVED, _GLOBAL, now, detail, out)
        elif halts.active:
            self._clear(HaltReason.WS_GAP_UNRESOLVED, _GLOBAL, out)
        if not halts.active and not (  # nor self._gap_pending()
            self.config.halt_on_ws_gaps and gaps.gaps and gaps.failures < gaps.attempts
        ):
            return out  # every gate is open: nothing to sweep (the common case, on every event)
        allowed: dict[TokenId, bool] = {}  # the gates cannot change during the sweep (cancels only)
        for order in self.tracker.open_orders():
            sweep = order.state is not OrderState.CANCEL_REQUESTED and not (
                order.state is OrderState.UNKNOWN and order.cancel_sent
            )
            if not sweep:
                continue
            ok = allowed.get(order.token)
            if ok is None:
                ok = allowed[order.token] = self.can_quote(order.token, now).allowed
            if not ok:
                self.tracker.request_cancel(order, "halt", now, out)
        return out
