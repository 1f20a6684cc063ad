"""The reconciler: REST snapshots that resolve UNKNOWN orders and WebSocket gaps (DESIGN sections 1, 3).

When it runs:

* at startup, once the user channel is connected and *before any quote* (``task_status.started()`` is
  called only after the first reconciliation has completed, and the app starts the quoters after that);
* every ``reconcile_interval`` seconds (the core's schedule, drift-free);
* at once when woken (:meth:`ReconcileWaker.wake`): a gap opened or closed, the heartbeat lapsed, a
  quoter left orders UNKNOWN;
* while a gap stays unresolved, as the core schedules it: immediately up to ``ws_gap_reconcile_attempts``
  times, then (the core latches ``WS_GAP_UNRESOLVED``) every ``ws_gap_recovery_interval_seconds``;
* just past the grace period after a reconciliation that found an order absent with its fill not (yet)
  listed in ``/data/trades``: the core keeps such an order reserved until a second snapshot confirms the
  absence (review D1), and schedules that follow-up through ``next_reconciliation_due``.

One reconciliation: ``begin`` (the core stamps its start: only gaps that *ended before* it can be resolved
by it), every page of ``/data/orders``, every page of ``/data/trades`` since the watermark, the Data API
positions (best effort), then ``finish`` hands the snapshots to the core, which applies the grace rule
(an order absent from a snapshot younger than the grace period keeps its reservation). Any failure of the
CLOB reads (transport, exchange, undecodable page) is reported with ``fail`` and resolves nothing.

The trade watermark: the reconciler asks for trades with ``match_time`` after the newest one it has seen
minus :data:`WATERMARK_OVERLAP` (fills are keyed by trade id + order id in the core, so overlaps are free;
missing one is not). The watermark also advances to the start of the last successful read minus the
overlap, so a quiet market does not re-read the same trades for ever: the window re-read is at most two
overlaps (20 minutes), far inside the core's memory of pruned orders' fill keys (``prune_horizon``, 2 h).
Every new watermark goes to ``on_watermark`` (the app ledgers it as ``reconcile.watermark``) and a restart
seeds the reconciler with the ledger's last one, so only a fresh ledger looks back
:data:`INITIAL_LOOKBACK`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import NoReturn, Protocol

import attrs
import trio

from aqbot.core.events import OrdersSnapshot, PositionsSnapshot
from aqbot.errors import AqbotError
from aqbot.io import edge
from aqbot.wire.account import Position
from aqbot.wire.orders import OpenOrder, Trade

log = logging.getLogger(__name__)

# Seconds of overlap when asking for trades since the watermark (exchange clocks and late inserts).
WATERMARK_OVERLAP = 600
# With no watermark yet (a fresh ledger), look back this far for trades (seconds).
INITIAL_LOOKBACK = 86_400
# Minimum spacing of schedule-driven runs (guards against a schedule that says "due now" forever).
MIN_SPACING = 0.25


class SnapshotSource(Protocol):
    """The REST reads a reconciliation needs (:class:`aqbot.io.rest_api.ClobApi`)."""

    async def open_orders(
        self, *, market: str | None = None, asset_id: str | None = None
    ) -> list[OpenOrder]: ...

    async def trades(
        self, *, after: int | None = None, market: str | None = None, maker_address: str | None = None
    ) -> list[Trade]: ...


class PositionsSource(Protocol):
    """The Data API read (:meth:`aqbot.io.rest_api.DataApi.positions`)."""

    async def positions(self, user: str, markets: Sequence[str] = ()) -> list[Position]: ...


class ReconcileTarget(Protocol):
    """What the reconciler does to the core (the app's runtime applies and records every outcome)."""

    def next_reconciliation_due(self, now: float) -> float | None:
        """Local time the next reconciliation is due (``None``: only when woken)."""
        ...

    def begin_reconciliation(self, now: float) -> int: ...

    def finish_reconciliation(
        self, recon_id: int, snapshot: OrdersSnapshot, positions: PositionsSnapshot | None, now: float
    ) -> None: ...

    def fail_reconciliation(self, recon_id: int, reason: str, now: float) -> None: ...


@attrs.define
class ReconcileWaker:
    """Wakes the reconciler at once (sync; safe to call from any task, any number of times)."""

    _event: trio.Event = attrs.Factory(trio.Event)
    reasons: list[str] = attrs.Factory(list)

    def wake(self, reason: str) -> None:
        if len(self.reasons) < 32:
            self.reasons.append(reason)
        self._event.set()

    def take(self) -> list[str]:
        """Reset and return the reasons collected since the last take."""
        reasons, self.reasons = self.reasons, []
        self._event = trio.Event()
        return reasons

    async def wait(self) -> None:
        await self._event.wait()


@attrs.define
class ReconcileStats:
    """Counters for the dashboard."""

    runs: int = 0
    failures: int = 0
    last_ok: float | None = None
    last_error: str = ""
    watermark: int | None = None


@attrs.define
class Reconciler:
    """One reconciler: the REST source, the core target, the identity to pick our fills, a wall clock.

    Args:
        source: the CLOB reads.
        target: the runtime's core facade.
        me: aqbot's API key and funder address.
        unix_now: exchange-aligned Unix seconds (``RestTransport.timestamp``), for the watermark.
        markets: condition ids to restrict ``/data/trades`` to (empty: all).
        positions: the Data API, read last (its failure does not fail the reconciliation: the positions
            API lags and only ever adjusts ``held`` through the core's protection-window policy).
        user: the funder address the positions belong to.
    """

    source: SnapshotSource
    target: ReconcileTarget
    me: edge.Identity
    unix_now: Callable[[], int]
    markets: Sequence[str] = ()
    positions: PositionsSource | None = None
    user: str = ""
    stats: ReconcileStats = attrs.Factory(ReconcileStats)
    on_watermark: Callable[[int], None] = lambda watermark: None  # persist it (the app ledgers it)

    async def reconcile_once(self) -> bool:
        """Run one reconciliation; True when the core accepted a complete snapshot."""
        now_unix = self.unix_now()
        started = trio.current_time()
        recon_id = self.target.begin_reconciliation(started)
        self.stats.runs += 1
        after = self.stats.watermark
        after = (now_unix - INITIAL_LOOKBACK) if after is None else max(0, after - WATERMARK_OVERLAP)
        try:
            orders: list[OpenOrder] = []
            trades: list[Trade] = []
            if self.markets:  # only the bot's markets: orders placed by hand elsewhere are not its business
                for market in self.markets:
                    orders.extend(await self.source.open_orders(market=market))
                for market in self.markets:
                    trades.extend(await self.source.trades(after=after, market=market))
            else:
                orders = await self.source.open_orders()
                trades = await self.source.trades(after=after)
        except AqbotError as exc:
            self.stats.failures += 1
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("reconciliation %d failed: %s", recon_id, self.stats.last_error)
            self.target.fail_reconciliation(recon_id, self.stats.last_error, trio.current_time())
            return False
        snapshot = edge.orders_snapshot(started, orders, trades, self.me, complete=True)
        positions = await self._positions()
        self.target.finish_reconciliation(recon_id, snapshot, positions, trio.current_time())
        # The watermark never lags the read's own start by more than the overlap: on a quiet market the
        # newest trade would otherwise pin it, and the same old trades would be re-read for ever, also
        # after the core pruned their orders and forgot their fill keys (review finding N1).
        newest = max((int(t.match_time) for t in trades), default=after)
        watermark = max(self.stats.watermark or 0, newest, now_unix - WATERMARK_OVERLAP)
        if watermark != self.stats.watermark:
            self.stats.watermark = watermark
            self.on_watermark(watermark)
        self.stats.last_ok = trio.current_time()
        log.info("reconciliation %d: %d open orders, %d trades", recon_id, len(orders), len(trades))
        return True

    async def _positions(self) -> PositionsSnapshot | None:
        if self.positions is None:
            return None
        started = trio.current_time()
        try:
            rows = await self.positions.positions(self.user, self.markets)
        except AqbotError as exc:
            log.warning("reconciliation: positions unavailable (%s); orders and trades still apply", exc)
            return None
        return PositionsSnapshot(started, tuple(edge.position_row(r) for r in rows))


async def run_reconciler(
    reconciler: Reconciler,
    waker: ReconcileWaker,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> NoReturn:
    """Reconcile at startup, on schedule and when woken. Runs until cancelled.

    ``task_status.started()`` comes after the first *successful* reconciliation: the app starts quoting
    only after it. Until then failures are retried on the core's schedule (at once, then every recovery
    interval).
    """
    started = False
    while True:
        waker.take()
        ok = await reconciler.reconcile_once()
        if ok and not started:
            started = True
            task_status.started()
        now = trio.current_time()
        due = reconciler.target.next_reconciliation_due(now)
        with trio.move_on_at(float("inf") if due is None else max(due, now + MIN_SPACING)):
            await waker.wait()
