"""Client-side rate limiting: token buckets per endpoint, on Trio's clock (PROTOCOL section 8).

Polymarket enforces sliding windows in Cloudflare: it queues, then answers 429, then blocks. aqbot stays
below the published numbers by pacing itself, so a 429 is an anomaly, not a control loop.

Design: every limit is a token bucket of ``capacity`` tokens refilled continuously at ``capacity / window``
per second. An acquisition *reserves* its token at once (the bucket may go negative) and gets back the
instant at which the reservation becomes valid; the caller sleeps until the latest such instant over all
buckets that apply (endpoint burst, endpoint sustained, CLOB general, global). Reserving first makes
concurrent callers queue in FIFO order without a lock, and the waits use ``trio.sleep_until`` so
``MockClock`` drives them. A cancelled waiter keeps its reservation consumed: conservative (the bucket
refills a little late), never optimistic.

A 429 with ``retry_after`` (or any server hint) pauses a whole endpoint group through :meth:`pause_until`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import attrs
import trio

log = logging.getLogger(__name__)

# Limits from PROTOCOL section 8 as (count, window seconds). The conservative (older, lower) numbers;
# the newer ones are UNCONFIRMED. Keys are endpoint groups named by ``endpoint_group``.
TEN_MIN = 600.0
DEFAULT_LIMITS: Mapping[str, Sequence[tuple[int, float]]] = {
    "global": ((15_000, 10.0),),
    "clob": ((9_000, 10.0),),
    "POST /order": ((3_500, 10.0), (36_000, TEN_MIN)),
    "DELETE /order": ((3_000, 10.0), (30_000, TEN_MIN)),
    "POST /orders": ((1_000, 10.0), (15_000, TEN_MIN)),
    "DELETE /orders": ((1_000, 10.0), (15_000, TEN_MIN)),
    "DELETE /cancel-all": ((250, 10.0), (6_000, TEN_MIN)),
    "DELETE /cancel-market-orders": ((1_000, 10.0), (1_500, TEN_MIN)),
    "GET /data/orders": ((500, 10.0),),
    "GET /data/trades": ((500, 10.0),),
    "GET /book": ((1_500, 10.0),),
    "POST /books": ((500, 10.0),),
    "data": ((1_000, 10.0),),
    "GET /positions": ((150, 10.0),),
}

# Groups every CLOB request also counts against (besides its own, when it has one).
_CLOB_PARENTS = ("global", "clob")
_DATA_PARENTS = ("global", "data")


def endpoint_group(method: str, path: str) -> str:
    """The limit group of a request: ``"METHOD /path"`` with ids and queries stripped.

    Args:
        method: the HTTP method, any case.
        path: the request path (a query string, if present, is ignored).
    """
    bare = path.split("?", 1)[0].rstrip("/") or "/"
    if bare.startswith("/data/order/"):
        bare = "/data/order"
    return f"{method.upper()} {bare}"


@attrs.define
class TokenBucket:
    """One limit: ``capacity`` tokens per ``window`` seconds, refilled continuously.

    ``level`` is the number of tokens available at time ``stamp``; it goes negative when callers have
    reserved ahead of the refill.
    """

    capacity: float
    window: float
    level: float = attrs.field(default=attrs.Factory(lambda self: self.capacity, takes_self=True))
    stamp: float = 0.0
    paused_until: float = 0.0

    @property
    def rate(self) -> float:
        return self.capacity / self.window

    def reserve(self, now: float, n: float = 1.0) -> float:
        """Take ``n`` tokens now and return the instant at which they are really available."""
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now
        self.level -= n
        ready = now if self.level >= 0 else now + (-self.level) / self.rate
        return max(ready, self.paused_until)


@attrs.define
class RateLimiter:
    """Token buckets per endpoint group, plus the CLOB-wide, Data-API-wide and global buckets.

    Build one per bot (in the composition root) and share it between every REST caller.
    """

    limits: Mapping[str, Sequence[tuple[int, float]]] = DEFAULT_LIMITS
    _buckets: dict[str, list[TokenBucket]] = attrs.field(factory=dict, init=False)
    waits: int = attrs.field(default=0, init=False)

    def _group_buckets(self, group: str) -> list[TokenBucket]:
        found = self._buckets.get(group)
        if found is None:
            now = trio.current_time()
            found = [TokenBucket(float(c), w, stamp=now) for c, w in self.limits.get(group, ())]
            self._buckets[group] = found
        return found

    def _groups_for(self, group: str, *, data_api: bool) -> list[str]:
        parents = _DATA_PARENTS if data_api else _CLOB_PARENTS
        return [*parents, group] if group in self.limits else list(parents)

    def reserve_nowait(self, method: str, path: str, *, data_api: bool = False) -> float:
        """Reserve one token in every applicable bucket; return the instant the request may go."""
        now = trio.current_time()
        group = endpoint_group(method, path)
        ready = now
        for name in self._groups_for(group, data_api=data_api):
            for bucket in self._group_buckets(name):
                ready = max(ready, bucket.reserve(now))
        return ready

    async def acquire(self, method: str, path: str, *, data_api: bool = False) -> None:
        """Wait until one request to ``method path`` fits every limit that applies.

        Cancellation: the reservation stays consumed (conservative).
        """
        ready = self.reserve_nowait(method, path, data_api=data_api)
        if ready > trio.current_time():
            self.waits += 1
            log.debug("rate limit: %s %s waits %.3fs", method, path, ready - trio.current_time())
            await trio.sleep_until(ready)
        else:
            await trio.lowlevel.checkpoint()

    def pause_until(self, method: str, path: str, deadline: float, *, data_api: bool = False) -> None:
        """Hold every request of this endpoint group until ``deadline`` (a server 429 hint)."""
        group = endpoint_group(method, path)
        name = group if group in self.limits else ("data" if data_api else "clob")
        for bucket in self._group_buckets(name):
            bucket.paused_until = max(bucket.paused_until, deadline)
