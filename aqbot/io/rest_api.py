"""Typed CLOB and Data API endpoints on top of :class:`~aqbot.io.rest.RestTransport`.

Bodies are encoded with :func:`aqbot.wire.codec.encode_json` (the exact text sent is the text signed) and
answers decoded with :func:`aqbot.wire.codec.decode_rest` (a bad body raises ``WireError`` only).

Which calls are retried: the reads (``/time``, ``/version``, ``/book``, ``/data/orders``, ``/data/trades``,
``/positions``). Never: order placement, cancels, the heartbeat.

Pagination (PROTOCOL 1.4) starts at ``"MA=="`` and follows ``next_cursor`` until ``"LTE="``. A server that
repeats a cursor, or more than ``max_pages`` pages, raises :class:`WireError` rather than looping forever;
the caller then treats the snapshot as incomplete.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TypeVar

import attrs

from aqbot.auth.l2 import ApiCreds, l2_headers
from aqbot.errors import ExchangeError, WireError
from aqbot.io.heartbeat import HeartbeatAnswer
from aqbot.io.rest import RestTransport
from aqbot.wire.account import HeartbeatError, HeartbeatRequest, HeartbeatResponse, Position
from aqbot.wire.codec import decode_rest, encode_json
from aqbot.wire.market import BookSummary
from aqbot.wire.orders import (
    END_CURSOR,
    INITIAL_CURSOR,
    CancelMarketRequest,
    CancelResponse,
    OpenOrder,
    Page,
    PostOrderRequest,
    PostOrderResponse,
    Trade,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

# Orders per POST /orders (PROTOCOL 1.1: max 15 since 2025-08-21).
MAX_BATCH = 15
# Ids per DELETE /orders (max 1000 since 2026-06-15).
MAX_CANCEL_IDS = 1000
# Upper bound on pages of one paginated read (100 per page: 100k rows).
MAX_PAGES = 1000
# The order version aqbot signs (PROTOCOL 0).
ORDER_VERSION = 2


@attrs.frozen
class CredsSigner:
    """The :class:`~aqbot.io.rest.L2Signer` of one API key and signer address (secrets stay in ``creds``)."""

    creds: ApiCreds
    address: str

    def l2_headers(self, method: str, request_path: str, body: str, timestamp: int) -> Mapping[str, str]:
        return l2_headers(self.creds, self.address, timestamp, method, request_path, body or None)


@attrs.define
class ClobApi:
    """The CLOB endpoints a quoting bot uses. Build one per bot around a CLOB :class:`RestTransport`."""

    rest: RestTransport
    max_pages: int = MAX_PAGES

    async def server_time(self) -> int:
        """``GET /time``: Unix seconds."""
        response = await self.rest.request("GET", "/time", idempotent=True)
        value = decode_rest(response.content, int)
        return value

    async def sync_time(self) -> float:
        """Set the transport's server offset from ``/time``; return it (server minus local wall seconds)."""
        server = await self.server_time()
        self.rest.server_offset = float(server) - self.rest.wall_clock()
        log.info("server time offset %.3fs", self.rest.server_offset)
        return self.rest.server_offset

    async def check_version(self, expected: int = ORDER_VERSION) -> int:
        """``GET /version``; raises ExchangeError when the server expects another order version."""
        response = await self.rest.request("GET", "/version", idempotent=True)
        payload = decode_rest(response.content, dict[str, int])
        version = payload.get("version")
        if version != expected:
            raise ExchangeError(f"exchange expects order version {version}, aqbot signs {expected}")
        return version

    async def book(self, token: str) -> BookSummary:
        """``GET /book?token_id=``."""
        response = await self.rest.request("GET", "/book", params={"token_id": token}, idempotent=True)
        return decode_rest(response.content, BookSummary)

    async def post_orders(self, orders: Sequence[PostOrderRequest]) -> list[PostOrderResponse]:
        """Place 1..15 orders in one request (``POST /order`` for one, ``POST /orders`` for more).

        Sent once, never retried. Returns one answer per order, in order.

        Raises:
            OrderRejected: a 4xx with an error body (every order of the request is rejected).
            TransportError: no usable answer; every order of the request is UNKNOWN.
            ExchangeError: other refusals (ExchangeUnavailable for 425/503/post-only window).
            WireError: an answer that does not decode, or whose length does not match the request.
        """
        if not 1 <= len(orders) <= MAX_BATCH:
            raise ValueError(f"a placement carries 1..{MAX_BATCH} orders, not {len(orders)}")
        if len(orders) == 1:
            response = await self.rest.request("POST", "/order", body=encode_json(orders[0]), auth=True)
            return [decode_rest(response.content, PostOrderResponse)]
        response = await self.rest.request("POST", "/orders", body=encode_json(list(orders)), auth=True)
        answers = decode_rest(response.content, list[PostOrderResponse])
        if len(answers) != len(orders):
            raise WireError(f"batch of {len(orders)} answered with {len(answers)} legs", path="$")
        return answers

    async def cancel_orders(self, order_ids: Sequence[str]) -> CancelResponse:
        """``DELETE /orders`` (chunked by 1000). The answer is evidence, never a release."""
        canceled: list[str] = []
        not_canceled: dict[str, str] = {}
        for start in range(0, len(order_ids), MAX_CANCEL_IDS):
            chunk = list(order_ids[start : start + MAX_CANCEL_IDS])
            response = await self.rest.request("DELETE", "/orders", body=encode_json(chunk), auth=True)
            answer = decode_rest(response.content, CancelResponse)
            canceled.extend(answer.canceled)
            not_canceled.update(answer.not_canceled)
        return CancelResponse(canceled=tuple(canceled), not_canceled=not_canceled)

    async def cancel_all(self) -> CancelResponse:
        """``DELETE /cancel-all``."""
        response = await self.rest.request("DELETE", "/cancel-all", auth=True)
        return decode_rest(response.content, CancelResponse)

    async def cancel_market(self, market: str | None = None, asset_id: str | None = None) -> CancelResponse:
        """``DELETE /cancel-market-orders`` for one market and/or token."""
        body = encode_json(CancelMarketRequest(market=market, asset_id=asset_id))
        response = await self.rest.request("DELETE", "/cancel-market-orders", body=body, auth=True)
        return decode_rest(response.content, CancelResponse)

    async def open_orders(self, *, market: str | None = None, asset_id: str | None = None) -> list[OpenOrder]:
        """Every open order (all pages) of ``GET /data/orders``."""
        params = {k: v for k, v in (("market", market), ("asset_id", asset_id)) if v is not None}
        return await self._all_pages("/data/orders", params, OpenOrder)

    async def trades(
        self, *, after: int | None = None, market: str | None = None, maker_address: str | None = None
    ) -> list[Trade]:
        """Every trade (all pages) of ``GET /data/trades``; ``after`` is Unix seconds."""
        params: dict[str, str] = {}
        if after is not None:
            params["after"] = str(after)
        if market is not None:
            params["market"] = market
        if maker_address is not None:
            params["maker_address"] = maker_address
        return await self._all_pages("/data/trades", params, Trade)

    async def post_heartbeat(self, heartbeat_id: str) -> HeartbeatAnswer:
        """``POST /v1/heartbeats``; a 400 naming the expected id comes back as ``accepted=False``."""
        body = encode_json(HeartbeatRequest(heartbeat_id=heartbeat_id))
        response = await self.rest.request("POST", "/v1/heartbeats", body=body, auth=True, accept=(400,))
        if response.status_code == 400:
            rejected = decode_rest(response.content, HeartbeatError)
            return HeartbeatAnswer(False, rejected.heartbeat_id)
        ok = decode_rest(response.content, HeartbeatResponse)
        return HeartbeatAnswer(True, ok.heartbeat_id)

    async def _all_pages(self, path: str, params: Mapping[str, str], item: type[T]) -> list[T]:
        rows: list[T] = []
        cursor = INITIAL_CURSOR
        seen: set[str] = set()
        for _ in range(self.max_pages):
            seen.add(cursor)
            query = {**params, "next_cursor": cursor}
            response = await self.rest.request("GET", path, params=query, auth=True, idempotent=True)
            page: Page[T] = decode_rest(response.content, Page[item])  # type: ignore[valid-type]
            rows.extend(page.data)
            if page.is_last:
                return rows
            cursor = page.next_cursor
            if cursor in seen:
                raise WireError(f"{path}: cursor {cursor!r} repeated", path="$.next_cursor")
        raise WireError(f"{path}: more than {self.max_pages} pages (last cursor {cursor!r})", path="$")


@attrs.define
class DataApi:
    """The Data API's positions endpoint (public, no auth), on its own :class:`RestTransport`."""

    rest: RestTransport
    page_size: int = 500

    async def positions(self, user: str, markets: Sequence[str] = ()) -> list[Position]:
        """Every position row of ``user`` (``sizeThreshold=0``: a maker needs the small ones too)."""
        rows: list[Position] = []
        offset = 0
        while True:
            params = {"user": user, "sizeThreshold": "0", "limit": str(self.page_size), "offset": str(offset)}
            if markets:
                params["market"] = ",".join(markets)
            response = await self.rest.request("GET", "/positions", params=params, idempotent=True)
            page = decode_rest(response.content, list[Position])
            rows.extend(page)
            if len(page) < self.page_size or offset + self.page_size > 10_000:
                return rows
            offset += self.page_size


__all__ = ["END_CURSOR", "ClobApi", "CredsSigner", "DataApi"]
