"""Settlement failure: a FAILED trade reverses the fill in the bot exactly as on the exchange."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import attrs
import trio
import trio.testing
from scenario_world import wait_until, world, yes_no

from aqbot.core.lifecycle import OrderState
from aqbot.core.types import Side
from aqbot.sim.faults import profile
from aqbot.sim.runner import SimConfig

D = Decimal


async def test_failed_settlement_reverses_fill(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    """Every trade settles FAILED: held goes up at MATCHED and back to zero at FAILED, tracking the
    exchange's own balance; the limit is never exceeded meanwhile."""
    faults = attrs.evolve(profile("none"), settle_fail_p=1.0)
    config = SimConfig(seed=5, markets=1, accounts=3, flow=False, fault_config=faults)
    with trio.fail_after(900):
        async with world(tmp_path, sim_config=config, max_position=D(10)) as w:
            yes, no = yes_no(w)
            core = w.bot.hub.core
            await wait_until(
                w, lambda: any(o.token == yes and o.state is OrderState.LIVE for o in core.open_orders())
            )
            bid = next(o for o in core.open_orders(yes) if o.side is Side.BUY)
            assert w.taker.limit(no, "BUY", str(1 - bid.price), "10", now_ms=w.now_ms()).ok
            await wait_until(w, lambda: w.held(yes) == D(10), limit=30)
            assert w.true_position(yes) == D(10)
            assert core.token_exposure(yes).worst <= D(10)
            await wait_until(w, lambda: w.held(yes) == D(0), limit=60)
            assert w.true_position(yes) == D(0)
            assert w.max_seen(yes) <= D(10)
    reversed_ = [e for e in w.ledger() if e.type == "fill.reversed"]
    assert len(reversed_) == 1
