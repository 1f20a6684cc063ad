"""The same composition root against the loopback simulator: real sockets, real clock."""

from __future__ import annotations

import functools
from decimal import Decimal
from pathlib import Path

import pytest
import trio

from aqbot.app import ExchangeConnectors, run_bot
from aqbot.core.lifecycle import OrderState
from aqbot.run import params_for_sim
from aqbot.sim.runner import SimConfig, run_loopback_simulator


@pytest.mark.e2e
async def test_quotes_over_real_sockets_and_stops_cleanly(tmp_path: Path) -> None:
    """REST over hypercorn, WebSockets over trio-websocket on 127.0.0.1: the bot reconciles, quotes,
    and a graceful shutdown leaves nothing resting at the exchange."""
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(run_loopback_simulator, SimConfig(seed=4, markets=1, tick_ms=50))
            params = params_for_sim(sim, tmp_path / "ledger.sqlite3", max_position=Decimal(30))
            bot = functools.partial(run_bot, params, ExchangeConnectors.simulator(sim))
            async with trio.open_nursery() as bot_nursery:
                handle = await bot_nursery.start(bot)
                core = handle.hub.core
                seen = handle.hub.version
                while not any(o.state is OrderState.LIVE for o in core.open_orders()):
                    seen = await handle.hub.wait_changed(seen)
                assert all(t.worst <= t.limit for t in handle.state().tokens)
                handle.request_shutdown()
            assert sim.engine.open_orders(params.creds.api_key) == []
            nursery.cancel_scope.cancel()
