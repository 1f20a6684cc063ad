"""The composition root: builds every object once and runs the nursery tree (DESIGN section 5).

```
main(params, connectors)                       signals: 1st SIGINT/SIGTERM = graceful, 2nd = cancel root
                                               (during startup, the 1st cancels root)
└─ run_bot                                     opens the httpx2 clients, the ledger, replays it into the core
   ├─ ledger writer + pump                     outlive the bot nursery: everything is flushed at exit
   └─ bot nursery                              finally: shielded, bounded cancel (by id) + snapshot + flush
      ├─ user channel reader  (started: subscribed)      -> UserFeed -> core, synchronously
      ├─ market channel reader (started: subscribed)     -> BookBoard (latest value) + REST book resync
      ├─ canceller, timed halts (exchange, error rate), ledger health, periodic core snapshots, PnL marks
      ├─ heartbeat            (started: first beat; not in a dry run, nor the canceller)
      ├─ reconciler           (started: FIRST RECONCILIATION COMPLETE; nothing quotes before it)
      ├─ position sync
      └─ quoting scope -> run_market per market (each: gate watcher + quoter in a cancel scope,
                                                   shielded bounded cleanup on halt)
```

Graceful shutdown (:meth:`BotHandle.request_shutdown`, the first Ctrl-C): the quoting scope is cancelled
(each market cancels its orders and waits, bounded, for confirmations, while the user channel still
runs), then a MANUAL halt makes the core cancel whatever is left, the bot waits up to ``shutdown_grace``
for terminal confirmations, and only then stops the readers. Forced (the caller cancels, or a second
Ctrl-C): the ``finally`` still cancels every order the core does not know to be terminal (``DELETE
/orders``) inside a shielded, deadline-bound scope.

Exchange endpoints are injected (:class:`ExchangeConnectors`), so the same code runs against Polymarket,
the loopback simulator (real sockets) and the in-process simulator (memory streams, MockClock).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import random
import signal
from collections.abc import Callable
from typing import Any

import attrs
import httpx2
import trio

from aqbot import __version__, gc_policy
from aqbot.app_params import BotParams as BotParams
from aqbot.app_params import BotTimers as BotTimers
from aqbot.app_params import ExchangeConnectors as ExchangeConnectors
from aqbot.app_params import WsOpener as WsOpener
from aqbot.app_state import BotHandle, BotStats, run_metrics_updater, run_pnl_marks, run_snapshots
from aqbot.auth.stamps import OrderStamper
from aqbot.core.book import BookSnapshot
from aqbot.core.events import Channel
from aqbot.core.halts import HaltReason
from aqbot.core.lifecycle import OrderState
from aqbot.core.types import MarketSpec
from aqbot.errors import AqbotError
from aqbot.io import edge
from aqbot.io.heartbeat import run_heartbeat
from aqbot.io.hub import Hub, run_canceller, run_ledger_health
from aqbot.io.ledger import LedgerStore
from aqbot.io.ledger_events import LedgerItem
from aqbot.io.ledger_process import run_ledger_process_writer
from aqbot.io.ledger_writer import LedgerWriterHandle, Offload, run_ledger_writer, to_thread
from aqbot.io.metrics import AqbotMetrics, make_aqbot_metrics, run_metrics_server
from aqbot.io.observe import FactObserver, ObservedListener, server_clock
from aqbot.io.positions import run_position_sync
from aqbot.io.quoter import QuoteContext, run_market
from aqbot.io.quoter_guards import ErrorRateGuard, ExchangeGuard, run_timed_halts
from aqbot.io.ratelimit import RateLimiter
from aqbot.io.reconcile import Reconciler, run_reconciler
from aqbot.io.rest import RestTransport
from aqbot.io.rest_api import ClobApi, CredsSigner, DataApi
from aqbot.io.ws import (
    ChannelSpec,
    ChannelTiming,
    run_channel,
)
from aqbot.io.ws_market import BookBoard, MarketFeed, run_book_resync
from aqbot.io.ws_replay import replay_ledger, snapshot_event
from aqbot.io.ws_user import UserFeed, market_subscribe_frame, user_subscribe_frame
from aqbot.wire.codec import decode_market_frame

log = logging.getLogger(__name__)

# Capacity of the channel between the ledger pump and the ledger writer, in items (the pump hands over
# lists of up to aqbot.io.ledger_sink.CHUNK_ROWS rows).
LEDGER_CHANNEL_SIZE = 1000


def _channel(name: str, url: str, connectors: ExchangeConnectors, subscribe: str, timing: ChannelTiming,
             decode: Callable[[str], Any], **kw: Any) -> ChannelSpec[Any]:  # fmt: skip
    return ChannelSpec(name, functools.partial(connectors.ws_connect, url), subscribe, decode, timing, **kw)


async def run_bot(
    params: BotParams,
    connectors: ExchangeConnectors,
    *,
    alert: Callable[[str, str], None] = lambda key, text: None,
    metrics: AqbotMetrics | None = None,
    offload: Offload = to_thread,
    task_status: trio.TaskStatus[BotHandle] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the bot until :meth:`BotHandle.request_shutdown` (returns) or cancellation (re-raises).

    ``task_status.started(handle)`` comes after the first reconciliation, when quoting may begin.
    ``alert(key, text)`` receives the operator alerts (halts, resumes, storms, startup, shutdown; see
    docs/io.md). ``metrics`` are fed whether or not they are served (``params.metrics.enabled``); a new set
    is made when ``None``.
    ``offload`` runs the ledger's blocking calls (a worker thread; deterministic MockClock tests pass an
    inline runner, because a thread in flight lets the autojump clock jump); with
    ``params.ledger_writer == "process"`` only the startup replay, the writes going to a child process.

    Raises:
        LedgerError: the ledger cannot be opened or replayed (nothing was started).
    """
    rng = random.Random(params.seed)
    store_factory = functools.partial(
        LedgerStore.open, params.ledger_path, synchronous=params.ledger_synchronous
    )
    now = trio.current_time()

    def replay() -> Any:
        with store_factory() as store:
            return replay_ledger(store, params.core, params.markets, params.identity, now)

    replayed = await offload(replay)
    metrics = metrics if metrics is not None else make_aqbot_metrics()
    hub = Hub(replayed.core, alert=alert)
    # Marks where this process rebuilt its state from the ledger, so `aqbot ledger verify` and the
    # report resume their replay here instead of guessing a restart from the monotonic clock.
    hub.record("startup", {"version": __version__, "dry_run": params.dry_run})
    hub.apply(replayed.outcome)
    hub.sink.record([snapshot_event(hub.core, trio.current_time())])
    # Set after the replay: it counts this process's fills, not the replayed ones.
    hub.on_facts = FactObserver(metrics, alert, params.storms.refusal())
    send, recv = trio.open_memory_channel[LedgerItem](LEDGER_CHANNEL_SIZE)
    async with contextlib.AsyncExitStack() as stack:
        transport = connectors.http_transport
        clob_http = await stack.enter_async_context(
            httpx2.AsyncClient(base_url=connectors.clob_url, transport=transport() if transport else None)
        )
        data_http = await stack.enter_async_context(
            httpx2.AsyncClient(base_url=connectors.data_api_url, transport=transport() if transport else None)
        )
        limiter = RateLimiter()
        signer = CredsSigner(params.creds, params.address)
        latency = functools.partial(_observe_latency, metrics)
        clob_rest = RestTransport(
            clob_http, limiter, signer, random.Random(rng.random()), connectors.wall_clock,
            on_latency=latency,
        )  # fmt: skip
        clob = ClobApi(clob_rest)
        data = DataApi(
            RestTransport(data_http, limiter, None, random.Random(rng.random()), data_api=True,
                          on_latency=latency)
        )  # fmt: skip
        stack.callback(_log_unwritten, hub)  # when the writer and the pump are done, whatever ended them
        async with trio.open_nursery() as infra:
            if params.ledger_writer == "process":
                start_writer = functools.partial(
                    run_ledger_process_writer, params.ledger_path, recv,
                    synchronous=params.ledger_synchronous,
                    on_failure=hub.writer_failed, on_recovered=hub.writer_recovered,
                )  # fmt: skip
            else:
                start_writer = functools.partial(
                    run_ledger_writer, store_factory, recv,
                    on_failure=hub.writer_failed, on_recovered=hub.writer_recovered, offload=offload,
                )  # fmt: skip
            # The writer and the pump are shielded from a cancellation of the bot (a forced stop): they must
            # still take the rows the `finally` below records. Their deadline is set on the way out.
            ledger_scopes = (trio.CancelScope(shield=True), trio.CancelScope(shield=True))
            try:
                writer = await infra.start(_run_shielded, ledger_scopes[0], start_writer)
                await infra.start(_run_shielded, ledger_scopes[1], functools.partial(hub.sink.run_pump, send))
                try:
                    await _run_tree(
                        params, connectors, hub, clob, data, rng, metrics, writer, task_status,
                        watermark=replayed.watermark,
                    )  # fmt: skip
                finally:
                    with trio.move_on_after(params.timers.shutdown_grace, shield=True):
                        await _last_resort_cancel(hub, clob, params.dry_run)
                    hub.sink.record([snapshot_event(hub.core, trio.current_time())])
                    still_open = len(hub.core.open_orders())
                    hub.record("shutdown", {"open_orders": still_open})
                    hub.alert("shutdown", f"aqbot stopped; {still_open} order(s) not known to be terminal")
            finally:
                # The pump hands everything over and returns, then the writer writes it and returns; a stop
                # that cannot finish in time is cancelled (the pump and the writer log what they lose).
                hub.sink.close()
                deadline = trio.current_time() + params.timers.shutdown_grace
                for scope in ledger_scopes:
                    scope.deadline = deadline


def _log_unwritten(hub: Hub) -> None:
    """Name the rows left in the sink once the ledger writer is gone (it died, or ran out of time)."""
    if hub.sink.buffered:
        log.error("ledger: %d row(s) never reached the ledger writer; lost", hub.sink.buffered)


async def _run_shielded(
    scope: trio.CancelScope,
    run: Callable[..., Any],
    *,
    task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED,
) -> None:
    """``await run(task_status=task_status)`` inside ``scope`` (a shielded scope whose deadline the caller
    sets when the bot stops)."""
    with scope:
        await run(task_status=task_status)


def _observe_latency(metrics: AqbotMetrics, method: str, endpoint: str, seconds: float) -> None:
    metrics.rest_latency_seconds.observe(seconds, method=method, endpoint=endpoint)


async def _last_resort_cancel(hub: Hub, clob: ClobApi, dry_run: bool) -> None:
    """If any order may still rest, DELETE it (the answer is evidence, never a release).

    Only the bot's own orders are named (``DELETE /orders``), not ``/cancel-all``: orders placed by hand
    with the same key on other markets are left alone.
    """
    ids = [o.order_id for o in hub.core.open_orders()]
    if dry_run or not ids:
        return
    hub.record("command.cancel", {"order_ids": ids})
    try:
        answer = await clob.cancel_orders(ids)
    except AqbotError as exc:
        log.error("shutdown cancel failed: %s (the heartbeat lapse will cancel within 10 s)", exc)
        return
    hub.apply(hub.core.on_cancel_answer(edge.cancel_answer(answer), trio.current_time()))


async def _run_tree(
    params: BotParams,
    connectors: ExchangeConnectors,
    hub: Hub,
    clob: ClobApi,
    data: DataApi,
    rng: random.Random,
    metrics: AqbotMetrics,
    writer: LedgerWriterHandle,
    task_status: trio.TaskStatus[BotHandle],
    *,
    watermark: int | None = None,
) -> None:
    t = params.timers
    me = params.identity
    markets = params.markets
    cids = [m.condition_id for m in markets]
    board = BookBoard.for_markets(markets)
    stats = BotStats()
    timing = ChannelTiming(ping_interval=t.ws_ping_interval, stale_after=t.ws_stale)
    creds = params.creds
    # The user channel decodes straight to core events (edge.UserFrame, which also keeps the newest message
    # timestamp for the WS lag gauge of aqbot.io.observe); UserFeed applies them as they are.
    user = _channel(
        "user", connectors.ws_base_url + "user", connectors,
        user_subscribe_frame(creds.api_key, creds.secret, creds.passphrase, cids),
        timing, edge.user_frame_decoder(me), stats=stats.user,
    )  # fmt: skip

    async def fetch_book(token: str) -> BookSnapshot:
        return edge.book_snapshot(await clob.book(token))

    def market_down(reason: str, now: float) -> None:
        hub.apply(hub.core.on_channel_down(Channel.MARKET, now, reason))

    def market_up(now: float) -> None:
        hub.apply(hub.core.on_channel_up(Channel.MARKET, now))

    feed = MarketFeed(board, on_gap=market_down, on_connected=market_up, fetch=fetch_book)
    tokens = [tok for m in markets for tok in m.tokens]
    market = _channel(
        "market", connectors.ws_base_url + "market", connectors, market_subscribe_frame(tokens),
        attrs.evolve(timing, asset_silence=t.market_silence, reconnect_on_decode_error=True),
        decode_market_frame, asset_of=edge.market_asset_of, assets=frozenset(tokens), stats=stats.market,
        verify_quiet=feed.verify_quiet,
    )  # fmt: skip
    guard = ExchangeGuard()
    errors = ErrorRateGuard(max_rate=params.max_order_error_rate)
    errors.resume(hub)  # a replayed ORDER_ERROR_RATE keeps the rest of its hold (run_timed_halts clears it)
    ctx = QuoteContext(
        hub, board, params.strategy, params.signer, OrderStamper(random.Random(rng.random())), clob,
        creds.api_key, lambda: int(connectors.wall_clock() * 1000), guard, params.quoter,
        None if params.dry_run else errors, dry_run=params.dry_run,
    )  # fmt: skip
    reconciler = Reconciler(clob, hub, me, clob.rest.timestamp, cids, data, params.signer.maker)
    # A restart reads trades from the last persisted watermark, not a day back (review finding N1).
    reconciler.stats.watermark = watermark
    reconciler.on_watermark = lambda w: hub.record("reconcile.watermark", {"watermark": w})
    handle = BotHandle(
        hub, board, params.markets, stats, ctx, reconciler.stats, metrics=metrics, ledger=writer
    )
    server_now = server_clock(connectors.wall_clock, lambda: clob.rest.server_offset)
    lag, storms = metrics.ws_lag_seconds, params.storms
    user_feed = ObservedListener(UserFeed(hub, me), lag, server_now, hub.alert, storms.reconnect())
    market_feed = ObservedListener(feed, lag, server_now, hub.alert, storms.reconnect())

    await clob.check_version()
    await clob.sync_time()
    async with trio.open_nursery() as bot, contextlib.AsyncExitStack() as started:
        await bot.start(run_channel, user, user_feed, random.Random(rng.random()))
        await bot.start(run_channel, market, market_feed, random.Random(rng.random()))
        bot.start_soon(run_book_resync, board, fetch_book, name="book-resync")
        bot.start_soon(run_ledger_health, hub, name="ledger-health")
        bot.start_soon(run_snapshots, hub, t.snapshot_interval, name="snapshots")
        await bot.start(run_pnl_marks, hub, board, connectors.wall_clock)
        if params.metrics is not None and params.metrics.enabled:
            await bot.start(run_metrics_updater, handle, metrics)
            m = params.metrics
            handle.metrics_port = await bot.start(run_metrics_server, m.host, m.port, metrics.registry)
        if not params.dry_run:
            unavailable = functools.partial(guard.refused, hub)
            canceller = functools.partial(run_canceller, hub, clob, on_unavailable=unavailable)
            bot.start_soon(canceller, name="canceller")
            bot.start_soon(run_timed_halts, [guard, errors], hub, name="timed-halts")
            beat = functools.partial(
                run_heartbeat, clob, handle, stats.heartbeat, interval=t.heartbeat_interval
            )
            await bot.start(beat)
        await bot.start(run_reconciler, reconciler, hub.waker)
        bot.start_soon(
            functools.partial(
                run_position_sync, hub, data, params.signer.maker, [m.condition_id for m in markets],
                stats.positions, interval=t.position_sync_interval,
            ), name="position-sync",
        )  # fmt: skip
        quoting = trio.CancelScope()
        quoting_done = trio.Event()
        bot.start_soon(_run_quoting, ctx, markets, quoting, quoting_done, name="quoting")
        task_status.started(handle)
        started.enter_context(gc_policy.running())  # startup is over: freeze it, fewer collections
        mode = " (dry run: nothing is sent)" if params.dry_run else ""
        hub.alert("startup", f"aqbot {__version__} quoting {len(markets)} market(s){mode}")
        await handle.shutdown_requested.wait()
        log.info("shutdown requested: stopping quoters")
        quoting.cancel()
        await quoting_done.wait()
        hub.set_halt(HaltReason.MANUAL, "shutdown")
        if not params.dry_run:  # a dry run cancels nothing, so there is nothing to wait for
            with trio.move_on_after(t.shutdown_grace):
                await _wait_orders_settled(hub)
        bot.cancel_scope.cancel()


async def _run_quoting(
    ctx: QuoteContext, markets: tuple[MarketSpec, ...], scope: trio.CancelScope, done: trio.Event
) -> None:
    try:
        with scope:
            async with trio.open_nursery() as nursery:
                for spec in markets:
                    nursery.start_soon(run_market, ctx, spec, name=f"market-{spec.condition_id[:10]}")
    finally:
        done.set()


async def _wait_orders_settled(hub: Hub) -> None:
    seen = hub.version
    while any(o.state is not OrderState.UNKNOWN for o in hub.core.open_orders()):
        seen = await hub.wait_changed(seen)


async def main(params: BotParams, connectors: ExchangeConnectors, **kw: Any) -> None:
    """Run the bot with signal handling: first SIGINT/SIGTERM = graceful shutdown, second = force. A signal
    during startup (before the bot quotes) stops it at once, through the same forced path."""
    async with trio.open_nursery() as root:
        started: list[BotHandle] = []  # the handle, once the bot is up
        await root.start(_watch_signals, started, root.cancel_scope)
        started.append(await root.start(functools.partial(_run_then_cancel, params, connectors, root, **kw)))


async def _run_then_cancel(params: BotParams, connectors: ExchangeConnectors, root: trio.Nursery,
                           *, task_status: trio.TaskStatus[BotHandle] = trio.TASK_STATUS_IGNORED,
                           **kw: Any) -> None:  # fmt: skip
    await run_bot(params, connectors, task_status=task_status, **kw)
    root.cancel_scope.cancel()


async def _watch_signals(
    started: list[BotHandle],
    root: trio.CancelScope,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        task_status.started()
        async for signum in signals:
            if not started:
                log.warning("signal %s during startup: stopping", signum)
                root.cancel()
                return
            handle = started[0]
            if handle.shutdown_requested.is_set():
                log.error("second signal %s: forcing exit", signum)
                root.cancel()
                return
            log.warning("signal %s: graceful shutdown (again to force)", signum)
            handle.request_shutdown()
