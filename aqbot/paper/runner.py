"""A paper session: the simulator and the real bot in one Trio run, then the evidence.

::

    paper_session(options, paths, speed)                  one nursery
    ├─ alerter (the log; in real time also the configured Telegram/webhook sinks), drained at the end
    ├─ simulator (in process over memory streams, or on loopback sockets)
    └─ bot incarnations, one after another, all on the same ledger:
         run_bot + WorstSampler (+ dashboard/progress in real time)
         ends by: the duration, a stop request (Ctrl-C), or a scheduled crash (REST blacked out, the
         nursery cancelled without a cleanup that reaches the exchange, then a restart)
    then: transport faults off, settle, a dry-run bot replays the ledger and reconciles (the final
    reconciliation), its core is compared with the engine's truth, and the summary is built.

:func:`aqbot.paper.maxspeed.run_paper` runs a session at max speed; :mod:`aqbot.paper.realtime` in real
time.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import httpx2
import trio
import trio.testing

from aqbot.app import BotParams, ExchangeConnectors, run_bot
from aqbot.app_state import BotHandle
from aqbot.config import load_config
from aqbot.core.engine import Core
from aqbot.io.alerts import AlertSink, alert_callback, build_sinks, run_alerter
from aqbot.io.ledger_writer import Offload
from aqbot.io.quoter import QuoterConfig
from aqbot.paper.schedule import FaultSchedule, PaperTransport
from aqbot.paper.summary import (
    RunFacts,
    WorstSampler,
    build_summary,
    ledger_evidence,
    tape_evidence,
    units_to_shares,
)
from aqbot.run import core_config_of, params_for_sim, storms_of, strategy_of, timers_of
from aqbot.sim.engine import Engine
from aqbot.sim.runner import (
    SimConfig,
    SimHandle,
    run_inprocess_simulator,
    run_loopback_simulator,
)
from aqbot.sim.tape import Tape

log = logging.getLogger(__name__)

UNITS = Decimal(1_000_000)
# Simulated seconds between the bot's stop and the final reconciliation: every settlement has ended by
# then (CONFIRMED +16 s, FAILED +12 s after the match) and the dead-man switch has fired (10 s).
SETTLE_SECONDS = 30.0
# Bound on how long the final comparison waits for the core and the exchange to agree.
FINAL_CHECK_SECONDS = 120.0
# A crashed bot restarts this long after it died (simulated seconds, drawn per crash).
RESTART_DELAY = (0.5, 5.0)
SPEEDS = ("max", "realtime")

BotHook = Callable[[BotHandle], None]
"""Called with every bot incarnation's handle once it runs (tests patch the core through it)."""


@attrs.frozen
class PaperOptions:
    """One paper run. ``duration`` is in simulated seconds (``None``: until stopped, real time only)."""

    seed: int = 1
    duration: float | None = 600.0
    speed: str = "max"
    faults: str = "none"
    markets: int = 4
    config_path: Path | None = None
    summary_path: Path | None = None
    tape_path: Path | None = None
    ledger_path: Path | None = None
    dashboard: bool = True
    crashes: int = 0
    schedule: FaultSchedule = attrs.Factory(FaultSchedule)
    settle_seconds: float = SETTLE_SECONDS

    def replay_command(self) -> str:
        """The one command that re-runs this run at max speed."""
        parts = ["aqbot paper --speed max", f"--seed {self.seed}", f"--faults {self.faults}"]
        parts.append(f"--markets {self.markets}")
        parts.append(f"--duration {self.duration:g}" if self.duration is not None else "--duration 600")
        if self.crashes:
            parts.append(f"--crashes {self.crashes}")
        if self.schedule.faults or self.schedule.crashes:
            parts.append(f"--schedule '{self.schedule.to_json()}'")
        if self.config_path is not None:
            parts.append(f"--config {self.config_path}")
        return " ".join(parts)

    def crash_times(self) -> tuple[float, ...]:
        """Scheduled crash times: the schedule's plus ``crashes`` seeded ones inside the duration."""
        times = list(self.schedule.crashes)
        if self.crashes and self.duration:
            rng = random.Random(f"paper-crash-{self.seed}")
            times += [rng.uniform(0.1, 0.9) * self.duration for _ in range(self.crashes)]
        return tuple(sorted(times))


@attrs.frozen
class PaperPaths:
    ledger: Path
    tape: Path
    summary: Path | None


@attrs.frozen
class PaperResult:
    summary: dict[str, Any]
    paths: PaperPaths
    ok: bool


def bot_params(sim: SimHandle, options: PaperOptions, ledger: Path, *, synchronous: str) -> BotParams:
    """The bot's parameters: the configuration's limits, strategy and timers, the simulator's account 0
    (credentials, signer) and its first ``options.markets`` markets.

    Raises:
        ConfigError: the configuration file is invalid.
    """
    config = load_config(options.config_path, os.environ)
    base = params_for_sim(
        sim, ledger, max_position=config.limits.max_position, markets=options.markets, seed=options.seed,
        ledger_synchronous=synchronous, timers=timers_of(config),
    )  # fmt: skip
    core = core_config_of(config, base.core.owner, base.core.funder, base.markets)
    quoter = QuoterConfig(requote_interval=config.strategy.requote_interval)
    return attrs.evolve(
        base, core=core, strategy=strategy_of(config), quoter=quoter, storms=storms_of(config)
    )


def token_limits(params: BotParams) -> dict[str, Decimal]:
    return {t: params.core.limits.max_for(t) for m in params.markets for t in m.tokens}


def compare_with_exchange(core: Core, engine: Engine, owner: str, tokens: list[str]) -> list[str]:
    """Differences between aqbot's core and the exchange's truth: held per token and open order ids."""
    diffs = []
    for token in tokens:
        held = core.token_exposure(token).held
        true = units_to_shares(engine.true_position(owner, token))
        if held != true:
            diffs.append(f"held {token[:12]}: core {held} exchange {true}")
    ours = {o.order_id.lower() for o in core.open_orders()}
    theirs = {str(o["id"]).lower() for o in engine.open_orders(owner)}
    if ours != theirs:
        diffs.append(f"open orders: core-only {sorted(ours - theirs)} exchange-only {sorted(theirs - ours)}")
    return diffs


OnBot = Callable[[BotHandle, trio.Nursery], None]


async def paper_session(
    options: PaperOptions,
    paths: PaperPaths,
    *,
    loopback: bool,
    offload: Offload,
    synchronous: str,
    stop: trio.Event,
    hook: BotHook | None = None,
    on_bot: OnBot | None = None,
    alert_sinks: bool = False,
) -> dict[str, Any]:
    """Run the simulator and the bot per ``options``; return the summary (see the module docstring).

    Alerts (halts, resumes, storms, startup, shutdown) go through an alerter as in a live run: to the log,
    and with ``alert_sinks`` (real time) also to the configured Telegram/webhook sinks. A max-speed run
    logs them only: its clock is simulated, so a delivery timeout would mean nothing.
    """
    wall0 = time.perf_counter()
    config = load_config(options.config_path, os.environ)
    paths.tape.parent.mkdir(parents=True, exist_ok=True)
    paths.ledger.parent.mkdir(parents=True, exist_ok=True)
    sim_config = SimConfig(seed=options.seed, markets=options.markets, faults=options.faults, accounts=2)
    with paths.tape.open("w", encoding="ascii") as sink:
        tape = Tape(sink, keep=False)
        async with httpx2.AsyncClient() as http, trio.open_nursery() as nursery:
            alerter = await nursery.start(run_alerter, _alert_sinks(config, http, alert_sinks), config.alerts)
            runner = run_loopback_simulator if loopback else run_inprocess_simulator
            sim: SimHandle = await nursery.start(runner, sim_config, tape)
            start_ms = sim.now_ms()
            transport = PaperTransport(sim.hub.faults, tape, start_ms, options.schedule.faults)
            sim.set_transport_faults(transport)
            params = bot_params(sim, options, paths.ledger, synchronous=synchronous)
            connectors = ExchangeConnectors.simulator(sim)
            limits = token_limits(params)
            sampler = WorstSampler(limits)
            await _run_incarnations(
                options, params, connectors, transport, sampler, offload, stop, hook, on_bot,
                alert_callback(alerter),
            )  # fmt: skip
            transport.calm = True
            await trio.sleep(options.settle_seconds)
            diffs = await _final_check(sim, params, connectors, offload, list(limits))
            simulated = (sim.now_ms() - start_ms) / 1000
            owner = params.creds.api_key
            engine_max = {t: units_to_shares(sim.engine.max_position_seen(owner, t)) for t in limits}
            with trio.move_on_after(config.alerts.delivery_timeout):
                await alerter.drain()
            nursery.cancel_scope.cancel()
        sink.flush()
    with paths.tape.open(encoding="ascii") as lines:
        tape_ev = tape_evidence(lines, owner, limits)
    ledger_ev = ledger_evidence(paths.ledger)
    if ledger_ev.verify_problems:
        diffs.append(f"ledger verify: {'; '.join(ledger_ev.verify_problems)}")
    if diffs:
        log.error("final state differs from the exchange: %s", "; ".join(diffs))
    facts = RunFacts(
        seed=options.seed, faults=options.faults, markets=options.markets, bot_owner=owner, limits=limits,
        simulated_seconds=simulated, wall_seconds=time.perf_counter() - wall0,
        max_worst_ratio=sampler.max_ratio, engine_max_seen=engine_max,
        final_state_matches_exchange=not diffs, final_state_detail="; ".join(diffs),
    )  # fmt: skip
    return build_summary(facts, ledger_ev, tape_ev)


async def _run_incarnations(
    options: PaperOptions,
    params: BotParams,
    connectors: ExchangeConnectors,
    transport: PaperTransport,
    sampler: WorstSampler,
    offload: Offload,
    stop: trio.Event,
    hook: BotHook | None,
    on_bot: OnBot | None,
    alert: Callable[[str, str], None],
) -> None:
    t0 = trio.current_time()
    end = t0 + options.duration if options.duration is not None else float("inf")
    crashes = [t0 + c for c in options.crash_times() if c < (options.duration or float("inf"))]
    rng = random.Random(f"paper-restart-{options.seed}")
    incarnation = 0
    while True:
        crash_at = crashes.pop(0) if crashes else None
        until = min(end, crash_at) if crash_at is not None else end
        seeded = attrs.evolve(params, seed=params.seed + 1_000_003 * incarnation)
        async with trio.open_nursery() as bot_nursery:
            run = functools.partial(_bot_then_cancel, seeded, connectors, offload, bot_nursery, alert=alert)
            handle: BotHandle = await bot_nursery.start(run)
            bot_nursery.start_soon(sampler.run, handle.hub, name="paper-sampler")
            if hook is not None:
                hook(handle)
            if on_bot is not None:
                on_bot(handle, bot_nursery)
            with trio.move_on_at(until):
                await stop.wait()
            if stop.is_set() or crash_at is None or trio.current_time() < crash_at:
                log.info("paper: stopping the bot (orders cancelled and confirmed)")
                handle.request_shutdown()
            else:
                log.warning("paper: crash %d at %.1fs: the bot dies with its REST cut", incarnation + 1,
                            trio.current_time() - t0)  # fmt: skip
                transport.blackout = True
                bot_nursery.cancel_scope.cancel()
        transport.blackout = False
        if crash_at is None or stop.is_set() or trio.current_time() >= end:
            return
        incarnation += 1
        await trio.sleep(rng.uniform(*RESTART_DELAY))


async def _bot_then_cancel(
    params: BotParams,
    connectors: ExchangeConnectors,
    offload: Offload,
    nursery: trio.Nursery,
    *,
    alert: Callable[[str, str], None] = lambda key, text: None,
    task_status: trio.TaskStatus[BotHandle] = trio.TASK_STATUS_IGNORED,
) -> None:
    await run_bot(params, connectors, alert=alert, offload=offload, task_status=task_status)
    nursery.cancel_scope.cancel()


async def _final_check(
    sim: SimHandle, params: BotParams, connectors: ExchangeConnectors, offload: Offload, tokens: list[str]
) -> list[str]:
    """The final reconciliation: a dry-run bot replays the ledger and reconciles; its core must then agree
    with the engine (waiting, bounded, for late user-channel events to land)."""
    timers = attrs.evolve(params.timers, shutdown_grace=1.0)
    dry = attrs.evolve(params, dry_run=True, timers=timers, seed=params.seed + 7)
    owner = params.creds.api_key
    diffs: list[str] = ["final reconciliation did not complete"]
    handle: BotHandle | None = None
    async with trio.open_nursery() as nursery:
        run = functools.partial(_bot_then_cancel, dry, connectors, offload, nursery)
        with trio.move_on_after(FINAL_CHECK_SECONDS):
            handle = await nursery.start(run)
            while True:
                diffs = compare_with_exchange(handle.hub.core, sim.engine, owner, tokens)
                if not diffs:
                    break
                await trio.sleep(1.0)
        if handle is not None:
            handle.request_shutdown()
        else:
            nursery.cancel_scope.cancel()
    return diffs


def _alert_sinks(config: Any, http: httpx2.AsyncClient, real: bool) -> list[AlertSink]:
    """The configured sinks in real time; none (the log only) at max speed."""
    sinks = build_sinks(config.alerts, config.telegram_token, http)
    if sinks and not real:
        log.info("paper: max speed: alerts go to the log only (configured sinks are used in real time)")
        return []
    return sinks


def default_paths(options: PaperOptions, run_dir: Path) -> PaperPaths:
    return PaperPaths(
        ledger=options.ledger_path or run_dir / "ledger.sqlite3",
        tape=options.tape_path or run_dir / "tape.jsonl",
        summary=options.summary_path,
    )


__all__ = [
    "PaperOptions",
    "PaperPaths",
    "PaperResult",
    "bot_params",
    "compare_with_exchange",
    "default_paths",
    "paper_session",
]
