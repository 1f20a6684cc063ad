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
socket says. The clock only runs while the reader is *waiting for the network*: time spent handling
frames does not count, so a slow consumer never makes a healthy connection look stale. For the market
channel an optional per-asset watchdog (``asset_silence``) also reconnects when a subscribed asset has
had no data frame for that long: the "silent freeze" of PROTOCOL 10.1, where PING/PONG keeps working but
books stop. An optional
``verify_quiet`` check (a REST ``/book`` compared with the local book) tells a quiet market from a
frozen feed, so quiet markets are not reconnected over and over. Both limits are watched lazily: the
cancel scope's deadline is set when the reader starts waiting under it and is not moved as frames arrive
(moving it cost ~3 us a frame); frames only push the real limits later, so when it fires the reader checks
the real conditions (the last frame's time, each asset's last data) and waits again under the limits as
they stand. Staleness and silence are declared at exactly the same times as with a deadline moved per
frame, and ``verify_quiet`` never runs inside the scope; after an asset check, the frames queued while
it ran are read before the limits are judged again (so a slow ``verify_quiet`` is never a stale link).

Gaps. Every disconnect, stale connection and decode failure calls ``listener.gap(channel, reason, now)``;
the next successful subscribe calls ``listener.connected(channel, now)``, which ends the gap. A decode
failure on a channel with ``reconnect_on_decode_error=False`` (the user channel) is a point gap: ``gap``
then ``connected`` at the same instant, and the reader carries on. On the market channel a decode failure
reconnects, because the fresh ``book`` snapshots that a resubscribe produces are the only way to rebuild.

Batches. trio-websocket's reader task parses the socket and queues each complete frame in a bounded memory
channel (``message_queue_size``, :data:`MESSAGE_QUEUE_SIZE` with :func:`open_websocket`), one frame per
scheduler pass (its ``send`` is a checkpoint), so frames pile up only while the reader is held up. After each
``get_message`` (a checkpoint) the reader also takes the frames already queued, without waiting
(:func:`batching`: ``get_message_nowait``, which returns or raises exactly as ``get_message`` would,
``ConnectionClosed`` included, or ``None`` when nothing is queued), and handles them all, in
order and synchronously, up to :data:`BATCH_MAX` frames; the next ``get_message`` is the batch's one
checkpoint. A batch is the frames that were already there: the reader never waits to fill one. Every
frame still gets its own sequence number, ``alive``, decode (a failure is still a point gap or a
reconnect, frame by frame) and ``deliver``. Cancellation is seen at the checkpoint, so a frame taken off
the queue is always handled. A connection without a non-blocking take (a test double, or a
trio-websocket whose internals changed: then a warning) is read one frame per checkpoint.

Back-pressure and loss. ``deliver`` is synchronous (STYLE 1.1: it never blocks). The market listener
overwrites latest-value books and bumps versions. User events must never be dropped: aqbot's user
listener applies them to the core *inside the reader* (the core is sans-IO and fast; the ledger sink is
a bounded, non-blocking buffer that halts quoting with LEDGER_FAILURE when it overflows), so there is no
queue that could fill, reorder or lose events. While the reader is busy it does not read:
trio-websocket's bounded queue stops reading the socket and TCP pushes back on the server. If the server
gives up on us, that is a disconnect, i.e. a gap that the reconciler resolves: losing the connection is
safe, dropping an event silently is not.

Reconnect backoff is exponential with jitter from a seeded ``random.Random`` (deterministic in tests),
reset once a connection has delivered its first frame.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, NoReturn, Protocol, TypeVar

import attrs
import trio
import trio_websocket

from aqbot.errors import TransportError, WireError
from aqbot.io.ws_conn import MESSAGE_QUEUE_SIZE as MESSAGE_QUEUE_SIZE
from aqbot.io.ws_conn import RECEIVE_BUFFER_SIZE as RECEIVE_BUFFER_SIZE
from aqbot.io.ws_conn import BatchingConnection, Connect, WsConnection, batching
from aqbot.io.ws_conn import QueuedFrames as QueuedFrames
from aqbot.io.ws_conn import open_websocket as open_websocket

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


BATCH_MAX = 16
"""Most frames handled between two checkpoints of a reader: amortises a scheduler pass to ~2 us a frame,
while a quoter woken during a batch waits at most 16 frames' handling (docs/runtime.md)."""


class ChannelListener(Protocol[T_contra]):
    """Receives a channel's events; every method is synchronous (the reader handles a batch of frames
    between two checkpoints)."""

    def connected(self, channel: str, now: float) -> None: ...

    def gap(self, channel: str, reason: str, now: float) -> None: ...

    def alive(self, channel: str, now: float) -> None:
        """Any frame arrived (PONG included): the connection is current."""
        ...

    def deliver(self, channel: str, seq: int, now: float, raw: str, events: Sequence[T_contra]) -> None: ...


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
        asset_of: the asset id an event is about, for the per-asset watchdog (market channel); a tuple of
            ids when it is about several (a ``price_change`` of both tokens).
        assets: the asset ids the per-asset watchdog expects data for.
        verify_quiet: asked about an asset silent for ``asset_silence``: True when the market is merely
            quiet (e.g. its REST book matches the local one), False to reconnect (a silent freeze).
    """

    name: str
    connect: Connect
    subscribe: str = attrs.field(repr=False)
    decode: Callable[[str], Sequence[T]]
    timing: ChannelTiming = ChannelTiming()
    asset_of: Callable[[T], str | tuple[str, ...] | None] | None = None
    assets: frozenset[str] = frozenset()
    verify_quiet: Callable[[str], Awaitable[bool]] | None = None
    stats: ChannelStats = attrs.Factory(ChannelStats)


_BACKOFF_DOUBLINGS = 1000
"""Most doublings of the reconnect backoff: ``2.0 ** 1024`` raises OverflowError, and a night-long outage
counts over a thousand failures in a row (past the bound the product is the cap, or inf then the cap)."""


def backoff_delays(timing: ChannelTiming, rng: random.Random) -> Callable[[int], float]:
    """Delay before reconnect attempt ``k`` (1-based): ``initial * 2**(k-1)`` capped, times U(0.5, 1)."""

    def delay(k: int) -> float:
        base = min(timing.backoff_max, timing.backoff_initial * 2.0 ** min(k - 1, _BACKOFF_DOUBLINGS))
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
                        frames = _Reader(spec, listener, ws, batching(ws), seq)
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
    queued: BatchingConnection | None
    seq: int
    got_frame: bool = False
    asset_seen: dict[str, float] = attrs.Factory(dict)
    oldest_seen: float = math.inf
    """At most every watched asset's ``asset_seen`` (which only grow): a frame's silence check compares with
    it and takes the minimum again only when it could show a silent asset."""
    now: Callable[[], float] = attrs.field(factory=lambda: trio.lowlevel.current_clock().current_time)
    """``trio.current_time`` without its two lookups (the run's clock, bound once)."""

    async def run(self) -> NoReturn:
        now = self.now
        stale_after = self.spec.timing.stale_after
        last_frame = now()
        self.asset_seen = dict.fromkeys(self.spec.assets, last_frame)
        self.oldest_seen = min(self.asset_seen.values(), default=math.inf)
        checked = False
        while True:
            # The watchdog is lazy: one cancel scope serves batch after batch, its deadline set once when it
            # is entered (the stale limit or the earliest asset's silence limit) and never moved. Frames only
            # move the real limits later, so the deadline may fire early: the real conditions are checked
            # below, and the reader waits again under the limits as they now stand. The scope holds only
            # ``get_message`` (the batch's one checkpoint) and the synchronous ``_batch``, so a deadline that
            # passes while frames are handled cancels the next ``get_message``, before it takes a frame; no
            # other await (``_check_assets``: ``verify_quiet``) ever runs inside the scope.
            silent = False
            with trio.CancelScope(deadline=math.inf if checked else self._deadline(last_frame)) as scope:
                if checked:
                    # After an asset check (``verify_quiet`` may take long): a deadline set in an entered
                    # scope fires at the next wait, so a frame already queued is taken first even if a limit
                    # passed during the check (on entry, a deadline already passed cancels at once).
                    scope.deadline = self._deadline(last_frame)
                while not silent:
                    last_frame, silent = self._batch(await self.ws.get_message())
            checked = silent
            if silent:  # an asset went silent during a batch: check it, then restart the stale clock
                await self._check_assets(last_frame)
                last_frame = now()
                continue
            waited = now()
            if waited - last_frame >= stale_after - _SLACK:
                raise StaleConnection(f"no frame for {stale_after:g}s")
            await self._check_assets(waited)
            checked = True  # the frames queued during a slow check are read before the limits are judged

    def _batch(self, raw: str | bytes) -> tuple[float, bool]:
        """Handle ``raw`` and the frames already queued behind it, at most :data:`BATCH_MAX` in all.

        Returns the time the stale clock restarts from, and whether a watched asset has gone silent (the
        batch then stops there and the caller runs :meth:`_check_assets`, as it did after every frame).
        """
        watch = self.spec.timing.asset_silence is not None
        last = self._frame(raw)
        taken = 1
        while True:
            if watch and self._any_silent(last):
                return last, True
            if taken >= BATCH_MAX or self.queued is None:
                return last, False
            try:
                queued = self.queued.get_message_nowait()
            except trio.WouldBlock:
                return last, False
            if queued is None:
                return last, False
            last = self._frame(queued)
            taken += 1

    def _frame(self, raw: str | bytes) -> float:
        """Handle one frame; returns the time the stale clock restarts from."""
        now = self.now()
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        spec, listener = self.spec, self.listener
        stats = spec.stats
        stats.last_frame_at = now
        listener.alive(spec.name, now)
        self.got_frame = True
        if len(text) < _IGNORED_MAX and text.strip() in _IGNORED_TEXT:
            return now
        self.seq = seq = self.seq + 1
        stats.frames += 1
        try:
            events = spec.decode(text)
        except WireError as exc:
            stats.decode_errors += 1
            if spec.timing.reconnect_on_decode_error:
                raise
            log.warning("%s channel: undecodable frame #%d: %s", spec.name, seq, exc)
            listener.gap(spec.name, f"decode error: {exc}", now)
            stats.gaps += 1
            listener.connected(spec.name, now)
            return now
        if spec.asset_of is not None:
            self._note_assets(events, now)
        listener.deliver(spec.name, seq, now, text, events)
        return self.now()  # the stale clock only runs while waiting for the network

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
        seen = self.asset_seen
        for event in events:
            asset = self.spec.asset_of(event)
            if type(asset) is tuple:
                for one in asset:
                    if one in seen:
                        seen[one] = now
            elif asset is not None and asset in seen:
                seen[asset] = now

    def _any_silent(self, now: float) -> bool:
        """A watched asset has had no data for ``asset_silence`` (what :meth:`_check_assets` acts on)."""
        silence = self.spec.timing.asset_silence
        if silence is None or now - self.oldest_seen < silence - _SLACK:
            return False  # (``oldest_seen`` is inf when no asset is watched)
        self.oldest_seen = min(self.asset_seen.values())
        return now - self.oldest_seen >= silence - _SLACK

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
                self.asset_seen[asset] = self.now()
                continue
            raise StaleConnection(f"asset {asset[:12]} silent for {now - seen:g}s")
