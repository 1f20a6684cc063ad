"""Metrics wiring: the gauges follow BotHandle.state(); ``run_bot`` serves them when enabled."""

from __future__ import annotations

import functools
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import attrs
import httpx2
import trio
import trio.testing

from aqbot.app import ExchangeConnectors, run_bot
from aqbot.app_state import update_metrics
from aqbot.config import MetricsConfig
from aqbot.core.halts import HaltReason
from aqbot.io.metrics import MetricsRegistry, make_aqbot_metrics
from aqbot.run import params_for_sim
from aqbot.sim.runner import SimConfig, run_inprocess_simulator

T = TypeVar("T")


async def inline(fn: Callable[[], T]) -> T:
    """The ledger's blocking calls inline (no thread in flight under the autojump clock)."""
    await trio.lowlevel.checkpoint()
    return fn()


async def test_gauges_follow_bot_state(autojump_clock: trio.testing.MockClock, tmp_path: Path) -> None:
    """After quoting, every token's gauges equal the state's numbers; halts are exported per reason."""
    with trio.fail_after(600):
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(run_inprocess_simulator, SimConfig(seed=3, markets=1))
            params = params_for_sim(sim, tmp_path / "l.sqlite3", max_position=Decimal(50))
            bot = functools.partial(run_bot, params, ExchangeConnectors.simulator(sim), offload=inline)
            async with trio.open_nursery() as bot_nursery:
                handle = await bot_nursery.start(bot)
                await trio.sleep(20)
                metrics = make_aqbot_metrics(MetricsRegistry())
                state = handle.state()
                assert state.quotes
                update_metrics(metrics, state)
                for t in state.tokens:
                    assert metrics.position_shares.values[(t.token,)] == t.held
                    assert metrics.worst_case_shares.values[(t.token,)] == t.worst
                    assert metrics.limit_shares.values[(t.token,)] == Decimal(50)
                    assert metrics.reserved_shares.values[(t.token,)] == t.open_buy
                assert metrics.open_orders.values[()] == len(state.quotes)
                assert metrics.gaps_open.values[()] == state.open_gaps
                assert metrics.ledger_lag_events.values[()] == state.health.ledger_buffered
                assert metrics.halt_active.values[(HaltReason.MANUAL.value,)] == 0
                handle.hub.set_halt(HaltReason.MANUAL, "test")
                update_metrics(metrics, handle.state())
                assert metrics.halt_active.values[(HaltReason.MANUAL.value,)] == 1
                assert len(metrics.halt_active.values) == len(HaltReason)
                handle.request_shutdown()
            nursery.cancel_scope.cancel()


async def test_run_bot_serves_metrics_on_a_real_socket(tmp_path: Path) -> None:
    """With metrics enabled, ``run_bot`` binds the endpoint and a scrape sees the state gauges."""
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(run_inprocess_simulator, SimConfig(seed=3, markets=1))
            params = params_for_sim(sim, tmp_path / "l.sqlite3", ledger_synchronous="NORMAL")
            params = attrs.evolve(params, metrics=MetricsConfig(enabled=True, host="127.0.0.1", port=0))
            bot = functools.partial(run_bot, params, ExchangeConnectors.simulator(sim))
            async with trio.open_nursery() as bot_nursery:
                handle = await bot_nursery.start(bot)
                assert handle.metrics_port is not None
                assert handle.metrics_port >= 1
                async with httpx2.AsyncClient() as http:
                    answer = await http.get(f"http://127.0.0.1:{handle.metrics_port}/metrics")
                assert answer.status_code == 200
                text = answer.text
                token = params.markets[0].yes_token
                assert f'aqbot_limit_shares{{token="{token}"}} 20' in text
                assert 'aqbot_halt_active{reason="MANUAL"} 0' in text
                assert "aqbot_open_orders " in text
                handle.request_shutdown()
            nursery.cancel_scope.cancel()
