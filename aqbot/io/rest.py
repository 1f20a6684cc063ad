"""The REST transport: one place where httpx2 meets aqbot's error tree.

:class:`RestTransport` sends one request on an injected ``httpx2.AsyncClient`` (its ``base_url`` and
transport are chosen by the composition root, so tests and paper runs use an in-process transport).
It signs authenticated calls over the exact body string it sends, paces every call through the
:class:`~aqbot.io.ratelimit.RateLimiter`, retries *idempotent reads only*, and translates every failure
once, here, into :mod:`aqbot.errors`:

* httpx2.HTTPError / answer                 -> aqbot.errors
  + httpx2.TransportError (timeout, reset,  -> TransportError       outcome UNKNOWN; never retried for
    protocol error, proxy)                                          writes (an order may have rested)
  + httpx2.DecodingError, StreamError       -> TransportError
  + 2xx                                     -> the body bytes (decoded by the caller with aqbot.wire)
  + 401                                     -> AuthError
  + 425 (engine restart), 503 (trading      -> ExchangeUnavailable
    disabled / cancel-only), a body naming
    the post-only window or "not ready"
  + 429                                     -> RateLimited(retry_after) and the endpoint group paused
  + other 4xx with {"error": msg}           -> OrderRejected(msg) on order placement, else ExchangeError
  + other 4xx without an error string       -> ExchangeError (placement: the caller keeps it UNKNOWN)
  + 5xx other than 503                      -> TransportError (an answer that says nothing definite)

Reads (``idempotent=True``) retry TransportError, ExchangeUnavailable and RateLimited with jittered
exponential backoff (seeded ``random.Random`` for determinism), honouring ``retry_after``. Writes are sent
exactly once: a POST /order that times out may have rested, so the core marks it UNKNOWN and the
reconciler resolves it.

The endpoint methods (typed, decoded with aqbot.wire) live in :mod:`aqbot.io.rest_api`.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Callable, Mapping
from typing import Protocol

import attrs
import httpx2
import trio

from aqbot.errors import (
    AuthError,
    ExchangeError,
    ExchangeUnavailable,
    OrderRejected,
    RateLimited,
    TransportError,
)
from aqbot.io.ratelimit import RateLimiter

log = logging.getLogger(__name__)

# Attempts for an idempotent read before its last error propagates.
READ_ATTEMPTS = 4
# First backoff between read retries (seconds); doubles each time, with +-25 % jitter, capped.
READ_BACKOFF = 0.25
READ_BACKOFF_MAX = 5.0
# Paths whose 4xx-with-error answers are definitive order rejections.
ORDER_PLACEMENT_PATHS = frozenset({"/order", "/orders"})
# Substrings of an error string that mean "the exchange is not taking orders right now" (PROTOCOL 1.8).
_UNAVAILABLE_MARKERS = (
    "post-only mode",
    "only post-only orders",
    "service is not ready",
    "not yet ready to process",
    "trading is currently disabled",
    "cancel-only",
)
# Bytes of an error body kept in exception messages and logs.
_ERROR_EXCERPT = 300


class L2Signer(Protocol):
    """Produces the five ``POLY_*`` L2 headers (aqbot.auth implements it)."""

    def l2_headers(self, method: str, request_path: str, body: str, timestamp: int) -> Mapping[str, str]:
        """Headers for ``str(timestamp) + method + request_path + body``."""
        ...


def error_string(content: bytes) -> str:
    """The exchange's error message from an error body (``{"error": msg}`` or ``errorMsg``), or ``""``."""
    try:
        payload = json.loads(content)
    except ValueError:
        return ""
    if isinstance(payload, dict):
        for key in ("error", "errorMsg", "error_msg", "message"):
            value = payload.get(key)
            if isinstance(value, str) and value:
                return value
    return ""


def retry_after_hint(response: httpx2.Response) -> float | None:
    """Seconds to wait from ``Retry-After`` or a body ``retry_after_seconds``, when given."""
    header = response.headers.get("retry-after")
    if header is not None:
        try:
            return max(0.0, float(header))
        except ValueError:
            pass
    try:
        payload = json.loads(response.content)
    except ValueError:
        return None
    if isinstance(payload, dict):
        value = payload.get("retry_after_seconds")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return max(0.0, float(value))
    return None


_ID_SEGMENT = re.compile(r"^(0x[0-9a-fA-F]+|[0-9]+|[0-9a-fA-F-]{16,})$")


def endpoint_template(path: str) -> str:
    """``path`` with id-like segments (``0x`` hex, digits, long hex/uuid) replaced by ``{id}``: a metric
    label that never carries an order id or a token id (queries are never part of ``path``)."""
    return "/".join("{id}" if _ID_SEGMENT.match(seg) else seg for seg in path.split("/"))


def is_unavailable_message(message: str) -> bool:
    """Whether an error string says the exchange is not taking orders now (restart, cancel-only, ...)."""
    lowered = message.lower()
    return any(marker in lowered for marker in _UNAVAILABLE_MARKERS)


def map_status(method: str, path: str, response: httpx2.Response) -> ExchangeError | TransportError | None:
    """The aqbot error for a non-2xx answer, or ``None`` for success."""
    status = response.status_code
    if 200 <= status < 300:
        return None
    message = error_string(response.content) or response.text[:_ERROR_EXCERPT]
    where = f"{method} {path}: {status}"
    if status == 401:
        return AuthError(f"{where} {message}", status=status)
    if status in (425, 503) or is_unavailable_message(message):
        return ExchangeUnavailable(f"{where} {message}", status=status)
    if status == 429:
        return RateLimited(f"{where} {message}", retry_after=retry_after_hint(response))
    if 400 <= status < 500:
        if method == "POST" and path in ORDER_PLACEMENT_PATHS and error_string(response.content):
            return OrderRejected(message, status=status)
        return ExchangeError(f"{where} {message}", status=status)
    return TransportError(f"{where} {message}")


def merge_url(base_url: httpx2.URL, path: str) -> httpx2.URL:
    """The URL an ``httpx2.AsyncClient`` with ``base_url`` requests for ``path`` (its own merge rule: a
    relative path is appended to the base path, whose trailing slash the client enforces)."""
    url = httpx2.URL(path)
    if url.is_relative_url:
        return base_url.copy_with(raw_path=base_url.raw_path + url.raw_path.lstrip(b"/"))
    return url


@attrs.define
class RestTransport:
    """Sends requests on one host (the CLOB, or the Data API with ``data_api=True``).

    Args:
        http: the client, with ``base_url`` (and, in tests, ``transport``) set by the caller, who owns it.
        limiter: shared by every transport of one bot.
        signer: L2 header producer; ``None`` for a host without authentication.
        rng: jitter for read retries (seed it for deterministic runs).
        wall_clock: Unix seconds for L2 timestamps (a label, never used for scheduling).
        data_api: count requests against the Data API buckets.
    """

    http: httpx2.AsyncClient
    limiter: RateLimiter
    signer: L2Signer | None = None
    rng: random.Random = attrs.field(factory=lambda: random.Random(0))
    wall_clock: Callable[[], float] = time.time
    data_api: bool = False
    server_offset: float = 0.0
    """Server time minus ``wall_clock()``, set by :meth:`aqbot.io.rest_api.ClobApi.sync_time`."""
    on_latency: Callable[[str, str, float], None] | None = None
    """``(method, endpoint template, seconds)`` of every answered request (the latency metric)."""
    _urls: dict[tuple[str, str], httpx2.URL] = attrs.field(factory=dict, init=False, repr=False)
    """``(base_url, path)`` -> the absolute URL: httpx2 re-parses a relative path on every request, which
    was ~30 us of each order POST (the paths are a small fixed set, so the cache stays small)."""

    def url(self, path: str) -> httpx2.URL:
        """The absolute URL of ``path`` on the client's ``base_url`` (what httpx2 itself would request)."""
        key = (str(self.http.base_url), path)
        url = self._urls.get(key)
        if url is None:
            url = self._urls[key] = merge_url(self.http.base_url, path)
        return url

    def timestamp(self) -> int:
        """The L2 timestamp: server-aligned Unix seconds."""
        return int(self.wall_clock() + self.server_offset)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: str | None = None,
        auth: bool = False,
        idempotent: bool = False,
        accept: tuple[int, ...] = (),
    ) -> httpx2.Response:
        """Send one request and return its (successful, or ``accept``-listed) answer.

        Args:
            method: HTTP method.
            path: path without query (the signed ``requestPath``).
            params: query parameters (not signed, as the exchange expects).
            body: the exact JSON text to send (and sign), from ``aqbot.wire.encode_json``.
            auth: add L2 headers.
            idempotent: a read; transient failures are retried with backoff.
            accept: non-2xx statuses returned to the caller instead of raised.

        Raises:
            TransportError: no usable answer (the outcome of a write is UNKNOWN).
            ExchangeError: one of its subclasses, as in the module docstring.
        """
        content = body
        attempt = 0
        delay = READ_BACKOFF
        while True:
            attempt += 1
            try:
                return await self._send_once(method, path, params, content, auth=auth, accept=accept)
            except (TransportError, ExchangeUnavailable, RateLimited) as exc:
                if not idempotent or attempt >= READ_ATTEMPTS:
                    raise
                hint = exc.retry_after if isinstance(exc, RateLimited) else None
                wait = hint if hint is not None else delay * self.rng.uniform(0.75, 1.25)
                log.info("%s %s failed (%s); retry %d in %.2fs", method, path, exc, attempt, wait)
                await trio.sleep(wait)
                delay = min(delay * 2, READ_BACKOFF_MAX)

    async def _send_once(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        content: str | None,
        *,
        auth: bool,
        accept: tuple[int, ...],
    ) -> httpx2.Response:
        await self.limiter.acquire(method, path, data_api=self.data_api)
        headers: dict[str, str] = {"Accept": "application/json"}
        if content is not None:
            headers["Content-Type"] = "application/json"
        if auth:
            if self.signer is None:
                raise AuthError(f"{method} {path}: no L2 credentials configured")
            headers.update(self.signer.l2_headers(method, path, content or "", self.timestamp()))
        sent_at = trio.current_time()
        try:
            response = await self.http.request(
                method,
                self.url(path),
                params=dict(params) if params else None,
                content=None if content is None else content.encode(),
                headers=headers,
            )
        except (httpx2.TransportError, httpx2.DecodingError, httpx2.StreamError) as exc:
            raise TransportError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        if self.on_latency is not None:
            self.on_latency(method, endpoint_template(path), trio.current_time() - sent_at)
        if response.status_code in accept:
            return response
        error = map_status(method, path, response)
        if isinstance(error, RateLimited) and error.retry_after is not None:
            self.limiter.pause_until(
                method, path, trio.current_time() + error.retry_after, data_api=self.data_api
            )
        if error is not None:
            log.warning("%s %s -> %s", method, path, error)
            raise error
        return response
