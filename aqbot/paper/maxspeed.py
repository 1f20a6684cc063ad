"""A paper session at max speed: one ``trio.run`` under ``MockClock(autojump_threshold=0)``, the
simulator over memory streams, the ledger written inline (no thread in flight, so the autojump clock
stays exact). The same options give the same tape and the same ledger event sequence.

A run whose simulated time stops advancing (some task runnable forever: a livelock in virtual time) would
spin without end; :func:`run_paper` with ``stall_limit`` abandons it with :class:`PaperRunStalled`.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import attrs
import trio
import trio.testing

from aqbot.errors import AqbotError
from aqbot.paper.runner import BotHook, PaperOptions, PaperPaths, paper_session
from aqbot.sim.runner import seed_trio_scheduler

log = logging.getLogger(__name__)

T = TypeVar("T")
# Simulated seconds a max-speed run may take beyond its duration (per incarnation) before it counts as hung.
HANG_MARGIN = 600.0
# How often the stall watchdog looks at the mock clock (wall seconds).
WATCHDOG_POLL = 0.5
# Frames of the spinning stack quoted in the stall error.
STACK_LINES = 12


async def inline(fn: Callable[[], T]) -> T:
    """Run a blocking ledger call inline: no thread in flight, so the autojump clock stays exact."""
    await trio.lowlevel.checkpoint()
    return fn()


class PaperRunStalled(AqbotError):
    """A max-speed run stopped advancing simulated time: some task is runnable forever (a livelock in
    virtual time; under a real clock it would be a busy loop)."""


@attrs.define
class _StallWatchdog:
    """A plain thread (not a Trio worker thread, so the autojump clock is undisturbed) that cancels the
    run when the mock clock has not moved for ``limit`` wall seconds."""

    clock: trio.testing.MockClock
    limit: float
    token: trio.lowlevel.TrioToken
    scope: trio.CancelScope
    stalled_at: float | None = None
    stack: str = ""
    tasks: str = ""
    main_thread: int = attrs.Factory(threading.get_ident)
    _done: threading.Event = attrs.Factory(threading.Event)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._watch, name="paper-stall-watchdog", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._done.set()

    def _watch(self) -> None:
        last, still = self.clock.current_time(), 0.0
        while not self._done.wait(WATCHDOG_POLL):
            now = self.clock.current_time()
            still = still + WATCHDOG_POLL if now == last else 0.0
            last = now
            if still >= self.limit:
                self.stalled_at = now
                frame = sys._current_frames().get(self.main_thread)
                self.stack = (
                    "".join(traceback.format_stack(frame)[-STACK_LINES:]) if frame is not None else ""
                )
                try:
                    self.tasks = trio.from_thread.run_sync(task_dump, trio_token=self.token)
                    trio.from_thread.run_sync(self.scope.cancel, trio_token=self.token)
                except trio.RunFinishedError:
                    pass
                return


def task_dump() -> str:
    """Every Trio task of this run with where it waits (for the stall report)."""
    lines: list[str] = []

    def walk(task: trio.lowlevel.Task, depth: int) -> None:
        ours = [(f, n) for f, n in task.iter_await_frames() if "/trio/" not in f.f_code.co_filename]
        where = " < ".join(f"{Path(f.f_code.co_filename).name}:{n}" for f, n in reversed(ours[-4:])) or "?"
        lines.append(f"{'  ' * depth}{task.name} @ {where}")
        for nursery in task.child_nurseries:
            for child in nursery.child_tasks:
                walk(child, depth + 1)

    walk(trio.lowlevel.current_root_task(), 0)  # type: ignore[arg-type]
    return "\n".join(lines)


def run_paper(
    options: PaperOptions, paths: PaperPaths, *, hook: BotHook | None = None, stall_limit: float | None = None
) -> dict[str, Any]:
    """Run a session at max speed (``MockClock``, memory streams, inline ledger); return the summary.

    The wall time is measured (``wall_seconds``) but never drives the run: it is deterministic.
    ``stall_limit``: wall seconds without any progress of simulated time before the run is abandoned.

    Raises:
        PaperRunStalled: simulated time stopped advancing for ``stall_limit`` wall seconds.
    """
    if options.duration is None:
        raise ValueError("a max-speed run needs a duration")
    bound = 4 * options.duration + HANG_MARGIN * (1 + len(options.crash_times()))
    clock = trio.testing.MockClock(autojump_threshold=0)

    async def main() -> dict[str, Any]:
        seed_trio_scheduler(options.seed)
        with trio.CancelScope() as scope:
            watchdog = None
            if stall_limit is not None:
                watchdog = _StallWatchdog(clock, stall_limit, trio.lowlevel.current_trio_token(), scope)
                watchdog.start()
            try:
                with trio.fail_after(bound):  # virtual time: a deadlock ends here at once
                    return await paper_session(
                        options, paths, loopback=False, offload=inline, synchronous="NORMAL",
                        stop=trio.Event(), hook=hook,
                    )  # fmt: skip
            finally:
                if watchdog is not None:
                    watchdog.stop()
        assert watchdog is not None
        assert watchdog.stalled_at is not None
        raise PaperRunStalled(
            f"simulated time stopped advancing at t={watchdog.stalled_at:.3f}s for {stall_limit:g} wall "
            f"seconds (a livelock, or every task waiting without a deadline); main thread:\n{watchdog.stack}"
            f"tasks:\n{watchdog.tasks}"
        )

    return trio.run(main, clock=clock)


__all__ = ["PaperRunStalled", "inline", "run_paper"]
