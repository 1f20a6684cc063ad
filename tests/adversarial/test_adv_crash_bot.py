"""The whole bot and the in-process simulator (MockClock): a kill -9 right after a fill aqbot never heard of.

The ledger of a killed process ends wherever its last write did: here, after the startup snapshot and the
reservation of a BUY, but before any later snapshot and without the user-channel messages of the fill
(dropped on the wire), and the Data API is down. The restarted bot must count the fill from the REST trades
(B2, docs/review-limits.md) before it quotes, and the exchange's own position (the simulator's books: L2)
must never pass the limit afterwards. Before the fix (``e2526c0``) the bot bought another 10.
"""

from __future__ import annotations

import functools
import random
import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import trio
import trio.testing

from aqbot.app import BotTimers, ExchangeConnectors, run_bot
from aqbot.app_state import BotHandle
from aqbot.core.lifecycle import OrderState
from aqbot.core.types import Side
from aqbot.run import params_for_sim
from aqbot.sim.faults import RestAction, WsAction
from aqbot.sim.market import AccountConfig
from aqbot.sim.runner import SimConfig, run_inprocess_simulator
from aqbot.sim.testkit import Trader

D = Decimal
ONE = 1_000_000
LIMIT = D(10)


async def _inline(fn: Callable[[], object]) -> object:
    await trio.lowlevel.checkpoint()
    return fn()


async def _until(handle: BotHandle, predicate: Callable[[], bool], limit: float = 120.0) -> None:
    with trio.fail_after(limit):
        seen = handle.hub.version
        while not predicate():
            with trio.move_on_after(1.0):
                seen = await handle.hub.wait_changed(seen)


@attrs.define
class Faults:
    """The simulator's fault plan with scripted overrides (``ws`` / ``rest`` return None to defer)."""

    inner: Any
    ws: Callable[[str, str, int], WsAction | None] = lambda channel, key, now_ms: None
    rest: Callable[[str, str, int], RestAction | None] = lambda method, path, now_ms: None

    @classmethod
    def install(cls, sim: Any) -> Faults:
        faults = cls(sim.hub._faults)
        sim.hub._faults = faults
        sim.connector.app.faults = faults
        return faults

    def ws_action(self, channel: str, key: str, now_ms: int) -> WsAction:
        action = self.ws(channel, key, now_ms)
        chosen: WsAction = self.inner.ws_action(channel, key, now_ms) if action is None else action
        return chosen

    def rest_action(self, method: str, path: str, now_ms: int) -> RestAction:
        action = self.rest(method, path, now_ms)
        chosen: RestAction = self.inner.rest_action(method, path, now_ms) if action is None else action
        return chosen

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _copy_ledger(src: Path, dst: Path) -> None:
    """What a kill -9 leaves on disk at this instant (writes run inline: the files are consistent)."""
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{src}{suffix}").exists():
            shutil.copyfile(f"{src}{suffix}", f"{dst}{suffix}")


async def test_restart_counts_a_fill_lost_with_the_process(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    config = SimConfig(seed=7, markets=1, accounts=3, flow=False)
    live_ledger, killed_ledger = tmp_path / "live.sqlite3", tmp_path / "killed.sqlite3"
    with trio.fail_after(1200):
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(run_inprocess_simulator, config)
            faults = Faults.install(sim)
            acct = sim.accounts[2]
            taker = Trader(
                sim.engine,
                AccountConfig(owner=acct.api_key, address=acct.funder, signer=acct.address, pusd=acct.pusd),
                random.Random(2),
            )
            yes, no = (str(t["token_id"]) for t in sim.info.markets[0]["tokens"])
            for token in (yes, no):
                assert taker.limit(token, "BUY", "0.40", "100").ok
            timers = BotTimers(market_silence=None, shutdown_grace=2.0, snapshot_interval=3600.0)
            params = params_for_sim(
                sim, live_ledger, max_position=LIMIT, ledger_synchronous="NORMAL", timers=timers
            )
            owner = params.creds.api_key
            connectors = ExchangeConnectors.simulator(sim)

            async with trio.open_nursery() as first:
                handle = await first.start(functools.partial(run_bot, params, connectors, offload=_inline))
                core = handle.hub.core
                await _until(handle, lambda: any(o.state is OrderState.LIVE for o in core.open_orders(yes)))
                bid = next(o for o in core.open_orders(yes) if o.side is Side.BUY)
                faults.ws = lambda channel, key, now_ms: WsAction("drop") if channel == "user" else None
                size = str(bid.original_size)
                assert taker.limit(no, "BUY", str(1 - bid.price), size, now_ms=sim.now_ms()).ok
                assert sim.engine.true_position(owner, yes) == int(bid.original_size * ONE)
                assert core.token_exposure(yes).held == 0  # the fill never reached the bot
                _copy_ledger(live_ledger, killed_ledger)  # kill -9 now
                faults.rest = lambda method, path, now_ms: RestAction("timeout_not_applied")
                first.cancel_scope.cancel()
            faults.ws = lambda channel, key, now_ms: None
            # The Data API is down (or lags): the positions backstop cannot paper over a lost fill.
            faults.rest = lambda method, path, now_ms: (
                RestAction("error5xx", status=503) if path.startswith("/positions") else None
            )

            restarted = params_for_sim(
                sim, killed_ledger, max_position=LIMIT, ledger_synchronous="NORMAL", timers=timers
            )
            async with trio.open_nursery() as second:
                handle2 = await second.start(
                    functools.partial(run_bot, restarted, connectors, offload=_inline)
                )  # returns after the startup reconciliation, before any quote
                core2 = handle2.hub.core
                assert core2.token_exposure(yes).held == bid.original_size
                for _ in range(20):  # held = limit: the restarted bot must not bid YES at all
                    await trio.sleep(1)
                    assert core2.token_exposure(yes).worst <= LIMIT
                placed = [o for o in core2.tracker.orders.values() if o.token == yes and o.side is Side.BUY]
                assert [o.order_id for o in placed] == [bid.order_id]  # only the lost order, adopted
                handle2.request_shutdown()
            assert sim.engine.max_position_seen(owner, yes) <= int(LIMIT * ONE)
            nursery.cancel_scope.cancel()
