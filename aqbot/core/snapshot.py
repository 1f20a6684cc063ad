"""Snapshot and restore the whole core state as a JSON-able dict (ledger replay after a crash).

Exact: Decimals travel as strings, enums as their values, floats as floats. What is configuration (limits,
markets, timing constants) is not in the snapshot: :func:`restore` takes it again, so a restart may tighten
limits. The PnL book (positions, costs, marks, the UTC day and its baseline) is included, so a restart
within the day keeps the day's loss. Reconciliations that were in flight at the crash are dropped (their
answers will never arrive) and the restarted core opens a fresh ``startup`` gap, so nothing is quoted
before a reconciliation newer than the restart has completed. Orders whose POST was in flight become
UNKNOWN (the answer is lost): they keep their reservation until a reconciliation, past grace, resolves
them. An order found absent once (waiting for a second snapshot, review D1) stays so, timed from the
restart.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import cattrs

from aqbot.core.config import CoreConfig
from aqbot.core.engine import Core
from aqbot.core.exposure import Reservation, TokenExposure
from aqbot.core.facts import Outcome
from aqbot.core.fills import FillBook
from aqbot.core.gaps import GapTracker
from aqbot.core.halts import HaltRecord
from aqbot.core.orders import Order
from aqbot.core.pnl import PnlBook
from aqbot.core.types import MarketSpec, OrderId, TokenId

logger = logging.getLogger(__name__)

SNAPSHOT_VERSION = 1


def _converter() -> cattrs.Converter:
    conv = cattrs.Converter()
    conv.register_unstructure_hook(Decimal, str)
    conv.register_structure_hook(Decimal, lambda v, _: Decimal(v))
    return conv


_CONV = _converter()


def snapshot(core: Core) -> dict[str, Any]:
    """The core's state as plain JSON types (dicts, lists, strings, numbers, booleans, null)."""
    tracker = core.tracker
    state = {
        "version": SNAPSHOT_VERSION,
        "orders": _CONV.unstructure(tracker.orders, dict[OrderId, Order]),
        "fills": _CONV.unstructure(tracker.fills, FillBook),
        "last_fill_at": dict(tracker.last_fill_at),
        "pruned": dict(tracker.pruned),
        "pruned_trades": {k: list(v) for k, v in tracker.pruned_trades.items()},
        # Exchange times (trade match_time, unix s), not monotonic: a replay does not rebase them.
        "newest_match": tracker.newest_match,
        "pruned_match": dict(tracker.pruned_match),
        "forgotten_match": tracker.forgotten_match,
        "tokens": _CONV.unstructure(core.exposure.tokens, dict[TokenId, TokenExposure]),
        "reservations": _CONV.unstructure(core.exposure.reservations, dict[OrderId, Reservation]),
        "divergent": dict(core.positions.divergent),
        # held's recent moves (PositionPolicy.observe), so a lagging positions API stays explained across a
        # restart; ``at`` is monotonic: a replay shifts it.
        "position_moves": {
            token: [[at, str(rise), str(fall)] for at, rise, fall in trail]
            for token, trail in core.positions.moves.items()
            if trail
        },
        "halts": _CONV.unstructure(core.halts.active, list[HaltRecord]),
        "gaps": _CONV.unstructure(core.gaps, GapTracker),
        "pnl": _CONV.unstructure(core.pnl, PnlBook),
    }
    gaps = state["gaps"]
    gaps["gaps"] = {str(k): v for k, v in gaps["gaps"].items()}
    gaps["in_flight"] = {str(k): v for k, v in gaps["in_flight"].items()}
    gaps["in_flight_seq"] = {str(k): v for k, v in gaps["in_flight_seq"].items()}
    return state


def pnl_of(data: dict[str, Any]) -> PnlBook:
    """The PnL book of a :func:`snapshot` (an empty book for snapshots written before it existed)."""
    return _CONV.structure(data["pnl"], PnlBook) if "pnl" in data else PnlBook()


def restore(
    config: CoreConfig, markets: Sequence[MarketSpec], data: dict[str, Any], now: float
) -> tuple[Core, Outcome]:
    """Rebuild a core from :func:`snapshot` output; opens a ``startup`` gap at ``now``.

    Returns the core and the facts of the restart (orders whose POST was in flight moved to UNKNOWN).

    Raises:
        ValueError: unknown snapshot version, or aggregates that disagree with the reservations.
    """
    if data.get("version") != SNAPSHOT_VERSION:
        raise ValueError(f"unsupported snapshot version {data.get('version')!r}")
    core = Core(config, markets, now)
    startup_gaps = core.gaps.gaps
    tracker = core.tracker
    tracker.orders = _CONV.structure(data["orders"], dict[OrderId, Order])
    tracker.reindex()
    tracker.fills = _CONV.structure(data["fills"], FillBook)
    tracker.last_fill_at = {k: float(v) for k, v in data["last_fill_at"].items()}
    tracker.pruned = {k: float(v) for k, v in data.get("pruned", {}).items()}
    tracker.pruned_trades = {k: [str(t) for t in v] for k, v in data.get("pruned_trades", {}).items()}
    tracker.newest_match = float(data.get("newest_match", 0.0))  # (absent from older snapshots)
    tracker.pruned_match = {k: float(v) for k, v in data.get("pruned_match", {}).items()}
    tracker.forgotten_match = float(data.get("forgotten_match", 0.0))
    core.exposure.tokens = _CONV.structure(data["tokens"], dict[TokenId, TokenExposure])
    core.exposure.reservations = _CONV.structure(data["reservations"], dict[OrderId, Reservation])
    core.positions.divergent = {k: int(v) for k, v in data["divergent"].items()}
    core.positions.moves = {  # (absent from older snapshots: only later moves explain a lag then)
        token: deque((float(at), Decimal(rise), Decimal(fall)) for at, rise, fall in trail)
        for token, trail in data.get("position_moves", {}).items()
    }
    core.halts.active = _CONV.structure(data["halts"], list[HaltRecord])
    core.pnl = pnl_of(data)
    gaps = _CONV.structure(data["gaps"], GapTracker)
    gaps.attempts = config.ws_gap_reconcile_attempts
    gaps.recovery_interval = config.ws_gap_recovery_interval
    gaps.periodic_interval = config.reconcile_interval
    gaps.in_flight, gaps.in_flight_seq = {}, {}
    gaps.last_completed_at = None
    for gap in startup_gaps.values():  # the restart gap (open: the channel is not connected yet)
        gap.gap_id = gaps.next_gap_id
        gaps.next_gap_id += 1
        gaps.gaps[gap.gap_id] = gap
    core.gaps = gaps
    out = Outcome()
    for order in tracker.open_orders():
        if order.absent_at is not None:
            # A pending absence stays pending (its logical clock is restored with the gaps), timed from the
            # restart: the old process's monotonic times have another origin, and later only delays.
            order.absent_at = now
        if order.post_in_flight:
            # Its POST answer died with the old process: what the exchange did is unknown.
            tracker.on_submit_failed(order, "restart: POST answer lost", now, out)
    stored = {t: (e.open_buy, e.open_sell, e.open_buy_notional) for t, e in core.exposure.tokens.items()}
    rebuilt = core.exposure.recompute()
    if stored != rebuilt:
        raise ValueError(f"snapshot aggregates {stored} disagree with its reservations {rebuilt}")
    out.extend(core.settle(now))
    return core, out
