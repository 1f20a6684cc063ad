"""Crash and restart: the ledger replay plus the startup reconciliation rebuild exactly what the exchange
holds, and the limit keeps counting the orders the dead process left resting."""

from __future__ import annotations

import functools
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import attrs
import trio
import trio.testing
from scenario_world import inline, install_faults, taker_of

from aqbot.app import BotTimers, ExchangeConnectors, run_bot
from aqbot.app_state import BotHandle
from aqbot.core.lifecycle import OrderState
from aqbot.core.types import Side
from aqbot.run import params_for_sim
from aqbot.sim.faults import RestAction
from aqbot.sim.runner import SimConfig, run_inprocess_simulator

D = Decimal


async def _until(handle: BotHandle, predicate: Callable[[], bool], limit: float = 120.0) -> None:
    with trio.fail_after(limit):
        seen = handle.hub.version
        while not predicate():
            with trio.move_on_after(1.0):
                seen = await handle.hub.wait_changed(seen)


async def test_crash_then_restart_keeps_fills_and_reservations(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    """Bot 1 is partially filled (5 of 10), then dies with its REST cut (no cancel-all gets through).
    Bot 2 replays the ledger and reconciles before quoting: held 5 (the exchange's own figure), the
    surviving BUY still reserves its other 5, so worst = 10 = the limit and no further BUY is sent."""
    ledger = tmp_path / "ledger.sqlite3"
    config = SimConfig(seed=5, markets=1, accounts=3, flow=False)
    with trio.fail_after(1200):
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(run_inprocess_simulator, config)
            faults = install_faults(sim)
            taker = taker_of(sim, 2)
            market = sim.info.markets[0]
            yes, no = (str(t["token_id"]) for t in market["tokens"])
            for token in (yes, no):
                assert taker.limit(token, "BUY", "0.40", "100").ok
            timers = BotTimers(market_silence=None, shutdown_grace=2.0)
            params = params_for_sim(
                sim, ledger, max_position=D(10), ledger_synchronous="NORMAL", timers=timers
            )
            owner = params.creds.api_key
            connectors = ExchangeConnectors.simulator(sim)
            bot = functools.partial(run_bot, params, connectors, offload=inline)

            async with trio.open_nursery() as first:
                handle = await first.start(bot)
                core = handle.hub.core
                await _until(handle, lambda: any(o.state is OrderState.LIVE for o in core.open_orders(yes)))
                bid = next(o for o in core.open_orders(yes) if o.side is Side.BUY)
                assert taker.limit(no, "BUY", str(1 - bid.price), "5", now_ms=sim.now_ms()).ok
                await _until(handle, lambda: core.token_exposure(yes).held == D(5))
                faults.rest = lambda method, path, now_ms: RestAction("timeout_not_applied")
                first.cancel_scope.cancel()  # the crash: nothing it sends gets through any more
            resting = {o["id"] for o in sim.engine.open_orders(owner)}
            assert bid.order_id in resting
            faults.rest = lambda method, path, now_ms: None

            # Bot 2 in dry-run: it quotes and signs but sends, cancels and heartbeats nothing, so nothing it
            # does itself can change the order under test.
            dry = functools.partial(run_bot, attrs.evolve(params, dry_run=True), connectors, offload=inline)
            async with trio.open_nursery() as second:
                handle2 = await second.start(dry)  # returns after the startup reconciliation
                core2 = handle2.hub.core
                e = core2.token_exposure(yes)
                assert e.held == D(5) == D(sim.engine.true_position(owner, yes)) / 1_000_000
                survivor = core2.order(bid.order_id)
                assert survivor is not None
                assert not survivor.state.terminal
                assert core2.exposure.remaining(bid.order_id) == D(5)
                assert e.worst == D(10)
                handle2.request_shutdown()
            assert bid.order_id in {o["id"] for o in sim.engine.open_orders(owner)}  # dry-run left it

            # Bot 3 quotes again: worst never passes the limit while it requotes around the survivor.
            async with trio.open_nursery() as third:
                handle3 = await third.start(bot)
                for _ in range(20):
                    await trio.sleep(1)
                    assert handle3.hub.core.token_exposure(yes).worst <= D(10)
                handle3.request_shutdown()
            assert sim.engine.max_position_seen(owner, yes) <= 10 * 1_000_000
            nursery.cancel_scope.cancel()
