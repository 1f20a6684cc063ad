"""The simulator's two networks behind one connector API: in-process memory streams, or real sockets.

A *connector* is what the bot's runtime takes to reach an exchange (real or simulated):

* ``http_transport() -> httpx2.AsyncBaseTransport``: hand it to ``httpx2.AsyncClient(transport=...)``;
* ``ws_connect(url, *, message_queue_size=1, receive_buffer_size=4096)``: an async context manager
  yielding a ``trio_websocket.WebSocketConnection`` that queues up to ``message_queue_size`` received
  frames and reads up to ``receive_buffer_size`` bytes at a time (trio-websocket's own defaults; the bot
  asks for its production values).

:class:`MemoryNetwork` runs both over memory (STYLE P8): REST requests go straight into the simulator's ASGI
app (:class:`AsgiTransport`), and WebSocket clients connect through a :class:`MemoryListener` whose streams
are :func:`memory_socket_pair`: in-memory pipes with a bounded buffer, so a client that stops reading backs
up the server exactly as a full TCP window would (and a cancelled send leaves the stream usable, as a
socket's does). Nothing touches a socket, so
``MockClock(autojump_threshold=0)`` is safe and a simulated hour takes seconds.

:class:`SocketConnector` is the real-network twin: the default ``httpx2`` transport and
``trio_websocket.open_websocket_url``.

The "answer lost" fault: the ASGI app starts a response whose ``content-length`` promises more bytes than it
sends. Over a socket hypercorn then closes the connection (the client sees a protocol error); in process,
:class:`AsgiTransport` raises ``httpx2.ReadTimeout``. Either way the client cannot tell whether the request
was applied, which is exactly the ambiguity the bot must survive.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol
from urllib.parse import urlsplit

import attrs
import httpx2
import trio
import trio_websocket

logger = logging.getLogger(__name__)

AsgiMessage = MutableMapping[str, Any]
AsgiReceive = Callable[[], Awaitable[AsgiMessage]]
AsgiSend = Callable[[AsgiMessage], Awaitable[None]]
AsgiApp = Callable[[AsgiMessage, AsgiReceive, AsgiSend], Awaitable[None]]

WsConnect = Callable[[str], AbstractAsyncContextManager[trio_websocket.WebSocketConnection]]

LISTEN_BACKLOG = 16
"""Pending in-memory WebSocket connections before ``connect`` blocks."""
PIPE_BUFFER = 64 * 1024
"""Bytes an in-memory pipe holds before ``send_all`` blocks (a socket's send + receive buffers)."""
MESSAGE_QUEUE = 1
"""trio-websocket's default ``message_queue_size`` (frames a client connection holds unread)."""
RECEIVE_BYTES = 4096
"""trio-websocket's default ``receive_buffer_size`` (bytes per read)."""


class Connector(Protocol):
    """How a client reaches the exchange: an HTTP transport and a WebSocket opener."""

    def http_transport(self) -> httpx2.AsyncBaseTransport:
        """A fresh transport for ``httpx2.AsyncClient(transport=...)``."""
        ...

    def ws_connect(
        self, url: str, *, message_queue_size: int = MESSAGE_QUEUE, receive_buffer_size: int = RECEIVE_BYTES
    ) -> AbstractAsyncContextManager[trio_websocket.WebSocketConnection]:
        """Open a WebSocket to ``url``; the connection closes when the context exits."""
        ...


class AsgiTransport(httpx2.AsyncBaseTransport):
    """An ``httpx2`` transport that calls an ASGI app in the same Trio run (no sockets).

    The client's read timeout (``request.extensions["timeout"]["read"]``) is enforced on the whole answer,
    as a socket would: an app slower than that (a latency fault) gives ``httpx2.ReadTimeout``, and the
    request may or may not have been applied. A response whose body falls short of its ``content-length``
    (the "answer lost" fault) raises ``httpx2.ReadTimeout`` when that timeout expires (at once if the client
    set none); so does an app that returns without finishing a response.

    Args:
        app: the ASGI application.
        client: the ``(host, port)`` reported to the app as the peer.
    """

    def __init__(self, app: AsgiApp, client: tuple[str, int] = ("127.0.0.1", 40000)) -> None:
        self._app = app
        self._client = client

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = await request.aread()
        scope: AsgiMessage = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "headers": [(k.lower(), v) for (k, v) in request.headers.raw],
            "scheme": request.url.scheme,
            "path": request.url.path,
            "raw_path": request.url.raw_path.split(b"?")[0],
            "query_string": request.url.query,
            "server": (request.url.host, request.url.port),
            "client": self._client,
            "root_path": "",
        }
        sent_body = False
        status: int | None = None
        headers: list[tuple[bytes, bytes]] = []
        parts: list[bytes] = []
        done = False

        async def receive() -> AsgiMessage:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            await trio.sleep_forever()

        async def send(message: AsgiMessage) -> None:
            nonlocal status, headers, done
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                parts.append(bytes(message.get("body", b"")))
                if not message.get("more_body", False):
                    done = True

        timeout = _read_timeout(request)
        deadline = trio.current_time() + timeout if timeout > 0 else math.inf
        with trio.move_on_at(deadline) as waited:
            await self._app(scope, receive, send)
        content = b"".join(parts)
        if waited.cancelled_caught:
            raise httpx2.ReadTimeout("simulated: no answer within the read timeout", request=request)
        if status is None or not done or _short_body(headers, len(content)):
            if deadline < math.inf:
                await trio.sleep_until(deadline)
            raise httpx2.ReadTimeout("simulated: the answer was lost", request=request)
        return httpx2.Response(status, headers=headers, content=content, request=request)


def _read_timeout(request: httpx2.Request) -> float:
    """The client's read timeout for ``request`` in seconds (0 if none): how long a lost answer takes."""
    timeouts = request.extensions.get("timeout")
    value = timeouts.get("read") if isinstance(timeouts, dict) else None
    return float(value) if isinstance(value, int | float) else 0.0


def _short_body(headers: list[tuple[bytes, bytes]], got: int) -> bool:
    for name, value in headers:
        if name.lower() == b"content-length":
            return int(value) > got
    return False


@attrs.define(eq=False)
class _Pipe:
    """One direction of an in-memory connection: a bounded byte buffer and who is waiting on it."""

    limit: int
    buf: bytearray = attrs.field(factory=bytearray)
    send_closed: bool = False
    recv_closed: bool = False
    lot: trio.lowlevel.ParkingLot = attrs.field(factory=trio.lowlevel.ParkingLot)


class _PipeSend(trio.abc.SendStream):
    def __init__(self, pipe: _Pipe) -> None:
        self._pipe = pipe

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        pipe = self._pipe
        await trio.lowlevel.checkpoint()
        while True:
            if pipe.send_closed:
                raise trio.ClosedResourceError("this end is closed")
            if pipe.recv_closed:
                raise trio.BrokenResourceError("the peer closed the connection")
            if len(pipe.buf) < pipe.limit:
                break
            await pipe.lot.park()
        pipe.buf += data
        pipe.lot.unpark_all()

    async def wait_send_all_might_not_block(self) -> None:
        pipe = self._pipe
        await trio.lowlevel.checkpoint()
        while len(pipe.buf) >= pipe.limit and not (pipe.send_closed or pipe.recv_closed):
            await pipe.lot.park()

    async def aclose(self) -> None:
        self._pipe.send_closed = True
        self._pipe.lot.unpark_all()
        await trio.lowlevel.checkpoint()


class _PipeReceive(trio.abc.ReceiveStream):
    def __init__(self, pipe: _Pipe) -> None:
        self._pipe = pipe

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        pipe = self._pipe
        await trio.lowlevel.checkpoint()
        while True:
            if pipe.recv_closed:
                raise trio.ClosedResourceError("this end is closed")
            if pipe.buf or pipe.send_closed:
                break
            await pipe.lot.park()
        n = len(pipe.buf) if max_bytes is None else min(max_bytes, len(pipe.buf))
        chunk = bytes(pipe.buf[:n])
        del pipe.buf[:n]
        pipe.lot.unpark_all()
        return chunk

    async def aclose(self) -> None:
        self._pipe.recv_closed = True
        self._pipe.lot.unpark_all()
        await trio.lowlevel.checkpoint()


def memory_socket_pair(
    limit: int = PIPE_BUFFER,
) -> tuple[trio.StapledStream[Any, Any], trio.StapledStream[Any, Any]]:
    """A connected ``(client, server)`` pair of in-memory streams with socket-like flow control."""
    up, down = _Pipe(limit), _Pipe(limit)
    client = trio.StapledStream(_PipeSend(up), _PipeReceive(down))
    server = trio.StapledStream(_PipeSend(down), _PipeReceive(up))
    return client, server


@attrs.define(eq=False)
class MemoryListener(trio.abc.Listener[trio.abc.Stream]):
    """A ``trio.abc.Listener`` whose connections are :func:`memory_socket_pair` streams (STYLE P8)."""

    _send: trio.MemorySendChannel[trio.abc.Stream]
    _recv: trio.MemoryReceiveChannel[trio.abc.Stream]

    @classmethod
    def create(cls) -> MemoryListener:
        send, recv = trio.open_memory_channel[trio.abc.Stream](LISTEN_BACKLOG)
        return cls(send, recv)

    async def connect(self) -> trio.abc.Stream:
        """Open a connection; returns the client end (the server end goes to :meth:`accept`)."""
        client, server = memory_socket_pair()
        await self._send.send(server)
        return client

    async def accept(self) -> trio.abc.Stream:
        return await self._recv.receive()

    async def aclose(self) -> None:
        await self._recv.aclose()


@attrs.define(eq=False)
class MemoryNetwork:
    """The in-process network of one simulator: its ASGI app and its WebSocket listener.

    Attributes:
        app: the simulator's ASGI application (REST and Data API).
        ws_listener: the listener the simulator's WebSocket server accepts on.
    """

    app: AsgiApp
    ws_listener: MemoryListener = attrs.field(factory=MemoryListener.create)

    def http_transport(self) -> httpx2.AsyncBaseTransport:
        return AsgiTransport(self.app)

    def ws_connect(
        self, url: str, *, message_queue_size: int = MESSAGE_QUEUE, receive_buffer_size: int = RECEIVE_BYTES
    ) -> AbstractAsyncContextManager[trio_websocket.WebSocketConnection]:
        return _memory_ws(self.ws_listener, url, message_queue_size, receive_buffer_size)


@asynccontextmanager
async def _memory_ws(
    listener: MemoryListener, url: str, message_queue_size: int, receive_buffer_size: int
) -> AsyncIterator[trio_websocket.WebSocketConnection]:
    """Like ``trio_websocket.open_websocket_url`` over ``listener``.

    As there, one error (a rejected handshake, ``ConnectionClosed`` raised in the body) propagates as
    itself rather than inside the ``ExceptionGroup`` of the connection's internal nursery, so code written
    against the socket connector handles both the same way.
    """
    parts = urlsplit(url)
    resource = parts.path or "/"
    if parts.query:
        resource += "?" + parts.query
    stream = await listener.connect()
    try:
        async with trio.open_nursery() as nursery:
            ws = await trio_websocket.wrap_client_stream(
                nursery,
                stream,  # type: ignore[arg-type]  # any trio Stream works (STYLE P8)
                parts.hostname or "sim.test",
                resource,
                message_queue_size=message_queue_size,
                receive_buffer_size=receive_buffer_size,
            )
            try:
                async with ws:
                    yield ws
            finally:
                nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        only = group.exceptions[0] if len(group.exceptions) == 1 else None
        if isinstance(only, Exception):
            raise only from None
        raise


@attrs.frozen
class SocketConnector:
    """The real-network connector: default ``httpx2`` transport and ``trio_websocket.open_websocket_url``."""

    def http_transport(self) -> httpx2.AsyncBaseTransport:
        return httpx2.AsyncHTTPTransport()

    def ws_connect(
        self, url: str, *, message_queue_size: int = MESSAGE_QUEUE, receive_buffer_size: int = RECEIVE_BYTES
    ) -> AbstractAsyncContextManager[trio_websocket.WebSocketConnection]:
        return trio_websocket.open_websocket_url(
            url, message_queue_size=message_queue_size, receive_buffer_size=receive_buffer_size
        )
