"""run_dashboard against a real bot and the in-process simulator (memory streams, MockClock)."""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import pytest
import trio
import trio.testing
from rich.console import Console

from aqbot.app import ExchangeConnectors, run_bot
from aqbot.run import params_for_sim
from aqbot.sim.runner import SimConfig, run_inprocess_simulator
from aqbot.ui import fmt
from aqbot.ui.dashboard import DashboardFrames, run_dashboard

T = TypeVar("T")


async def inline(fn: Callable[[], T]) -> T:
    """The ledger's blocking calls inline: no thread in flight, so the autojump clock stays exact."""
    await trio.lowlevel.checkpoint()
    return fn()


async def stalled(fn: Callable[[], T]) -> T:
    """A terminal that never takes the write (a frozen ssh session)."""
    await trio.sleep_forever()


async def test_dashboard_draws_a_running_bot(autojump_clock: trio.testing.MockClock, tmp_path: Path) -> None:
    """Three dashboards on one bot: a pipe (final frame only), a terminal (a frame per refresh), and a
    terminal that never accepts a write (the bot keeps running; cancelling still returns)."""
    out, tty, frozen = io.StringIO(), io.StringIO(), io.StringIO()
    console = Console(width=160, force_terminal=False, color_system=None, file=out)
    terminal = Console(width=160, height=50, force_terminal=True, color_system="standard", file=tty)
    stuck = Console(width=160, height=50, force_terminal=True, file=frozen)
    with trio.fail_after(600):
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(run_inprocess_simulator, SimConfig(seed=3, markets=2))
            params = params_for_sim(
                sim, tmp_path / "ledger.sqlite3", max_position=Decimal(50), ledger_synchronous="NORMAL"
            )
            bot = functools.partial(run_bot, params, ExchangeConnectors.simulator(sim), offload=inline)
            async with trio.open_nursery() as bot_nursery:
                handle = await bot_nursery.start(bot)
                frames, tty_frames, stuck_frames = (DashboardFrames(handle) for _ in range(3))
                beats = handle.stats.heartbeat.beats
                started = trio.current_time()
                async with trio.open_nursery() as dash:
                    await dash.start(
                        functools.partial(
                            run_dashboard,
                            handle,
                            console=console,
                            refresh_seconds=0.5,
                            frames=frames,
                            offload=inline,
                        )
                    )
                    dash.start_soon(functools.partial(
                        run_dashboard, handle, console=terminal, frames=tty_frames, offload=inline
                    ))  # fmt: skip
                    dash.start_soon(functools.partial(
                        run_dashboard, handle, console=stuck, frames=stuck_frames, offload=stalled
                    ))  # fmt: skip
                    await trio.sleep(30)
                    dash.cancel_scope.cancel()
                state = handle.state()
                beats = handle.stats.heartbeat.beats - beats
                handle.request_shutdown()
            nursery.cancel_scope.cancel()
    # one frame at start, then one every 0.5 s of simulated time (the last may race the 30 s wake-up)
    assert 60 <= frames.count <= 61
    assert 60 <= tty_frames.count <= 61
    # the terminal got every frame, then (unless the stop lands on a refresh of the same instant, which
    # depends on the scheduler's task order) the last one again, and the cursor back when it stopped
    drawn = tty.getvalue()
    assert tty_frames.count <= drawn.count(" PAPER ") <= tty_frames.count + 1
    assert drawn.startswith("\x1b[?25l")
    assert drawn.endswith("\x1b[?25h")
    # a terminal that never takes a write stops the dashboard at its first frame, never the bot
    assert stuck_frames.count == 1
    assert frozen.getvalue() == ""
    assert beats >= 5
    assert frames.tracker.started_at == started
    # a non-terminal console gets the final frame when Live exits (cancellation restores the terminal)
    text = out.getvalue()
    rows = [" ".join(line.replace("│", " ").split()) for line in text.splitlines()]
    assert any(re.match(r"PAPER up (29|30)s quoting YES markets 2 ", r) for r in rows), text
    for spec in params.markets:
        assert any(r.startswith(fmt.short(spec.condition_id) + " YES ") for r in rows), text
    token_rows = [r for r in rows if re.search(r"\b(YES|NO) \d\.\d+/\d\.\d+ ", r)]
    assert len(token_rows) == 4, text
    # every token row: its book top, our orders (size@price) and a worst/limit bar out of 50
    bars = [re.search(r"(\d+(?:\.\d+)?)/50 ([█░]{16}) +(\d+)%", r) for r in token_rows]
    assert all(b is not None for b in bars), text
    worst = {t.token: t.worst for t in state.tokens}
    assert sorted(Decimal(b.group(1)) for b in bars if b) == sorted(worst.values())
    assert sum(len(re.findall(r"\b[BS] \d+(?:\.\d+)?@0\.\d+", r)) for r in token_rows) == len(state.quotes)
    assert len(state.quotes) >= 4
    assert any("started: 2 markets" in r for r in rows), text
    assert any(r.startswith("heartbeat last ok") for r in rows), text


async def test_run_dashboard_refuses_a_non_positive_period() -> None:
    with trio.fail_after(5), pytest.raises(ValueError, match="refresh_seconds"):
        await run_dashboard(None, console=Console(file=io.StringIO()), refresh_seconds=0)  # type: ignore[arg-type]
