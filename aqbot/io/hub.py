"""The runtime's hub: the one place where Trio tasks call the sans-IO :class:`~aqbot.core.engine.Core`.

Every task (user reader, reconciler, position sync, quoters, canceller) calls a core method
synchronously and hands the :class:`~aqbot.core.facts.Outcome` to :meth:`Hub.apply`, which

1. records every fact in the ledger (through :class:`LedgerSink`, a non-blocking buffer in front of the
   ledger writer's bounded channel: recording never awaits, so a check and its reservation stay atomic);
2. executes every command: ``CancelOrder`` goes to the :class:`CancelQueue` (sent by
   :func:`run_canceller`), ``Reconcile`` wakes the reconciler;
3. alerts on halts and resumes, and bumps a change counter that quoters and the shutdown path wait on.

It also implements :class:`aqbot.io.reconcile.ReconcileTarget` on top of the core.

LEDGER_FAILURE: if the ledger writer reports a failed write, or the sink's buffer passes
``max_buffered`` events, the hub latches ``LEDGER_FAILURE`` (global): quoting stops rather than going on
blind. Events are never dropped; the halt clears when the writer recovers and the buffer has drained.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import NoReturn, Protocol

import attrs
import trio

from aqbot.core import facts as cf
from aqbot.core.engine import Core
from aqbot.core.events import OrdersSnapshot, PositionsSnapshot
from aqbot.core.halts import HaltReason, Scope
from aqbot.errors import ExchangeError, ExchangeUnavailable, TransportError, WireError
from aqbot.io import edge
from aqbot.io.ledger_events import make_row, new_row
from aqbot.io.ledger_sink import LedgerSink
from aqbot.io.reconcile import ReconcileWaker
from aqbot.wire.orders import CancelResponse

log = logging.getLogger(__name__)

# Facts the hub announces (log and alert) besides recording them.
_ANNOUNCED: frozenset[type] = frozenset({cf.HaltRaised, cf.HaltCleared, cf.Defect})


@attrs.define
class CancelQueue:
    """Order ids waiting for a DELETE (deduplicated, in arrival order)."""

    _ids: dict[str, str] = attrs.Factory(dict)
    _ready: trio.Event = attrs.Factory(trio.Event)

    def add(self, order_id: str, reason: str) -> None:
        self._ids.setdefault(order_id, reason)
        self._ready.set()

    def take(self, limit: int) -> list[str]:
        ids = list(self._ids)[:limit]
        for order_id in ids:
            del self._ids[order_id]
        return ids

    def __len__(self) -> int:
        return len(self._ids)

    async def wait_nonempty(self) -> None:
        while not self._ids:
            self._ready = trio.Event()
            await self._ready.wait()


@attrs.define
class Hub:
    """Core access for every task; see the module docstring.

    Args:
        core: the state.
        sink: the ledger buffer.
        waker: wakes the reconciler.
        alert: ``(key, text)``: a halt, a resume or another operator-facing event (must not block); a
            halt's key is ``halt:<REASON>:<scope key or global>`` (the alerter deduplicates per key).
        on_facts: called with the facts of every applied outcome (metrics, storm alerts; must not block).
    """

    core: Core
    sink: LedgerSink = attrs.Factory(LedgerSink)
    waker: ReconcileWaker = attrs.Factory(ReconcileWaker)
    alert: Callable[[str, str], None] = lambda key, text: None
    on_facts: Callable[[Sequence[cf.Fact], float], None] | None = None
    cancels: CancelQueue = attrs.Factory(CancelQueue)
    version: int = 0
    ledger_failing: bool = False
    writer_failing: bool = False
    # Set when the canceller stops (a forced stop ends it with the quoters): no cancel is sent any more,
    # so nobody waits for a confirmation (the markets' cleanup; run_bot's last-resort DELETE follows).
    cancels_stopped: bool = False
    _changed: trio.Event | None = None  # made by the first waiter, set and dropped by the next change

    @staticmethod
    def now() -> float:
        return trio.current_time()

    def apply(self, out: cf.Outcome, now: float | None = None, wall: float | None = None) -> cf.Outcome:
        """Record, execute and announce one outcome (sync).

        The facts' rows are stamped ``now`` (Trio's clock, read here when None: a caller that already
        holds the instant its core call was made passes it) and ``wall`` (the wall-clock label, read by
        the sink when None).
        """
        facts = out.facts
        commands = out.commands
        sink = self.sink
        if facts:
            if now is None:
                now = trio.current_time()
            if sink.record_facts(facts, now, wall, _ANNOUNCED):  # any fact to announce
                self._announce(facts)
            if commands:
                self._execute(commands)
            if self.on_facts is not None:  # after the commands: an observer cannot lose one
                self.on_facts(facts, now)
        elif commands:
            self._execute(commands)
        elif len(sink._buffer) <= sink.max_buffered or self.ledger_failing:
            return out  # an empty outcome (a duplicate, a no-op event): nothing changed, nothing to check
        if len(sink._buffer) > sink.max_buffered and not self.ledger_failing:  # sink.overflowing, inlined
            self.ledger_failed(f"{sink.buffered} events waiting for the ledger")
        if facts or commands:
            self.version += 1
            changed = self._changed
            if changed is not None:
                self._changed = None
                changed.set()
        return out

    def _execute(self, commands: Sequence[cf.Command]) -> None:
        for command in commands:
            if isinstance(command, cf.CancelOrder):
                self.cancels.add(command.order_id, command.reason)
            else:
                self.waker.wake(command.reason)

    def _announce(self, facts: Sequence[cf.Fact]) -> None:
        """Log and alert halts, resumes and defects."""
        for fact in facts:
            if isinstance(fact, cf.HaltRaised):
                log.warning("HALT %s %s: %s", fact.reason.value, fact.scope.key or "global", fact.detail)
                where = fact.scope.key or "global"
                self.alert(
                    f"halt:{fact.reason.value}:{where}", f"halt {fact.reason.value} ({where}): {fact.detail}"
                )
            elif isinstance(fact, cf.HaltCleared):
                log.warning("resume %s %s", fact.reason.value, fact.scope.key or "global")
                where = fact.scope.key or "global"
                self.alert(f"resume:{fact.reason.value}:{where}", f"resume {fact.reason.value} ({where})")
            elif isinstance(fact, cf.Defect):
                log.error("DEFECT %s: %s", fact.order_id, fact.detail)
                self.alert("defect", f"defect on {fact.order_id}: {fact.detail}")

    def record(self, type_: str, payload: dict[str, object], **keys: str | None) -> None:
        """Record a runtime event (a command sent, a raw message, an answer used as evidence).

        Raises:
            ValueError, TypeError: a malformed type or payload (as :meth:`LedgerEvent.create`).
        """
        if keys:
            self.sink.record_row(new_row(type_, payload, mono_time=trio.current_time(), **keys))
        else:
            self.sink.record_row(make_row(type_, payload, trio.current_time()))

    def stop_cancelling(self) -> None:
        """The canceller has stopped: set ``cancels_stopped`` and wake every :meth:`wait_changed`."""
        self.cancels_stopped = True
        self.version += 1
        changed, self._changed = self._changed, None
        if changed is not None:
            changed.set()

    async def wait_changed(self, seen: int) -> int:
        """Wait until an outcome with facts or commands was applied after version ``seen``."""
        while self.version == seen:
            if self._changed is None:
                self._changed = trio.Event()
            await self._changed.wait()
        return self.version

    # --- runtime-owned halts --------------------------------------------------------------------------

    def set_halt(self, reason: HaltReason, detail: str, scope: Scope | None = None) -> None:
        self.apply(self.core.set_halt(reason, scope or Scope.global_(), trio.current_time(), detail))

    def clear_halt(self, reason: HaltReason, scope: Scope | None = None) -> None:
        self.apply(self.core.clear_halt(reason, scope or Scope.global_(), trio.current_time()))

    def ledger_failed(self, detail: str) -> None:
        """Latch LEDGER_FAILURE (sink overflow, or a failed write: pass it to ``run_ledger_writer``)."""
        self.ledger_failing = True
        self.set_halt(HaltReason.LEDGER_FAILURE, detail)

    def writer_failed(self, exc: Exception) -> None:
        """``on_failure`` of the ledger writer."""
        self.writer_failing = True
        self.ledger_failed(f"ledger write failed: {type(exc).__name__}: {exc}")

    def writer_recovered(self) -> None:
        """``on_recovered`` of the ledger writer."""
        self.writer_failing = False
        self.maybe_clear_ledger_failure()

    def maybe_clear_ledger_failure(self) -> None:
        """Clear LEDGER_FAILURE when the writer works and the buffer is back under its bound."""
        if self.ledger_failing and not self.writer_failing and not self.sink.overflowing:
            self.ledger_failing = False
            self.clear_halt(HaltReason.LEDGER_FAILURE)

    # --- ReconcileTarget ------------------------------------------------------------------------------

    def next_reconciliation_due(self, now: float) -> float | None:
        return self.core.next_reconcile_at(now)

    def begin_reconciliation(self, now: float) -> int:
        recon_id, out = self.core.begin_reconciliation(now)
        self.apply(out)
        return recon_id

    def finish_reconciliation(
        self, recon_id: int, snapshot: OrdersSnapshot, positions: PositionsSnapshot | None, now: float
    ) -> None:
        self.apply(self.core.on_reconciliation(recon_id, snapshot, positions, now))

    def fail_reconciliation(self, recon_id: int, reason: str, now: float) -> None:
        self.apply(self.core.on_reconciliation_failed(recon_id, now, reason))


async def run_ledger_health(
    hub: Hub, *, interval: float = 1.0, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> NoReturn:
    """Clear LEDGER_FAILURE once the writer has recovered and the buffer drained. Runs until cancelled."""
    task_status.started()
    while True:
        await trio.sleep(interval)
        hub.maybe_clear_ledger_failure()


class CancelSender(Protocol):
    """``DELETE /orders`` (:meth:`aqbot.io.rest_api.ClobApi.cancel_orders`)."""

    async def cancel_orders(self, order_ids: Sequence[str]) -> CancelResponse: ...


# Ids per DELETE in the canceller, and its retry pause after a failed DELETE.
CANCEL_BATCH = 1000
CANCEL_RETRY = 1.0
CANCEL_RETRY_MAX = 8.0


async def run_canceller(
    hub: Hub,
    api: CancelSender,
    *,
    on_unavailable: Callable[[str], None] = lambda detail: None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> NoReturn:
    """Send the cancels the core commands, apply each answer; retry failures. Runs until cancelled.

    A DELETE answer is evidence only (the core never releases on it). A failed DELETE (transport error,
    425 restart, 503 trading disabled) is retried for every order still open, after a pause that doubles
    from :data:`CANCEL_RETRY` up to :data:`CANCEL_RETRY_MAX` while failures continue; an
    ``ExchangeUnavailable`` is also reported through ``on_unavailable`` (the exchange guard's halt).
    When it stops it calls :meth:`Hub.stop_cancelling`, so that nothing waits for its cancels.
    """
    task_status.started()
    try:
        await _cancel_forever(hub, api, on_unavailable)
    finally:
        hub.stop_cancelling()


async def _cancel_forever(hub: Hub, api: CancelSender, on_unavailable: Callable[[str], None]) -> NoReturn:
    pause = CANCEL_RETRY
    while True:
        await hub.cancels.wait_nonempty()
        ids = [i for i in hub.cancels.take(CANCEL_BATCH) if _still_open(hub, i)]
        if not ids:
            continue
        hub.record("command.cancel", {"order_ids": ids})
        try:
            answer = await api.cancel_orders(ids)
        except (TransportError, ExchangeError, WireError) as exc:
            log.warning("cancel of %d order(s) failed: %s; retry in %.0fs", len(ids), exc, pause)
            if isinstance(exc, ExchangeUnavailable):
                on_unavailable(str(exc))
            await trio.sleep(pause)
            pause = min(pause * 2, CANCEL_RETRY_MAX)
            for order_id in ids:
                if _still_open(hub, order_id):
                    hub.cancels.add(order_id, "retry")
            continue
        pause = CANCEL_RETRY
        hub.apply(hub.core.on_cancel_answer(edge.cancel_answer(answer), trio.current_time()))


def _still_open(hub: Hub, order_id: str) -> bool:
    order = hub.core.order(order_id)
    return order is not None and not order.state.terminal
