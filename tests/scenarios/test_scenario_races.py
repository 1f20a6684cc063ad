"""Cancel racing a fill, with the CANCELLATION reported before the trade (PROTOCOL 10.5, 10.8; the DESIGN
section 1 example): the bot releases only ``original - size_matched`` and never over-buys."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import attrs
import trio
import trio.testing
from scenario_world import wait_until, world, yes_no

from aqbot.core.lifecycle import OrderState
from aqbot.core.strategy import SkewedMidStrategy, StrategyConfig
from aqbot.sim.faults import profile
from aqbot.sim.runner import SimConfig

D = Decimal
LIMIT = D(10)


async def test_every_cancel_races_a_fill(autojump_clock: trio.testing.MockClock, tmp_path: Path) -> None:
    """Every cancel the bot sends is beaten by a taker (all or half of the order), and the CANCELLATION
    arrives before the trade: the exchange-credited position stays within the limit throughout, and the
    bot ends holding exactly what the exchange says."""
    faults = attrs.evolve(profile("none"), cancel_race_p=1.0, cancel_before_trade_p=1.0)
    config = SimConfig(seed=7, markets=1, accounts=3, flow=False, fault_config=faults)
    with trio.fail_after(1200):
        async with world(tmp_path, sim_config=config, max_position=LIMIT, reconcile_interval=20.0) as w:
            yes, no = yes_no(w)
            core = w.bot.hub.core
            await wait_until(w, lambda: any(o.state is OrderState.LIVE for o in core.open_orders()))
            for ticks in (3, 4, 2, 5):  # four requotes: four cancels, four racing fills
                w.bot.quotes.strategy = SkewedMidStrategy(StrategyConfig(half_spread_ticks=ticks, size=D(10)))
                await trio.sleep(10)
                for token in (yes, no):
                    assert core.token_exposure(token).worst <= LIMIT
            await trio.sleep(45)  # let the reconciliations settle everything
            for token in (yes, no):
                assert w.max_seen(token) <= LIMIT
                assert w.held(token) == w.true_position(token)
    tape = w.sim.tape.getbytes().decode()
    assert tape.count("cancel_race") >= 2
    assert tape.count("cancel_before_trade") >= 1
