"""WebSocket channel reader against an in-process fake server over memory streams (STYLE P8).

Rules: no sockets (memory streams only), so ``autojump_clock`` is safe and times are exact; every test
has a ``fail_after`` guard; the server side decides when to close.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import attrs
import pytest
import trio
import trio.testing
import trio_websocket

from aqbot.errors import WireError
from aqbot.io.ws import (
    BATCH_MAX,
    ChannelSpec,
    ChannelTiming,
    QueuedFrames,
    WsConnection,
    backoff_delays,
    batching,
    run_channel,
)
from aqbot.io.ws_conn import peekable

Session = Callable[[Any, int], Awaitable[None]]


class Changes:
    """Lets a test wait for a condition on recorded state without polling sleeps."""

    def __init__(self) -> None:
        self._event = trio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = trio.Event()

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        while not predicate():
            await self._event.wait()


CHANGES = Changes()


@pytest.fixture(autouse=True)
def fresh_changes() -> None:
    """Each test (each ``trio.run``) gets its own Changes, so no Event outlives its run."""
    global CHANGES
    CHANGES = Changes()


@attrs.define(eq=False)
class MemoryListener(trio.abc.Listener[trio.abc.Stream]):
    """Hands out the server halves of memory stream pairs."""

    send: trio.MemorySendChannel[trio.abc.Stream]
    recv: trio.MemoryReceiveChannel[trio.abc.Stream]

    async def connect(self) -> trio.abc.Stream:
        client, server = trio.testing.memory_stream_pair()
        await self.send.send(server)
        return client

    async def accept(self) -> trio.abc.Stream:
        return await self.recv.receive()

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()


@attrs.define
class FakeServer:
    """Runs ``sessions[i]`` for the i-th connection; records (time, connection, frame) received."""

    sessions: list[Session]
    received: list[tuple[float, int, str]] = attrs.Factory(list)
    accepted: list[float] = attrs.Factory(list)

    async def handler(self, request: Any) -> None:
        index = len(self.accepted)
        self.accepted.append(trio.current_time())
        CHANGES.notify()
        ws = await request.accept()
        session = self.sessions[min(index, len(self.sessions) - 1)]
        try:
            await session(_Recording(ws, self, index), index)
        except* trio_websocket.ConnectionClosed:
            pass  # the client went away: the end of this session


@attrs.define
class _Recording:
    ws: Any
    server: FakeServer
    index: int

    async def get_message(self) -> str:
        msg: str = await self.ws.get_message()
        self.server.received.append((trio.current_time(), self.index, msg))
        return msg

    async def send_message(self, msg: str) -> None:
        await self.ws.send_message(msg)

    async def aclose(self) -> None:
        await self.ws.aclose()


async def start_server(
    nursery: trio.Nursery, server: FakeServer, *, queue: int = 1, gated: type[GatedPlain] | None = None
) -> Callable[[], Any]:
    """A connection factory to ``server``; trio-websocket queues up to ``queue`` frames per connection.
    ``gated``: a wrapper whose ``get_message`` first waits until every other task is blocked, so the
    client's trio-websocket has queued everything the server sent (as a reader busy elsewhere finds it)."""
    send, recv = trio.open_memory_channel[trio.abc.Stream](1)
    listener = MemoryListener(send, recv)
    await nursery.start(trio_websocket.WebSocketServer(server.handler, [listener]).run)  # type: ignore[list-item]

    @asynccontextmanager
    async def connect() -> AsyncIterator[WsConnection]:
        stream = await listener.connect()
        ws = await trio_websocket.wrap_client_stream(
            nursery,
            stream,  # type: ignore[arg-type]
            "exchange.test",
            "/ws",
            message_queue_size=queue,
        )
        async with ws:
            yield gated(ws) if gated is not None else ws

    return connect


@attrs.define
class GatedPlain:
    """A trio-websocket connection whose ``get_message`` waits for all other tasks to block first, with no
    ``get_message_nowait`` (the reader cannot batch)."""

    ws: trio_websocket.WebSocketConnection

    async def send_message(self, message: str) -> None:
        await self.ws.send_message(message)

    async def get_message(self) -> str | bytes:
        await trio.testing.wait_all_tasks_blocked()
        return await self.ws.get_message()


@attrs.define
class Gated(GatedPlain):
    """:class:`GatedPlain` with ``get_message_nowait`` (the adapter of :func:`aqbot.io.ws.batching`)."""

    def get_message_nowait(self) -> str | bytes:
        queued = batching(self.ws)
        assert isinstance(queued, QueuedFrames)
        return queued.get_message_nowait()


def decode(raw: str) -> Sequence[dict[str, Any]]:
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise WireError("bad json") from exc
    return value if isinstance(value, list) else [value]


@attrs.define
class Recorder:
    """A ChannelListener that records everything; with ``clock``, each deliver takes ``busy`` seconds (the
    clock jumps: a slow consumer, synchronously)."""

    log: list[tuple[str, float, object]] = attrs.Factory(list)
    delivered: list[tuple[int, float, list[dict[str, Any]]]] = attrs.Factory(list)
    arrived: trio.Event = attrs.Factory(trio.Event)
    alive_at: float | None = None
    clock: trio.testing.MockClock | None = None
    busy: float = 0.0

    def connected(self, channel: str, now: float) -> None:
        self.log.append(("connected", now, channel))
        CHANGES.notify()

    def gap(self, channel: str, reason: str, now: float) -> None:
        self.log.append(("gap", now, reason))
        CHANGES.notify()

    def alive(self, channel: str, now: float) -> None:
        self.alive_at = now

    def deliver(self, channel: str, seq: int, now: float, raw: str, events: Sequence[dict[str, Any]]) -> None:
        self.delivered.append((seq, now, list(events)))
        CHANGES.notify()
        self.arrived.set()
        if self.clock is not None:
            self.clock.jump(self.busy)


async def pong_forever(ws: Any, index: int) -> None:
    """Answer PINGs; never send data."""
    while True:
        msg = await ws.get_message()
        if msg == "PING":
            await ws.send_message("PONG")


def spec(connect: Any, timing: ChannelTiming | None = None, **kw: Any) -> ChannelSpec[dict[str, Any]]:
    return ChannelSpec(
        name=kw.pop("name", "user"),
        connect=connect,
        subscribe='{"type":"user"}',
        decode=decode,
        timing=timing or ChannelTiming(),
        **kw,
    )


async def test_subscribes_then_pings_every_10s(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """The first frame is the subscription; PINGs follow at exactly 10, 20, 30 s."""
    server = FakeServer([pong_forever])
    connect = await start_server(nursery, server)
    rec = Recorder()
    with trio.fail_after(100):
        async with trio.open_nursery() as inner:
            await inner.start(run_channel, spec(connect), rec, random.Random(1))
            await trio.sleep(35)
            inner.cancel_scope.cancel()
    assert [(t, m) for t, _, m in server.received] == [
        (0.0, '{"type":"user"}'),
        (10.0, "PING"),
        (20.0, "PING"),
        (30.0, "PING"),
    ]
    assert rec.log == [("connected", 0.0, "user")]
    assert rec.alive_at == 30.0  # the PONG to the 30 s PING


async def test_disconnect_opens_gap_and_reconnects_after_jittered_backoff(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """A server close is a gap; the reader reconnects after exactly the seeded backoff; seq continues."""

    async def one_then_close(ws: Any, index: int) -> None:
        await ws.get_message()
        await trio.sleep(2)
        await ws.send_message(json.dumps({"n": index}))
        await ws.aclose()

    server = FakeServer([one_then_close])
    connect = await start_server(nursery, server)
    rec = Recorder()
    expected_delay = backoff_delays(ChannelTiming(), random.Random(7))(1)
    with trio.fail_after(100):
        async with trio.open_nursery() as inner:
            inner.start_soon(run_channel, spec(connect), rec, random.Random(7))
            await CHANGES.wait_until(lambda: len(rec.delivered) >= 2)
            inner.cancel_scope.cancel()
    assert [(seq, ev) for seq, _, ev in rec.delivered] == [(1, [{"n": 0}]), (2, [{"n": 1}])]
    kinds = [(k, t) for k, t, _ in rec.log]
    assert kinds[:3] == [("connected", 0.0), ("gap", 2.0), ("connected", 2.0 + expected_delay)]
    assert str(rec.log[1][2]).startswith("closed")
    assert server.accepted == [0.0, 2.0 + expected_delay]


async def test_no_pong_for_30s_is_stale(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """A server that reads PINGs but never answers is declared stale at exactly 30 s."""

    async def mute(ws: Any, index: int) -> None:
        while True:
            await ws.get_message()

    server = FakeServer([mute, pong_forever])
    connect = await start_server(nursery, server)
    rec = Recorder()
    with trio.fail_after(100):
        async with trio.open_nursery() as inner:
            inner.start_soon(run_channel, spec(connect), rec, random.Random(3))
            await CHANGES.wait_until(lambda: len(server.accepted) >= 2)
            inner.cancel_scope.cancel()
    gap = rec.log[1]
    assert gap[0] == "gap"
    assert gap[1] == 30.0
    assert str(gap[2]).startswith("stale")


async def test_slow_consumer_is_not_stale(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """Time spent in deliver (100 s of work on one frame) does not count toward staleness: the clock
    restarts when the frame is handled, and the PINGs that follow keep the connection current."""

    async def data_then_pong(ws: Any, index: int) -> None:
        await ws.get_message()
        await ws.send_message('{"x":1}')
        await pong_forever(ws, index)

    server = FakeServer([data_then_pong])
    connect = await start_server(nursery, server)
    rec = Recorder(clock=autojump_clock, busy=100.0)
    with trio.fail_after(500):
        async with trio.open_nursery() as inner:
            inner.start_soon(run_channel, spec(connect), rec, random.Random(3))
            await rec.arrived.wait()
            await trio.sleep(5)
            inner.cancel_scope.cancel()
    assert [k for k, _, _ in rec.log] == ["connected"]
    assert [(seq, now) for seq, now, _ in rec.delivered] == [(1, 0.0)]
    assert rec.alive_at is not None
    assert rec.alive_at >= 100.0  # PONGs arrived after the busy frame


@pytest.mark.parametrize("reconnect", [False, True])
async def test_decode_failure_is_a_gap(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock, reconnect: bool
) -> None:
    """User channel: a point gap and carry on. Market channel: a gap and a reconnect."""

    async def garbage_then_good(ws: Any, index: int) -> None:
        await ws.get_message()
        await ws.send_message("{not json")
        await ws.send_message('{"ok":true}')
        await pong_forever(ws, index)

    async def good(ws: Any, index: int) -> None:
        await ws.get_message()
        await ws.send_message('{"ok":true}')
        await pong_forever(ws, index)

    server = FakeServer([garbage_then_good, good])
    connect = await start_server(nursery, server)
    rec = Recorder()
    timing = ChannelTiming(reconnect_on_decode_error=reconnect)
    with trio.fail_after(100):
        async with trio.open_nursery() as inner:
            inner.start_soon(run_channel, spec(connect, timing), rec, random.Random(5))
            await rec.arrived.wait()
            inner.cancel_scope.cancel()
    kinds = [k for k, _, _ in rec.log]
    assert kinds == ["connected", "gap", "connected"]
    assert "decode error" in str(rec.log[1][2])
    assert rec.delivered[0][0] == 2  # the undecodable frame consumed seq 1
    assert len(server.accepted) == (2 if reconnect else 1)


async def test_silent_asset_forces_reconnect(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """Market channel: PONGs keep coming, asset B gets no data for 60 s -> reconnect (silent freeze)."""

    async def only_a(ws: Any, index: int) -> None:
        await ws.get_message()
        async with trio.open_nursery() as n:
            n.start_soon(pong_forever, ws, index)
            while True:
                await ws.send_message('{"asset_id":"A"}')
                await trio.sleep(5)

    server = FakeServer([only_a])
    connect = await start_server(nursery, server)
    rec = Recorder()
    timing = ChannelTiming(asset_silence=60.0)
    market = spec(
        connect, timing, name="market", asset_of=lambda e: e.get("asset_id"), assets=frozenset({"A", "B"})
    )
    with trio.fail_after(200):
        async with trio.open_nursery() as inner:
            inner.start_soon(run_channel, market, rec, random.Random(5))
            await CHANGES.wait_until(lambda: any(k == "gap" for k, _, _ in rec.log))
            inner.cancel_scope.cancel()
    gap = next(entry for entry in rec.log if entry[0] == "gap")
    assert gap[1] == 60.0
    assert "asset B" in str(gap[2])


async def test_refused_connections_back_off_exponentially(autojump_clock: trio.testing.MockClock) -> None:
    """Connect failures are gaps, and the delays grow: exactly the seeded backoff sequence."""
    attempts: list[float] = []

    @asynccontextmanager
    async def refuse() -> AsyncIterator[WsConnection]:
        attempts.append(trio.current_time())
        CHANGES.notify()
        raise OSError("connection refused")
        yield  # pragma: no cover

    rec = Recorder()
    delay = backoff_delays(ChannelTiming(), random.Random(9))
    with trio.fail_after(100):
        async with trio.open_nursery() as inner:
            inner.start_soon(run_channel, spec(refuse), rec, random.Random(9))
            await CHANGES.wait_until(lambda: len(attempts) >= 4)
            inner.cancel_scope.cancel()
    expected = [0.0]
    for k in (1, 2, 3):
        expected.append(expected[-1] + delay(k))
    assert attempts == pytest.approx(expected, abs=1e-9)
    assert all(k == "gap" for k, _, _ in rec.log)


async def test_a_long_outage_keeps_retrying_at_the_capped_backoff(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """1100 refused connections in a row (a night-long outage): each is a gap, the delays stay at the cap
    (``backoff_max`` times the seeded jitter) and the reader keeps trying."""
    attempts: list[float] = []
    enough = trio.Event()

    @asynccontextmanager
    async def refuse() -> AsyncIterator[WsConnection]:
        attempts.append(trio.current_time())
        if len(attempts) == 1100:
            enough.set()
        raise OSError("connection refused")
        yield  # pragma: no cover

    rec = Recorder()
    with trio.fail_after(10**6):
        async with trio.open_nursery() as inner:
            inner.start_soon(run_channel, spec(refuse), rec, random.Random(9))
            await enough.wait()
            inner.cancel_scope.cancel()
    assert [k for k, _, _ in rec.log] == ["gap"] * len(attempts)
    waits = [b - a for a, b in itertools.pairwise(attempts[1000:])]
    assert all(15.0 <= w <= 30.0 for w in waits)


@pytest.mark.parametrize("quiet", [True, False])
async def test_silent_asset_verified_quiet_is_not_a_freeze(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock, quiet: bool
) -> None:
    """With ``verify_quiet``: a silent asset whose REST book agrees is a quiet market (watchdog restarts,
    no reconnect); one that disagrees is a silent freeze (reconnect at exactly 60 s)."""
    server = FakeServer([pong_forever])
    connect = await start_server(nursery, server)
    rec = Recorder()
    asked: list[tuple[str, float]] = []

    async def verify(asset: str) -> bool:
        await trio.lowlevel.checkpoint()
        asked.append((asset, trio.current_time()))
        return quiet

    timing = ChannelTiming(asset_silence=60.0)
    market = spec(connect, timing, name="market", assets=frozenset({"A"}), verify_quiet=verify)
    market.asset_of = lambda e: e.get("asset_id")
    with trio.fail_after(300):
        async with trio.open_nursery() as inner:
            inner.start_soon(run_channel, market, rec, random.Random(5))
            await trio.sleep(130)
            inner.cancel_scope.cancel()
    if quiet:
        assert asked == [("A", 60.0), ("A", 120.0)]
        assert [k for k, _, _ in rec.log] == ["connected"]
    else:
        assert asked[0] == ("A", 60.0)
        gap = rec.log[1]
        assert gap[:2] == ("gap", 60.0)
        assert "asset A silent" in str(gap[2])


@attrs.define
class LateFrameConnection:
    """Returns one frame only after the stale limit has passed, shielded (so the reader's deadline fires
    while the frame is being handed over), then never again."""

    hold: float
    sent: int = 0

    async def send_message(self, message: str) -> None:
        await trio.lowlevel.checkpoint()

    async def get_message(self) -> str:
        if self.sent == 0:
            self.sent += 1
            with trio.CancelScope(shield=True):
                await trio.sleep(self.hold)
            return '{"late":1}'
        await trio.sleep_forever()
        raise AssertionError("unreachable")


async def test_frame_arriving_as_the_limit_passes_is_delivered_not_stale(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A frame that arrives just as the stale limit passes is handled (once); the stale clock restarts
    from it, so staleness is declared one full limit later."""
    conn = LateFrameConnection(hold=31.0)

    @asynccontextmanager
    async def connect() -> AsyncIterator[LateFrameConnection]:
        yield conn

    rec = Recorder()
    with trio.fail_after(200):
        async with trio.open_nursery() as inner:
            inner.start_soon(run_channel, spec(connect), rec, random.Random(3))
            await CHANGES.wait_until(lambda: any(k == "gap" for k, _, _ in rec.log))
            inner.cancel_scope.cancel()
    assert [(seq, now, events) for seq, now, events in rec.delivered] == [(1, 31.0, [{"late": 1}])]
    gap = rec.log[1]
    assert gap[0] == "gap"
    assert gap[1] == 61.0
    assert str(gap[2]).startswith("stale")


async def test_steady_frames_keep_the_connection_current(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """Frames every 20 s (under the 30 s limit) for 200 s: all delivered in order, no gap."""

    async def every_20s(ws: Any, index: int) -> None:
        await ws.get_message()
        for i in range(10):
            await trio.sleep(20)
            await ws.send_message(json.dumps({"i": i}))
        await pong_forever(ws, index)

    server = FakeServer([every_20s])
    connect = await start_server(nursery, server)
    rec = Recorder()
    with trio.fail_after(500):
        async with trio.open_nursery() as inner:
            inner.start_soon(
                run_channel, spec(connect, ChannelTiming(ping_interval=1000.0)), rec, random.Random(3)
            )
            await CHANGES.wait_until(lambda: len(rec.delivered) == 10)
            await trio.sleep(25)
            inner.cancel_scope.cancel()
    assert [events for _, _, events in rec.delivered] == [[{"i": i}] for i in range(10)]
    assert [k for k, _, _ in rec.log] == ["connected"]


# --- batches: the frames trio-websocket has already queued, handled between two checkpoints ------------


@attrs.define
class BatchWatch:
    """Wakes whenever a frame is delivered and records how many had been delivered when it ran: since it
    can only run when the reader yields, the records are the ends of the reader's batches."""

    rec: Recorder
    ends: list[int] = attrs.Factory(list)
    wake: trio.Event = attrs.Factory(trio.Event)
    cancel_after_first: trio.CancelScope | None = None

    def deliver_hook(self) -> None:
        self.wake.set()

    async def run(self) -> None:
        while True:
            await self.wake.wait()
            self.wake = trio.Event()
            self.ends.append(len(self.rec.delivered))
            if self.cancel_after_first is not None:
                self.cancel_after_first.cancel()


@attrs.define
class WatchedRecorder(Recorder):
    watch: BatchWatch | None = None

    def deliver(self, channel: str, seq: int, now: float, raw: str, events: Sequence[dict[str, Any]]) -> None:
        super().deliver(channel, seq, now, raw, events)
        if self.watch is not None:
            self.watch.deliver_hook()


def burst(count: int, then: Session = pong_forever) -> Session:
    """A session that answers the subscription with ``count`` frames ``{"i": 0..}`` at once, then ``then``."""

    async def session(ws: Any, index: int) -> None:
        await ws.get_message()
        for i in range(count):
            await ws.send_message(json.dumps({"i": i}))
        await then(ws, index)

    return session


async def closing(ws: Any, index: int) -> None:
    await ws.aclose()


async def test_queued_frames_are_handled_in_bounded_batches_in_order(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """Frames already queued are handled in order, BATCH_MAX at most between two checkpoints, each with
    its own sequence number."""
    count = 2 * BATCH_MAX + BATCH_MAX // 2
    server = FakeServer([burst(count)])
    connect = await start_server(nursery, server, queue=64, gated=Gated)
    rec = WatchedRecorder()
    watch = rec.watch = BatchWatch(rec)
    with trio.fail_after(100):
        async with trio.open_nursery() as inner:
            inner.start_soon(watch.run)
            inner.start_soon(
                run_channel, spec(connect, ChannelTiming(ping_interval=1000.0)), rec, random.Random(1)
            )
            await CHANGES.wait_until(lambda: len(rec.delivered) == count)
            inner.cancel_scope.cancel()
    assert [(seq, events) for seq, _, events in rec.delivered] == [(i + 1, [{"i": i}]) for i in range(count)]
    assert watch.ends == [BATCH_MAX, 2 * BATCH_MAX, count]
    assert [k for k, _, _ in rec.log] == ["connected"]


async def test_a_connection_without_nowait_is_read_one_frame_per_checkpoint(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """A connection without ``get_message_nowait`` is read one frame per checkpoint, queue or not."""
    count = 5
    server = FakeServer([burst(count)])
    connect = await start_server(nursery, server, queue=64, gated=GatedPlain)
    rec = WatchedRecorder()
    watch = rec.watch = BatchWatch(rec)
    with trio.fail_after(100):
        async with trio.open_nursery() as inner:
            inner.start_soon(watch.run)
            inner.start_soon(run_channel, spec(connect), rec, random.Random(1))
            await CHANGES.wait_until(lambda: len(rec.delivered) == count)
            inner.cancel_scope.cancel()
    assert [seq for seq, _, _ in rec.delivered] == [1, 2, 3, 4, 5]
    assert watch.ends == [1, 2, 3, 4, 5]


async def test_a_long_batch_does_not_run_the_stale_clock(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """Three queued frames of 20 s work each (60 s, twice the stale limit) are one batch; the stale clock
    restarts when the batch ends, so a mute server is declared stale exactly 30 s later, at 90 s."""

    async def mute(ws: Any, index: int) -> None:
        while True:
            await ws.get_message()

    server = FakeServer([burst(3, then=mute), pong_forever])
    connect = await start_server(nursery, server, queue=64, gated=Gated)
    rec = WatchedRecorder(clock=autojump_clock, busy=20.0)
    watch = rec.watch = BatchWatch(rec)
    with trio.fail_after(300):
        async with trio.open_nursery() as inner:
            inner.start_soon(watch.run)
            inner.start_soon(run_channel, spec(connect), rec, random.Random(1))
            await CHANGES.wait_until(lambda: any(k == "gap" for k, _, _ in rec.log))
            inner.cancel_scope.cancel()
    assert [(seq, now) for seq, now, _ in rec.delivered] == [(1, 0.0), (2, 20.0), (3, 40.0)]
    assert watch.ends[0] == 3
    gap = rec.log[1]
    assert gap[:2] == ("gap", 90.0)
    assert str(gap[2]).startswith("stale")


async def test_a_close_behind_queued_frames_ends_the_batch_with_a_gap(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """The server sends five frames and closes: all five are handled (one batch), then the close is a gap
    and the reader reconnects; sequence numbers continue on the new connection."""
    server = FakeServer([burst(5, then=closing), burst(1)])
    connect = await start_server(nursery, server, queue=64, gated=Gated)
    rec = WatchedRecorder()
    watch = rec.watch = BatchWatch(rec)
    with trio.fail_after(100):
        async with trio.open_nursery() as inner:
            inner.start_soon(watch.run)
            inner.start_soon(run_channel, spec(connect), rec, random.Random(1))
            await CHANGES.wait_until(lambda: len(rec.delivered) == 6)
            inner.cancel_scope.cancel()
    assert [(seq, events) for seq, _, events in rec.delivered] == [(i + 1, [{"i": i}]) for i in range(5)] + [
        (6, [{"i": 0}])
    ]
    assert watch.ends[0] == 5
    assert [k for k, _, _ in rec.log] == ["connected", "gap", "connected"]
    assert str(rec.log[1][2]).startswith("closed")


@pytest.mark.parametrize("reconnect", [False, True])
async def test_a_decode_error_inside_a_batch(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock, reconnect: bool
) -> None:
    """User channel: the undecodable frame is a point gap between its neighbours and the batch goes on.
    Market channel: the batch stops at it and the reader reconnects; the frame behind it is not handled."""

    async def good_bad_good(ws: Any, index: int) -> None:
        await ws.get_message()
        await ws.send_message('{"i":0}')
        await ws.send_message("{not json")
        await ws.send_message('{"i":2}')
        await pong_forever(ws, index)

    server = FakeServer([good_bad_good, burst(1)])
    connect = await start_server(nursery, server, queue=64, gated=Gated)
    rec = WatchedRecorder()
    watch = rec.watch = BatchWatch(rec)
    order: list[str] = []
    timing = ChannelTiming(reconnect_on_decode_error=reconnect)
    with trio.fail_after(100):
        async with trio.open_nursery() as inner:
            inner.start_soon(watch.run)
            listener = Ordered(rec, order)
            inner.start_soon(run_channel, spec(connect, timing), listener, random.Random(1))
            await CHANGES.wait_until(lambda: len(rec.delivered) == 2)
            inner.cancel_scope.cancel()
    if reconnect:
        assert order == ["connected", "deliver 1", "gap", "connected", "deliver 3"]
        assert [events for _, _, events in rec.delivered] == [[{"i": 0}], [{"i": 0}]]
        assert len(server.accepted) == 2
    else:
        assert order == ["connected", "deliver 1", "gap", "connected", "deliver 3"]
        assert [events for _, _, events in rec.delivered] == [[{"i": 0}], [{"i": 2}]]
        assert watch.ends[0] == 2  # both good frames in one batch, the gap between them
        assert len(server.accepted) == 1
    assert "decode error" in str(rec.log[1][2])


@attrs.define
class Ordered:
    """A listener around a Recorder that also keeps one ordered list of what happened."""

    inner: Recorder
    order: list[str]

    def connected(self, channel: str, now: float) -> None:
        self.order.append("connected")
        self.inner.connected(channel, now)

    def gap(self, channel: str, reason: str, now: float) -> None:
        self.order.append("gap")
        self.inner.gap(channel, reason, now)

    def alive(self, channel: str, now: float) -> None:
        self.inner.alive(channel, now)

    def deliver(self, channel: str, seq: int, now: float, raw: str, events: Sequence[dict[str, Any]]) -> None:
        self.order.append(f"deliver {seq}")
        self.inner.deliver(channel, seq, now, raw, events)


async def test_cancellation_is_seen_between_batches_and_loses_no_taken_frame(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """Cancelled while frames are queued: the batch in hand is finished, then the reader stops at its
    checkpoint without taking another frame (the rest stay queued in trio-websocket)."""
    count = 3 * BATCH_MAX
    server = FakeServer([burst(count)])
    connect = await start_server(nursery, server, queue=64, gated=Gated)
    rec = WatchedRecorder()
    with trio.fail_after(100):
        async with trio.open_nursery() as inner:
            reader = trio.CancelScope()
            watch = rec.watch = BatchWatch(rec, cancel_after_first=reader)

            async def read() -> None:
                with reader:
                    await run_channel(spec(connect), rec, random.Random(1))

            inner.start_soon(watch.run)
            inner.start_soon(read)
            await CHANGES.wait_until(lambda: len(rec.delivered) > 0)
            await trio.testing.wait_all_tasks_blocked()
            inner.cancel_scope.cancel()
    assert [seq for seq, _, _ in rec.delivered] == list(range(1, BATCH_MAX + 1))
    assert watch.ends == [BATCH_MAX]


@pytest.mark.parametrize("peek", [True, False])
async def test_queued_frames_adapter_returns_and_raises_as_get_message(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock, peek: bool
) -> None:
    """``get_message_nowait``: None when nothing is queued; the queued frames in order; once the peer has
    closed, ConnectionClosed with the same reason as ``get_message``; after a local close likewise. The
    same with and without reading the channel's state first (``peek``)."""
    server = FakeServer([burst(2, then=closing), burst(2)])
    connect = await start_server(nursery, server, queue=64)

    def adapter(ws: Any) -> QueuedFrames:
        queued = batching(ws)
        assert isinstance(queued, QueuedFrames)
        assert queued.peek
        return attrs.evolve(queued, peek=peek)

    with trio.fail_after(100):
        async with connect() as ws:
            queued = adapter(ws)
            assert queued.get_message_nowait() is None
            await ws.send_message("sub")
            await trio.testing.wait_all_tasks_blocked()
            assert [queued.get_message_nowait(), queued.get_message_nowait()] == ['{"i": 0}', '{"i": 1}']
            with pytest.raises(trio_websocket.ConnectionClosed) as nowait:
                queued.get_message_nowait()
            with pytest.raises(trio_websocket.ConnectionClosed) as waiting:
                await ws.get_message()
            assert nowait.value.reason == waiting.value.reason == ws.closed
        async with connect() as ws:
            queued = adapter(ws)
            await ws.send_message("sub")
            await trio.testing.wait_all_tasks_blocked()
            await ws.aclose()  # local close: pending frames are discarded
            with pytest.raises(trio_websocket.ConnectionClosed) as nowait:
                queued.get_message_nowait()
            with pytest.raises(trio_websocket.ConnectionClosed) as waiting:
                await ws.get_message()
            assert nowait.value.reason == waiting.value.reason == ws.closed


@attrs.define
class ClosedReason:
    """Stands for a trio-websocket connection in :class:`QueuedFrames` (only ``closed`` is read)."""

    closed: str = "the close reason"


def nowait_outcome(queued: QueuedFrames) -> object:
    try:
        return queued.get_message_nowait()
    except trio_websocket.ConnectionClosed as exc:
        return ("ConnectionClosed", exc.reason)


async def test_peeking_at_the_channel_answers_as_receive_nowait(nursery: trio.Nursery) -> None:
    """Old vs new, in every state of the channel: a frame queued or not, a sender blocked on a full (zero)
    buffer, the send side closed with or without frames left, the receive side closed. Reading the state
    first gives what ``receive_nowait`` gives, frame for frame, and leaves the channel as it does."""
    reason = ClosedReason()

    async def states(
        size: int, frames: int, blocked: bool, close_send: bool, close_recv: bool
    ) -> list[object]:
        results: list[object] = []
        for peek in (True, False):
            send, recv = trio.open_memory_channel[str | bytes](size)
            for i in range(frames):
                send.send_nowait(f"f{i}")
            if blocked:
                nursery.start_soon(send.send, "blocked")
                await trio.testing.wait_all_tasks_blocked()
            if close_send and not blocked:
                send.close()
            if close_recv:
                recv.close()
            queued = QueuedFrames(reason, recv, peek)  # type: ignore[arg-type]
            results.append([nowait_outcome(queued) for _ in range(frames + 2)])
            if not close_recv:
                recv.close()
            await trio.testing.wait_all_tasks_blocked()
        return results

    with trio.fail_after(10):
        cases = [
            (64, 0, False, False, False),
            (64, 3, False, False, False),
            (64, 0, False, True, False),
            (64, 2, False, True, False),
            (64, 2, False, False, True),
            (64, 0, False, False, True),
            (0, 0, False, False, False),
            (0, 0, True, False, False),
        ]
        for case in cases:
            with_peek, without = await states(*case)
            assert with_peek == without, case
    assert peekable(trio.open_memory_channel[str | bytes](1)[1])  # this trio has the state that is read
    closed = ("ConnectionClosed", reason.closed)
    assert await states(64, 2, False, True, False) == [["f0", "f1", closed, closed]] * 2


async def test_batching_falls_back_without_trio_websocket_internals(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A connection with no non-blocking take is read one frame at a time; a trio-websocket connection
    without ``_recv_channel`` (internals changed) too, with a warning."""
    assert batching(LateFrameConnection(hold=1.0)) is None
    server = FakeServer([pong_forever])
    connect = await start_server(nursery, server)
    with trio.fail_after(100):
        async with connect() as ws:
            channel = ws._recv_channel
            del ws._recv_channel
            try:
                assert batching(ws) is None
            finally:
                ws._recv_channel = channel
    assert "_recv_channel" in caplog.text


async def test_the_asset_watchdog_runs_after_every_frame_of_a_batch(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """Market channel, four queued frames for asset A of 25 s work each: after the third (t = 75 s) asset B
    has been silent past its 60 s limit, so the batch stops there and the reader reconnects; the fourth
    frame is not handled on that connection."""

    async def four_for_a(ws: Any, index: int) -> None:
        await ws.get_message()
        for _ in range(4):
            await ws.send_message('{"asset_id":"A"}')
        await pong_forever(ws, index)

    server = FakeServer([four_for_a, pong_forever])
    connect = await start_server(nursery, server, queue=64, gated=Gated)
    rec = Recorder(clock=autojump_clock, busy=25.0)
    timing = ChannelTiming(asset_silence=60.0, ping_interval=1000.0)
    market = spec(
        connect, timing, name="market", asset_of=lambda e: e.get("asset_id"), assets=frozenset({"A", "B"})
    )
    with trio.fail_after(300):
        async with trio.open_nursery() as inner:
            inner.start_soon(run_channel, market, rec, random.Random(5))
            await CHANGES.wait_until(lambda: any(k == "gap" for k, _, _ in rec.log))
            inner.cancel_scope.cancel()
    assert [(seq, now) for seq, now, _ in rec.delivered] == [(1, 0.0), (2, 25.0), (3, 50.0)]
    gap = rec.log[1]
    assert gap[:2] == ("gap", 75.0)
    assert "asset B silent" in str(gap[2])
