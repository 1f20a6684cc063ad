"""The live terminal dashboard: :func:`run_dashboard` draws :func:`render_dashboard` frames with rich.

Each frame reads :meth:`BotHandle.state` (an immutable snapshot), lets a :class:`DashboardTracker` diff it
against the previous one (events, fills), and redraws. Everything happens synchronously between two
checkpoints, so the picture is consistent, and it is cheap (a few milliseconds for four markets; the
cost of the previous frame is shown in the health panel).

The only places that look past ``BotState`` are :func:`probe_of` and :func:`io_stats_of`: the core's
public queries ``order()`` and ``token_exposure()`` (fills and cost basis) and the handle's public
counters (``stats``, ``reconcile``). Nothing is mutated.
"""

from __future__ import annotations

import logging
import time
from decimal import Decimal
from typing import NoReturn

import trio
from rich.console import Console, RenderableType
from rich.live import Live

from aqbot.app_state import BotHandle, BotState
from aqbot.ui.model import ChannelIo, DashboardExtras, IoStats
from aqbot.ui.render import render_dashboard
from aqbot.ui.summary import log_progress_line, shutdown_summary
from aqbot.ui.tracker import DashboardTracker, OrderProbe, OrderView

__all__ = [
    "DashboardFrames",
    "DashboardTracker",
    "log_progress_line",
    "render_dashboard",
    "run_dashboard",
    "shutdown_summary",
]

log = logging.getLogger(__name__)


def probe_of(handle: BotHandle) -> OrderProbe:
    """The tracker's order lookup, through the core's public ``order()`` query."""
    core = handle.hub.core

    def probe(order_id: str) -> OrderView | None:
        order = core.order(order_id)
        return None if order is None else OrderView(order.state.value, order.counted)

    return probe


def costs_of(handle: BotHandle, state: BotState) -> dict[str, Decimal]:
    """The cost basis of ``held`` per token (the core's ``token_exposure().cost``)."""
    core = handle.hub.core
    return {t.token: core.token_exposure(t.token).cost for t in state.tokens}


def io_stats_of(handle: BotHandle) -> IoStats:
    """The handle's public counters that ``BotState.health`` does not carry."""
    s, r = handle.stats, handle.reconcile
    return IoStats(
        user=ChannelIo(s.user.frames, s.user.connects, s.user.decode_errors, s.user.last_frame_at),
        market=ChannelIo(s.market.frames, s.market.connects, s.market.decode_errors, s.market.last_frame_at),
        heartbeat_beats=s.heartbeat.beats,
        heartbeat_failures=s.heartbeat.failures,
        reconcile_runs=r.runs,
        reconcile_last_error=r.last_error,
        positions_syncs=s.positions.syncs,
        positions_failures=s.positions.failures,
        positions_last_error=s.positions.last_error,
    )


def labels_of(handle: BotHandle) -> dict[str, str]:
    """``YES`` / ``NO`` per token id, from the market specs."""
    labels: dict[str, str] = {}
    for spec in handle.markets:
        labels[spec.yes_token] = "YES"
        labels[spec.no_token] = "NO"
    return labels


class DashboardFrames:
    """Builds frames for one handle: state, then tracker, then the renderable (sync; one per refresh).

    ``last_ms`` and ``max_ms`` are the measured cost of building and drawing a frame (``time.perf_counter``:
    a measurement, never used for scheduling). ``count`` is the number of frames built.
    """

    def __init__(self, handle: BotHandle, *, mode: str = "paper") -> None:
        self.handle = handle
        self.tracker = DashboardTracker(mode=mode, labels=labels_of(handle))
        self.last_ms: float | None = None
        self.max_ms = 0.0
        self.count = 0
        self.extras = DashboardExtras(mode=mode)

    def build(self) -> RenderableType:
        """Read the state, update the tracker, return the frame."""
        state = self.handle.state()
        self.tracker.observe(state, probe_of(self.handle), costs_of(self.handle, state))
        self.extras = self.tracker.extras(io=io_stats_of(self.handle), frame_ms=self.last_ms)
        self.count += 1
        return render_dashboard(state, self.extras)

    def measured(self, started: float) -> None:
        """Record the cost of a frame begun at ``started`` (``time.perf_counter()``)."""
        self.last_ms = (time.perf_counter() - started) * 1000.0
        self.max_ms = max(self.max_ms, self.last_ms)


async def run_dashboard(
    handle: BotHandle,
    *,
    console: Console,
    refresh_seconds: float = 0.5,
    mode: str = "paper",
    frames: DashboardFrames | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> NoReturn:
    """Draw the dashboard every ``refresh_seconds`` until cancelled.

    Args:
        handle: the running bot.
        console: where to draw (a terminal; a recording console in tests).
        refresh_seconds: the frame period (Trio's clock, ``sleep_until``: no drift, no thread).
        mode: ``paper`` or ``live``: the header's badge (``aqbot run`` must pass ``live``).
        frames: the frame builder (tests pass one to read its tracker and timings).

    Cancellation: leaving rich's ``Live`` context restores the terminal (cursor shown, the last frame
    left in place). A frame is built and drawn between two checkpoints; when drawing falls behind the
    period, missed frames are skipped rather than queued.
    """
    builder = frames if frames is not None else DashboardFrames(handle, mode=mode)
    with Live(console=console, auto_refresh=False, transient=False) as live:
        task_status.started()
        deadline = trio.current_time()
        while True:
            started = time.perf_counter()
            live.update(builder.build(), refresh=True)
            builder.measured(started)
            deadline += refresh_seconds
            now = trio.current_time()
            if deadline < now:
                deadline = now
            await trio.sleep_until(deadline)
