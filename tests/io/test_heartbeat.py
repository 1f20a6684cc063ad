"""Heartbeat chain: timing, id chaining, resync from the 400 answer, failure and lapse reporting."""

from __future__ import annotations

from collections.abc import Callable

import attrs
import trio
import trio.testing

from aqbot.errors import ExchangeUnavailable, TransportError
from aqbot.io.heartbeat import HeartbeatAnswer, HeartbeatStats, run_heartbeat


@attrs.define
class FakeExchange:
    """Keeps the expected chain id; ``fail`` decides per call whether to raise instead of answering."""

    fail: Callable[[int], Exception | None] = lambda n: None
    expected: str = ""
    calls: list[tuple[float, str]] = attrs.Factory(list)
    counter: int = 0

    async def post_heartbeat(self, heartbeat_id: str) -> HeartbeatAnswer:
        await trio.lowlevel.checkpoint()
        self.calls.append((trio.current_time(), heartbeat_id))
        error = self.fail(len(self.calls))
        if error is not None:
            raise error
        if self.expected and heartbeat_id != self.expected:
            return HeartbeatAnswer(False, self.expected)
        self.counter += 1
        self.expected = f"hb{self.counter}"
        return HeartbeatAnswer(True, self.expected)


@attrs.define
class Events:
    log: list[tuple[str, float]] = attrs.Factory(list)

    def heartbeat_ok(self, now: float) -> None:
        self.log.append(("ok", now))

    def heartbeat_failed(self, reason: str, now: float) -> None:
        self.log.append(("failed", now))

    def heartbeat_lapsed(self, now: float, last_ok: float | None) -> None:
        self.log.append(("lapsed", now))


async def run_for(exchange: FakeExchange, events: Events, stats: HeartbeatStats, seconds: float) -> None:
    with trio.fail_after(seconds + 10):
        async with trio.open_nursery() as nursery:
            await nursery.start(run_heartbeat, exchange, events, stats)
            await trio.sleep(seconds)
            nursery.cancel_scope.cancel()


async def test_chain_every_5s(autojump_clock: trio.testing.MockClock) -> None:
    """Beats at 0, 5, 10, 15, each carrying the id the previous answer returned."""
    exchange, events, stats = FakeExchange(), Events(), HeartbeatStats()
    await run_for(exchange, events, stats, 16)
    assert exchange.calls == [(0.0, ""), (5.0, "hb1"), (10.0, "hb2"), (15.0, "hb3")]
    assert stats.beats == 4
    assert events.log == [("ok", 0.0), ("ok", 5.0), ("ok", 10.0), ("ok", 15.0)]


async def test_resync_from_expected_id(autojump_clock: trio.testing.MockClock) -> None:
    """A wrong id (e.g. after a restart) is resynced from the 400 body and resent at once."""
    exchange, events, stats = FakeExchange(expected="srv-7"), Events(), HeartbeatStats()
    await run_for(exchange, events, stats, 6)
    assert exchange.calls == [(0.0, ""), (0.0, "srv-7"), (5.0, "hb1")]
    assert stats.resyncs == 1
    assert stats.failures == 0


async def test_failures_alert_then_lapse_then_recover(autojump_clock: trio.testing.MockClock) -> None:
    """Calls 2-4 fail: each failure is reported; past 9 s without success the chain lapses; then recovers."""

    def fail(n: int) -> Exception | None:
        if n == 2:
            return TransportError("timeout")
        if n in (3, 4):
            return ExchangeUnavailable("503", status=503)
        return None

    exchange, events, stats = FakeExchange(fail=fail), Events(), HeartbeatStats()
    await run_for(exchange, events, stats, 21)
    assert events.log == [
        ("ok", 0.0),
        ("failed", 5.0),
        ("failed", 10.0),
        ("lapsed", 10.0),
        ("failed", 15.0),
        ("ok", 20.0),
    ]
    assert stats.failures == 3
    assert not stats.lapsed
    # the failed beats kept the id: the chain resumes where it was
    assert [hid for _, hid in exchange.calls] == ["", "hb1", "hb1", "hb1", "hb1"]


async def test_started_after_first_attempt_even_if_it_fails(autojump_clock: trio.testing.MockClock) -> None:
    """``started()`` does not wait for success: the caller learns the switch state from the listener."""
    exchange = FakeExchange(fail=lambda n: TransportError("down"))
    events, stats = Events(), HeartbeatStats()
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            await nursery.start(run_heartbeat, exchange, events, stats)
            assert events.log == [("failed", 0.0)]
            nursery.cancel_scope.cancel()
