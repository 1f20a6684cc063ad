"""Whole-system scenario harness: the bot and the simulator in one ``trio.run`` under MockClock.

Everything runs over memory streams (no sockets), and the ledger's blocking calls run inline (no thread
in flight), so the autojump clock is exact and the same seed gives the same run.

``world(...)`` starts the in-process simulator and the bot, and yields a :class:`World`: the simulator
handle (ground truth: ``engine.true_position``/``max_position_seen``), the bot handle, a direct-to-engine
``taker`` account, and :class:`ScriptedFaults` to inject exactly one transport fault.
"""

from __future__ import annotations

import functools
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import attrs
import trio

from aqbot.app import BotParams, BotTimers, ExchangeConnectors, run_bot
from aqbot.app_state import BotHandle
from aqbot.io.ledger import LedgerStore
from aqbot.io.ledger_events import LedgerEvent
from aqbot.run import params_for_sim
from aqbot.sim.faults import RestAction, WsAction
from aqbot.sim.market import AccountConfig
from aqbot.sim.runner import SimConfig, SimHandle, run_inprocess_simulator
from aqbot.sim.testkit import Trader

T = TypeVar("T")
ONE = 1_000_000


async def inline(fn: Callable[[], T]) -> T:
    """Run a blocking call inline (no thread in flight: the autojump clock stays exact)."""
    await trio.lowlevel.checkpoint()
    return fn()


@attrs.define
class ScriptedFaults:
    """Wraps the simulator's fault plan: ``ws`` / ``rest`` callables may override a decision."""

    inner: Any
    ws: Callable[[str, str, int], WsAction | None] = lambda channel, key, now_ms: None
    rest: Callable[[str, str, int], RestAction | None] = lambda method, path, now_ms: None
    fired: list[str] = attrs.Factory(list)

    def ws_action(self, channel: str, key: str, now_ms: int) -> WsAction:
        action = self.ws(channel, key, now_ms)
        if action is not None:
            self.fired.append(f"ws:{channel}:{action.kind}")
            return action
        result: WsAction = self.inner.ws_action(channel, key, now_ms)
        return result

    def rest_action(self, method: str, path: str, now_ms: int) -> RestAction:
        action = self.rest(method, path, now_ms)
        if action is not None:
            self.fired.append(f"rest:{method} {path}:{action.kind}")
            return action
        result: RestAction = self.inner.rest_action(method, path, now_ms)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@attrs.define
class World:
    sim: SimHandle
    bot: BotHandle
    params: BotParams
    faults: ScriptedFaults
    taker: Trader
    ledger_path: Path

    @property
    def owner(self) -> str:
        return self.params.creds.api_key

    def true_position(self, token: str) -> Decimal:
        return Decimal(self.sim.engine.true_position(self.owner, token)) / ONE

    def max_seen(self, token: str) -> Decimal:
        return Decimal(self.sim.engine.max_position_seen(self.owner, token)) / ONE

    def held(self, token: str) -> Decimal:
        return self.bot.hub.core.token_exposure(token).held

    def ledger(self) -> list[LedgerEvent]:
        with LedgerStore.open(self.ledger_path) as store:
            return store.query()

    def now_ms(self) -> int:
        return self.sim.now_ms()


def install_faults(sim: SimHandle) -> ScriptedFaults:
    scripted = ScriptedFaults(sim.hub._faults)
    sim.hub._faults = scripted
    sim.connector.app.faults = scripted  # type: ignore[attr-defined]
    return scripted


def taker_of(sim: SimHandle, index: int) -> Trader:
    acct = sim.accounts[index]
    config = AccountConfig(owner=acct.api_key, address=acct.funder, signer=acct.address, pusd=acct.pusd)
    return Trader(sim.engine, config, random.Random(index))


@asynccontextmanager
async def world(
    tmp_path: Path,
    *,
    sim_config: SimConfig | None = None,
    book: bool = True,
    before_bot: Callable[[SimHandle, ScriptedFaults], None] | None = None,
    offload: Callable[[Callable[[], Any]], Any] = inline,
    **params: Any,
) -> AsyncIterator[World]:
    """Start the simulator (3 accounts: 0 is the bot, 2 an EOA taker) and the bot; yield the world.

    With ``book=True`` the taker rests BUY YES 100 @0.40 and BUY NO 100 @0.40 (= SELL YES @0.60) on
    market 0 first, so the bot has a mid (0.50) to quote around when there is no synthetic flow.
    """
    config = sim_config or SimConfig(seed=5, markets=1, accounts=3, flow=False)
    ledger_path = tmp_path / "ledger.sqlite3"
    async with trio.open_nursery() as nursery:
        sim = await nursery.start(run_inprocess_simulator, config)
        faults = install_faults(sim)
        taker = taker_of(sim, 2)
        if book:
            for token in sim.info.markets[0]["tokens"]:
                assert taker.limit(str(token["token_id"]), "BUY", "0.40", "100").ok
        if before_bot is not None:
            before_bot(sim, faults)
        params.setdefault("ledger_synchronous", "NORMAL")
        params.setdefault("timers", BotTimers())  # quiet books (no flow): the watchdog verifies by REST
        bot_params = params_for_sim(sim, ledger_path, **params)
        connectors = ExchangeConnectors.simulator(sim)
        async with trio.open_nursery() as bot_nursery:
            bot = await bot_nursery.start(functools.partial(run_bot, bot_params, connectors, offload=offload))
            try:
                yield World(sim, bot, bot_params, faults, taker, ledger_path)
            finally:
                bot.request_shutdown()
        nursery.cancel_scope.cancel()


def yes_no(w: World, market: int = 0) -> tuple[str, str]:
    m = w.sim.info.markets[market]
    return str(m["tokens"][0]["token_id"]), str(m["tokens"][1]["token_id"])


async def wait_until(w: World, predicate: Callable[[], bool], *, limit: float = 600.0) -> float:
    """Wait (virtual time, bounded) until ``predicate()`` holds after some core change; return the time."""
    with trio.fail_after(limit):
        seen = w.bot.hub.version
        while not predicate():
            with trio.move_on_after(1.0):
                seen = await w.bot.hub.wait_changed(seen)
    return trio.current_time()
