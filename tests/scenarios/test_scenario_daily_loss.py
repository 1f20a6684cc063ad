"""DAILY_LOSS end to end: the in-process simulator starts 10 minutes before a UTC midnight; the bot buys
10 YES, the market falls under it, the core's PnL book crosses the daily loss limit and halts (resting
quotes cancelled, no BUY sent). A crash and restart the same day keep the halt and the day's loss; the
UTC midnight clears it and quoting resumes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import trio
import trio.testing
from scenario_world import inline, install_faults, taker_of

from aqbot.app import BotTimers, ExchangeConnectors, run_bot
from aqbot.app_state import BotHandle
from aqbot.core.halts import HaltReason
from aqbot.core.lifecycle import OrderState
from aqbot.core.types import Side
from aqbot.io.ledger import LedgerStore
from aqbot.run import params_for_sim
from aqbot.sim.runner import DEFAULT_EPOCH_MS, SimConfig, run_inprocess_simulator
from aqbot.sim.testkit import order_id_of

D = Decimal
MIDNIGHT_MS = DEFAULT_EPOCH_MS + 86_400_000  # DEFAULT_EPOCH_MS is itself a UTC midnight
DL = HaltReason.DAILY_LOSS


async def _until(handle: BotHandle, predicate: Callable[[], bool], limit: float = 900.0) -> None:
    with trio.fail_after(limit):
        seen = handle.hub.version
        while not predicate():
            with trio.move_on_after(1.0):
                seen = await handle.hub.wait_changed(seen)


def _halted(handle: BotHandle) -> bool:
    return any(h.reason is DL for h in handle.hub.core.halts.active)


async def test_daily_loss_halts_buys_survives_a_restart_and_clears_at_utc_midnight(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    assert MIDNIGHT_MS % 86_400_000 == 0
    ledger = tmp_path / "ledger.sqlite3"
    config = SimConfig(seed=5, markets=1, accounts=3, flow=False, start_epoch_ms=MIDNIGHT_MS - 600_000)
    with trio.fail_after(3000):
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(run_inprocess_simulator, config)
            install_faults(sim)
            taker = taker_of(sim, 2)
            yes, no = (str(t["token_id"]) for t in sim.info.markets[0]["tokens"])
            taker_bid = order_id_of(taker.limit(yes, "BUY", "0.40", "100"))
            assert taker.limit(no, "BUY", "0.40", "100").ok  # = SELL YES @0.60
            params = params_for_sim(
                sim, ledger, max_position=D(20), ledger_synchronous="NORMAL",
                timers=BotTimers(market_silence=None, shutdown_grace=2.0), daily_loss_limit=D(1),
            )  # fmt: skip
            owner = params.creds.api_key
            bot = functools.partial(run_bot, params, ExchangeConnectors.simulator(sim), offload=inline)

            async with trio.open_nursery() as first:
                handle = await first.start(bot)
                core = handle.hub.core
                assert core.pnl.day == (MIDNIGHT_MS - 1) // 86_400_000  # the sim's wall clock, not the host's

                def live_bid() -> bool:
                    return any(
                        o.side is Side.BUY and o.state is OrderState.LIVE for o in core.open_orders(yes)
                    )

                await _until(handle, live_bid)
                bid = next(o for o in core.open_orders(yes) if o.side is Side.BUY)
                assert taker.limit(no, "BUY", str(1 - bid.price), "10", now_ms=sim.now_ms()).ok
                await _until(handle, lambda: core.token_exposure(yes).held == D(10))
                await trio.sleep(3)  # marked at the others' best bid, 0.40: a loss under the limit
                assert not _halted(handle)
                assert -1 < handle.state().pnl.daily < 0  # type: ignore[operator]
                # The market falls: the only other YES bid goes from 0.40 to 0.20.
                assert taker.cancel(taker_bid, now_ms=sim.now_ms()).status == 200
                assert taker.limit(yes, "BUY", "0.20", "100", now_ms=sim.now_ms()).ok
                await _until(handle, lambda: _halted(handle))
                assert sim.now_ms() < MIDNIGHT_MS
                state = handle.state()
                assert state.pnl.daily is not None
                assert state.pnl.daily <= -1
                assert state.pnl.daily == (D("0.20") - bid.price) * 10
                assert state.pnl.daily_loss_limit == D(1)
                await _until(handle, lambda: not core.open_orders())  # resting quotes cancelled, confirmed
                assert sim.engine.open_orders(owner) == []
                await trio.sleep(30)
                assert sim.engine.open_orders(owner) == []  # and none placed since
                first.cancel_scope.cancel()  # the crash (same UTC day)

            with LedgerStore.open(ledger) as store:
                rows = store.query()
            halt = next(r for r in rows if r.type == "halt" and r.payload["reason"] == "DAILY_LOSS")
            assert "daily PnL" in halt.payload["detail"]
            assert not [r for r in rows if r.type == "resume" and r.payload["reason"] == "DAILY_LOSS"]
            buys_after = [
                r
                for r in rows
                if r.type == "command.place" and r.seq > halt.seq and r.payload["side"] == "BUY"
            ]
            assert buys_after == []

            async with trio.open_nursery() as second:
                handle2 = await second.start(bot)
                core2 = handle2.hub.core
                assert sim.now_ms() < MIDNIGHT_MS
                assert _halted(handle2)  # the restart neither clears the halt nor resets the day
                assert core2.pnl.daily() == state.pnl.daily
                assert not core2.can_quote(yes, trio.current_time()).allowed
                await _until(handle2, lambda: not _halted(handle2))
                assert sim.now_ms() >= MIDNIGHT_MS  # cleared by the new UTC day only
                assert handle2.state().pnl.daily == 0
                await _until(handle2, lambda: any(o.side is Side.BUY for o in core2.open_orders()))
                handle2.request_shutdown()

            with LedgerStore.open(ledger) as store:
                rows = store.query(type="resume")
                snapshots = store.query(type="snapshot")
            resumes = [r for r in rows if r.payload["reason"] == "DAILY_LOSS"]
            assert len(resumes) == 1
            # The new day's baseline is snapshotted at once, in the row right after the resume (a crash
            # right after midnight cannot lose it).
            after = next(s for s in snapshots if s.seq == resumes[0].seq + 1)  # type: ignore[operator]
            assert after.payload["state"]["pnl"]["day"] == MIDNIGHT_MS // 86_400_000
            nursery.cancel_scope.cancel()
