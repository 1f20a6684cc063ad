"""Alerts and metrics of a whole bot + simulator run (MockClock): startup, halts and resumes with their
reason, heartbeat loss, ledger failure and shutdown alerts; fills, REST latency, WS lag and ledger
failure metrics read from the rendered registry."""

from __future__ import annotations

import functools
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import trio
import trio.testing
from scenario_world import ScriptedFaults, World, inline, install_faults, taker_of, wait_until

from aqbot.app import BotTimers, ExchangeConnectors, run_bot
from aqbot.app_state import update_runtime_metrics
from aqbot.core.halts import HaltReason
from aqbot.core.lifecycle import OrderState
from aqbot.core.types import Side
from aqbot.run import params_for_sim
from aqbot.sim.faults import RestAction, WsAction
from aqbot.sim.runner import SimConfig, run_inprocess_simulator

D = Decimal
T = TypeVar("T")


@asynccontextmanager
async def observed_world(
    tmp_path: Path, alerts: list[tuple[str, str]], *, offload: Callable[[Callable[[], Any]], Any] = inline
) -> AsyncIterator[World]:
    """scenario_world.world with the bot's ``alert`` callback collecting ``(key, text)``."""
    ledger_path = tmp_path / "ledger.sqlite3"
    async with trio.open_nursery() as nursery:
        sim = await nursery.start(
            run_inprocess_simulator, SimConfig(seed=5, markets=1, accounts=3, flow=False)
        )
        faults: ScriptedFaults = install_faults(sim)
        taker = taker_of(sim, 2)
        for token in sim.info.markets[0]["tokens"]:
            assert taker.limit(str(token["token_id"]), "BUY", "0.40", "100").ok
        params = params_for_sim(
            sim, ledger_path, max_position=D(20), ledger_synchronous="NORMAL", timers=BotTimers()
        )

        def alert(key: str, text: str) -> None:
            alerts.append((key, text))

        run = functools.partial(
            run_bot, params, ExchangeConnectors.simulator(sim), alert=alert, offload=offload
        )
        async with trio.open_nursery() as bot_nursery:
            bot = await bot_nursery.start(run)
            try:
                yield World(sim, bot, params, faults, taker, ledger_path)
            finally:
                bot.request_shutdown()
        nursery.cancel_scope.cancel()


def keys(alerts: list[tuple[str, str]]) -> list[str]:
    return [k for k, _ in alerts]


async def test_alerts_and_metrics_of_a_run(autojump_clock: trio.testing.MockClock, tmp_path: Path) -> None:
    alerts: list[tuple[str, str]] = []
    with trio.fail_after(900):
        async with observed_world(tmp_path, alerts) as w:
            core = w.bot.hub.core
            metrics = w.bot.metrics
            assert metrics is not None
            assert keys(alerts)[-1] == "startup"
            await wait_until(w, lambda: any(o.state is OrderState.LIVE for o in core.open_orders()))

            # a fill: the taker buys NO against the bot's YES bid (a cross-asset match)
            yes, no = w.params.markets[0].yes_token, w.params.markets[0].no_token
            bid = max(
                (o for o in core.open_orders() if o.token == yes and o.side is Side.BUY),
                key=lambda o: o.price,
            )
            assert w.taker.limit(no, "BUY", str(1 - bid.price), "5", now_ms=w.now_ms()).ok
            await wait_until(w, lambda: w.held(yes) > 0)
            held = w.held(yes)
            assert metrics.fills_total.values[(yes, "BUY")] >= 1
            assert metrics.filled_shares_total.values[(yes, "BUY")] == held

            # a user-channel disconnect: a halt alert naming the reason, then the resume
            fired: list[int] = []

            def drop_user(channel: str, key: str, now_ms: int) -> WsAction | None:
                if channel == "user" and not fired:
                    fired.append(now_ms)
                    return WsAction("disconnect")
                return None

            w.faults.ws = drop_user
            bid = max(
                (o for o in core.open_orders() if o.token == yes and o.side is Side.BUY),
                key=lambda o: o.price,
            )
            lost = w.taker.limit(no, "BUY", str(1 - bid.price), "5", now_ms=w.now_ms())  # a message to lose
            assert lost.ok
            await wait_until(w, lambda: "resume:USER_WS_DOWN:global" in keys(alerts), limit=120)
            halt = dict(alerts)["halt:USER_WS_DOWN:global"]
            assert "USER_WS_DOWN" in halt
            assert "global" in halt

            # heartbeats lost: the heartbeat-lapsed alert and the exchange halt under the heartbeat scope
            start = w.now_ms()

            def lose_beats(method: str, path: str, now_ms: int) -> RestAction | None:
                lost = path == "/v1/heartbeats" and now_ms < start + 15_000
                return RestAction("timeout_not_applied") if lost else None

            w.faults.rest = lose_beats
            await wait_until(w, lambda: "resume:EXCHANGE_UNAVAILABLE:heartbeat" in keys(alerts), limit=120)
            assert "heartbeat-lapsed" in keys(alerts)
            assert "halt:EXCHANGE_UNAVAILABLE:heartbeat" in keys(alerts)

            text = metrics.registry.render()
            posts = re.findall(
                r'aqbot_rest_latency_seconds_count\{method="POST",endpoint="(/orders?)"\} (\d+)', text
            )
            assert posts
            assert all(int(n) >= 1 for _, n in posts)
            assert re.search(
                r'aqbot_rest_latency_seconds_count\{method="GET",endpoint="/data/orders"\} \d+', text
            )
            assert 'method="POST",endpoint="/v1/heartbeats"' in text
            labels = re.findall(r'endpoint="([^"]*)"', text)
            assert not [label for label in labels if "0x" in label or re.search(r"\d{6,}", label)]
            for channel in ("market", "user"):
                lag = metrics.ws_lag_seconds.values[(channel,)]
                assert -1.0 <= lag <= 5.0, (channel, lag)  # simulator delivery latency, ms timestamps
    assert keys(alerts)[-1] == "shutdown"
    assert "order(s) not known to be terminal" in alerts[-1][1]


async def test_ledger_failure_alert_and_metrics(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    """Writes fail for 20 s: the LEDGER_FAILURE halt alert, aqbot_ledger_failures_total counts every failed
    attempt and aqbot_ledger_lag_events shows the backlog; both settle once writes succeed."""
    failing = False

    async def flaky(fn: Callable[[], T]) -> T:
        await trio.lowlevel.checkpoint()
        if failing:
            raise OSError(28, "No space left on device")
        return fn()

    alerts: list[tuple[str, str]] = []
    with trio.fail_after(900):
        async with observed_world(tmp_path, alerts, offload=flaky) as w:
            core = w.bot.hub.core
            metrics = w.bot.metrics
            assert metrics is not None
            market = w.params.markets[0].condition_id
            await wait_until(w, lambda: any(o.state is OrderState.LIVE for o in core.open_orders()))
            update_runtime_metrics(metrics, w.bot, trio.current_time())
            assert metrics.ledger_failures_total.values.get((), 0) == 0
            failing = True
            await wait_until(w, lambda: HaltReason.LEDGER_FAILURE in core.can_quote(market, 0).reasons)
            await trio.sleep(20)
            update_runtime_metrics(metrics, w.bot, trio.current_time())
            failures = metrics.ledger_failures_total.values[()]
            assert failures >= 2
            assert metrics.ledger_lag_events.values[()] > 0
            assert "aqbot_ledger_failures_total " in metrics.registry.render()
            failing = False
            await wait_until(w, lambda: core.can_quote(market, 0).allowed, limit=60)
            assert w.bot.ledger is not None
            await w.bot.ledger.flush()
            update_runtime_metrics(metrics, w.bot, trio.current_time())
            assert metrics.ledger_failures_total.values[()] == w.bot.ledger.statistics().failures
    halt = dict(alerts)["halt:LEDGER_FAILURE:global"]
    assert "No space left on device" in halt
    assert "resume:LEDGER_FAILURE:global" in keys(alerts)
