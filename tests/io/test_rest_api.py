"""Typed endpoints: pagination to LTE=, batches, heartbeat resync, version check, auth headers."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import httpx2
import pytest
import trio
import trio.testing

from aqbot.auth.l2 import ApiCreds, verify_l2
from aqbot.core.types import OrderType, Side
from aqbot.errors import ExchangeError, WireError
from aqbot.io.ratelimit import RateLimiter
from aqbot.io.rest import RestTransport
from aqbot.io.rest_api import ClobApi, CredsSigner, DataApi
from aqbot.wire.orders import PostOrderRequest, SignedOrder
from aqbot.wire.types import UnixMs, UnixS

CREDS = ApiCreds("key-1", base64.urlsafe_b64encode(b"k" * 32).decode(), "pass-1")


def order_row(i: int) -> dict[str, object]:
    return {
        "id": f"0x{i:064x}",
        "status": "LIVE",
        "owner": "key-1",
        "maker_address": "0xf",
        "market": "0xm",
        "asset_id": "111",
        "side": "BUY",
        "original_size": "10.0000",
        "size_matched": "0",
        "price": "0.45",
        "associate_trades": [],
        "outcome": "Yes",
        "created_at": 1700000000,
        "expiration": "0",
        "order_type": "GTC",
    }


def cursor(n: int) -> str:
    return base64.b64encode(str(n).encode()).decode()


def api(handler: object) -> tuple[httpx2.AsyncClient, ClobApi]:
    http = httpx2.AsyncClient(transport=httpx2.MockTransport(handler), base_url="https://clob.test")  # type: ignore[arg-type]
    rest = RestTransport(http, RateLimiter(), CredsSigner(CREDS, "0xSigner"), wall_clock=lambda: 1000.0)
    return http, ClobApi(rest)


async def test_open_orders_follows_cursors_until_end(autojump_clock: trio.testing.MockClock) -> None:
    """Three pages (MA==, MTAw, MjAw) then LTE=; every request is L2-signed over the bare path."""
    cursors: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        assert verify_l2(CREDS, request.headers, "GET", request.url.path)
        cur = request.url.params["next_cursor"]
        cursors.append(cur)
        page = {"MA==": 0, cursor(100): 1, cursor(200): 2}[cur]
        nxt = "LTE=" if page == 2 else cursor(100 * (page + 1))
        rows = [order_row(page * 10 + i) for i in range(2)]
        return httpx2.Response(200, json={"data": rows, "next_cursor": nxt, "limit": 100, "count": 2})

    http, clob = api(handler)
    with trio.fail_after(5):
        async with http:
            orders = await clob.open_orders(market="0xm")
    assert cursors == ["MA==", "MTAw", "MjAw"]
    assert [int(o.id, 16) for o in orders] == [0, 1, 10, 11, 20, 21]
    assert orders[0].original_size == Decimal(10)


async def test_repeated_cursor_is_wire_error(autojump_clock: trio.testing.MockClock) -> None:
    """A server that loops its cursor cannot trap the reconciler."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json={"data": [], "next_cursor": "MTAw"})

    http, clob = api(handler)
    with trio.fail_after(5):
        async with http:
            with pytest.raises(WireError, match="repeated"):
                await clob.trades(after=5)


def signed(i: int) -> PostOrderRequest:
    order = SignedOrder(
        salt=i,
        maker="0xf",
        signer="0xs",
        token_id="111",
        maker_amount=4_500_000,
        taker_amount=10_000_000,
        side=Side.BUY,
        expiration=UnixS(0),
        signature_type=0,
        timestamp=UnixMs(1700000000000),
        signature="0xsig",
    )
    return PostOrderRequest(order=order, owner="key-1", order_type=OrderType.GTC, post_only=True)


async def test_batch_and_single_placement(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """One order -> POST /order (object); several -> POST /orders (array); answers per leg, in order."""
    seen: list[tuple[str, object]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        assert verify_l2(CREDS, request.headers, "POST", request.url.path, request.content.decode())
        seen.append((request.url.path, body))
        if request.url.path == "/order":
            return httpx2.Response(200, json={"success": True, "orderID": "0x1", "status": "live"})
        return httpx2.Response(
            200,
            json=[
                {"success": True, "orderID": "0x1", "status": "live", "errorMsg": ""},
                {"success": True, "orderID": "", "status": "", "errorMsg": "invalid post-only order"},
            ],
        )

    http, clob = api(handler)
    with trio.fail_after(5):
        async with http:
            one = await clob.post_orders([signed(1)])
            two = await clob.post_orders([signed(1), signed(2)])
    assert [path for path, _ in seen] == ["/order", "/orders"]
    first = seen[0][1]
    assert isinstance(first, dict)
    assert first["postOnly"] is True
    assert first["order"]["salt"] == 1
    assert isinstance(seen[1][1], list)
    assert one[0].is_accepted
    assert [a.is_accepted for a in two] == [True, False]
    assert two[1].error_msg == "invalid post-only order"


async def test_batch_size_bounds(autojump_clock: trio.testing.MockClock) -> None:
    """0 or 16 orders are refused locally."""
    http, clob = api(lambda r: httpx2.Response(500))
    async with http:
        with pytest.raises(ValueError, match=r"1\.\.15"):
            await clob.post_orders([])
        with pytest.raises(ValueError, match=r"1\.\.15"):
            await clob.post_orders([signed(i) for i in range(16)])


async def test_heartbeat_accept_and_resync(autojump_clock: trio.testing.MockClock) -> None:
    """200 -> accepted with the next id; 400 Invalid Heartbeat ID -> rejected with the expected id."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent = json.loads(request.content)["heartbeat_id"]
        if sent == "":
            return httpx2.Response(200, json={"heartbeat_id": "h1"})
        return httpx2.Response(400, json={"error": "Invalid Heartbeat ID", "heartbeat_id": "h9"})

    http, clob = api(handler)
    with trio.fail_after(5):
        async with http:
            ok = await clob.post_heartbeat("")
            bad = await clob.post_heartbeat("stale")
    assert (ok.accepted, ok.heartbeat_id) == (True, "h1")
    assert (bad.accepted, bad.heartbeat_id) == (False, "h9")


async def test_time_sync_and_version(autojump_clock: trio.testing.MockClock) -> None:
    """/time sets the signing offset; /version must be 2."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/time":
            return httpx2.Response(200, content=b"1030")
        return httpx2.Response(200, json={"version": 3})

    http, clob = api(handler)
    with trio.fail_after(5):
        async with http:
            assert await clob.sync_time() == 30.0
            assert clob.rest.timestamp() == 1030
            with pytest.raises(ExchangeError, match="version 3"):
                await clob.check_version()


async def test_cancel_orders_sends_id_array(autojump_clock: trio.testing.MockClock) -> None:
    """DELETE /orders with a JSON array of ids; both lists of the answer are kept."""
    bodies: list[object] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        bodies.append(json.loads(request.content))
        return httpx2.Response(200, json={"canceled": ["0xa"], "not_canceled": {"0xb": "order not found"}})

    http, clob = api(handler)
    with trio.fail_after(5):
        async with http:
            answer = await clob.cancel_orders(["0xa", "0xb"])
    assert bodies == [["0xa", "0xb"]]
    assert answer.canceled == ("0xa",)
    assert answer.not_canceled == {"0xb": "order not found"}


async def test_positions_pages_by_offset(autojump_clock: trio.testing.MockClock) -> None:
    """The Data API is read with sizeThreshold=0 and offset paging until a short page."""
    offsets: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        assert request.url.params["sizeThreshold"] == "0"
        offsets.append(request.url.params["offset"])
        n = 2 if request.url.params["offset"] == "0" else 1
        rows = [
            {"proxyWallet": "0xf", "asset": f"{i}", "conditionId": "0xm", "size": 1.5, "avgPrice": 0.4}
            for i in range(n)
        ]
        return httpx2.Response(200, json=rows)

    http = httpx2.AsyncClient(transport=httpx2.MockTransport(handler), base_url="https://data.test")
    data = DataApi(RestTransport(http, RateLimiter(), data_api=True), page_size=2)
    with trio.fail_after(5):
        async with http:
            rows = await data.positions("0xf")
    assert offsets == ["0", "2"]
    assert [r.size for r in rows] == [Decimal("1.5")] * 3
