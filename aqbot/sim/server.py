"""The simulator's REST surface as a plain ASGI application (PROTOCOL 1, 2, 6).

Layers, outermost first:

1. :class:`SimApp` (ASGI): lifespan, request decoding, JSON encoding of the answer;
2. the **transport fault layer**: for every request the :class:`~aqbot.sim.faults.FaultPlan` decides
   latency, a 5xx, a 429 with a retry hint, or a lost answer (applied or not: the "ambiguous submit");
   a lost answer starts a response and never finishes it (see :mod:`aqbot.sim.inproc`);
3. routing (:class:`Router` over the ``AUTHED``/``L1`` tables of :mod:`aqbot.sim.server_routes` and the
   ``PUBLIC`` tables of :mod:`aqbot.sim.server_public`) and authentication (L2 HMAC on every authenticated
   call, L1 ClobAuth for key creation; :mod:`aqbot.sim.server_auth`);
4. the handlers, which call the engine with the simulated time and hand every event the engine emitted
   to the WebSocket hub before answering.

Exchange modes (425 restart, post-only window, 503 cancel-only) are the engine's business: it answers
them as ordinary replies.

The Data API ``/positions`` is served by the same app (the info file's ``data_api_url`` is the REST base).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qsl

import attrs
import trio

from aqbot.sim.events import Reply, error
from aqbot.sim.faults import RestAction, WsAction
from aqbot.sim.inproc import AsgiMessage, AsgiReceive, AsgiSend
from aqbot.sim.server_auth import ERR_UNAUTHORIZED
from aqbot.sim.server_public import PUBLIC, PUBLIC_PREFIX
from aqbot.sim.server_routes import AUTHED, AUTHED_PREFIX, L1, Request, SimBackend

logger = logging.getLogger(__name__)

MAX_BODY = 4 * 1024 * 1024
"""Largest request body accepted (bytes); larger gives 413."""

LOST_ANSWER_PROMISE = b"64"
"""``content-length`` of a lost answer: more than is ever sent, so the client never gets a complete reply."""


class TransportFaults(Protocol):
    """Decides transport faults (a :class:`~aqbot.sim.faults.FaultPlan`, or a test's scripted wrapper)."""

    def rest_action(self, method: str, path: str, now_ms: int) -> RestAction: ...

    def ws_action(self, channel: str, key: str, now_ms: int) -> WsAction: ...


class Router:
    """Dispatches a request to its handler: L1, L2-authenticated, or public."""

    def __init__(self, backend: SimBackend) -> None:
        self.backend = backend

    def dispatch(self, r: Request) -> Reply:
        """Answer ``r`` (events the engine emitted are flushed to the hub before returning)."""
        try:
            reply = self._route(r)
        except (ValueError, UnicodeDecodeError):
            reply = error(400, "Invalid payload")
        self.backend.flush()
        return reply

    def _route(self, r: Request) -> Reply:
        key = (r.method, r.path.rstrip("/") or "/")
        authed = AUTHED.get(key) or _prefix(AUTHED_PREFIX, r)
        if authed is not None:
            entry = self.backend.keys.verify_l2(r.headers, r.method, r.path, r.body)
            if entry is None:
                return error(401, ERR_UNAUTHORIZED)
            return authed(self.backend, entry, r)
        l1 = L1.get(key)
        if l1 is not None:
            return l1(self.backend, r)
        public = PUBLIC.get(key) or _prefix(PUBLIC_PREFIX, r)
        if public is not None:
            return public(self.backend, r)
        return error(404, "not found")


H = TypeVar("H")


def _prefix(table: list[tuple[str, str, H]], r: Request) -> H | None:
    for method, prefix, handler in table:
        if r.method == method and r.path.startswith(prefix) and len(r.path) > len(prefix):
            return handler
    return None


@attrs.define(eq=False)
class SimApp:
    """The ASGI application of one simulator.

    Args:
        backend: the engine façade the handlers call (clock, engine, keys, WS hub).
        faults: the transport fault decider (None: no transport faults).
    """

    backend: SimBackend
    faults: TransportFaults | None = None
    router: Router = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.router = Router(self.backend)

    async def __call__(self, scope: AsgiMessage, receive: AsgiReceive, send: AsgiSend) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await _lifespan(receive, send)
            return
        if kind == "websocket":  # WebSockets have their own port (see aqbot.sim.ws)
            await receive()
            await send({"type": "websocket.close", "code": 1008})
            return
        if kind != "http":
            raise ValueError(f"unsupported ASGI scope {kind!r}")
        body = await _read_body(receive)
        if body is None:
            await _send_reply(send, error(413, "Payload too large"))
            return
        request = Request(
            method=str(scope["method"]).upper(),
            path=str(scope["path"]),
            query=dict(parse_qsl(bytes(scope.get("query_string", b"")).decode("latin-1"))),
            headers=_headers(scope.get("headers", [])),
            body=body,
        )
        await self._serve(request, send)

    async def _serve(self, request: Request, send: AsgiSend) -> None:
        if self.faults is None:
            await _send_reply(send, self.router.dispatch(request))
            return
        action = self.faults.rest_action(request.method, request.path, self.backend.now_ms())
        if action.kind == "throttle":
            await _send_reply(
                send,
                Reply(
                    429,
                    {"error": "Too Many Requests", "retry_after_seconds": action.retry_after_s},
                    retry_after_s=action.retry_after_s,
                ),
            )
        elif action.kind == "error5xx":
            await _send_reply(send, error(action.status, "Internal Server Error"))
        elif action.kind == "timeout_not_applied":
            await _lose_answer(send)
        elif action.kind == "timeout_applied":
            self.router.dispatch(request)
            await _lose_answer(send)
        elif action.kind == "latency":
            half = action.latency_ms / 2000
            await trio.sleep(half)
            reply = self.router.dispatch(request)
            await trio.sleep(half)
            await _send_reply(send, reply)
        else:
            await _send_reply(send, self.router.dispatch(request))


def _headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Request headers keyed by UPPER-case name (``POLY_API_KEY``), as the auth helpers expect."""
    out: dict[str, str] = {}
    for name, value in raw:
        out[name.decode("latin-1").upper()] = value.decode("latin-1")
    return out


async def _read_body(receive: AsgiReceive) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = bytes(message.get("body", b""))
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def encode_body(body: object) -> bytes:
    """The JSON bytes of a reply body (compact; a bare ``int`` for ``/time``; ``None`` is an empty body)."""
    if body is None:
        return b""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


async def _send_reply(send: AsgiSend, reply: Reply) -> None:
    payload = encode_body(reply.body)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    if reply.retry_after_s is not None:
        headers.append((b"retry-after", str(reply.retry_after_s).encode()))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload, "more_body": False})


async def _lose_answer(send: AsgiSend) -> None:
    """Start an answer and never finish it: the connection closes (loopback) or the client times out."""
    headers = [(b"content-type", b"application/json"), (b"content-length", LOST_ANSWER_PROMISE)]
    await send({"type": "http.response.start", "status": 200, "headers": headers})


async def _lifespan(receive: AsgiReceive, send: AsgiSend) -> None:
    while True:
        message: Mapping[str, Any] = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
