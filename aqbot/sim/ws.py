"""The simulator's WebSocket channels: ``/ws/market`` and ``/ws/user`` (PROTOCOL 2.3, 4, 5).

:class:`WsHub` is a ``trio_websocket`` handler (serve it with ``WebSocketServer`` on any listener: a TCP
port on loopback, a :class:`~aqbot.sim.inproc.MemoryListener` in process) and the fan-out of the engine's
events. ``publish`` is synchronous and never blocks the engine:

* every connection has a bounded queue (:data:`QUEUE_SIZE`); a client that falls that far behind is
  disconnected and the overflow is written on the tape (what a real exchange does to a slow consumer);
* for every message and connection the :class:`~aqbot.sim.faults.FaultPlan` decides its fate at publish
  time: deliver, drop, duplicate, reorder (held back so later ones overtake it), delay (held back with
  everything behind it), disconnect (the message is lost and the socket closes), or freeze (data stops for
  a while; PONGs continue). The plan records each fault on the tape.

Market channel: the first frame ``{"type": "market", "assets_ids": [...], "custom_feature_enabled": b}``,
then ``{"operation": "subscribe"|"unsubscribe", ...}``; every (re)subscribe sends a fresh ``book`` per asset
(one array frame). ``best_bid_ask`` events (custom feature) are derived here from the engine's
``price_change`` entries. User channel: the first frame carries the raw credentials; only the owner's
``order``/``trade`` events are delivered, optionally filtered by ``markets``, and nothing is replayed after a
disconnect. Text ``PING`` is answered with ``PONG`` on both.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import math
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Final

import attrs
import trio
import trio_websocket

from aqbot.sim.events import Event, MarketEvent, UserEvent
from aqbot.sim.server import TransportFaults
from aqbot.sim.server_auth import KeyRing
from aqbot.sim.tape import Tape

logger = logging.getLogger(__name__)

QUEUE_SIZE: Final = 2048
"""Messages a connection may have pending (queued or held by a delay fault) before it is disconnected."""
CLOSE_GRACE: Final = 2.0
"""Seconds a closing handshake may take before the connection is dropped."""
CUSTOM_ONLY: Final = frozenset({"best_bid_ask", "new_market", "market_resolved"})
MAX_SNAPSHOT_ASSETS: Final = 500
"""Beyond this many assets on one connection, subscribes get no ``book`` snapshot (PROTOCOL 4.1)."""


def encode(payload: object) -> str:
    """Compact JSON, as the exchange sends it."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


@attrs.define(eq=False)
class WsConn:
    """One subscriber connection and its subscription state."""

    cid: int
    channel: str
    send: trio.MemorySendChannel[tuple[float, int, str | None]]
    recv: trio.MemoryReceiveChannel[tuple[float, int, str | None]]
    scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)
    assets: set[str] = attrs.field(factory=set)
    custom: bool = False
    owner: str | None = None
    markets: set[str] = attrs.field(factory=set)
    hold_until: float = -math.inf
    frozen_until: float = -math.inf
    held: int = 0
    closing: bool = False
    close_code: int = 1000
    close_reason: str = ""


class WsHub:
    """Subscriptions, fault injection and fan-out for both channels.

    Args:
        book_event: the engine's ``book`` snapshot builder ``(token, now_ms) -> payload | None``.
        keys: the API keys (user-channel authentication).
        faults: the fault plan (its WS stream).
        tape: where overflows are recorded.
        clock: simulated now in ms.
        queue_size: pending messages per connection before it is disconnected.
    """

    def __init__(
        self,
        book_event: Callable[[str, int], dict[str, object] | None],
        keys: KeyRing,
        faults: TransportFaults,
        tape: Tape,
        clock: Callable[[], int],
        *,
        queue_size: int = QUEUE_SIZE,
    ) -> None:
        self._queue_size = queue_size
        self._book_event = book_event
        self._keys = keys
        self._faults = faults
        self._tape = tape
        self._clock = clock
        self._conns: dict[int, WsConn] = {}
        self._ids = itertools.count(1)
        self._seq = itertools.count()
        self._tops: dict[str, tuple[str, str]] = {}

    @property
    def faults(self) -> TransportFaults:
        """The transport fault decider of every connection (replaceable, e.g. by a scripted wrapper)."""
        return self._faults

    @faults.setter
    def faults(self, decider: TransportFaults) -> None:
        self._faults = decider

    @property
    def connections(self) -> int:
        """Open subscriber connections."""
        return len(self._conns)

    # ---- fan-out (synchronous: called by the engine's driver and the REST handlers) -------------------

    def publish(self, events: Iterable[Event]) -> None:
        """Queue every event for its subscribers; never blocks."""
        for ev in events:
            if isinstance(ev, MarketEvent):
                self._publish_market(ev)
            elif isinstance(ev, UserEvent):
                self._publish_user(ev)

    def _publish_market(self, ev: MarketEvent) -> None:
        text = encode(ev.payload)
        assets = set(ev.asset_ids)
        custom = ev.payload.get("event_type") in CUSTOM_ONLY
        for conn in list(self._conns.values()):
            if conn.channel == "market" and conn.assets & assets and (conn.custom or not custom):
                self._offer(conn, text, ev.asset_ids[0])
        if ev.payload.get("event_type") == "price_change":
            for extra in self._best_bid_ask(ev):
                self._publish_market(extra)

    def _best_bid_ask(self, ev: MarketEvent) -> list[MarketEvent]:
        """``best_bid_ask`` events for the assets whose top of book this ``price_change`` moved."""
        out: list[MarketEvent] = []
        changes = ev.payload.get("price_changes")
        if not isinstance(changes, list):
            return out
        tops: dict[str, tuple[str, str]] = {}
        for entry in changes:
            if isinstance(entry, dict):
                tops[str(entry["asset_id"])] = (str(entry["best_bid"]), str(entry["best_ask"]))
        for asset, (bid, ask) in tops.items():
            if self._tops.get(asset) == (bid, ask):
                continue
            self._tops[asset] = (bid, ask)
            spread = _spread(bid, ask)
            payload: dict[str, object] = {
                "event_type": "best_bid_ask",
                "market": ev.market,
                "asset_id": asset,
                "best_bid": bid,
                "best_ask": ask,
                "spread": spread,
                "timestamp": str(ev.payload.get("timestamp", ev.t)),
            }
            out.append(MarketEvent(ev.t, ev.market, (asset,), payload))
        return out

    def _publish_user(self, ev: UserEvent) -> None:
        text = encode(ev.payload)
        for conn in list(self._conns.values()):
            if conn.channel != "user" or conn.owner != ev.owner:
                continue
            if conn.markets and ev.market not in conn.markets:
                continue
            self._offer(conn, text, ev.owner)

    def _offer(self, conn: WsConn, text: str, key: str) -> None:
        """Apply the fault plan's verdict for one message on one connection and queue what remains."""
        if conn.closing:
            return
        now = trio.current_time()
        if conn.frozen_until > now:
            return
        action = self._faults.ws_action(conn.channel, key, self._clock())
        kind = action.kind
        if kind == "drop":
            return
        if kind == "freeze":
            conn.frozen_until = now + action.delay_ms / 1000
            return
        if kind == "disconnect":
            self._queue(conn, max(now, conn.hold_until), None)
            conn.closing = True
            conn.close_code, conn.close_reason = 1011, "simulated disconnect"
            return
        due = max(now, conn.hold_until)
        if kind == "delay":
            conn.hold_until = max(conn.hold_until, now + action.delay_ms / 1000)
            due = conn.hold_until
        elif kind == "reorder":
            due = now + action.delay_ms / 1000
        self._queue(conn, due, text)
        if kind == "duplicate":
            self._queue(conn, due, text)

    def _queue(self, conn: WsConn, due: float, text: str | None) -> None:
        if conn.held >= self._queue_size:
            self._overflow(conn)
            return
        try:
            conn.send.send_nowait((due, next(self._seq), text))
        except trio.WouldBlock:
            self._overflow(conn)
            return
        conn.held += 1

    def _overflow(self, conn: WsConn) -> None:
        if conn.closing:
            return
        conn.closing = True
        conn.close_code, conn.close_reason = 1008, "slow consumer"
        logger.warning("ws %s connection %d overflowed its queue: disconnecting", conn.channel, conn.cid)
        self._tape.write(self._clock(), "ws_overflow", channel=conn.channel, conn=conn.cid)
        conn.scope.cancel()

    # ---- connections -------------------------------------------------------------------------------------

    async def handle(self, request: trio_websocket.WebSocketRequest) -> None:
        """The ``trio_websocket`` handler: route by path, then serve the connection until it ends."""
        path = request.path.split("?", 1)[0].rstrip("/")
        if path not in ("/ws/market", "/ws/user"):
            await request.reject(404)
            return
        ws = await request.accept()
        send, recv = trio.open_memory_channel[tuple[float, int, str | None]](self._queue_size)
        conn = WsConn(cid=next(self._ids), channel=path.rsplit("/", 1)[1], send=send, recv=recv)
        try:
            with conn.scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._writer, conn, ws, name=f"ws-writer-{conn.cid}")
                    await self._reader(conn, ws)
                    nursery.cancel_scope.cancel()
        except* trio_websocket.ConnectionClosed:
            logger.debug("ws %s connection %d closed by the client", conn.channel, conn.cid)
        finally:
            self._conns.pop(conn.cid, None)
            conn.closing = True
            send.close()
            recv.close()
            with trio.move_on_after(CLOSE_GRACE, shield=True):
                await ws.aclose(conn.close_code, conn.close_reason or None)

    async def _writer(self, conn: WsConn, ws: trio_websocket.WebSocketConnection) -> None:
        """Send queued messages in due order; ``None`` closes the connection (a disconnect fault)."""
        heap: list[tuple[float, int, str | None]] = []
        while True:
            if heap:
                with trio.move_on_at(heap[0][0]):
                    heapq.heappush(heap, await conn.recv.receive())
                    continue
            else:
                heapq.heappush(heap, await conn.recv.receive())
                if heap[0][0] > trio.current_time():
                    continue
            while heap and heap[0][0] <= trio.current_time():
                _, _, text = heapq.heappop(heap)
                conn.held -= 1
                if text is None:
                    conn.scope.cancel()
                    return
                await ws.send_message(text)

    async def _reader(self, conn: WsConn, ws: trio_websocket.WebSocketConnection) -> None:
        while True:
            message = await ws.get_message()
            if isinstance(message, bytes):
                message = message.decode("utf-8", "replace")
            if message == "PING":
                await ws.send_message("PONG")
                continue
            try:
                frame = json.loads(message)
            except ValueError:
                continue
            if not isinstance(frame, dict):
                continue
            if conn.channel == "market":
                self._market_frame(conn, frame)
            elif not self._user_frame(conn, frame):
                await ws.aclose(1008, "Unauthorized/Invalid api key")
                return

    def _market_frame(self, conn: WsConn, frame: dict[str, object]) -> None:
        assets = [a for a in _strings(frame.get("assets_ids")) if a]
        op = str(frame.get("operation", "subscribe")).lower()
        if "custom_feature_enabled" in frame:
            conn.custom = bool(frame["custom_feature_enabled"])
        if op == "unsubscribe":
            conn.assets.difference_update(assets)
            return
        if op != "subscribe" and str(frame.get("type", "")).lower() != "market":
            return
        conn.assets.update(assets)
        self._conns.setdefault(conn.cid, conn)
        if len(conn.assets) > MAX_SNAPSHOT_ASSETS:
            return
        now_ms = self._clock()
        books = [b for b in (self._book_event(a, now_ms) for a in assets) if b is not None]
        if books:
            self._offer(conn, encode(books), assets[0])

    def _user_frame(self, conn: WsConn, frame: dict[str, object]) -> bool:
        """Apply one user-channel frame; False when the first frame does not authenticate."""
        markets = [m for m in _strings(frame.get("markets")) if m]
        if conn.owner is None:
            auth = frame.get("auth")
            owner = self._authenticate(auth) if isinstance(auth, dict) else None
            if owner is None:
                return False
            conn.owner = owner
            conn.markets = set(markets)
            self._conns[conn.cid] = conn
            return True
        op = str(frame.get("operation", "")).lower()
        if op == "subscribe":
            conn.markets.update(markets)
        elif op == "unsubscribe":
            conn.markets.difference_update(markets)
        return True

    def _authenticate(self, auth: dict[str, object]) -> str | None:
        key = self._keys.get(str(auth.get("apiKey", "")))
        if key is None:
            return None
        if auth.get("secret") != key.creds.secret or auth.get("passphrase") != key.creds.passphrase:
            return None
        return key.creds.api_key


def _strings(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _spread(bid: str, ask: str) -> str:
    return str(Decimal(ask) - Decimal(bid))
