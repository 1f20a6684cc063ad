"""Position sync: the Data API's (lagging) positions, fed to the core's protection-window policy.

Every ``interval`` seconds (drift-free) the task reads ``GET /positions?user=<funder>`` for the bot's
markets and hands a :class:`~aqbot.core.events.PositionsSnapshot` stamped with the local time the request
*started* to ``Core.on_positions``. The core decides per token (:mod:`aqbot.core.positions`: raise or
lower ``held`` only when no open order, recent fill or unsettled fill could explain the difference; a
missing or zero row never means flat; a difference the API's lag does not explain, persisting over
``position_mismatch_syncs`` syncs, latches ``POSITION_MISMATCH``; a missing row or the lag behind fills
aqbot already applied does not) and every decision becomes a ``position.decision`` ledger row through
the hub. The snapshot's start time matters: the lag test looks at the fills of the protection window
before it. The task never blocks quoting: it is asynchronous to everything else.

Failures (transport, exchange, undecodable body) are logged and counted; the next tick tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import NoReturn, Protocol

import attrs
import trio

from aqbot.core.events import PositionsSnapshot
from aqbot.errors import AqbotError
from aqbot.io import edge
from aqbot.io.hub import Hub
from aqbot.wire.account import Position

log = logging.getLogger(__name__)


class PositionSource(Protocol):
    """The Data API read (:meth:`aqbot.io.rest_api.DataApi.positions`)."""

    async def positions(self, user: str, markets: Sequence[str] = ()) -> list[Position]: ...


@attrs.define
class PositionSyncStats:
    """Counters for the dashboard."""

    syncs: int = 0
    failures: int = 0
    last_ok: float | None = None
    last_error: str = ""


async def sync_positions_once(
    hub: Hub, source: PositionSource, user: str, markets: Sequence[str], stats: PositionSyncStats
) -> bool:
    """One sync; True when the core got a snapshot."""
    started = trio.current_time()
    try:
        rows = await source.positions(user, markets)
    except AqbotError as exc:
        stats.failures += 1
        stats.last_error = f"{type(exc).__name__}: {exc}"
        log.warning("position sync failed: %s", stats.last_error)
        return False
    snapshot = PositionsSnapshot(started, tuple(edge.position_row(r) for r in rows))
    hub.apply(hub.core.on_positions(snapshot, trio.current_time()))
    stats.syncs += 1
    stats.last_ok = trio.current_time()
    return True


async def run_position_sync(
    hub: Hub,
    source: PositionSource,
    user: str,
    markets: Sequence[str],
    stats: PositionSyncStats,
    *,
    interval: float,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> NoReturn:
    """Sync every ``interval`` seconds, drift-free; the first sync is one interval after start (the
    startup reconciliation comes first). Runs until cancelled."""
    task_status.started()
    deadline = trio.current_time()
    while True:
        deadline += interval
        await trio.sleep_until(deadline)
        await sync_positions_once(hub, source, user, markets, stats)
