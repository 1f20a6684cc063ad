"""User-channel ingest: frames -> the runtime's reader -> decode -> edge -> core -> durable ledger (events/s).

The workload is real exchange traffic: the simulator's engine (:mod:`aqbot.sim.testkit`) runs a market in
which aqbot's account rests BUY orders that a taker fills together with 0-2 other makers at the same level,
so each trade carries 1-3 ``maker_orders`` entries; settlement then re-sends it MINED and CONFIRMED. Every
user event of aqbot's account is encoded exactly as the simulator's WebSocket hub sends it
(:func:`aqbot.sim.ws.encode`): PLACEMENT, trade MATCHED, UPDATE, trade MINED, trade CONFIRMED.

Five loops over the same frames, interleaved repetition by repetition:

* ``ingest``: the runtime's own reader :func:`aqbot.io.ws.run_channel` (stale timer, sequence numbers,
  the user channel's decode as :mod:`aqbot.app` builds it, :func:`aqbot.io.edge.user_frame_decoder`) over
  an in-memory connection that hands over one frame per scheduler pass, as trio-websocket does at a steady
  rate (:class:`FrameConnection`; trio-websocket's own reader task, its wsproto parsing and its per-frame
  ``send`` are the transport's cost, measured below), feeding the user channel's listener as :mod:`aqbot.app`
  builds it: :class:`aqbot.io.observe.ObservedListener` (WS lag gauge, storm detector) around
  :class:`aqbot.io.ws_user.UserFeed` (raw frame to the ledger, ``Core.on_order_event``/``on_trade_event``,
  every fact to the ledger through :class:`aqbot.io.hub.Hub`, whose ``on_facts`` is aqbot.app's
  :class:`aqbot.io.observe.FactObserver`: fill counters, refusal storms), with the real pump and the
  ledger writer ``aqbot run`` uses by default (``[ledger] writer = "process"``: SQLite in a child process,
  :func:`~aqbot.io.ledger_process.run_ledger_process_writer`, production durability ``synchronous=FULL``).
  The clock stops when the last event is durable. Each order is placed in the core (reserve + accepted
  answer, as the quoter does) just before its PLACEMENT frame, with that time excluded; 16 other quotes
  rest in the core throughout (a market maker's usual open orders).
* ``ingest_thread``: ``ingest`` with the ledger writer of ``[ledger] writer = "thread"``
  (:func:`~aqbot.io.ledger_writer.run_ledger_writer`: SQLite in a worker thread of this process, as paper
  runs do; same rows, same ``synchronous=FULL``, the clock stops when the last event is durable).
* ``transport``: the ceiling of the network in front of it: a trio-websocket server in a *second process*
  sends the same frames over loopback, and this process receives them with trio-websocket
  (the runtime's ``receive_buffer_size=65536``, as PERF-LIMITS b2, and ``message_queue_size``) without
  parsing. The server has a CPU of its own, and the receiver the other (:mod:`bench.ingest_transport`).
* ``socket``: ``ingest`` with nothing modelled: aqbot's reader on that real connection (trio-websocket's
  reader task in this process, frames queued behind it taken in batches as the runtime does), placed as
  ``transport`` is. Its time per frame minus the transport's is what aqbot adds to the transport's work
  on the one core they share (``socket_added_us_per_frame``), reported beside the goal's ratio.
* ``json_loads``: bare ``json.loads`` of the same frames (the parsing floor).

Goal: ingest >= 1.0x the transport ceiling (the bot keeps up with anything the socket can deliver).
"""

from __future__ import annotations

import contextlib
import functools
import json
import random
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn

import attrs
import trio

from aqbot import gc_policy
from aqbot.core.config import CoreConfig
from aqbot.core.engine import Core
from aqbot.core.events import Channel, OrdersSnapshot, PlacementAnswer
from aqbot.core.exposure import Limits
from aqbot.core.types import MarketSpec, Side
from aqbot.io import edge
from aqbot.io.hub import Hub
from aqbot.io.ledger import LedgerStore
from aqbot.io.ledger_events import LedgerItem
from aqbot.io.ledger_process import run_ledger_process_writer
from aqbot.io.ledger_writer import run_ledger_writer
from aqbot.io.metrics import make_aqbot_metrics
from aqbot.io.observe import FactObserver, ObservedListener, server_clock
from aqbot.io.ws import ChannelSpec, ChannelTiming, run_channel
from aqbot.io.ws_conn import batching, open_websocket
from aqbot.io.ws_user import UserFeed
from aqbot.sim.events import UserEvent
from aqbot.sim.testkit import make_engine, order_id_of
from aqbot.sim.units import ONE
from aqbot.sim.ws import encode
from bench._common import interleaved, median, profile_top, quiet_logs, ratio, scaled
from bench.ingest_transport import SocketFrames, TransportServer

FULL_FRAMES = 20_000
MIN_FRAMES = 200
REPEATS = 5
GOAL_RATIO = 1.0
# The app's channel between the ledger pump and the writer (aqbot.app.LEDGER_CHANNEL_SIZE).
LEDGER_CHANNEL = 1000
LEDGER_SYNCHRONOUS = "FULL"  # the configuration default (aqbot/data/default.toml [ledger])
# Quotes resting in the core besides the ones being filled (4 per market on 4 markets).
RESTING_ORDERS = 16


@attrs.frozen
class PlacedOrder:
    order_id: str
    token: str
    price: Decimal
    size: Decimal


@attrs.frozen
class Workload:
    """aqbot's user-channel frames for one simulated market, and what the core must know beforehand."""

    frames: tuple[str, ...]
    spec: MarketSpec
    me: edge.Identity
    placements: dict[int, PlacedOrder]
    makers_per_trade: dict[int, int]


def build_workload(n_frames: int, seed: int = 1) -> Workload:
    """Run the simulator's engine until aqbot's account has ``n_frames`` user events (see the docstring)."""
    engine, markets, traders = make_engine(seed, n_markets=1, n_traders=4, pusd=10**9 * ONE)
    market = markets[0]
    bot, others, taker = traders[0], traders[1:3], traders[3]
    rng = random.Random(seed)
    frames: list[str] = []
    placements: dict[int, PlacedOrder] = {}
    makers: dict[int, int] = {}
    now = engine.now_ms
    prices = ("0.45", "0.48", "0.50", "0.52", "0.55")
    while len(frames) < n_frames:
        now += 1_000
        price = rng.choice(prices)
        size = "10"
        reply = bot.limit(market.yes_token, "BUY", price, size, now_ms=now)
        placed = PlacedOrder(order_id_of(reply).lower(), market.yes_token, Decimal(price), Decimal(size))
        placements[len(frames)] = placed  # the next frame of aqbot's is this order's PLACEMENT
        extra = rng.randrange(3)
        for other in others[:extra]:
            other.limit(market.yes_token, "BUY", price, size, now_ms=now)
        no_price = str(Decimal(1) - Decimal(price))
        taker.limit(market.no_token, "BUY", no_price, str(10 * (extra + 1)), now_ms=now)
        engine.advance(now)
        for event in engine.drain_events():
            if isinstance(event, UserEvent) and event.owner == bot.owner:
                payload = event.payload
                if isinstance(payload, dict) and payload.get("event_type") == "trade":
                    entries = payload.get("maker_orders")
                    count = len(entries) if isinstance(entries, list) else 0
                    makers[count] = makers.get(count, 0) + 1
                frames.append(encode(payload))
    for _ in range(20):  # let the last trades reach MINED and CONFIRMED
        now += 1_000
        engine.advance(now)
        mine = [e for e in engine.drain_events() if isinstance(e, UserEvent) and e.owner == bot.owner]
        frames.extend(encode(e.payload) for e in mine)
    spec = MarketSpec(market.condition_id, market.yes_token, market.no_token, Decimal(market.tick_size))
    me = edge.Identity(bot.owner, bot.address)
    return Workload(tuple(frames[:n_frames]), spec, me, placements, makers)


def place(hub: Hub, o: PlacedOrder, now: float) -> None:
    """What the quoter does before an order's first user event: reserve, then apply the accepted answer."""
    result = hub.core.place(o.order_id, o.token, Side.BUY, o.price, o.size, now)
    if not result.ok:
        raise RuntimeError(f"bench setup: place refused: {result.refused}")
    hub.apply(result.outcome)
    hub.apply(hub.core.on_placement_answer(PlacementAnswer(o.order_id, True, o.order_id, "live"), now))


def ready_core(w: Workload) -> Core:
    """A core past its startup reconciliation, with ``RESTING_ORDERS`` quotes resting away from the action
    (a market maker's usual book of open orders, which every core call sweeps)."""
    config = CoreConfig(Limits(Decimal(10**9)), owner=w.me.api_key, funder=w.me.maker_address)
    core = Core(config, [w.spec], 0.0)
    core.on_channel_up(Channel.USER, 0.0)
    recon_id, _ = core.begin_reconciliation(0.0)
    core.on_reconciliation(recon_id, OrdersSnapshot(0.0), None, 0.0)
    for i in range(RESTING_ORDERS):
        token = w.spec.tokens[i % 2]
        oid = f"0x{i:064x}"
        price = Decimal("0.05") + Decimal("0.01") * (i // 2)
        core.place(oid, token, Side.BUY, price, Decimal(10), 0.0)
        core.on_placement_answer(PlacementAnswer(oid, True, oid, "live"), 0.0)
    return core


@attrs.define
class Placer:
    """Places the order of frame ``index`` before the frame is handed over, as the quoter would have, and
    keeps the seconds it took in ``excluded`` (:class:`FrameConnection`'s, and ``SocketFrames.before``)."""

    hub: Hub
    placements: dict[int, PlacedOrder]
    excluded: float = 0.0

    def __call__(self, index: int) -> None:
        placed = self.placements.get(index)
        if placed is not None:
            started = time.perf_counter()
            place(self.hub, placed, trio.current_time())
            self.excluded += time.perf_counter() - started


@attrs.define
class FrameConnection:
    """An in-memory connection that hands aqbot's reader one frame per scheduler pass, as trio-websocket does.

    trio-websocket 0.12's own reader task reads the socket, parses it with wsproto and ``send``s each frame
    into a memory channel; a ``send`` is a checkpoint even when there is room, so at a steady rate that
    channel holds a frame or two and aqbot's reader takes one frame per ``get_message`` (a ``receive``: one
    checkpoint). Measured over loopback, the batches :func:`aqbot.io.ws.run_channel` finds queued average
    1.5 frames whatever the ``message_queue_size`` (docs/bench.md). That task's work (socket reads, wsproto,
    its ``send`` per frame) is the transport's: the ``transport`` loop measures it. This model keeps aqbot's
    share: one checkpoint per ``get_message``, and a ``get_message_nowait`` (asked after every frame) that
    finds nothing queued, so the reader's batches do not form here, as they do not at a steady rate.

    Before an order's PLACEMENT frame is handed over it places the order in the core as the quoter would
    (through the hub, so its facts reach the ledger too); the seconds spent placing are kept in
    ``excluded`` (its :class:`Placer`'s). ``done`` is set when the reader asks for a frame after the last one.
    """

    frames: tuple[str, ...]
    done: trio.Event
    hub: Hub
    placements: dict[int, PlacedOrder]
    index: int = 0
    placer: Placer = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.placer = Placer(self.hub, self.placements)

    @property
    def excluded(self) -> float:
        return self.placer.excluded

    async def send_message(self, message: str) -> None:
        await trio.lowlevel.checkpoint()

    async def get_message(self) -> str:
        if self.index >= len(self.frames):
            self.done.set()
            await trio.sleep_forever()
        await trio.lowlevel.checkpoint()  # trio-websocket's get_message is a memory-channel receive
        return self.next_frame()

    def get_message_nowait(self) -> None:
        return None  # trio-websocket queues one frame per pass: none is waiting (QueuedFrames says None)

    def next_frame(self) -> str:
        """The next frame with no checkpoint (for benchmarks that call the feed directly)."""
        self.placer(self.index)
        self.index += 1
        return self.frames[self.index - 1]


@attrs.frozen
class IngestRun:
    seconds: float
    applied_seconds: float
    events_applied: int
    ledger_rows: int


async def _ingest(
    w: Workload,
    core: Core,
    ledger_path: Path,
    writer_kind: str = "thread",
    server: TransportServer | None = None,
) -> IngestRun:
    """One ``ingest`` loop (``server`` None: over :class:`FrameConnection`) or ``socket`` loop (frames from
    the transport server, the clock from the first frame; this process pinned as the transport's receiver
    once the ledger writer's child has started, so that the child is free to run on any CPU)."""
    metrics = make_aqbot_metrics()
    hub = Hub(core)
    hub.on_facts = FactObserver(metrics, hub.alert)  # as aqbot.app's: the fill counters, the refusal storm
    feed = UserFeed(hub, w.me)
    lag = metrics.ws_lag_seconds  # the user channel's listener and decode as aqbot.app's
    listener = ObservedListener(feed, lag, server_clock(time.time, lambda: 0.0), hub.alert)
    done = trio.Event()
    conn = FrameConnection(w.frames, done, hub, w.placements)
    opened: list[SocketFrames] = []

    @asynccontextmanager
    async def connect() -> AsyncIterator[FrameConnection | SocketFrames]:
        if server is None:
            yield conn
            return
        if opened:  # a reconnection would start the server's frames over
            raise RuntimeError("ingest over the socket: the connection closed before the last frame")
        async with open_websocket(server.url) as ws:
            queued = batching(ws)
            if queued is None:
                raise RuntimeError("ingest over the socket: trio-websocket's frame queue is not readable")
            opened.append(SocketFrames(queued, len(w.frames), done, conn.placer))
            yield opened[0]

    decode = edge.user_frame_decoder(w.me)
    spec: ChannelSpec[Any] = ChannelSpec("user", connect, "{}", decode, ChannelTiming())
    send, recv = trio.open_memory_channel[LedgerItem](LEDGER_CHANNEL)
    store_factory = functools.partial(LedgerStore.open, ledger_path, synchronous=LEDGER_SYNCHRONOUS)
    async with trio.open_nursery() as nursery:
        if writer_kind == "process":  # [ledger] writer = "process": SQLite in a child process
            start_writer = functools.partial(
                run_ledger_process_writer, ledger_path, recv, synchronous=LEDGER_SYNCHRONOUS, on_failure=_fail
            )
        else:
            start_writer = functools.partial(run_ledger_writer, store_factory, recv, on_failure=_fail)
        writer = await nursery.start(start_writer)
        await nursery.start(hub.sink.run_pump, send)
        # As the runtime does (aqbot.app): a ``startup`` row is the ledger's first write, made before any
        # event arrives, so the first transaction of a fresh database (WAL set-up) is not an event's cost.
        hub.record("startup", {"version": "bench"})
        with trio.fail_after(60):
            while writer.written < hub.sink.recorded:
                await writer.flush()
        before = writer.written
        started = time.perf_counter()
        nursery.start_soon(run_channel, spec, listener, random.Random(1))
        with contextlib.nullcontext() if server is None else server.receiving():
            await done.wait()
        if opened:  # the socket's clock starts at the first frame (as the transport's)
            started = opened[0].started or started
        excluded = conn.excluded  # the placements' time, over either connection
        applied = time.perf_counter() - started - excluded
        hub.sink.close()  # the pump hands everything over and closes the channel; the writer drains
        with trio.fail_after(120):
            while writer.written < hub.sink.recorded:
                await writer.flush()
        seconds = time.perf_counter() - started - excluded
        rows = writer.written - before
        nursery.cancel_scope.cancel()
    return IngestRun(seconds, applied, feed.events_applied, rows)


def _fail(exc: Exception) -> NoReturn:
    raise RuntimeError(f"ledger write failed in the benchmark: {exc}") from exc


def ingest_once(
    w: Workload, tmp: Path, rep: int, writer_kind: str = "thread", server: TransportServer | None = None
) -> IngestRun:
    """One loop: ``ingest`` (or ``ingest_thread``), or ``socket`` with ``server`` (durable rows)."""
    path = tmp / f"ingest-{rep}-{time.monotonic_ns()}.sqlite3"
    with quiet_logs():
        core = ready_core(w)  # untimed setup
        with gc_policy.running():  # as aqbot run once started (aqbot.gc_policy)
            result = trio.run(_ingest, w, core, path, writer_kind, server)
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    if result.events_applied != len(w.frames):
        raise RuntimeError(f"ingest applied {result.events_applied} of {len(w.frames)} events")
    return result


def json_rate(frames: tuple[str, ...]) -> float:
    loads = json.loads
    started = time.perf_counter()
    for text in frames:
        loads(text)
    return len(frames) / (time.perf_counter() - started)


def decode_rate(frames: tuple[str, ...], me: edge.Identity) -> float:
    """Frames to core events as the runtime's user channel does it (:func:`edge.user_frame_decoder`)."""
    decode = edge.user_frame_decoder(me)
    started = time.perf_counter()
    for text in frames:
        decode(text)
    return len(frames) / (time.perf_counter() - started)


def run(scale: float = 1.0) -> dict[str, Any]:
    """Ingest, the transport ceiling and bare ``json.loads`` over the same frames (see the docstring)."""
    n = scaled(FULL_FRAMES, scale, MIN_FRAMES)
    repeats = REPEATS if scale >= 0.2 else 2
    w = build_workload(n)
    with tempfile.TemporaryDirectory(prefix="aqbot-bench-ingest-") as tmpdir:
        tmp = Path(tmpdir)
        server = TransportServer(w.frames, n, tmp)
        runs: list[IngestRun] = []
        thread_runs: list[IngestRun] = []
        socket_runs: list[IngestRun] = []

        def ingest() -> float:
            r = ingest_once(w, tmp, len(runs), "process")
            runs.append(r)
            return n / r.seconds

        def ingest_thread() -> float:
            r = ingest_once(w, tmp, 100 + len(thread_runs), "thread")
            thread_runs.append(r)
            return n / r.seconds

        def socket() -> float:
            r = ingest_once(w, tmp, 200 + len(socket_runs), "process", server)
            socket_runs.append(r)
            return n / r.seconds

        try:
            ingest_once(w, tmp, -1)  # warm-up (imports, first-use caches)
            ingest_once(w, tmp, -2, "process")
            ingest_once(w, tmp, -3, "process", server)
            rates = interleaved(
                {
                    "ingest": ingest,
                    "ingest_thread": ingest_thread,
                    "transport": server.rate,
                    "socket": socket,
                    "json_loads": functools.partial(json_rate, w.frames),
                    "decode": functools.partial(decode_rate, w.frames, w.me),
                },
                repeats,
            )
        finally:
            server.close()
        # The event loop's profile (the child process is not profiled).
        profile = profile_top(lambda: ingest_once(w, tmp, 999, "process"))
    r_transport = ratio(rates["ingest"], rates["transport"])
    # What aqbot adds per frame to the transport's work on their shared core, paired by repetition.
    added_us = median([1e6 / a - 1e6 / b for a, b in zip(rates["socket"], rates["transport"], strict=True)])
    r_json = ratio(rates["ingest"], rates["json_loads"])
    med = {k: median(v) for k, v in rates.items()}
    applied = median([n / r.applied_seconds for r in runs])
    applied_thread = median([n / r.applied_seconds for r in thread_runs])
    r_thread = ratio(rates["ingest_thread"], rates["transport"])
    return {
        "frames": n,
        "repeats": repeats,
        "frame_bytes_median": int(median([len(f) for f in w.frames])),
        "makers_per_trade": {str(k): v for k, v in sorted(w.makers_per_trade.items())},
        "ledger_rows_per_event": round(runs[-1].ledger_rows / n, 2),
        "ledger_synchronous": LEDGER_SYNCHRONOUS,
        "ingest_events_per_s": round(med["ingest"]),
        "ingest_applied_events_per_s": round(applied),
        "ingest_applied_ratio_vs_transport": round(applied / med["transport"], 3),
        # From the last frame applied to the last row durable: the batch the child is writing then and
        # the last one (what the durable rate pays on top of the applied rate, once per run).
        "durable_tail_ms": round(median([(r.seconds - r.applied_seconds) * 1e3 for r in runs]), 1),
        "ledger_writer": "process",
        # The same loop with [ledger] writer = "thread" (same rows, same durability, same clock rule).
        "ingest_thread_events_per_s": round(med["ingest_thread"]),
        "ingest_thread_applied_events_per_s": round(applied_thread),
        "ingest_thread_ratio_vs_transport": round(r_thread[0], 3),
        "transport_msgs_per_s": round(med["transport"]),
        "transport_pinned": server.pinned,
        # aqbot's reader on the transport's own connection (nothing modelled), durable as ``ingest``.
        "socket_events_per_s": round(med["socket"]),
        "socket_applied_events_per_s": round(median([n / r.applied_seconds for r in socket_runs])),
        "socket_added_us_per_frame": round(added_us, 2),
        "transport_us_per_frame": round(1e6 / med["transport"], 2),
        "socket_added_ratio_vs_transport": (
            round(1e6 / med["transport"] / added_us, 3) if added_us > 0 else None
        ),
        "json_loads_msgs_per_s": round(med["json_loads"]),
        "decode_to_core_events_msgs_per_s": round(med["decode"]),
        "ratio_vs_transport": round(r_transport[0], 3),
        "ratio_vs_transport_range": [round(r_transport[1], 3), round(r_transport[2], 3)],
        "ratio_vs_json_loads": round(r_json[0], 4),
        "profile_top": profile["self"],
        "profile_aqbot_total": profile["aqbot_total"],
        "headline": (
            f"{med['ingest']:,.0f} ev/s durable = {r_transport[0]:.2f}x transport "
            f"({med['transport']:,.0f}/s); thread writer {med['ingest_thread']:,.0f} = {r_thread[0]:.2f}x; "
            f"on the socket +{added_us:.1f} us/frame"
        ),
        "goal": f">= {GOAL_RATIO:g}x transport",
        "goal_met": r_transport[0] >= GOAL_RATIO,
    }


if __name__ == "__main__":
    print(json.dumps(run(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0), indent=2))
