"""Exchange modes and the dead-man switch: 425 restart + post-only window, 503 cancel-only, heartbeat loss."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import trio
import trio.testing
from scenario_world import wait_until, world

from aqbot.core.halts import HaltReason
from aqbot.core.lifecycle import OrderState
from aqbot.core.strategy import SkewedMidStrategy, StrategyConfig
from aqbot.sim.faults import RestAction

D = Decimal
WIDER = SkewedMidStrategy(StrategyConfig(half_spread_ticks=4, size=D(10)))


def _live(w: object) -> bool:
    core = w.bot.hub.core  # type: ignore[attr-defined]
    return any(o.state is OrderState.LIVE for o in core.open_orders())


async def test_restart_425_halts_then_resumes(autojump_clock: trio.testing.MockClock, tmp_path: Path) -> None:
    """During a 90 s engine restart every order endpoint answers 425: the bot latches
    EXCHANGE_UNAVAILABLE, places nothing that rests, and resumes quoting (post-only) once it is over."""
    with trio.fail_after(900):
        async with world(tmp_path, max_position=D(20)) as w:
            core = w.bot.hub.core
            market = w.params.markets[0].condition_id
            await wait_until(w, lambda: _live(w))
            restart_at = w.now_ms()
            before = {o["id"] for o in w.sim.engine.open_orders(w.owner)}
            w.sim.engine.trigger_restart(restart_at)
            # the taker cannot trade either: an operator re-configuration makes the bot requote
            w.bot.quotes.strategy = WIDER
            restart_end = restart_at + w.sim.engine.faults.config.restart_ms
            await wait_until(w, lambda: HaltReason.EXCHANGE_UNAVAILABLE in core.can_quote(market, 0).reasons)
            during = {o["id"] for o in w.sim.engine.open_orders(w.owner)}
            assert during <= before  # nothing new rests during the restart
            await wait_until(w, lambda: w.now_ms() > restart_end and _live(w), limit=400)
            assert all(
                int(o["created_at"]) * 1000 >= restart_end - 1000 for o in w.sim.engine.open_orders(w.owner)
            )
            for token in w.params.markets[0].tokens:
                assert w.max_seen(token) <= D(20)


async def test_cancel_only_503_cancels_quotes(autojump_clock: trio.testing.MockClock, tmp_path: Path) -> None:
    """Cancel-only mode (503 on new orders): the bot halts, its resting quotes are cancelled (cancels are
    still accepted) and the refused placements stay reserved until reconciled; quoting resumes after."""
    with trio.fail_after(900):
        async with world(tmp_path, max_position=D(20), reconcile_interval=20.0) as w:
            core = w.bot.hub.core
            market = w.params.markets[0].condition_id
            await wait_until(w, lambda: _live(w))
            w.sim.engine.trigger_cancel_only(w.now_ms(), 40_000)
            # the taker cannot trade either: an operator re-configuration makes the bot requote
            w.bot.quotes.strategy = WIDER
            await wait_until(w, lambda: HaltReason.EXCHANGE_UNAVAILABLE in core.can_quote(market, 0).reasons)
            await wait_until(w, lambda: w.sim.engine.open_orders(w.owner) == [], limit=30)
            await wait_until(w, lambda: _live(w), limit=400)
            for token in w.params.markets[0].tokens:
                assert core.token_exposure(token).worst <= D(20)
                assert w.max_seen(token) <= D(20)


async def test_heartbeat_loss_exchange_cancels_bot_notices(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    """Heartbeats stop reaching the exchange for 20 s: the exchange's dead-man switch cancels every order;
    the bot latches a halt on the lapse, learns the cancellations, and resumes when beats get through."""
    with trio.fail_after(900):
        async with world(tmp_path, max_position=D(20)) as w:
            core = w.bot.hub.core
            await wait_until(w, lambda: _live(w))
            start = w.now_ms()

            def lose_beats(method: str, path: str, now_ms: int) -> RestAction | None:
                # heartbeats AND the bot's own cancels are lost: only the exchange's switch can cancel
                lost = path == "/v1/heartbeats" or method == "DELETE"
                return RestAction("timeout_not_applied") if lost and now_ms < start + 20_000 else None

            w.faults.rest = lose_beats
            await wait_until(w, lambda: w.sim.engine.open_orders(w.owner) == [], limit=30)
            await wait_until(
                w, lambda: not any(o.state is OrderState.LIVE for o in core.open_orders()), limit=30
            )
            halted = core.halts.active
            assert any(
                h.reason is HaltReason.EXCHANGE_UNAVAILABLE and h.scope.key == "heartbeat" for h in halted
            )
            await wait_until(w, lambda: _live(w), limit=120)
            assert w.now_ms() >= start + 20_000
    tape = w.sim.tape.getbytes().decode()
    assert "heartbeat_timeout" in tape
