"""Startup replay: rebuild the core from the ledger before reconnecting (DESIGN section 4).

The ledger holds periodic ``snapshot`` rows (the whole core state, :func:`aqbot.core.snapshot.snapshot`)
and every raw user-channel message (``ws.user.raw``). At startup:

1. the newest snapshot is restored (:func:`aqbot.core.snapshot.restore`: orders whose POST was in flight
   become UNKNOWN; a ``startup`` gap opens, so nothing is quoted before a reconciliation newer than the
   restart completes);
2. every ``ws.user.raw`` message recorded after it is decoded and applied again, in ledger order (the
   fills already applied are keyed in the snapshot's fill book, so a trade seen twice counts once, and a
   FAILED that arrived after the snapshot still reverses), and every order *reserved* after it
   (a ``reservation`` row) that the core does not know is tracked again as UNKNOWN with its whole
   reservation: its POST may have reached the exchange, which may rest it after the startup
   reconciliation has read ``/data/orders``;
3. the startup reconciliation (after the user channel connects) then brings in whatever happened while
   aqbot was down, including orders it placed after the snapshot (adopted from ``/data/orders``).

Monotonic times inside a snapshot come from the previous process's Trio clock, which has an arbitrary
origin. They are shifted so that the snapshot's own instant maps to ``now`` (as if no time had passed):
grace periods and protection windows then restart from the restart, which only delays releases
(conservative), never hastens them.

Runtime-owned halts of the old process that describe a condition of that process (EXCHANGE_UNAVAILABLE,
MARKET_DATA_STALE, LEDGER_FAILURE) are cleared: the new process re-observes them. MANUAL, DAILY_LOSS,
ORDER_ERROR_RATE and DEFECT stay latched; a restored ORDER_ERROR_RATE is cleared by the runtime one base
hold after it was raised, on the shifted clock (``ErrorRateGuard.resume``), so a restart neither skips
the rest of the cool-down nor makes it permanent.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import attrs

from aqbot.core.config import CoreConfig
from aqbot.core.engine import Core
from aqbot.core.events import OrderEvent, SubmitFailed
from aqbot.core.facts import Outcome
from aqbot.core.halts import HaltReason
from aqbot.core.lifecycle import OrderState
from aqbot.core.orders import Order
from aqbot.core.snapshot import restore, snapshot
from aqbot.core.types import MarketSpec, Side
from aqbot.errors import WireError
from aqbot.io import edge
from aqbot.io.ledger import LedgerStore
from aqbot.io.ledger_events import LedgerEvent

log = logging.getLogger(__name__)

SNAPSHOT_TYPE = "snapshot"
RAW_USER_TYPE = "ws.user.raw"
RESERVATION_TYPE = "reservation"
PLACE_TYPE = "command.place"
WATERMARK_TYPE = "reconcile.watermark"
_PROCESS_HALTS = frozenset(
    {HaltReason.EXCHANGE_UNAVAILABLE, HaltReason.MARKET_DATA_STALE, HaltReason.LEDGER_FAILURE}
)


@attrs.frozen
class Replayed:
    """What the replay rebuilt: the core, the facts it produced, and what it read."""

    core: Core
    outcome: Outcome
    snapshot_seq: int | None
    messages: int
    watermark: int | None = None  # the reconciler's last trade watermark (Unix s), None on a fresh ledger


def snapshot_event(core: Core, now: float) -> LedgerEvent:
    """A ``snapshot`` ledger row of the whole core state."""
    return LedgerEvent.create(SNAPSHOT_TYPE, {"state": snapshot(core)}, mono_time=now)


def _number(value: object) -> float | None:
    """A stored time (the ledger hands JSON floats back as ``Decimal``), or ``None``."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    return float(value)


def _shift(mapping: dict[str, Any], key: str, offset: float) -> None:
    value = _number(mapping.get(key))
    if value is not None:
        mapping[key] = value + offset


def _shift_times(state: dict[str, Any], offset: float) -> None:
    for order in state.get("orders", {}).values():
        for key in ("created_at", "last_action_at", "terminal_at"):
            _shift(order, key, offset)
    for table in ("last_fill_at", "pruned"):
        times = state.get(table, {})
        for key in list(times):
            _shift(times, key, offset)
    for halt in state.get("halts", []):
        _shift(halt, "since", offset)
    for trail in state.get("position_moves", {}).values():
        for move in trail:  # [at, rise, fall]
            at = _number(move[0])
            if at is not None:
                move[0] = at + offset
    gaps = state.get("gaps", {})
    _shift(gaps, "last_failure_at", offset)  # (``restore`` resets in_flight and last_completed_at)
    for gap in gaps.get("gaps", {}).values():
        for key in ("started", "ended"):
            _shift(gap, key, offset)


def _recreate_reservation(
    core: Core, event: LedgerEvent, prices: dict[str, Decimal], now: float, out: Outcome
) -> None:
    """An order reserved after the snapshot and unknown to the restored core: its POST may have reached
    the exchange, so it is tracked again as UNKNOWN with its whole reservation (conservative: at the
    worst-case price when its ``command.place`` row is missing)."""
    p = event.payload
    order_id = str(p.get("order_id", ""))
    if p.get("cause") != "reserve" or not order_id or core.order(order_id) is not None:
        return
    if order_id in core.tracker.pruned:
        return
    token = str(p["token"])
    side = Side(p["side"])
    size = Decimal(str(p["delta"]))
    price = prices.get(order_id, Decimal(1) if side is Side.BUY else Decimal(0))
    core.exposure.force_reserve(order_id, token, side, price, size)
    order = Order(
        order_id, token, core.market_of(token), side, price, size, OrderState.PENDING_SUBMIT,
        created_at=now, last_action_at=now, post_in_flight=True,
    )  # fmt: skip
    core.tracker.add(order, out)
    out.extend(
        core.on_submit_failed(SubmitFailed(order_id, "restart: recorded after the last snapshot"), now)
    )


def replay_ledger(
    store: LedgerStore, config: CoreConfig, markets: Sequence[MarketSpec], me: edge.Identity, now: float
) -> Replayed:
    """Rebuild the core from ``store`` (sync: run it in a thread, or before the event loop is busy)."""
    latest = store.latest(SNAPSHOT_TYPE)
    out = Outcome()
    if latest is None:
        core = Core(config, markets, now)
        from_seq = 1
        snap_seq = None
    else:
        state = dict(latest.payload["state"])
        _shift_times(state, now - latest.mono_time)
        core, out = restore(config, markets, state, now)
        for record in list(core.halts.active):
            if record.reason in _PROCESS_HALTS:
                out.extend(core.clear_halt(record.reason, record.scope, now))
        snap_seq = latest.seq
        from_seq = (latest.seq or 0) + 1
    later = list(store.iter_events(from_seq))
    prices = {
        str(e.payload.get("order_id")): Decimal(str(e.payload["price"]))
        for e in later
        if e.type == PLACE_TYPE and "price" in e.payload
    }
    messages = 0
    decode = edge.user_frame_decoder(me)  # aqbot's identity prepared once, not per message
    for event in later:
        if event.type == RESERVATION_TYPE:
            _recreate_reservation(core, event, prices, now, out)
            continue
        if event.type != RAW_USER_TYPE:
            continue
        text = str(event.payload.get("text", ""))
        try:
            items = decode(text)
        except WireError as exc:
            log.warning("replay: undecodable user message #%s: %s", event.seq, exc)
            continue
        for item in items:
            if isinstance(item, OrderEvent):
                out.extend(core.on_order_event(item, now))
            else:
                out.extend(core.on_trade_event(item, now))
        messages += 1
    log.info("replay: snapshot #%s, %d user message(s) re-applied", snap_seq, messages)
    return Replayed(core, out, snap_seq, messages, last_watermark(store))


def last_watermark(store: LedgerStore) -> int | None:
    """The newest ``reconcile.watermark`` the ledger holds: a restarted reconciler reads trades from there
    (minus its overlap) instead of a whole day back, so re-read trades are never older than the core's
    memory of pruned orders (``prune_horizon``; review finding N1)."""
    row = store.latest(WATERMARK_TYPE)
    if row is None:
        return None
    value = row.payload.get("watermark")
    return value if isinstance(value, int) and not isinstance(value, bool) else None
