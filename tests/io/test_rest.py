"""REST transport: error translation, retries only for reads, signing of the exact body sent."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping

import httpx2
import pytest
import trio
import trio.testing

from aqbot.errors import (
    AuthError,
    ExchangeError,
    ExchangeUnavailable,
    OrderRejected,
    RateLimited,
    TransportError,
)
from aqbot.io.ratelimit import RateLimiter
from aqbot.io.rest import RestTransport


class RecordingSigner:
    """Records what it was asked to sign."""

    def __init__(self) -> None:
        self.signed: list[tuple[str, str, str, int]] = []

    def l2_headers(self, method: str, request_path: str, body: str, timestamp: int) -> Mapping[str, str]:
        self.signed.append((method, request_path, body, timestamp))
        return {"POLY_SIGNATURE": f"sig:{len(self.signed)}", "POLY_TIMESTAMP": str(timestamp)}


def make(handler: object, signer: RecordingSigner | None = None) -> tuple[httpx2.AsyncClient, RestTransport]:
    http = httpx2.AsyncClient(transport=httpx2.MockTransport(handler), base_url="https://clob.test")  # type: ignore[arg-type]
    return http, RestTransport(http, RateLimiter(), signer, wall_clock=lambda: 1000.0)


async def test_signs_exactly_the_body_sent(autojump_clock: trio.testing.MockClock) -> None:
    """The signed string equals the bytes on the wire; the query string is not signed."""
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json={"ok": True})

    signer = RecordingSigner()
    http, rest = make(handler, signer)
    rest.server_offset = 5.0
    body = json.dumps({"order": {"salt": 1, "price": "0.5"}, "owner": "k"}, separators=(",", ":"))
    with trio.fail_after(5):
        async with http:
            await rest.request("POST", "/order", body=body, auth=True)
            await rest.request("GET", "/data/orders", params={"market": "0x1"}, auth=True)
    assert signer.signed[0] == ("POST", "/order", body, 1005)
    assert seen[0].content.decode() == signer.signed[0][2]
    assert seen[0].headers["POLY_SIGNATURE"] == "sig:1"
    assert signer.signed[1] == ("GET", "/data/orders", "", 1005)
    assert seen[1].url.query == b"market=0x1"


@pytest.mark.parametrize(
    ("status", "payload", "error"),
    [
        (401, {"error": "Unauthorized/Invalid api key"}, AuthError),
        (425, {}, ExchangeUnavailable),
        (503, {"error": "Trading is currently cancel-only."}, ExchangeUnavailable),
        (400, {"error": "the market is in post-only mode"}, ExchangeUnavailable),
        (429, {"error": "Too Many Requests"}, RateLimited),
        (400, {"error": "invalid post-only order: order crosses book"}, OrderRejected),
        (400, {"nothing": 1}, ExchangeError),
        (500, {"error": "could not insert order"}, TransportError),
    ],
)
async def test_status_mapping_for_placement(
    autojump_clock: trio.testing.MockClock, status: int, payload: dict[str, object], error: type[Exception]
) -> None:
    """Each answer maps to exactly one aqbot error, and a placement is sent exactly once."""
    calls = 0

    def handler(request: httpx2.Request) -> httpx2.Response:
        nonlocal calls
        calls += 1
        return httpx2.Response(status, json=payload)

    http, rest = make(handler, RecordingSigner())
    with trio.fail_after(5):
        async with http:
            with pytest.raises(error) as info:
                await rest.request("POST", "/order", body='{"x":1}', auth=True)
    assert type(info.value) is error
    assert calls == 1


async def test_rejection_carries_exchange_string(autojump_clock: trio.testing.MockClock) -> None:
    """OrderRejected keeps the exchange's own message."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(400, json={"error": "not enough balance / allowance"})

    http, rest = make(handler, RecordingSigner())
    with trio.fail_after(5):
        async with http:
            with pytest.raises(OrderRejected, match=r"^not enough balance / allowance$"):
                await rest.request("POST", "/orders", body="[]", auth=True)


async def test_placement_timeout_not_retried(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A transport failure on POST /order raises TransportError once: never blindly resubmitted."""
    calls = 0

    def handler(request: httpx2.Request) -> httpx2.Response:
        nonlocal calls
        calls += 1
        raise httpx2.ReadTimeout("timed out", request=request)

    http, rest = make(handler, RecordingSigner())
    with trio.fail_after(5):
        async with http:
            with pytest.raises(TransportError) as info:
                await rest.request("POST", "/order", body="{}", auth=True)
    assert calls == 1
    assert isinstance(info.value.__cause__, httpx2.ReadTimeout)


async def test_reads_retry_with_backoff_then_succeed(autojump_clock: trio.testing.MockClock) -> None:
    """A read retries transport errors and 503s with growing, jittered delays, then succeeds."""
    times: list[float] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        times.append(trio.current_time())
        if len(times) == 1:
            raise httpx2.ConnectError("refused", request=request)
        if len(times) == 2:
            return httpx2.Response(503, json={"error": "Service is not ready"})
        return httpx2.Response(200, json={"data": []})

    http, rest = make(handler)
    with trio.fail_after(5):
        async with http:
            response = await rest.request("GET", "/book", idempotent=True)
    assert response.json() == {"data": []}
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert 0.25 * 0.75 <= gaps[0] <= 0.25 * 1.25
    assert 0.5 * 0.75 <= gaps[1] <= 0.5 * 1.25


async def test_reads_give_up_after_bounded_attempts(autojump_clock: trio.testing.MockClock) -> None:
    """A read that keeps failing raises its last error after READ_ATTEMPTS tries."""
    calls = 0

    def handler(request: httpx2.Request) -> httpx2.Response:
        nonlocal calls
        calls += 1
        return httpx2.Response(502, text="bad gateway")

    http, rest = make(handler)
    with trio.fail_after(30):
        async with http:
            with pytest.raises(TransportError):
                await rest.request("GET", "/time", idempotent=True)
    assert calls == 4


async def test_429_honours_retry_after_and_pauses_group(autojump_clock: trio.testing.MockClock) -> None:
    """A 429 with Retry-After: the read waits exactly that long; the group stays paused for others."""
    times: list[float] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        times.append(trio.current_time())
        if len(times) == 1:
            return httpx2.Response(429, headers={"Retry-After": "3"}, json={"error": "Too Many Requests"})
        return httpx2.Response(200, json={})

    http, rest = make(handler)
    with trio.fail_after(10):
        async with http:
            await rest.request("GET", "/data/orders", idempotent=True, auth=False)
    assert times == [0.0, 3.0]


async def test_429_body_hint_on_write(autojump_clock: trio.testing.MockClock) -> None:
    """A write gets RateLimited with the body's retry_after_seconds, and is not retried."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(429, content=json.dumps({"error": "slow", "retry_after_seconds": 2}).encode())

    http, rest = make(handler, RecordingSigner())
    with trio.fail_after(5):
        async with http:
            with pytest.raises(RateLimited) as info:
                await rest.request("DELETE", "/orders", body='["0x1"]', auth=True)
    assert info.value.retry_after == 2.0


async def test_accept_returns_listed_status(autojump_clock: trio.testing.MockClock) -> None:
    """Statuses in ``accept`` come back to the caller (the heartbeat resync needs the 400 body)."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(400, json={"error": "Invalid Heartbeat ID", "heartbeat_id": "h7"})

    http, rest = make(handler, RecordingSigner())
    with trio.fail_after(5):
        async with http:
            response = await rest.request("POST", "/v1/heartbeats", body="{}", auth=True, accept=(400,))
    assert response.json()["heartbeat_id"] == "h7"


async def test_auth_without_signer_is_auth_error(autojump_clock: trio.testing.MockClock) -> None:
    """An authenticated call with no credentials fails locally, before any request."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        raise AssertionError("must not be sent")

    http, rest = make(handler)
    with trio.fail_after(5):
        async with http:
            with pytest.raises(AuthError):
                await rest.request("GET", "/data/orders", auth=True)


@pytest.mark.parametrize(
    "base", ["https://clob.test", "https://clob.test/", "http://127.0.0.1:8080/api", "http://h:1/api/"]
)
@pytest.mark.parametrize("path", ["/order", "/orders", "/data/orders", "orders", "/a%20b", "", "/"])
def test_cached_urls_are_the_ones_httpx2_would_request(base: str, path: str) -> None:
    """The transport hands httpx2 absolute URLs (cached per path): each is the client's own merge."""
    http = httpx2.AsyncClient(base_url=base)
    rest = RestTransport(http, RateLimiter())
    expected = http.build_request("GET", path).url
    assert rest.url(path) == expected
    assert str(rest.url(path)) == str(expected)
    assert rest.url(path) is rest.url(path)


async def test_requests_go_to_the_base_path(autojump_clock: trio.testing.MockClock) -> None:
    """A base URL with a path prefix keeps it (the cached URL is not a plain join)."""
    seen: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(str(request.url))
        return httpx2.Response(200, json={"ok": True})

    http = httpx2.AsyncClient(transport=httpx2.MockTransport(handler), base_url="http://h:1/api")
    rest = RestTransport(http, RateLimiter())
    with trio.fail_after(5):
        async with http:
            await rest.request("GET", "/book", params={"token_id": "7"}, idempotent=True)
            await rest.request("POST", "/orders", body="[]")
    assert seen == ["http://h:1/api/book?token_id=7", "http://h:1/api/orders"]
