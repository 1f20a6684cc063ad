"""The live terminal dashboard: :func:`run_dashboard` draws :func:`render_dashboard` frames with rich.

Each frame reads :meth:`BotHandle.state` (an immutable snapshot), lets a :class:`DashboardTracker` diff it
against the previous one (events, fills), and renders into memory; a worker thread writes the text to the
terminal. Building and rendering happen synchronously between two checkpoints, so the picture is
consistent, and cheaply (a few milliseconds for four markets; the cost of the previous frame is shown in
the health panel).

The only places that look past ``BotState`` are :func:`probe_of` and :func:`io_stats_of`: the core's
public queries ``order()`` and ``token_exposure()`` (fills and cost basis) and the handle's public
counters (``stats``, ``reconcile``). Nothing is mutated.
"""

from __future__ import annotations

import functools
import io
import logging
import time
from collections.abc import Callable
from typing import IO, NoReturn, TypeVar

import trio
from rich.console import Console, RenderableType
from rich.live import Live

from aqbot.app_state import BotHandle
from aqbot.io.ledger_writer import Offload
from aqbot.ui.model import ChannelIo, DashboardExtras, IoStats
from aqbot.ui.render import render_dashboard
from aqbot.ui.summary import log_progress_line, shutdown_summary
from aqbot.ui.tracker import DashboardTracker, OrderProbe, OrderView

__all__ = [
    "DashboardFrames",
    "DashboardTracker",
    "Screen",
    "log_progress_line",
    "render_dashboard",
    "run_dashboard",
    "shutdown_summary",
]

log = logging.getLogger(__name__)

T = TypeVar("T")
# Seconds allowed for writing the last frame when the dashboard is cancelled.
FINAL_WRITE_GRACE = 1.0


def probe_of(handle: BotHandle) -> OrderProbe:
    """The tracker's order lookup, through the core's public ``order()`` query."""
    core = handle.hub.core

    def probe(order_id: str) -> OrderView | None:
        order = core.order(order_id)
        return None if order is None else OrderView(order.state.value, order.counted)

    return probe


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
        self.tracker.observe(state, probe_of(self.handle))
        self.extras = self.tracker.extras(io=io_stats_of(self.handle), frame_ms=self.last_ms)
        self.count += 1
        return render_dashboard(state, self.extras)

    def measured(self, started: float) -> None:
        """Record the cost of a frame begun at ``started`` (``time.perf_counter()``)."""
        self.last_ms = (time.perf_counter() - started) * 1000.0
        self.max_ms = max(self.max_ms, self.last_ms)


class Screen:
    """An in-memory console that mirrors the terminal: frames render into it, then the text is written to
    the terminal away from the event loop (a stalled terminal, e.g. a frozen ssh session, must never
    freeze the bot: its heartbeat would lapse).

    Args:
        target: the caller's console (its file, size, terminal-ness and colours are followed).
    """

    def __init__(self, target: Console) -> None:
        self.target = target
        self.buffer = io.StringIO()
        self.console = Console(
            file=self.buffer,
            width=target.width,
            height=target.height,
            force_terminal=target.is_terminal,
            color_system=target.color_system,  # type: ignore[arg-type]
            legacy_windows=False,
        )

    def follow_size(self) -> None:
        """Take the terminal's current size (it may have been resized)."""
        self.console.size = self.target.size

    def take(self) -> str:
        """The text rendered since the last call."""
        data = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return data

    async def flush(self, offload: Offload) -> None:
        """Write what was rendered to the target's file through ``offload``."""
        data = self.take()
        if data:
            await offload(functools.partial(_write_out, self.target.file, data))


def _write_out(file: IO[str], data: str) -> None:
    file.write(data)
    file.flush()


async def to_thread_abandoning(fn: Callable[[], T], /) -> T:
    """The default writer: a worker thread, abandoned if the dashboard is cancelled while it writes."""
    return await trio.to_thread.run_sync(fn, abandon_on_cancel=True)


async def run_dashboard(
    handle: BotHandle,
    *,
    console: Console,
    refresh_seconds: float = 0.5,
    mode: str = "paper",
    frames: DashboardFrames | None = None,
    offload: Offload = to_thread_abandoning,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> NoReturn:
    """Draw the dashboard every ``refresh_seconds`` until cancelled.

    Args:
        handle: the running bot.
        console: where to draw (a terminal; in tests, a console on a ``StringIO``).
        refresh_seconds: the frame period (Trio's clock, ``sleep_until``: no drift).
        mode: ``paper`` or ``live``: the header's badge (``aqbot run`` must pass ``live``).
        frames: the frame builder (tests pass one to read its tracker and timings).
        offload: runs the blocking terminal write (a worker thread; tests pass an inline runner).

    Each frame is built and rendered synchronously into memory (:class:`Screen`), between two
    checkpoints, so the picture is consistent; only the write to the terminal leaves the event loop.
    When a frame falls behind the period, missed frames are skipped, never queued.

    Cancellation: leaving rich's ``Live`` context renders the last frame and restores the cursor; that
    text is written inside a shielded scope bounded by :data:`FINAL_WRITE_GRACE` seconds.

    Raises:
        ValueError: ``refresh_seconds`` is not positive.
    """
    if not refresh_seconds > 0:
        raise ValueError(f"refresh_seconds must be positive, not {refresh_seconds!r}")
    builder = frames if frames is not None else DashboardFrames(handle, mode=mode)
    screen = Screen(console)
    try:
        with Live(
            console=screen.console, auto_refresh=False, redirect_stdout=False, redirect_stderr=False
        ) as live:
            task_status.started()
            deadline = trio.current_time()
            while True:
                started = time.perf_counter()
                screen.follow_size()
                live.update(builder.build(), refresh=True)
                builder.measured(started)
                await screen.flush(offload)
                deadline += refresh_seconds
                now = trio.current_time()
                if deadline < now:
                    deadline = now
                await trio.sleep_until(deadline)
    finally:
        with trio.move_on_after(FINAL_WRITE_GRACE, shield=True):
            await screen.flush(offload)
