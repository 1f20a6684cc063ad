"""A paper run in real time: the simulator on loopback sockets, the bot against it, until the duration
ends or Ctrl-C (what ``make run`` shows).

The first SIGINT/SIGTERM stops cleanly (orders cancelled and confirmed, ledger flushed, final
reconciliation, summary); a second one forces the exit (no summary). On a terminal, the live dashboard
(``aqbot.ui.dashboard.run_dashboard``) is drawn unless ``--no-dashboard``; without one (CI, pipes), or when
the dashboard module is not installed, a progress line is logged every :data:`PROGRESS_SECONDS`.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
import signal
import sys
from decimal import Decimal
from typing import Any, NoReturn

import trio

from aqbot.app_state import BotHandle
from aqbot.config import load_config
from aqbot.io.ledger_writer import to_thread
from aqbot.paper.runner import PaperOptions, PaperPaths, paper_session
from aqbot.paper.summary import ratio_text

log = logging.getLogger(__name__)

# Seconds between two progress lines when no dashboard is drawn.
PROGRESS_SECONDS = 10.0


async def run_progress(
    handle: BotHandle,
    *,
    interval: float = PROGRESS_SECONDS,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> NoReturn:
    """Log one line about the bot every ``interval`` seconds. Runs until cancelled."""
    task_status.started()
    t0 = trio.current_time()
    while True:
        await trio.sleep(interval)
        log.info("paper: %s", progress_line(handle, trio.current_time() - t0))


def progress_line(handle: BotHandle, elapsed: float) -> str:
    """One line: elapsed time, orders, the worst/limit peak among tokens, positions, halts."""
    state = handle.state()
    ratio = max((t.worst / t.limit for t in state.tokens), default=Decimal(0))
    held = sum((t.held for t in state.tokens), start=Decimal(0))
    halts = ",".join(sorted({h.reason for h in state.halts})) or "none"
    h = state.health
    return (
        f"{elapsed:.0f}s placed={h.placed} rejected={h.rejected} unknown={h.unknown} "
        f"resting={len(state.quotes)} held={held} worst/limit={ratio_text(ratio)} halts={halts} "
        f"gaps={state.open_gaps}"
    )


def _dashboard() -> Any | None:
    """``aqbot.ui.dashboard.run_dashboard`` if that module is installed, else None (logged)."""
    try:
        module = importlib.import_module("aqbot.ui.dashboard")
    except ModuleNotFoundError as exc:
        if exc.name is None or not "aqbot.ui.dashboard".startswith(exc.name):
            raise
        log.warning("paper: the dashboard (aqbot.ui.dashboard) is not available; logging progress instead")
        return None
    return getattr(module, "run_dashboard", None)


def make_on_bot(draw: bool) -> Any:
    """The per-incarnation starter: the dashboard when ``draw`` (and it is available), else progress."""
    dashboard = _dashboard() if draw else None
    console: Any = None
    if dashboard is not None:
        from rich.console import Console

        console = Console()

    def on_bot(handle: BotHandle, nursery: trio.Nursery) -> None:
        if dashboard is not None:
            nursery.start_soon(functools.partial(dashboard, handle, console=console), name="dashboard")
        else:
            nursery.start_soon(run_progress, handle, name="paper-progress")

    return on_bot


async def _watch_signals(stop: trio.Event, root: trio.CancelScope) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            if stop.is_set():
                log.error("paper: second signal %s: forcing exit", signum)
                root.cancel()
                return
            log.warning("paper: signal %s: stopping cleanly (again to force)", signum)
            stop.set()


async def realtime_main(options: PaperOptions, paths: PaperPaths) -> dict[str, Any] | None:
    """The real-time session with signal handling; None when a second signal forced the exit."""
    synchronous = load_config(options.config_path, os.environ).ledger.synchronous
    draw = options.dashboard and sys.stdout.isatty()
    stop = trio.Event()
    summary: dict[str, Any] | None = None
    async with trio.open_nursery() as root:
        root.start_soon(_watch_signals, stop, root.cancel_scope)
        summary = await paper_session(
            options, paths, loopback=True, offload=to_thread, synchronous=synchronous, stop=stop,
            on_bot=make_on_bot(draw), alert_sinks=True,
        )  # fmt: skip
        root.cancel_scope.cancel()
    return summary


def run_realtime(options: PaperOptions, paths: PaperPaths) -> dict[str, Any] | None:
    """Run in real time (blocking); the summary, or None when forced to stop."""
    return trio.run(realtime_main, options, paths)
