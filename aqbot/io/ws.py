"""Reconnecting WebSocket channel readers (market and user channels), STYLE P3.

One generic reader, :func:`run_channel`, serves both channels. It is given a ``connect`` factory (an
async context manager yielding an object with ``send_message``/``get_message``: a trio-websocket
connection in production, a memory-stream one in tests), the subscribe frame, a decoder from
:mod:`aqbot.wire`, and a :class:`ChannelListener` that receives what happens.

Per connection: subscribe, then a pinger task sends the text ``PING`` every ``ping_interval`` seconds
while the reader waits for frames. Every frame gets a local sequence number (monotonic over the life of
the reader, across reconnects), is decoded, and is handed to ``listener.deliver`` with its raw text
(kept as ledger evidence).

Staleness. The reader waits for each frame under a ``stale_after`` deadline: since the server
answers every PING with ``PONG``, 30 s with no frame at all means the connection is dead, whatever the
socket says. The clock only runs while the reader is *waiting for the network*: time spent inside
``deliver`` (for example blocked on a full user-event channel) does not count, so a slow consumer never
makes a healthy connection look stale. For the market channel an optional per-asset watchdog
(``asset_silence``) also reconnects when a subscribed asset has had no data frame for that long: the
"silent freeze" of PROTOCOL 10.1, where PING/PONG keeps working but books stop. An optional
``verify_quiet`` check (a REST ``/book`` compared with the local book) tells a quiet market from a
frozen feed, so quiet markets are not reconnected over and over.

Gaps. Every disconnect, stale connection and decode failure calls ``listener.gap(channel, reason, now)``;
the next successful subscribe calls ``listener.connected(channel, now)``, which ends the gap. A decode
failure on a channel with ``reconnect_on_decode_error=False`` (the user channel) is a point gap: ``gap``
then ``connected`` at the same instant, and the reader carries on. On the market channel a decode failure
reconnects, because the fresh ``book`` snapshots that a resubscribe produces are the only way to rebuild.

Back-pressure and loss. The market listener never blocks (books are latest-value: it overwrites a slot
and bumps a version). User events must never be dropped. aqbot's user listener applies them to the core
*synchronously inside the reader* (the core is sans-IO and fast; the ledger sink is a bounded,
non-blocking buffer that halts quoting with LEDGER_FAILURE when it overflows), so there is no queue that
could fill, reorder or lose events. A listener that does block (a bounded channel to another task) is
still safe with this reader: while ``deliver`` blocks, the reader neither reads frames nor counts
staleness; trio-websocket's bounded queue stops reading the socket and TCP pushes back on the server. If
the server gives up on us, that is a disconnect, i.e. a gap that the reconciler resolves: losing the
connection is safe, dropping an event silently is not.

Reconnect backoff is exponential with jitter from a seeded ``random.Random`` (deterministic in tests),
reset once a connection has delivered its first frame.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Generic, NoReturn, Protocol, TypeVar

import attrs
import trio
import trio_websocket

from aqbot.errors import TransportError, WireError

log = logging.getLogger(__name__)

T = TypeVar("T")
T_contra = TypeVar("T_contra", contravariant=True)

# Text keepalive frames (PROTOCOL 4.4) and the server's "nothing to add" answer (PROTOCOL 4.1).
PING = "PING"
PONG = "PONG"
_IGNORED_TEXT = frozenset({PONG, "NO NEW ASSETS"})
_IGNORED_MAX = 64  # longer frames are never one of those texts (not even with surrounding whitespace)
# Float slack of the timeout comparisons: a deadline computed as ``seen + limit - now`` may come out a few
# ulps positive while ``now - seen < limit``; without the slack the reader would spin on zero-length waits.
_SLACK = 1e-6


class WsConnection(Protocol):
    """What a reader needs from a WebSocket connection (trio-websocket's ``WebSocketConnection``)."""

    async def send_message(self, message: str) -> None: ...

    async def get_message(self) -> str | bytes:
        """The next frame (trio-websocket's is a memory-channel ``receive``: a checkpoint)."""
        ...


Connect = Callable[[], AbstractAsyncContextManager[WsConnection]]
"""A factory of connections: ``partial(trio_websocket.open_websocket_url, url)`` in production."""


class ChannelListener(Protocol[T_contra]):
    """Receives a channel's events. ``gap``/``connected`` are sync; ``deliver`` may block (user channel)."""

    def connected(self, channel: str, now: float) -> None: ...

    def gap(self, channel: str, reason: str, now: float) -> None: ...

    def alive(self, channel: str, now: float) -> None:
        """Any frame arrived (PONG included): the connection is current."""
        ...

    async def deliver(
        self, channel: str, seq: int, now: float, raw: str, events: Sequence[T_contra]
    ) -> None: ...


class StaleConnection(TransportError):
    """No frame (or no data for one asset) within the stale limit; internal to the reader."""


@attrs.frozen
class ChannelTiming:
    """Keepalive and reconnect timing of one channel (seconds)."""

    ping_interval: float = 10.0
    stale_after: float = 30.0
    connect_timeout: float = 10.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    asset_silence: float | None = None
    reconnect_on_decode_error: bool = False


@attrs.define
class ChannelStats:
    """Counters of one reader (read by the dashboard through the app's handle)."""

    connects: int = 0
    gaps: int = 0
    frames: int = 0
    decode_errors: int = 0
    last_frame_at: float | None = None
    connected: bool = False


@attrs.define
class ChannelSpec(Generic[T]):
    """Everything that makes a generic reader the market or the user channel.

    Args:
        name: ``"market"`` or ``"user"`` (used in gap rows and logs).
        connect: the connection factory.
        subscribe: the first frame (for the user channel it holds credentials: never logged).
        decode: raw frame -> events; raises :class:`WireError` only.
        timing: keepalive and reconnect timing.
        asset_of: the asset id an event is about, for the per-asset watchdog (market channel).
        assets: the asset ids the per-asset watchdog expects data for.
        verify_quiet: asked about an asset silent for ``asset_silence``: True when the market is merely
            quiet (e.g. its REST book matches the local one), False to reconnect (a silent freeze).
    """

    name: str
    connect: Connect
    subscribe: str = attrs.field(repr=False)
    decode: Callable[[str], Sequence[T]]
    timing: ChannelTiming = ChannelTiming()
    asset_of: Callable[[T], str | None] | None = None
    assets: frozenset[str] = frozenset()
    verify_quiet: Callable[[str], Awaitable[bool]] | None = None
    stats: ChannelStats = attrs.Factory(ChannelStats)


def backoff_delays(timing: ChannelTiming, rng: random.Random) -> Callable[[int], float]:
    """Delay before reconnect attempt ``k`` (1-based): ``initial * 2**(k-1)`` capped, times U(0.5, 1)."""

    def delay(k: int) -> float:
        base = min(timing.backoff_max, timing.backoff_initial * 2.0 ** (k - 1))
        jitter: float = rng.uniform(0.5, 1.0)
        return base * jitter

    return delay


async def run_channel(
    spec: ChannelSpec[T],
    listener: ChannelListener[T],
    rng: random.Random,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> NoReturn:
    """Read one channel forever, reconnecting with backoff. Runs until cancelled.

    ``task_status.started()`` is called after the first successful subscribe.

    Error handling: connection failures, staleness and decode errors are handled here (gap + reconnect);
    anything else (a bug, an error from the listener) propagates.
    """
    seq = 0
    failures = 0
    started = False
    delay = backoff_delays(spec.timing, rng)
    while True:
        reason = ""
        got_frame = False
        try:
            # The connect deadline covers connecting and subscribing only; it is lifted once subscribed.
            # (One scope around the whole connection, so the connection's own nursery nests inside it.)
            with trio.CancelScope(deadline=trio.current_time() + spec.timing.connect_timeout) as connecting:
                async with spec.connect() as ws:
                    await ws.send_message(spec.subscribe)
                    connecting.deadline = math.inf
                    spec.stats.connects += 1
                    spec.stats.connected = True
                    listener.connected(spec.name, trio.current_time())
                    if not started:
                        started = True
                        task_status.started()
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(_pinger, ws, spec.timing.ping_interval, name=f"{spec.name}-ping")
                        frames = _Reader(spec, listener, ws, seq)
                        try:
                            await frames.run()
                        finally:
                            seq = frames.seq
                            got_frame = frames.got_frame
            if connecting.cancelled_caught:
                reason = f"connect timed out after {spec.timing.connect_timeout:g}s"
        except* (trio_websocket.ConnectionClosed, trio_websocket.HandshakeError) as group:
            reason = f"closed: {_first(group)!r}"
        except* StaleConnection as group:
            reason = f"stale: {_first(group)}"
        except* (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as group:
            reason = f"connect failed: {_first(group)!r}"
        except* WireError as group:
            reason = f"decode error: {_first(group)}"
        spec.stats.connected = False
        spec.stats.gaps += 1
        now = trio.current_time()
        log.warning("%s channel gap: %s", spec.name, reason)
        listener.gap(spec.name, reason, now)
        failures = 1 if got_frame else failures + 1
        await trio.sleep(delay(failures))


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


async def _pinger(ws: WsConnection, interval: float) -> NoReturn:
    """Send ``PING`` every ``interval`` seconds, drift-free. Runs until cancelled."""
    deadline = trio.current_time()
    while True:
        deadline += interval
        await trio.sleep_until(deadline)
        await ws.send_message(PING)


@attrs.define
class _Reader(Generic[T]):
    """The frame loop of one connection (split out to keep :func:`run_channel` readable)."""

    spec: ChannelSpec[T]
    listener: ChannelListener[T]
    ws: WsConnection
    seq: int
    got_frame: bool = False
    asset_seen: dict[str, float] = attrs.Factory(dict)

    async def run(self) -> NoReturn:
        timing = self.spec.timing
        last_frame = trio.current_time()
        self.asset_seen = dict.fromkeys(self.spec.assets, last_frame)
        while True:
            # One cancel scope serves frame after frame while they keep coming (a scope per frame was a
            # large part of the reader's cost); its deadline is the stale limit while waiting for the
            # network and infinite while a frame is handled.
            raw: str | bytes | None = None
            with trio.CancelScope(deadline=self._deadline(last_frame)) as scope:
                while True:
                    raw = await self.ws.get_message()
                    if scope.cancel_called:
                        break  # the limit passed just as this frame arrived: handle it outside the scope
                    scope.deadline = math.inf  # the stale clock only runs while waiting for the network
                    last_frame = await self._frame(raw)
                    raw = None
                    scope.deadline = self._deadline(last_frame)
            if raw is not None:
                last_frame = await self._frame(raw)
                continue
            now = trio.current_time()
            if now - last_frame >= timing.stale_after - _SLACK:
                raise StaleConnection(f"no frame for {timing.stale_after:g}s")
            await self._check_assets(now)

    async def _frame(self, raw: str | bytes) -> float:
        """Handle one frame; returns the time the stale clock restarts from."""
        now = trio.current_time()
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        spec = self.spec
        spec.stats.last_frame_at = now
        self.listener.alive(spec.name, now)
        self.got_frame = True
        watch = spec.timing.asset_silence is not None
        if len(text) < _IGNORED_MAX and text.strip() in _IGNORED_TEXT:
            if watch:
                await self._check_assets(now)
            return trio.current_time()
        self.seq += 1
        spec.stats.frames += 1
        try:
            events = spec.decode(text)
        except WireError as exc:
            spec.stats.decode_errors += 1
            if spec.timing.reconnect_on_decode_error:
                raise
            log.warning("%s channel: undecodable frame #%d: %s", spec.name, self.seq, exc)
            self.listener.gap(spec.name, f"decode error: {exc}", now)
            spec.stats.gaps += 1
            self.listener.connected(spec.name, now)
            return now
        if spec.asset_of is not None:
            self._note_assets(events, now)
        await self.listener.deliver(spec.name, self.seq, now, text, events)
        if watch:
            await self._check_assets(trio.current_time())
        return trio.current_time()  # the stale clock only runs while waiting for the network

    def _deadline(self, last_frame: float) -> float:
        """When the wait for the next frame gives up: the stale limit, or an asset's silence limit."""
        deadline = last_frame + self.spec.timing.stale_after
        silence = self.spec.timing.asset_silence
        if silence is not None and self.asset_seen:
            deadline = min(deadline, min(self.asset_seen.values()) + silence)
        return deadline

    def _note_assets(self, events: Sequence[T], now: float) -> None:
        if self.spec.asset_of is None:
            return
        for event in events:
            asset = self.spec.asset_of(event)
            if asset is not None and asset in self.asset_seen:
                self.asset_seen[asset] = now

    async def _check_assets(self, now: float) -> None:
        """Reconnect when an asset has been silent too long, unless ``verify_quiet`` shows its book is
        simply quiet (the REST book agrees with the local one): then its watchdog restarts."""
        silence = self.spec.timing.asset_silence
        if silence is None:
            return
        for asset, seen in sorted(self.asset_seen.items()):
            if now - seen < silence - _SLACK:
                continue
            verify = self.spec.verify_quiet
            if verify is not None and await verify(asset):
                self.asset_seen[asset] = trio.current_time()
                continue
            raise StaleConnection(f"asset {asset[:12]} silent for {now - seen:g}s")
