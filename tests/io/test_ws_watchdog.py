"""The reader's stale and asset-silence watchdog (:class:`aqbot.io.ws._Reader`), pinned to exact times.

The reader's cancel scope is lazy: its deadline is set when the scope is entered and is not moved as frames
arrive, so it may fire early; the reader then re-checks the real condition and waits again. These tests
pin that the outcome is what an exact deadline gives: staleness declared exactly ``stale_after`` after the
stream stops, an asset's silence acted on at exactly ``asset_silence``, ``verify_quiet`` never cut short,
and no spurious gap however long a steady stream runs.

Rules: no sockets (a memory channel stands for trio-websocket's frame queue: its ``receive`` is cancel-safe
like trio-websocket's ``get_message``), ``autojump_clock`` so times are exact, a ``fail_after`` guard each.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import attrs
import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from aqbot.errors import WireError
from aqbot.io import edge
from aqbot.io.ws import ChannelSpec, ChannelTiming, _Reader, run_channel
from aqbot.wire import decode_market_frame

Frames = list[tuple[float, str]]


@attrs.define(eq=False)
class Scripted:
    """A connection whose frames come from a memory channel (trio-websocket's queue); answers PING with
    PONG when ``pong``. One connection serves every reconnect (the tests stop at the first gap)."""

    send: trio.MemorySendChannel[str]
    recv: trio.MemoryReceiveChannel[str]
    pong: bool = False
    connects: int = 0

    @classmethod
    def new(cls, *, pong: bool = False) -> Scripted:
        send, recv = trio.open_memory_channel[str](10_000)
        return cls(send, recv, pong)

    async def send_message(self, message: str) -> None:
        await trio.lowlevel.checkpoint()
        if message == "PING" and self.pong:
            self.send.send_nowait("PONG")

    async def get_message(self) -> str:
        return await self.recv.receive()

    def get_message_nowait(self) -> str:
        return self.recv.receive_nowait()

    def connect(self) -> Any:
        @asynccontextmanager
        async def opened() -> AsyncIterator[Scripted]:
            self.connects += 1
            yield self

        return opened

    async def play(self, frames: Frames) -> None:
        """Queue each frame at its time."""
        for at, frame in frames:
            await trio.sleep_until(at)
            self.send.send_nowait(frame)


@attrs.define
class Log:
    """A listener recording gaps and deliveries; ``busy``: seconds each deliver takes (the clock jumps)."""

    clock: trio.testing.MockClock
    busy: float = 0.0
    gaps: list[tuple[float, str]] = attrs.Factory(list)
    delivered: list[tuple[int, float, str]] = attrs.Factory(list)
    gapped: trio.Event = attrs.Factory(trio.Event)

    def connected(self, channel: str, now: float) -> None:
        pass

    def gap(self, channel: str, reason: str, now: float) -> None:
        self.gaps.append((now, reason))
        self.gapped.set()

    def alive(self, channel: str, now: float) -> None:
        pass

    def deliver(self, channel: str, seq: int, now: float, raw: str, events: Sequence[dict[str, Any]]) -> None:
        self.delivered.append((seq, now, raw))
        self.clock.jump(self.busy)


def decode(raw: str) -> Sequence[dict[str, Any]]:
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise WireError("bad json") from exc
    return [value]


def channel(conn: Scripted, timing: ChannelTiming, **kw: Any) -> ChannelSpec[dict[str, Any]]:
    return ChannelSpec("market", conn.connect(), "{}", decode, timing, **kw)


def market(conn: Scripted, timing: ChannelTiming, **kw: Any) -> ChannelSpec[dict[str, Any]]:
    return channel(conn, timing, asset_of=lambda e: e.get("asset_id"), assets=frozenset({"A", "B"}), **kw)


async def run_until_gap(spec: ChannelSpec[dict[str, Any]], log: Log, limit: float) -> None:
    """Run the reader until its first gap, or for ``limit`` seconds."""
    async with trio.open_nursery() as inner:
        inner.start_soon(run_channel, spec, log, random.Random(1))
        with trio.move_on_after(limit):
            await log.gapped.wait()
        inner.cancel_scope.cancel()


@pytest.mark.parametrize("every", [0.5, 7.0, 29.5])
async def test_staleness_is_declared_exactly_stale_after_the_last_frame(
    autojump_clock: trio.testing.MockClock, every: float
) -> None:
    """Frames every ``every`` seconds for a while, then nothing (no PONG either): every frame is delivered,
    and the stream is stale at exactly the last frame's time plus ``stale_after``, not earlier or later."""
    conn = Scripted.new()
    frames = [(every * (k + 1), json.dumps({"i": k})) for k in range(int(120 / every))]
    log = Log(autojump_clock)
    with trio.fail_after(1000):
        async with trio.open_nursery() as inner:
            inner.start_soon(conn.play, frames)
            await run_until_gap(channel(conn, ChannelTiming()), log, 500)
            inner.cancel_scope.cancel()
    assert [raw for _, _, raw in log.delivered] == [frame for _, frame in frames]
    last = log.delivered[-1][1]
    assert last == frames[-1][0]
    assert [(at, reason[:6]) for at, reason in log.gaps] == [(last + 30.0, "stale:")]


async def test_a_steady_stream_never_raises_a_spurious_gap(autojump_clock: trio.testing.MockClock) -> None:
    """Two watched assets, a frame every 0.5 s for 600 s (twenty stale limits, ten silence limits): no gap,
    no ``verify_quiet`` call, every frame delivered in order."""
    conn = Scripted.new()
    frames = [(0.5 * (k + 1), json.dumps({"asset_id": "AB"[k % 2], "k": k})) for k in range(1200)]
    asked: list[str] = []

    async def verify(asset: str) -> bool:
        await trio.lowlevel.checkpoint()
        asked.append(asset)
        return False

    log = Log(autojump_clock)
    spec = market(conn, ChannelTiming(asset_silence=60.0), verify_quiet=verify)
    with trio.fail_after(1000):
        async with trio.open_nursery() as inner:
            inner.start_soon(conn.play, frames)
            await run_until_gap(spec, log, 620)
            inner.cancel_scope.cancel()
    assert log.gaps == []
    assert asked == []
    assert [raw for _, _, raw in log.delivered] == [frame for _, frame in frames]
    assert conn.connects == 1


def a_stops_b_flows() -> Frames:
    """Asset A has data until t = 20 (silent from then on); asset B every 5 s at x2.5 and x7.5 until 300."""
    a = [(float(t), '{"asset_id":"A"}') for t in (5, 10, 15, 20)]
    b = [(2.5 + 5 * k, '{"asset_id":"B"}') for k in range(60)]
    return sorted(a + b)


@pytest.mark.parametrize("quiet", [None, True, False])
async def test_an_asset_going_silent_amid_traffic_is_acted_on_at_its_limit(
    autojump_clock: trio.testing.MockClock, quiet: bool | None
) -> None:
    """B's frames keep the connection current while A is silent from t = 20: A's 60 s limit is acted on at
    exactly t = 80. Without ``verify_quiet``, a reconnect then. With it, each call takes 3 s: quiet, A's
    watchdog restarts when the call returns (83, so the next at 143, 206, 269); not quiet, a reconnect once
    the call returns (83)."""
    conn = Scripted.new()
    asked: list[tuple[str, float, float]] = []

    async def verify(asset: str) -> bool:
        started = trio.current_time()
        await trio.sleep(3.0)
        asked.append((asset, started, trio.current_time()))
        return bool(quiet)

    log = Log(autojump_clock)
    timing = ChannelTiming(asset_silence=60.0, ping_interval=1000.0)
    spec = market(conn, timing, verify_quiet=None if quiet is None else verify)
    with trio.fail_after(1000):
        async with trio.open_nursery() as inner:
            inner.start_soon(conn.play, a_stops_b_flows())
            await run_until_gap(spec, log, 290)
            inner.cancel_scope.cancel()
    if quiet is None:
        assert asked == []
        assert log.gaps == [(80.0, "stale: asset A silent for 60s")]
    elif quiet:
        assert asked == [("A", t, t + 3.0) for t in (80.0, 143.0, 206.0, 269.0)]
        assert log.gaps == []
        # frames queued while a call runs are handled when it returns
        windows = [(t, t + 3.0) for _, t, _ in asked]
        held = [next((end for start, end in windows if start <= t < end), t) for t, _ in a_stops_b_flows()]
        assert [now for _, now, _ in log.delivered] == [t for t in held if t < 290]
    else:
        assert asked == [("A", 80.0, 83.0)]
        assert log.gaps == [(83.0, "stale: asset A silent for 60s")]


async def test_a_slow_verify_after_a_batch_is_not_cut_short(autojump_clock: trio.testing.MockClock) -> None:
    """Four queued frames for A of 25 s work each: after the third (t = 75) B has been silent past 60 s, and
    ``verify_quiet`` runs for 45 s (longer than the stale limit) and says quiet: it is not cancelled, B's
    watchdog and the stale clock restart when it returns (120), the fourth frame is handled then, and with
    nothing more the stream is stale at 145 + 30 = 175."""
    conn = Scripted.new()
    for _ in range(4):
        conn.send.send_nowait('{"asset_id":"A"}')
    asked: list[tuple[str, float, float]] = []

    async def verify(asset: str) -> bool:
        started = trio.current_time()
        await trio.sleep(45.0)
        asked.append((asset, started, trio.current_time()))
        return True

    log = Log(autojump_clock, busy=25.0)
    spec = market(conn, ChannelTiming(asset_silence=60.0, ping_interval=1000.0), verify_quiet=verify)
    with trio.fail_after(1000):
        await run_until_gap(spec, log, 500)
    assert asked == [("B", 75.0, 120.0)]
    assert [(seq, now) for seq, now, _ in log.delivered] == [(1, 0.0), (2, 25.0), (3, 50.0), (4, 120.0)]
    assert [(at, reason[:6]) for at, reason in log.gaps] == [(175.0, "stale:")]


async def test_handling_past_the_deadline_loses_nothing(autojump_clock: trio.testing.MockClock) -> None:
    """A frame whose handling runs past the wait's deadline (one frame of 40 s work, the limit 30 s) is
    followed by the next queued frame, handled, not dropped by the cancellation that deadline causes;
    staleness then counts from the end of the handling."""
    conn = Scripted.new()
    frames = [(1.0, '{"i":0}'), (1.0, '{"i":1}'), (50.0, '{"i":2}')]
    log = Log(autojump_clock, busy=40.0)
    with trio.fail_after(1000):
        async with trio.open_nursery() as inner:
            inner.start_soon(conn.play, frames)
            await run_until_gap(channel(conn, ChannelTiming(ping_interval=1000.0)), log, 500)
            inner.cancel_scope.cancel()
    assert [(seq, now) for seq, now, _ in log.delivered] == [(1, 1.0), (2, 41.0), (3, 81.0)]
    assert [(at, reason[:6]) for at, reason in log.gaps] == [(151.0, "stale:")]


@settings(max_examples=200)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["A", "B", "C", "other", None]), st.floats(0.0, 40.0, allow_nan=False)),
        max_size=60,
    )
)
def test_the_silence_check_equals_the_minimum_over_the_assets(steps: list[tuple[str | None, float]]) -> None:
    """Old vs new: after every frame the reader asks whether a watched asset is silent, from a lower bound
    of the assets' last data that it refreshes only when that bound could show one; the answer is always
    the one the minimum over all assets gives (``None``: a frame with no watched asset's data)."""
    conn = Scripted.new()
    spec = channel(conn, ChannelTiming(asset_silence=60.0), assets=frozenset({"A", "B", "C"}))
    spec.asset_of = lambda e: e.get("asset_id")
    now = 0.0
    reader = _Reader(spec, Log(trio.testing.MockClock()), conn, conn, 0, now=lambda: now)
    reader.asset_seen = dict.fromkeys(spec.assets, 0.0)
    reader.oldest_seen = 0.0
    for asset, elapsed in steps:
        now += elapsed
        if asset is not None:
            reader._note_assets([{"asset_id": asset}], now)
        expected = now - min(reader.asset_seen.values()) >= 60.0 - 1e-6
        assert reader._any_silent(now) == expected
        if expected:  # _check_assets: the silent asset is verified quiet, its watchdog restarts
            silent = min(reader.asset_seen, key=lambda a: reader.asset_seen[a])
            reader.asset_seen[silent] = now


@pytest.mark.parametrize("more", [True, False])
async def test_a_slow_verify_after_the_deadline_is_not_cut_short(
    autojump_clock: trio.testing.MockClock, more: bool
) -> None:
    """B has data at 1, 21, 41, 51, then every 5 s from 61; A none. A's 60 s limit passes at t = 60 while
    the reader waits (the scope's deadline path, not a batch): ``verify_quiet`` runs 25 s and says quiet. The
    frames queued meanwhile (61..81) are handled when it returns (85) and the stream never looks stale, as
    when the same check follows a batch (the test above). Without them (no frame after 51), the stream is
    stale when the check returns, 34 s after its last frame."""
    conn = Scripted.new()
    times = (1, 21, 41, 51, *(range(61, 200, 5) if more else ()))
    frames = [(float(t), '{"asset_id":"B"}') for t in times]
    asked: list[tuple[str, float, float]] = []

    async def verify(asset: str) -> bool:
        started = trio.current_time()
        await trio.sleep(25.0)
        asked.append((asset, started, trio.current_time()))
        return True

    log = Log(autojump_clock)
    spec = market(conn, ChannelTiming(asset_silence=60.0, ping_interval=1000.0), verify_quiet=verify)
    with trio.fail_after(1000):
        async with trio.open_nursery() as inner:
            inner.start_soon(conn.play, frames)
            await run_until_gap(spec, log, 150)
            inner.cancel_scope.cancel()
    assert asked[0] == ("A", 60.0, 85.0)
    if more:
        assert log.gaps == []
        assert [now for _, now, _ in log.delivered][4:9] == [85.0] * 5
    else:
        assert log.gaps == [(85.0, "stale: no frame for 30s")]


def mirrored_change(yes: str, no: str, at_ms: int) -> str:
    """A ``price_change`` of the unified book: the YES entry, then the mirrored NO one (PROTOCOL 4.2)."""
    entry = '{{"asset_id":"{}","price":"0.5","size":"{}","side":"{}"}}'
    changes = ",".join([entry.format(yes, at_ms % 7 + 1, "BUY"), entry.format(no, at_ms % 7 + 1, "SELL")])
    return f'{{"event_type":"price_change","market":"0xm","price_changes":[{changes}],"timestamp":"{at_ms}"}}'


async def test_both_tokens_of_a_price_change_count_as_data(autojump_clock: trio.testing.MockClock) -> None:
    """The exchange reports the unified book with one ``price_change`` for both tokens, YES first, every
    second for 200 s: neither token is ever silent, so ``verify_quiet`` is never asked."""
    conn = Scripted.new()
    frames = [(float(t), mirrored_change("Y", "N", 1000 * t)) for t in range(1, 200)]
    asked: list[tuple[str, float]] = []

    async def verify(asset: str) -> bool:
        await trio.lowlevel.checkpoint()
        asked.append((asset, trio.current_time()))
        return True

    log = Log(autojump_clock)
    timing = ChannelTiming(asset_silence=60.0, ping_interval=1000.0, reconnect_on_decode_error=True)
    spec: ChannelSpec[Any] = ChannelSpec(
        "market", conn.connect(), "{}", decode_market_frame, timing,
        asset_of=edge.market_asset_of, assets=frozenset({"Y", "N"}), verify_quiet=verify,
    )  # fmt: skip
    with trio.fail_after(1000):
        async with trio.open_nursery() as inner:
            inner.start_soon(conn.play, frames)
            await run_until_gap(spec, log, 200)
            inner.cancel_scope.cancel()
    assert log.gaps == []
    assert len(log.delivered) == len(frames)
    assert asked == []
