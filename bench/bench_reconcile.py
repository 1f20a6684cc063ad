"""Reconciliation: 1,000 open orders + 10,000 trades across pages, one full reconciliation, in CPU seconds.

Setup (untimed): the in-process simulator (:func:`aqbot.sim.runner.run_inprocess_simulator`, one market,
no flow, no faults) is seeded directly through its engine: aqbot's account (simulator account 0, the same
one a paper run trades) rests ``OPEN_ORDERS`` BUY orders away from the market and makes ``TRADES`` trades
as a maker against a second account. The bot's own REST client then reads every page once through the
simulator's ASGI app (100 rows a page), and the answers are recorded.

The timed loops replay those recorded answers from an ``httpx2`` transport, so the simulator's serving
cost stays out of the figure; they are interleaved per repetition:

* ``reconcile``: a fresh :class:`~aqbot.core.engine.Core` behind the runtime's :class:`~aqbot.io.hub.Hub`
  (a bot at startup, every order unknown), then one :meth:`aqbot.io.reconcile.Reconciler.reconcile_once`:
  every page of ``/data/orders`` and ``/data/trades`` through :class:`~aqbot.io.rest_api.ClobApi` (rate
  limiter, L2 headers, ``aqbot.wire`` decoding), the :mod:`aqbot.io.edge` snapshot, and the core applying it
  (adoptions, fills, the grace rule), every fact recorded for the ledger;
* ``bare``: the same pages fetched with the same ``httpx2`` client and transport, ``json.loads`` only.

Both loops run under the running bot's collector settings (:mod:`aqbot.gc_policy`: the bot's reconciler
runs after it is entered, the startup one included); ``default_gc`` is ``reconcile`` again with CPython's.
Figures: CPU seconds (``time.process_time``) and wall seconds per loop; the ratio reconcile / bare.
Positions (the Data API, best effort) are left out. Goal: <= 1 s CPU.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import httpx2
import trio

from aqbot import gc_policy
from aqbot.core.engine import Core
from aqbot.core.events import Channel
from aqbot.io.hub import Hub
from aqbot.io.ratelimit import RateLimiter
from aqbot.io.reconcile import Reconciler
from aqbot.io.rest import RestTransport
from aqbot.io.rest_api import ClobApi, CredsSigner
from aqbot.run import params_for_sim
from aqbot.sim.market import AccountConfig
from aqbot.sim.runner import SimConfig, SimHandle, run_inprocess_simulator
from aqbot.sim.testkit import Trader
from aqbot.sim.units import ONE
from bench._common import interleaved, median, profile_top, quiet_logs, ratio, scaled

FULL_ORDERS = 1000
FULL_TRADES = 10_000
REPEATS = 3
GOAL_CPU_S = 1.0
UNIX_NOW = 1_767_230_000  # the watermark clock, fixed so every run asks for the same pages


@attrs.frozen
class Recorded:
    status: int
    headers: tuple[tuple[str, str], ...]
    content: bytes


@attrs.define
class RecordingTransport(httpx2.AsyncBaseTransport):
    """Forwards to the simulator and records each answer by method and URL path + query."""

    inner: httpx2.AsyncBaseTransport
    answers: dict[tuple[str, str], Recorded] = attrs.Factory(dict)
    order: list[tuple[str, str]] = attrs.Factory(list)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        key = (request.method, request.url.raw_path.decode())
        self.answers[key] = Recorded(response.status_code, tuple(response.headers.items()), content)
        self.order.append(key)
        return httpx2.Response(response.status_code, headers=response.headers, content=content)


@attrs.define
class ReplayTransport(httpx2.AsyncBaseTransport):
    """Answers each request with the recorded answer for its method and URL."""

    answers: dict[tuple[str, str], Recorded]

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        await request.aread()
        found = self.answers[(request.method, request.url.raw_path.decode())]
        return httpx2.Response(found.status, headers=list(found.headers), content=found.content)


@attrs.frozen
class Setup:
    answers: dict[tuple[str, str], Recorded]
    order: tuple[tuple[str, str], ...]
    params: Any
    rows: int


def _seed(sim: SimHandle, params: Any, open_orders: int, trades: int) -> None:
    """Rest ``open_orders`` orders of aqbot and make ``trades`` trades with aqbot as the maker."""
    engine = sim.engine
    spec = params.markets[0]
    acct = sim.info.accounts[0]
    rng = random.Random(7)
    bot = Trader(engine, AccountConfig(owner=acct.api_key, address=acct.funder, signer=acct.address), rng)
    taker_cfg = AccountConfig(
        owner="bench-taker", address="0x" + "7" * 40, signer="0x" + "7" * 40, pusd=10**9 * ONE
    )
    engine.add_account(taker_cfg)
    taker = Trader(engine, taker_cfg, rng)
    now = sim.now_ms()
    for i in range(open_orders):
        price = f"0.{10 + i % 20:02d}"
        reply = bot.limit(spec.yes_token, "BUY", price, "5", now_ms=now)
        if not reply.ok:
            raise RuntimeError(f"bench setup: resting order refused: {reply.body}")
    for _ in range(trades):
        bot.limit(spec.yes_token, "BUY", "0.50", "5", now_ms=now)
        reply = taker.limit(spec.no_token, "BUY", "0.50", "5", now_ms=now)
        if not reply.ok:
            raise RuntimeError(f"bench setup: taker refused: {reply.body}")
    engine.drain_events()


def _reconciler(params: Any, http: httpx2.AsyncClient) -> tuple[Reconciler, Hub]:
    hub = Hub(Core(params.core, params.markets, trio.current_time()))
    hub.apply(hub.core.on_channel_up(Channel.USER, trio.current_time()))
    rest = RestTransport(http, RateLimiter(), CredsSigner(params.creds, params.address), random.Random(1))
    markets = [m.condition_id for m in params.markets]
    return Reconciler(ClobApi(rest), hub, params.identity, lambda: UNIX_NOW, markets), hub


async def _record(open_orders: int, trades: int, ledger: Path) -> Setup:
    config = SimConfig(seed=3, markets=1, flow=False, accounts=2, account_pusd="100000000")
    async with trio.open_nursery() as nursery:
        sim: SimHandle = await nursery.start(run_inprocess_simulator, config)
        params = params_for_sim(sim, ledger, max_position=Decimal(10**9), markets=1)
        _seed(sim, params, open_orders, trades)
        recorder = RecordingTransport(sim.connector.http_transport())
        async with httpx2.AsyncClient(transport=recorder, base_url=sim.info.rest_url) as http:
            reconciler, hub = _reconciler(params, http)
            if not await reconciler.reconcile_once():
                raise RuntimeError(f"bench setup: reconciliation failed: {reconciler.stats.last_error}")
        nursery.cancel_scope.cancel()
    rows = len(hub.core.open_orders())
    return Setup(recorder.answers, tuple(recorder.order), params, rows)


async def _reconcile(setup: Setup) -> tuple[float, float, int]:
    transport = ReplayTransport(setup.answers)
    async with httpx2.AsyncClient(transport=transport, base_url="http://clob.sim.test") as http:
        reconciler, hub = _reconciler(setup.params, http)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        ok = await reconciler.reconcile_once()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    if not ok:
        raise RuntimeError(f"reconciliation failed: {reconciler.stats.last_error}")
    return cpu, wall, len(hub.core.open_orders())


async def _bare(setup: Setup) -> tuple[float, float, int]:
    transport = ReplayTransport(setup.answers)
    rows = 0
    async with httpx2.AsyncClient(transport=transport, base_url="http://clob.sim.test") as http:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for method, url in setup.order:
            response = await http.request(method, url)
            page = json.loads(response.content)
            rows += len(page.get("data", ())) if isinstance(page, dict) else 0
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return cpu, wall, rows


def run(scale: float = 1.0) -> dict[str, Any]:
    """Record the pages, then time the reconciliation and the bare fetch interleaved (see the docstring)."""
    open_orders = scaled(FULL_ORDERS, scale, 20)
    trades = scaled(FULL_TRADES, scale, 100)
    repeats = REPEATS if scale >= 0.2 else 2
    with tempfile.TemporaryDirectory(prefix="aqbot-bench-reconcile-") as tmpdir, quiet_logs():
        setup = trio.run(_record, open_orders, trades, Path(tmpdir) / "unused.sqlite3")
    results: dict[str, list[tuple[float, float, int]]] = {"reconcile": [], "bare": [], "default_gc": []}

    def reconcile() -> float:
        with quiet_logs(), gc_policy.running():  # as the running bot's reconciler (aqbot.gc_policy)
            results["reconcile"].append(trio.run(_reconcile, setup))
        return results["reconcile"][-1][0]

    def default_gc() -> float:  # the same with CPython's collector settings (what the policy saves)
        with quiet_logs():
            results["default_gc"].append(trio.run(_reconcile, setup))
        return results["default_gc"][-1][0]

    def bare() -> float:
        with gc_policy.running():
            results["bare"].append(trio.run(_bare, setup))
        return results["bare"][-1][0]

    cpu = interleaved({"reconcile": reconcile, "bare": bare, "default_gc": default_gc}, repeats)
    with quiet_logs():
        prof = profile_top(lambda: trio.run(_reconcile, setup))
    wall = {k: [r[1] for r in v] for k, v in results.items()}
    r_cpu = ratio(cpu["reconcile"], cpu["bare"])
    r_wall = ratio(wall["reconcile"], wall["bare"])
    cpu_med = median(cpu["reconcile"])
    adopted = results["reconcile"][-1][2]
    return {
        "open_orders": open_orders,
        "trades": trades,
        "pages": len(setup.order),
        "repeats": repeats,
        "open_orders_in_core_after": adopted,
        "reconcile_cpu_s": round(cpu_med, 3),
        "reconcile_wall_s": round(median(wall["reconcile"]), 3),
        "reconcile_cpu_s_default_gc": round(median(cpu["default_gc"]), 3),
        "bare_fetch_cpu_s": round(median(cpu["bare"]), 3),
        "bare_fetch_wall_s": round(median(wall["bare"]), 3),
        "ratio_cpu_vs_bare": round(r_cpu[0], 2),
        "ratio_cpu_vs_bare_range": [round(r_cpu[1], 2), round(r_cpu[2], 2)],
        "ratio_wall_vs_bare": round(r_wall[0], 2),
        "profile_top": prof["self"],
        "profile_aqbot_total": prof["aqbot_total"],
        "headline": (
            f"{cpu_med:.2f} s CPU for {open_orders:,} orders + {trades:,} trades = "
            f"{r_cpu[0]:.1f}x bare fetch+json ({median(cpu['bare']):.2f} s); "
            f"{median(cpu['default_gc']):.2f} s with CPython's GC settings"
        ),
        "goal": f"<= {GOAL_CPU_S:g} s CPU",
        "goal_met": cpu_med <= GOAL_CPU_S,
    }


if __name__ == "__main__":
    print(json.dumps(run(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0), indent=2))
