"""Tick to order: a market-channel ``price_change`` that moves fair value -> the signed POST handed to HTTP.

The runtime's real quoter path, driven in isolation in one ``trio.run``:

1. the frame text is decoded (:func:`aqbot.wire.decode_market_frame`) and delivered to the runtime's
   :class:`~aqbot.io.ws_market.MarketFeed` (books updated, the market's version bumped), exactly what the
   market reader does per frame;
2. the real :func:`aqbot.io.quoter.run_quoter` task wakes on the version, runs ``quote_once``: the strategy
   (:class:`~aqbot.core.strategy.SkewedMidStrategy`), the diff against the LIVE orders, ``request_cancel``
   for the stale quotes, then per new quote sign (:class:`~aqbot.auth.OrderSigner`), ``Core.place``
   (check + reserve), and one ``POST /orders`` through :class:`~aqbot.io.rest_api.ClobApi` /
   :class:`~aqbot.io.rest.RestTransport` (rate limiter, L2 HMAC headers, httpx2 client);
3. the clock stops when the request reaches the HTTP transport: an ``httpx2.AsyncBaseTransport`` that
   records the instant and answers every leg ``live`` with the order id it computes from the body.

Every frame moves the YES best bid (and the NO best ask with it) by 4 ticks, so the mid moves by 2 ticks
and every iteration cancels two quotes and signs and posts two new ones. Between iterations, untimed, the
cancels are confirmed with CANCELLATION user events (as the exchange would), so reservations stay bounded.
Deviations from production, both to measure the path rather than deliberate pacing: the quoter's
``min_iteration_gap`` is 0 (production: 50 ms between iterations) and the rate limiter's buckets are
large (production's POST /orders bucket, 1000 per 10 s, would make the loop wait).

The floor, measured interleaved in the same run: a trio memory-channel round trip (ping-pong between two
tasks, buffer 0; PERF-LIMITS b3). Goal: p99 <= 1 ms with signing included.
"""

from __future__ import annotations

import json
import random
import sys
import time
from decimal import Decimal
from typing import Any

import attrs
import httpx2
import trio
import trio.testing

from aqbot.auth.keys import SigningKey
from aqbot.auth.l2 import ApiCreds
from aqbot.auth.order_wire import signed_order_from_wire
from aqbot.auth.signer import OrderSigner
from aqbot.auth.stamps import OrderStamper
from aqbot.core.config import CoreConfig
from aqbot.core.engine import Core
from aqbot.core.events import Channel, OrderEvent, OrderEventType, OrdersSnapshot
from aqbot.core.exposure import Limits
from aqbot.core.strategy import SkewedMidStrategy, StrategyConfig
from aqbot.core.types import MarketSpec
from aqbot.io.hub import Hub
from aqbot.io.ledger_events import LedgerItem
from aqbot.io.quoter import QuoteContext, QuoterConfig, run_quoter
from aqbot.io.quoter_guards import ErrorRateGuard, ExchangeGuard
from aqbot.io.ratelimit import DEFAULT_LIMITS, RateLimiter
from aqbot.io.rest import RestTransport
from aqbot.io.rest_api import ClobApi, CredsSigner
from aqbot.io.ws_market import BookBoard, MarketFeed
from aqbot.wire.codec import decode_market_frame, encode_json
from aqbot.wire.orders import PostOrderResponse
from bench._common import interleaved, percentile, profile_top, quiet_logs, ratio, scaled

FULL_SAMPLES = 2000
MIN_SAMPLES = 20
REPEATS = 4
WARMUP = 20
GOAL_P99_MS = 1.0
CHAIN_ID = 137
KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # Hardhat #0, never funded
CID = "0x" + "5a" * 32
YES = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
NO = "52114319501245915516055106046884209969926127482827954674443846427813813222426"
SPEC = MarketSpec(CID, YES, NO, Decimal("0.01"))
BIDS = ("0.40", "0.44")  # YES best bid alternates between these; the YES best ask stays at 0.60


def _book(asset: str, bid: str, ask: str) -> dict[str, object]:
    return {
        "event_type": "book", "market": CID, "asset_id": asset, "timestamp": "1767225600000",
        "hash": "0x" + "0" * 40, "bids": [{"price": bid, "size": "100"}],
        "asks": [{"price": ask, "size": "100"}], "tick_size": "0.01",
    }  # fmt: skip


def frames() -> tuple[str, tuple[str, str]]:
    """The initial ``book`` frame and the two ``price_change`` frames that alternate (exchange shapes)."""
    book = json.dumps([_book(YES, BIDS[0], "0.60"), _book(NO, "0.40", _no(BIDS[0]))], separators=(",", ":"))
    moves = []
    for old, new in ((BIDS[0], BIDS[1]), (BIDS[1], BIDS[0])):
        changes = [
            {"asset_id": YES, "price": new, "size": "100", "side": "BUY", "hash": "0x1", "best_bid": new,
             "best_ask": "0.60"},
            {"asset_id": YES, "price": old, "size": "0", "side": "BUY", "hash": "0x2", "best_bid": new,
             "best_ask": "0.60"},
            {"asset_id": NO, "price": _no(new), "size": "100", "side": "SELL", "hash": "0x3",
             "best_bid": "0.40", "best_ask": _no(new)},
            {"asset_id": NO, "price": _no(old), "size": "0", "side": "SELL", "hash": "0x4",
             "best_bid": "0.40", "best_ask": _no(new)},
        ]  # fmt: skip
        event = {
            "event_type": "price_change",
            "market": CID,
            "price_changes": changes,
            "timestamp": "1767225600001",
        }
        moves.append(json.dumps(event, separators=(",", ":")))
    return book, (moves[0], moves[1])


def _no(yes_price: str) -> str:
    return str(Decimal(1) - Decimal(yes_price))


@attrs.define
class RecordingTransport(httpx2.AsyncBaseTransport):
    """Records when each request arrives; answers every leg ``live`` with the id computed from the body."""

    arrived: trio.Event = attrs.Factory(trio.Event)
    arrived_at: float = 0.0
    requests: int = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.arrived_at = time.perf_counter()
        self.requests += 1
        self.arrived.set()
        body = json.loads(await request.aread())
        legs = body if isinstance(body, list) else [body]
        answers = [
            PostOrderResponse(
                success=True,
                order_id=signed_order_from_wire(leg["order"], chain_id=CHAIN_ID, neg_risk=False).order_id,
                status="live",
            )
            for leg in legs
        ]
        text = encode_json(answers if isinstance(body, list) else answers[0])
        return httpx2.Response(200, content=text.encode(), headers={"content-type": "application/json"})


def _cancellation(core: Core, order_id: str) -> OrderEvent:
    order = core.order(order_id)
    assert order is not None
    return OrderEvent(
        order_id, order.token, order.side, order.price, order.original_size, Decimal(0), "CANCELED",
        type=OrderEventType.CANCELLATION,
    )  # fmt: skip


async def _discard(recv: trio.MemoryReceiveChannel[LedgerItem]) -> None:
    async for _ in recv:
        pass


async def _tick_to_order(samples: int) -> list[float]:
    core = Core(CoreConfig(Limits(Decimal(10**6))), [SPEC], trio.current_time())
    core.on_channel_up(Channel.USER, trio.current_time())
    recon_id, _ = core.begin_reconciliation(trio.current_time())
    core.on_reconciliation(recon_id, OrdersSnapshot(trio.current_time()), None, trio.current_time())
    hub = Hub(core)
    board = BookBoard.for_markets([SPEC])
    feed = MarketFeed(board)
    transport = RecordingTransport()
    signer = OrderSigner(SigningKey.from_hex(KEY), CHAIN_ID)
    creds = ApiCreds("bench-key", "c2VjcmV0LXNlY3JldC1zZWNyZXQ=", "passphrase")
    limits = {
        group: tuple((count * 1000, window) for count, window in rules)
        for group, rules in DEFAULT_LIMITS.items()
    }
    book, moves = frames()
    latencies: list[float] = []
    send, recv = trio.open_memory_channel[LedgerItem](1000)
    async with httpx2.AsyncClient(transport=transport, base_url="http://clob.bench") as http:
        rest = RestTransport(http, RateLimiter(limits), CredsSigner(creds, signer.maker), random.Random(1))
        ctx = QuoteContext(
            hub, board, SkewedMidStrategy(StrategyConfig(half_spread_ticks=2, size=Decimal(10))), signer,
            OrderStamper(random.Random(1)), ClobApi(rest), creds.api_key, lambda: 1_767_225_600_000,
            ExchangeGuard(), QuoterConfig(min_iteration_gap=0.0, requote_interval=3600.0), ErrorRateGuard(),
        )  # fmt: skip
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_discard, recv)
            await nursery.start(hub.sink.run_pump, send)
            feed.deliver("market", 0, trio.current_time(), book, decode_market_frame(book))
            await nursery.start(run_quoter, ctx, SPEC)
            await trio.testing.wait_all_tasks_blocked()
            for i in range(samples + WARMUP):
                transport.arrived = trio.Event()
                raw = moves[i % 2]
                started = time.perf_counter()
                events = decode_market_frame(raw)
                feed.deliver("market", i + 1, trio.current_time(), raw, events)
                with trio.fail_after(10):
                    await transport.arrived.wait()
                if i >= WARMUP:
                    latencies.append(transport.arrived_at - started)
                await trio.testing.wait_all_tasks_blocked()  # answers applied, quoter waiting again
                now = trio.current_time()
                for order_id in hub.cancels.take(1000):  # the exchange confirms the cancels (untimed)
                    hub.apply(core.on_order_event(_cancellation(core, order_id), now))
                await trio.testing.wait_all_tasks_blocked()
            hub.sink.close()
            nursery.cancel_scope.cancel()
    if transport.requests < samples:
        raise RuntimeError(f"only {transport.requests} POSTs for {samples} ticks")
    return latencies


async def _floor(samples: int) -> list[float]:
    """Memory-channel round trip: producer -> [chan] -> echo task -> [chan] -> producer (buffer 0)."""
    to_s, to_r = trio.open_memory_channel[int](0)
    back_s, back_r = trio.open_memory_channel[int](0)
    out: list[float] = []

    async def echo() -> None:
        async for item in to_r:
            await back_s.send(item)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(echo)
        for i in range(samples + WARMUP):
            started = time.perf_counter()
            await to_s.send(i)
            await back_r.receive()
            if i >= WARMUP:
                out.append(time.perf_counter() - started)
        nursery.cancel_scope.cancel()
    return out


def run(scale: float = 1.0) -> dict[str, Any]:
    """Measure tick-to-order and the memory-channel floor, interleaved (see the module docstring)."""
    n = scaled(FULL_SAMPLES, scale, MIN_SAMPLES)
    repeats = REPEATS if scale >= 0.2 else 2
    per_rep = max(MIN_SAMPLES // 2, n // repeats)
    ticks: list[list[float]] = []
    floors: list[list[float]] = []

    def tick() -> float:
        ticks.append(trio.run(_tick_to_order, per_rep))
        return percentile(ticks[-1], 0.99)

    def floor() -> float:
        floors.append(trio.run(_floor, per_rep))
        return percentile(floors[-1], 0.99)

    with quiet_logs():
        interleaved({"tick_to_order": tick, "floor": floor}, repeats)
    tick_all = [x * 1e6 for rep in ticks for x in rep]
    floor_all = [x * 1e6 for rep in floors for x in rep]
    p50s = ratio([percentile(r, 0.5) for r in ticks], [percentile(r, 0.5) for r in floors])
    p99s = ratio([percentile(r, 0.99) for r in ticks], [percentile(r, 0.99) for r in floors])
    p50, p99, worst = percentile(tick_all, 0.5), percentile(tick_all, 0.99), max(tick_all)
    profile = _profile(per_rep)
    return {
        "samples": len(tick_all),
        "repeats": repeats,
        "orders_per_tick": 2,
        "p50_us": round(p50, 1),
        "p99_us": round(p99, 1),
        "p999_us": round(percentile(tick_all, 0.999), 1),
        "max_us": round(worst, 1),
        "floor_p50_us": round(percentile(floor_all, 0.5), 1),
        "floor_p99_us": round(percentile(floor_all, 0.99), 1),
        "ratio_p50_vs_floor": round(p50s[0], 1),
        "ratio_p99_vs_floor": round(p99s[0], 1),
        "p99_us_per_rep": [round(percentile([x * 1e6 for x in r], 0.99), 1) for r in ticks],
        "profile_top": profile["self"],
        "profile_aqbot_total": profile["aqbot_total"],
        "headline": (
            f"p50 {p50:,.0f} us, p99 {p99:,.0f} us, max {worst:,.0f} us = {p99s[0]:.0f}x the channel "
            f"round-trip p99"
        ),
        "goal": f"p99 <= {GOAL_P99_MS:g} ms",
        "goal_met": p99 <= GOAL_P99_MS * 1000,
    }


def _profile(samples: int) -> dict[str, Any]:
    with quiet_logs():
        return profile_top(lambda: trio.run(_tick_to_order, samples))


if __name__ == "__main__":
    print(json.dumps(run(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0), indent=2))
