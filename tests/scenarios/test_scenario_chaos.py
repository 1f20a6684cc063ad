"""The promise, end to end: under the simulator's chaos fault profile (dropped, duplicated, reordered and
delayed WS messages, disconnects, 5xx/429/lost REST answers, restarts, cancel-only, FAILED settlements,
cancel races, CANCELLATION-before-trade, heartbeat loss, lagging positions) with synthetic takers, the
position the EXCHANGE credits to the bot never exceeds the limit (L2, from the simulator's own books)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import trio
import trio.testing
from scenario_world import world

from aqbot.app import BotTimers
from aqbot.sim.runner import SimConfig

D = Decimal
LIMIT = D(20)


@pytest.mark.parametrize("seed", [11, 12])
async def test_exchange_position_never_exceeds_limit_under_chaos(
    autojump_clock: trio.testing.MockClock, tmp_path: Path, seed: int
) -> None:
    """Ten simulated minutes of chaos on two markets; L2 holds on every token, at every instant."""
    config = SimConfig(seed=seed, markets=2, accounts=3, flow=True, faults="chaos")
    with trio.fail_after(3600):
        async with world(
            tmp_path, sim_config=config, book=False, max_position=LIMIT, seed=seed, timers=BotTimers()
        ) as w:
            await trio.sleep(600)
            tokens = [t for m in w.params.markets for t in m.tokens]
            core = w.bot.hub.core
            for token in tokens:
                assert core.token_exposure(token).worst <= LIMIT or core.halts.active
    for token in tokens:
        assert w.max_seen(token) <= LIMIT, (token, w.max_seen(token))
    summary = w.sim.engine.summary()
    assert summary  # the run really traded: see the tape counts
    placed = sum(1 for e in w.ledger() if e.type == "command.place")
    assert placed > 10
