"""Run a whole simulator: engine, synthetic flow, clock, REST app, WebSocket hub and tape (both modes).

* :func:`run_inprocess_simulator` serves over memory (:class:`~aqbot.sim.inproc.MemoryNetwork`): use it
  under ``trio.testing.MockClock(autojump_threshold=0)`` for deterministic, faster-than-real-time runs.
* :func:`run_loopback_simulator` serves REST with hypercorn's Trio worker and the WebSockets with
  ``trio_websocket.serve_websocket`` on a second port, both on ``config.host`` (port 0 = ephemeral; the
  handle reports the real ports).

Both ``task_status.started(handle)`` with a :class:`SimHandle` (URLs, accounts, markets, a connector for
the bot's runtime, the engine and tape for ground-truth checks) and run until cancelled.

**Time.** Simulated ms = ``start_epoch_ms + (trio.current_time() - t0) * 1000``: virtual under MockClock,
real on loopback. ``start_epoch_ms`` defaults to a fixed epoch in process (deterministic) and to the wall
clock on loopback (so SDK-computed GTD expirations make sense). One driver task advances the engine and
the flow every ``tick_ms`` and fans their events out; REST handlers call the engine in their own task.

**Determinism.** In process, the same config gives the same tape bytes. Trio itself randomizes the order
of tasks woken at the same instant, so by default the in-process runner seeds Trio's scheduler (the hook
that Trio exposes for Hypothesis) from the run's seed; see :func:`seed_trio_scheduler`.
"""

from __future__ import annotations

import logging
import random
import time
from functools import partial
from typing import Final, NoReturn

import attrs
import trio
import trio_websocket
from hypercorn.config import Config as HyperConfig
from hypercorn.trio import serve

from aqbot.errors import ConfigError
from aqbot.sim.engine import Engine
from aqbot.sim.faults import PROFILES, FaultConfig, profile
from aqbot.sim.flow import Flow, FlowConfig
from aqbot.sim.info import CHAIN_ID, SimAccount, SimInfo, generate_accounts
from aqbot.sim.inproc import Connector, MemoryNetwork, SocketConnector
from aqbot.sim.market import AccountConfig, MarketConfig, random_market
from aqbot.sim.server import SimApp, TransportFaults
from aqbot.sim.server_auth import KeyRing
from aqbot.sim.server_routes import PAGE_SIZE, SimBackend
from aqbot.sim.tape import Tape
from aqbot.sim.units import parse_units
from aqbot.sim.ws import QUEUE_SIZE, WsHub

logger = logging.getLogger(__name__)

DEFAULT_EPOCH_MS: Final = 1_767_225_600_000
"""2026-01-01T00:00:00Z: the in-process default start (deterministic)."""
INPROC_REST_URL: Final = "http://clob.sim.test"
INPROC_WS_URL: Final = "ws://ws.sim.test"
MARKET_TICKS: Final = ("0.01", "0.01", "0.001", "0.01")


@attrs.frozen
class SimConfig:
    """Everything that defines a simulator run.

    Attributes:
        seed: the seed of every random stream (markets, accounts, flow, faults).
        markets: number of binary markets (market 1 is neg-risk, market 2 has a 0.001 tick).
        faults: fault profile name: ``none``, ``mild`` or ``chaos``.
        accounts: number of pre-funded trading accounts (even: EOA, odd: Gnosis Safe).
        account_pusd: pUSD per account (decimal string).
        account_shares: outcome tokens of every market per account (decimal string, "0" = none).
        flow: run the synthetic market (background makers and takers).
        tick_ms: how often the driver advances the engine and the flow (simulated ms).
        page_size: rows per page of ``/data/orders`` and ``/data/trades``.
        start_epoch_ms: simulated time at start; None = fixed epoch in process, wall clock on loopback.
        host: loopback bind address.
        port: REST port (0 = ephemeral).
        ws_port: WebSocket port (0 = ephemeral).
        deterministic_scheduling: in process, seed Trio's scheduler from ``seed``.
        fault_config: explicit fault knobs (overrides ``faults``; for tests and experiments).
        ws_queue_size: per-connection WebSocket queue bound before a slow client is disconnected.
    """

    seed: int = 1
    markets: int = 2
    faults: str = "none"
    accounts: int = 2
    account_pusd: str = "10000"
    account_shares: str = "0"
    flow: bool = True
    tick_ms: int = 100
    page_size: int = PAGE_SIZE
    start_epoch_ms: int | None = None
    host: str = "127.0.0.1"
    port: int = 0
    ws_port: int = 0
    deterministic_scheduling: bool = True
    fault_config: FaultConfig | None = None
    ws_queue_size: int = QUEUE_SIZE

    def __attrs_post_init__(self) -> None:
        checks = (
            ("markets", self.markets >= 1, "must be at least 1"),
            ("accounts", self.accounts >= 1, "must be at least 1"),
            ("faults", self.faults in PROFILES, f"must be one of {sorted(PROFILES)}"),
            ("tick_ms", self.tick_ms >= 1, "must be at least 1"),
            ("page_size", self.page_size >= 1, "must be at least 1"),
            ("ws_queue_size", self.ws_queue_size >= 1, "must be at least 1"),
            ("port", 0 <= self.port <= 65535, "must be a TCP port or 0"),
            ("ws_port", 0 <= self.ws_port <= 65535, "must be a TCP port or 0"),
        )
        for name, ok, problem in checks:
            if not ok:
                raise ConfigError(f"sim.{name}", problem)
        for name, text in (("account_pusd", self.account_pusd), ("account_shares", self.account_shares)):
            try:
                _units(text)
            except ValueError:
                raise ConfigError(f"sim.{name}", "must be a non-negative decimal") from None


@attrs.define(eq=False)
class SimHandle:
    """A running simulator, as handed to ``task_status.started``.

    Attributes:
        info: URLs, chain id, accounts (with credentials) and markets; what ``--info-file`` holds.
        connector: how a client reaches this simulator (memory or sockets): ``http_transport()`` and
            ``ws_connect(url)``.
        engine: the engine (ground truth: ``true_position``, ``summary``; do not mutate from a client).
        tape: the ground-truth tape (``getbytes()``, ``counts``, ``fault_counts``).
        hub: the WebSocket hub.
        clock: simulated now in ms.
        app: the REST ASGI application (served by hypercorn on loopback, called directly in process).
    """

    info: SimInfo
    connector: Connector
    engine: Engine
    tape: Tape
    hub: WsHub
    clock: SimClock
    app: SimApp

    def set_transport_faults(self, decider: TransportFaults) -> None:
        """Route every REST and WebSocket transport-fault decision through ``decider`` from now on.

        Engine-side faults (settlement, modes, races) stay with the engine's own plan.
        """
        self.app.faults = decider
        self.hub.faults = decider

    @property
    def accounts(self) -> tuple[SimAccount, ...]:
        return self.info.accounts

    def now_ms(self) -> int:
        return self.clock()


@attrs.define(eq=False)
class SimClock:
    """Simulated ms since the epoch, on Trio's clock: ``epoch_ms + (current_time() - t0) * 1000``."""

    epoch_ms: int
    t0: float

    def __call__(self) -> int:
        return self.epoch_ms + round((trio.current_time() - self.t0) * 1000)


def seed_trio_scheduler(seed: int) -> None:
    """Make Trio's choice among simultaneously runnable tasks a function of ``seed``.

    Trio shuffles each batch of runnable tasks with a module-level ``random.Random`` and, when a test
    framework asks for it (the hook Trio registers for Hypothesis), first sorts the batch by task creation
    order. Setting both makes a run under ``MockClock`` reproducible. This touches Trio private state
    (``trio._core._run``) for the whole process; it is only used in process, where reproducibility is the
    point. If Trio's internals change, it logs and does nothing.
    """
    import trio._core._run as trio_run

    rng = getattr(trio_run, "_r", None)
    if not isinstance(rng, random.Random) or not hasattr(trio_run, "_ALLOW_DETERMINISTIC_SCHEDULING"):
        logger.warning("cannot seed Trio's scheduler (internals changed); runs may not be reproducible")
        return
    setattr(trio_run, "_ALLOW_DETERMINISTIC_SCHEDULING", True)  # noqa: B010  (a Final in Trio)
    rng.seed(f"aqbot-sim-trio-{seed}")


def make_markets(seed: int, count: int) -> list[MarketConfig]:
    """``count`` seeded markets (index 1 neg-risk, index 2 on a 0.001 tick)."""
    rng = random.Random(f"sim-markets-{seed}")
    return [
        random_market(rng, i, tick_size=MARKET_TICKS[i % len(MARKET_TICKS)], neg_risk=(i % 4 == 1))
        for i in range(count)
    ]


def market_info(m: MarketConfig) -> dict[str, object]:
    """The info-file object of one market."""
    return {
        "condition_id": m.condition_id,
        "question": m.question,
        "tokens": [{"token_id": m.yes_token, "outcome": "Yes"}, {"token_id": m.no_token, "outcome": "No"}],
        "tick_size": m.tick_size,
        "min_order_size": m.min_order_size,
        "neg_risk": m.neg_risk,
    }


@attrs.define(eq=False)
class _Parts:
    engine: Engine
    flow: Flow | None
    keys: KeyRing
    hub: WsHub
    app: SimApp
    accounts: list[SimAccount]
    markets: list[MarketConfig]
    clock: SimClock


def _build(config: SimConfig, tape: Tape, epoch_ms: int) -> _Parts:
    clock = SimClock(epoch_ms=epoch_ms, t0=trio.current_time())
    markets = make_markets(config.seed, config.markets)
    pusd = _units(config.account_pusd)
    shares = _units(config.account_shares)
    accounts = generate_accounts(config.seed, config.accounts, pusd)
    configs = [
        AccountConfig(
            owner=a.api_key,
            address=a.funder,
            signer=a.address,
            pusd=a.pusd,
            tokens={t: shares for m in markets for t in (m.yes_token, m.no_token)} if shares else {},
        )
        for a in accounts
    ]
    engine = Engine(
        seed=config.seed,
        markets=markets,
        accounts=configs,
        fault_config=config.fault_config if config.fault_config is not None else profile(config.faults),
        tape=tape,
        start_ms=epoch_ms,
    )
    flow = Flow(engine, config.seed, FlowConfig()) if config.flow else None
    keys = KeyRing(config.seed, CHAIN_ID)
    for a in accounts:
        keys.register_account(a)
    hub = WsHub(engine.book_event, keys, engine.faults, tape, clock, queue_size=config.ws_queue_size)
    backend = SimBackend(
        engine=engine, keys=keys, clock=clock, publish=hub.publish, page_size=config.page_size
    )
    app = SimApp(backend, engine.faults)
    return _Parts(engine, flow, keys, hub, app, accounts, markets, clock)


def _units(text: str) -> int:
    return parse_units(text) if text not in ("", "0") else 0


async def run_engine_driver(
    engine: Engine,
    flow: Flow | None,
    hub: WsHub,
    clock: SimClock,
    tick_ms: int,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> NoReturn:
    """Every ``tick_ms`` of Trio time: run the flow, advance the engine, fan its events out.

    Runs until cancelled. Deadlines are absolute (``sleep_until``), so the tick never drifts.
    """
    step = tick_ms / 1000
    deadline = trio.current_time()
    task_status.started()
    while True:
        now = clock()
        if flow is not None:
            flow.step(now)
        engine.advance(now)
        events = engine.drain_events()
        if events:
            hub.publish(events)
        deadline += step
        await trio.sleep_until(deadline)


def _info(parts: _Parts, config: SimConfig, rest_url: str, ws_url: str) -> SimInfo:
    return SimInfo(
        rest_url=rest_url,
        ws_url=ws_url,
        data_api_url=rest_url,
        chain_id=CHAIN_ID,
        seed=config.seed,
        accounts=tuple(parts.accounts),
        markets=tuple(market_info(m) for m in parts.markets),
    )


async def run_inprocess_simulator(
    config: SimConfig,
    tape: Tape | None = None,
    *,
    task_status: trio.TaskStatus[SimHandle] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run a simulator over memory streams until cancelled; ``started(handle)`` once it serves.

    Args:
        config: the run's configuration.
        tape: where the tape goes (default: a fresh in-memory :class:`Tape`).
        task_status: receives the :class:`SimHandle`; its ``connector`` is a :class:`MemoryNetwork`.
    """
    if config.deterministic_scheduling:
        seed_trio_scheduler(config.seed)
    tape = tape if tape is not None else Tape()
    epoch = config.start_epoch_ms if config.start_epoch_ms is not None else DEFAULT_EPOCH_MS
    parts = _build(config, tape, epoch)
    network = MemoryNetwork(parts.app)
    server = trio_websocket.WebSocketServer(
        parts.hub.handle,
        [network.ws_listener],  # type: ignore[list-item]  # any trio Listener works (STYLE P8)
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run)
        nursery.start_soon(
            run_engine_driver,
            parts.engine,
            parts.flow,
            parts.hub,
            parts.clock,
            config.tick_ms,
            name="sim-driver",
        )
        info = _info(parts, config, INPROC_REST_URL, INPROC_WS_URL)
        task_status.started(SimHandle(info, network, parts.engine, tape, parts.hub, parts.clock, parts.app))


async def run_loopback_simulator(
    config: SimConfig,
    tape: Tape | None = None,
    *,
    task_status: trio.TaskStatus[SimHandle] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run a simulator on real sockets (REST via hypercorn, WS via trio-websocket) until cancelled.

    Args:
        config: the run's configuration (``host``, ``port``, ``ws_port``; 0 = ephemeral).
        tape: where the tape goes (default: a fresh in-memory :class:`Tape`).
        task_status: receives the :class:`SimHandle` with the real URLs and a :class:`SocketConnector`.
    """
    tape = tape if tape is not None else Tape()
    epoch = config.start_epoch_ms if config.start_epoch_ms is not None else int(time.time() * 1000)
    parts = _build(config, tape, epoch)
    hconfig = HyperConfig()
    hconfig.bind = [f"{config.host}:{config.port}"]
    hconfig.accesslog = None
    hconfig.graceful_timeout = 1.0
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(partial(serve, parts.app, hconfig))  # type: ignore[arg-type]
        ws_server = await nursery.start(
            partial(trio_websocket.serve_websocket, parts.hub.handle, config.host, config.ws_port, None)
        )
        nursery.start_soon(
            run_engine_driver,
            parts.engine,
            parts.flow,
            parts.hub,
            parts.clock,
            config.tick_ms,
            name="sim-driver",
        )
        rest_url = str(binds[0])
        ws_url = f"ws://{config.host}:{ws_server.port}"
        logger.info("simulator serving REST on %s and WebSockets on %s", rest_url, ws_url)
        task_status.started(
            SimHandle(
                _info(parts, config, rest_url, ws_url),
                SocketConnector(),
                parts.engine,
                tape,
                parts.hub,
                parts.clock,
                parts.app,
            )
        )


__all__ = [
    "SimClock",
    "SimConfig",
    "SimHandle",
    "make_markets",
    "run_inprocess_simulator",
    "run_loopback_simulator",
    "seed_trio_scheduler",
]
