"""Rate limiter: exact pacing under virtual time."""

from __future__ import annotations

import trio
import trio.testing

from aqbot.io.ratelimit import RateLimiter, TokenBucket, endpoint_group


def test_endpoint_group_strips_query_and_ids() -> None:
    """Queries and per-order ids collapse into the endpoint group."""
    assert endpoint_group("get", "/data/orders?market=x") == "GET /data/orders"
    assert endpoint_group("GET", "/data/order/0xabc") == "GET /data/order"
    assert endpoint_group("POST", "/order/") == "POST /order"


def test_bucket_goes_negative_and_reports_ready_time() -> None:
    """A bucket of 2 per 10 s: the third token is ready 5 s later, the fourth 10 s later."""
    bucket = TokenBucket(2.0, 10.0)
    assert bucket.reserve(0.0) == 0.0
    assert bucket.reserve(0.0) == 0.0
    assert bucket.reserve(0.0) == 5.0
    assert bucket.reserve(0.0) == 10.0
    # after 20 s the bucket is full again (capped at capacity)
    assert bucket.reserve(20.0) == 20.0


async def test_acquire_paces_requests_exactly(autojump_clock: trio.testing.MockClock) -> None:
    """With 3 per 1 s on POST /order, 7 sequential requests finish at 0,0,0,1/3,2/3,1,4/3."""
    limiter = RateLimiter({"global": ((1000, 1.0),), "clob": ((1000, 1.0),), "POST /order": ((3, 1.0),)})
    times: list[float] = []
    with trio.fail_after(10):
        for _ in range(7):
            await limiter.acquire("POST", "/order")
            times.append(trio.current_time())
    expected = [0.0, 0.0, 0.0, 1 / 3, 2 / 3, 1.0, 4 / 3]
    assert [round(t, 9) for t in times] == [round(t, 9) for t in expected]
    assert limiter.waits == 4


async def test_concurrent_waiters_are_fifo(autojump_clock: trio.testing.MockClock) -> None:
    """Concurrent callers each get their own slot: no two leave at the same instant once throttled."""
    limiter = RateLimiter({"global": ((1, 1.0),), "clob": ((1, 1.0),)})
    done: list[tuple[int, float]] = []

    async def one(i: int) -> None:
        await limiter.acquire("GET", "/book")
        done.append((i, trio.current_time()))

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            for i in range(4):
                nursery.start_soon(one, i)
    assert sorted(t for _, t in done) == [0.0, 1.0, 2.0, 3.0]


async def test_pause_until_holds_the_group(autojump_clock: trio.testing.MockClock) -> None:
    """A 429 hint pauses that endpoint group until the deadline; other groups are unaffected."""
    limiter = RateLimiter()
    limiter.pause_until("POST", "/order", 7.5)
    with trio.fail_after(10):
        await limiter.acquire("GET", "/data/orders")
        assert trio.current_time() == 0.0
        await limiter.acquire("POST", "/order")
        assert trio.current_time() == 7.5


async def test_data_api_counts_against_data_group(autojump_clock: trio.testing.MockClock) -> None:
    """Data API requests use the data buckets, not the CLOB ones."""
    limiter = RateLimiter({"global": ((100, 1.0),), "clob": ((1, 100.0),), "data": ((100, 1.0),)})
    with trio.fail_after(10):
        for _ in range(5):
            await limiter.acquire("GET", "/positions", data_api=True)
    assert trio.current_time() == 0.0
