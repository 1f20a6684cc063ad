"""The WebSocket connection the readers of :mod:`aqbot.io.ws` read from: trio-websocket opened with the
readers' frame queue, and an adapter that hands out already queued frames without a checkpoint.

trio-websocket queues each parsed frame with a ``send`` (a checkpoint even with room), so at a steady rate
a batch holds a frame or two; after a stall a reader takes up to ``aqbot.io.ws.BATCH_MAX`` at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol, runtime_checkable

import attrs
import trio
import trio_websocket

log = logging.getLogger(__name__)

MESSAGE_QUEUE_SIZE = 64
"""trio-websocket's queue of received frames per connection (its default is 1): room for the reader's
batches; a bound, so a stalled reader still stops reading the socket (TCP pushes back)."""
RECEIVE_BUFFER_SIZE = 65536
"""Bytes per socket read of trio-websocket (its default is 4 KiB, ~3 frames of a user channel): each read
is one more scheduler pass of its reader task; 64 KiB is what the ingest bench's transport ceiling uses."""


class WsConnection(Protocol):
    """What a reader needs from a WebSocket connection (trio-websocket's ``WebSocketConnection``)."""

    async def send_message(self, message: str) -> None: ...

    async def get_message(self) -> str | bytes:
        """The next frame (trio-websocket's is a memory-channel ``receive``: a checkpoint)."""
        ...


@runtime_checkable
class BatchingConnection(WsConnection, Protocol):
    """A connection that can also hand out an already queued frame without waiting."""

    def get_message_nowait(self) -> str | bytes | None:
        """The next frame if one is queued, else ``None`` (or raise ``trio.WouldBlock``, as trio's
        ``receive_nowait`` does: also accepted, at the cost of an exception, ~1 us); otherwise returns or
        raises exactly as ``get_message`` would (``ConnectionClosed`` once the connection is closed)."""
        ...


Connect = Callable[[], AbstractAsyncContextManager[WsConnection]]
"""A factory of connections: ``partial(open_websocket, url)`` in production."""


def open_websocket(url: str) -> AbstractAsyncContextManager[trio_websocket.WebSocketConnection]:
    """``trio_websocket.open_websocket_url`` with the readers' :data:`MESSAGE_QUEUE_SIZE` and
    :data:`RECEIVE_BUFFER_SIZE`."""
    return trio_websocket.open_websocket_url(
        url, message_queue_size=MESSAGE_QUEUE_SIZE, receive_buffer_size=RECEIVE_BUFFER_SIZE
    )


@attrs.frozen
class QueuedFrames:
    """A trio-websocket connection with ``get_message_nowait`` (a :class:`BatchingConnection`).

    trio-websocket 0.12 queues complete frames in the private memory channel ``_recv_channel`` and its
    ``get_message`` is ``receive()`` on it, with ``ClosedResourceError`` (closed locally: pending frames
    are discarded) and ``EndOfChannel`` (closed by the peer, every pending frame taken) turned into
    ``ConnectionClosed(ws.closed)``. ``get_message_nowait`` is the same with ``receive_nowait()``, except
    that when nothing is queued it returns ``None`` instead of letting ``WouldBlock`` be raised and caught
    (that exception was ~1 us of every batch, and most batches end on it): with ``peek`` it first reads
    the channel's state (trio's private ``_closed`` and ``_state``), and returns ``None`` exactly where
    ``receive_nowait`` would raise ``WouldBlock`` (open, no frame, no blocked sender, a sender still open).
    """

    ws: trio_websocket.WebSocketConnection
    queue: trio.MemoryReceiveChannel[str | bytes]
    peek: bool = True

    async def send_message(self, message: str) -> None:
        await self.ws.send_message(message)

    async def get_message(self) -> str | bytes:
        return await self.ws.get_message()

    def get_message_nowait(self) -> str | bytes | None:
        queue = self.queue
        if self.peek:
            state = queue._state
            if not state.data and not state.send_tasks and state.open_send_channels and not queue._closed:
                return None
        try:
            return queue.receive_nowait()
        except trio.WouldBlock:
            return None
        except (trio.ClosedResourceError, trio.EndOfChannel):
            raise trio_websocket.ConnectionClosed(self.ws.closed) from None


def peekable(queue: trio.MemoryReceiveChannel[str | bytes]) -> bool:
    """Whether ``queue`` has the private state :class:`QueuedFrames` reads to tell "nothing queued"
    without an exception (trio 0.2x to 0.3x)."""
    state = getattr(queue, "_state", None)
    fields = ("data", "send_tasks", "open_send_channels")
    return isinstance(getattr(queue, "_closed", None), bool) and all(hasattr(state, f) for f in fields)


def batching(ws: WsConnection) -> BatchingConnection | None:
    """``ws`` itself when it can take queued frames without waiting, a :class:`QueuedFrames` around a
    trio-websocket connection, or ``None`` (the reader then takes one frame per checkpoint)."""
    if isinstance(ws, BatchingConnection):
        return ws
    if isinstance(ws, trio_websocket.WebSocketConnection):
        queue = getattr(ws, "_recv_channel", None)
        if isinstance(queue, trio.MemoryReceiveChannel):
            return QueuedFrames(ws, queue, peekable(queue))
        log.warning("trio-websocket has no _recv_channel (internals changed): frames are read one at a time")
    return None
