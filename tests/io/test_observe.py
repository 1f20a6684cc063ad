"""Observation points: WS lag and reconnect storms (ObservedListener), fills and limit-refusal storms
(FactObserver), REST latency per path template, dropped alerts, the alerter's drain, severities."""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import httpx2
import pytest
import trio
import trio.testing
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve
from hypothesis import example, given
from hypothesis import strategies as st
from test_alerts import BOT_TOKEN, FakeTelegram

from aqbot.app import ExchangeConnectors, run_bot
from aqbot.config import AlertsConfig, MetricsConfig, config_from_toml
from aqbot.core import events as ce
from aqbot.core import facts as cf
from aqbot.core.types import Side
from aqbot.io import edge
from aqbot.io.alerts import Alert, Alerter, Severity, alert_callback, build_sinks, run_alerter, severity_of
from aqbot.io.metrics import make_aqbot_metrics
from aqbot.io.observe import (
    LIMIT_REASONS,
    FactObserver,
    ObservedListener,
    ServerClock,
    StormThresholds,
    server_clock,
)
from aqbot.io.ratelimit import RateLimiter
from aqbot.io.rest import RestTransport, endpoint_template
from aqbot.run import params_for_sim, storms_of
from aqbot.secrets import Secret
from aqbot.sim.runner import SimConfig, run_inprocess_simulator
from aqbot.wire.codec import decode_market_frame, decode_user_frame

D = Decimal


@attrs.define
class Recording:
    """The wrapped listener: records what reaches it (the probe must pass everything through)."""

    calls: list[tuple[Any, ...]] = attrs.Factory(list)

    def connected(self, channel: str, now: float) -> None:
        self.calls.append(("connected", channel, now))

    def alive(self, channel: str, now: float) -> None:
        self.calls.append(("alive", channel, now))

    def gap(self, channel: str, reason: str, now: float) -> None:
        self.calls.append(("gap", channel, reason, now))

    def deliver(self, channel: str, seq: int, now: float, raw: str, events: Sequence[object]) -> None:
        self.calls.append(("deliver", channel, seq, len(events)))


def price_change(ts_ms: int) -> str:
    change = {"asset_id": "7", "price": "0.5", "size": "10", "side": "BUY", "hash": "h", "best_bid": "0.5",
              "best_ask": "0.6"}  # fmt: skip
    return json.dumps(
        [
            {
                "event_type": "price_change",
                "market": "0xm",
                "price_changes": [change],
                "timestamp": str(ts_ms - 400),
            },
            {
                "event_type": "price_change",
                "market": "0xm",
                "price_changes": [change],
                "timestamp": str(ts_ms),
            },
        ]
    )


def order_event(ts: int) -> str:
    return json.dumps(
        {"event_type": "order", "type": "PLACEMENT", "id": "0xo", "market": "0xm", "asset_id": "7",
         "side": "BUY", "price": "0.5", "original_size": "10", "size_matched": "0", "status": "LIVE",
         "timestamp": str(ts)}
    )  # fmt: skip


async def test_lag_is_server_time_minus_the_newest_timestamp() -> None:
    metrics = make_aqbot_metrics()
    inner = Recording()
    wall = 1_767_225_600.0
    probe = ObservedListener(inner, metrics.ws_lag_seconds, server_clock(lambda: wall, lambda: -3.0))
    raw = price_change(int((wall - 3.0 - 0.25) * 1000))  # stamped 250 ms before the server's now
    probe.deliver("market", 1, 0.0, raw, decode_market_frame(raw))
    assert metrics.ws_lag_seconds.values[("market",)] == pytest.approx(0.25)
    raw = order_event(int(wall - 3.0 - 2))  # a user event stamped in seconds (PROTOCOL 5.1)
    probe.deliver("user", 1, 0.0, raw, decode_user_frame(raw))
    assert metrics.ws_lag_seconds.values[("user",)] == pytest.approx(2.0)
    probe.deliver("user", 2, 0.0, "[]", [])  # nothing timestamped: the last value stays
    assert metrics.ws_lag_seconds.values[("user",)] == pytest.approx(2.0)
    assert 'aqbot_ws_lag_seconds{channel="market"} 0.25' in metrics.registry.render()
    assert [c[0] for c in inner.calls] == ["deliver", "deliver", "deliver"]


def test_user_lag_survives_the_fused_decode() -> None:
    """The runtime's user channel decodes straight to core events (:func:`edge.user_frame_decoder`), which
    drop the message timestamps: the frame (an :class:`edge.UserFrame`) carries the newest one, and the lag
    is read from it, on the typed fast route and on the reference route alike."""
    metrics = make_aqbot_metrics()
    inner = Recording()
    wall = 1_767_225_600.0
    probe = ObservedListener(inner, metrics.ws_lag_seconds, server_clock(lambda: wall, lambda: 0.0))
    decode = edge.user_frame_decoder(edge.Identity("key", "0xabc"))
    now_ms = int(wall * 1000)
    raw = "[" + order_event(now_ms - 1500) + "," + order_event(now_ms - 700) + "]"
    events = decode(raw)
    assert [type(e) for e in events] == [ce.OrderEvent, ce.OrderEvent]  # core events: no ms timestamp
    probe.deliver("user", 1, 0.0, raw, events)
    assert metrics.ws_lag_seconds.values[("user",)] == pytest.approx(0.7)  # the newest of the two
    declined = order_event(now_ms - 300).replace("{", '{"extra":1,', 1)  # the reference route decodes it
    probe.deliver("user", 2, 0.0, declined, decode(declined))
    assert metrics.ws_lag_seconds.values[("user",)] == pytest.approx(0.3)
    probe.deliver("user", 3, 0.0, "[]", decode("[]"))  # nothing timestamped: the last value stays
    assert metrics.ws_lag_seconds.values[("user",)] == pytest.approx(0.3)
    assert [c[3] for c in inner.calls] == [2, 1, 0]


def test_server_clock_applies_only_offsets_of_a_second_or_more() -> None:
    """/time answers whole seconds: a smaller offset is within its resolution."""
    assert server_clock(lambda: 100.0, lambda: -0.7)() == 100.0
    assert server_clock(lambda: 100.0, lambda: 0.99)() == 100.0
    assert server_clock(lambda: 100.0, lambda: -1.0)() == 99.0
    assert server_clock(lambda: 100.0, lambda: 42.0)() == 142.0


def _user_frame(newest_ms: int | None) -> edge.UserFrame:
    frame = edge.UserFrame()
    frame.newest_ms = newest_ms
    return frame


def _same_float(a: float, b: float) -> bool:
    """Bit for bit: equal with the same sign of zero, or both NaN."""
    return repr(a) == repr(b)


def _near_halves(newest_ms: int) -> list[float]:
    """Wall clocks whose lag against ``newest_ms`` sits on and around a half millisecond."""
    out = []
    for k in (-2, -1, 0, 1, 7, 1234):
        wall = newest_ms / 1000.0 + (k + 0.5) / 1000.0
        out += [wall, math.nextafter(wall, math.inf), math.nextafter(wall, -math.inf)]
    return out


walls = st.floats(0.0, 2e9) | st.floats(allow_nan=True, allow_infinity=True)
offsets = st.sampled_from([0.0, -0.0, 0.5, -0.99, 1.0, -1.0, -3.0, 42.0, 0.0004]) | st.floats(-1e4, 1e4)
newests = st.integers(0, 10**14) | st.integers(1_700_000_000_000, 1_800_000_000_000)


@given(walls, offsets, newests)
@example(1_767_225_600.0, 0.0, 1_767_225_600_000)
@example(1_767_225_600.0, 0.0, 1_767_225_600_001)  # a lag of -1 ms
@example(0.0, 0.0, 0)  # a zero lag
@example(-0.0, 0.0, 0)
@example(1_767_225_600.0005, 0.0, 1_767_225_600_000)  # half a millisecond
@example(1e300, 0.0, 0)
@example(math.nan, 0.0, 5)
def test_lag_is_round_of_server_time_minus_newest(wall: float, offset: float, newest: int) -> None:
    """The gauge holds exactly ``round(server_now() - newest / 1000, 3)`` (deliver computes the rounding
    without round(); same bits, sign of zero included), for a :class:`ServerClock` and any other clock."""
    for w in [wall, *_near_halves(newest)]:
        metrics = make_aqbot_metrics()
        clock = server_clock(lambda w=w: w, lambda: offset)
        probe = ObservedListener(Recording(), metrics.ws_lag_seconds, clock)
        plain = ObservedListener(Recording(), metrics.ws_lag_seconds, lambda w=w: w + 1.0)
        probe.deliver("user", 1, 0.0, "", _user_frame(newest))
        plain.deliver("market", 1, 0.0, "", _user_frame(newest))
        assert _same_float(metrics.ws_lag_seconds.values[("user",)], round(clock() - newest / 1000.0, 3))
        assert _same_float(metrics.ws_lag_seconds.values[("market",)], round(w + 1.0 - newest / 1000.0, 3))


def test_one_clock_reading_per_timestamped_frame() -> None:
    """A :class:`ServerClock` is read part by part: one offset and one wall-clock reading per frame that
    carries a timestamp, none for one that does not; each channel keeps its own series."""
    reads: list[str] = []

    def wall() -> float:
        reads.append("wall")
        return 1000.0

    def offset() -> float:
        reads.append("offset")
        return -2.0

    metrics = make_aqbot_metrics()
    inner = Recording()
    probe = ObservedListener(inner, metrics.ws_lag_seconds, ServerClock(wall, offset))
    probe.deliver("user", 1, 0.0, "", _user_frame(997_500))
    assert reads == ["offset", "wall"]  # the order ServerClock.__call__ reads them in
    probe.deliver("user", 2, 0.0, "", _user_frame(None))
    probe.deliver("market", 1, 0.0, "[]", [])
    assert reads == ["offset", "wall"]
    probe.deliver("market", 2, 0.0, "", _user_frame(996_000))
    probe.deliver("user", 3, 0.0, "", _user_frame(997_750))
    assert reads == ["offset", "wall"] * 3
    assert metrics.ws_lag_seconds.values == {("user",): 0.25, ("market",): 2.0}
    assert [c[2] for c in inner.calls] == [1, 2, 1, 2, 3]


def test_reconnect_storm_alerts_once_per_threshold() -> None:
    metrics = make_aqbot_metrics()
    inner = Recording()
    alerts: list[tuple[str, str]] = []
    probe = ObservedListener(inner, metrics.ws_lag_seconds, lambda: 0.0, lambda k, t: alerts.append((k, t)))
    for i in range(4):  # four gaps spread over more than the window: no storm
        probe.gap("user", "closed", i * 100.0)
    assert alerts == []
    for i in range(5):  # five within 300 s
        probe.gap("market", f"closed {i}", 1000.0 + i)
    assert [k for k, _ in alerts] == ["reconnect-storm:market"]
    assert "5 gaps within 300s (last: closed 4)" in alerts[0][1]
    for i in range(4):  # the count starts afresh after an alert
        probe.gap("market", "again", 1010.0 + i)
    assert len(alerts) == 1
    assert sum(1 for c in inner.calls if c[0] == "gap") == 13  # every gap still reaches the feed
    probe.connected("user", 1.0)
    probe.alive("user", 2.0)
    assert inner.calls[-2:] == [("connected", "user", 1.0), ("alive", "user", 2.0)]


def test_fact_observer_counts_fills_and_refusal_storms() -> None:
    metrics = make_aqbot_metrics()
    alerts: list[tuple[str, str]] = []
    observe = FactObserver(metrics, lambda k, t: alerts.append((k, t)))
    observe(
        [
            cf.FillApplied("0xa", "7", Side.BUY, D(5), D(5), "trade", "t1"),
            cf.FillApplied("0xb", "7", Side.SELL, D(-2), D(2), "order_event"),
            cf.FillApplied("0xa", "7", Side.BUY, D("1.5"), D("6.5"), "rest"),
        ],
        0.0,
    )
    assert metrics.fills_total.values == {("7", "BUY"): 2, ("7", "SELL"): 1}
    assert metrics.filled_shares_total.values == {("7", "BUY"): D("6.5"), ("7", "SELL"): D(2)}
    halted = cf.ReserveRefused("7", Side.BUY, D("0.5"), D(5), "halted: MANUAL")
    unknown = cf.ReserveRefused("9", Side.BUY, D("0.5"), D(5), "unknown token 9")
    observe([halted, unknown] * 15, 1.0)  # gate and input refusals are not limit refusals
    assert metrics.limit_refusals_total.values == {}
    limit = cf.ReserveRefused("7", Side.BUY, D("0.5"), D(5), "L1: worst 20 + 5 > max_position 20")
    for i in range(19):
        observe([limit], 2.0 + i)
    assert alerts == []
    observe([limit], 30.0)
    assert [k for k, _ in alerts] == ["limit-refusals"]
    assert "20 placements refused by the limits within 60s" in alerts[0][1]
    assert "L1: worst 20 + 5 > max_position 20" in alerts[0][1]
    assert metrics.limit_refusals_total.values == {("7",): 20}
    assert 'aqbot_fills_total{token="7",side="BUY"} 2' in metrics.registry.render()


class _ReferenceObserver(FactObserver):
    """FactObserver's dispatch and fill counting as they were before its per-class memo (isinstance and
    labelled ``inc`` per fact): the oracle of the differential test below. A limit refusal goes to the
    unchanged ``_refused`` (its counter, the storm and the alert text)."""

    def __call__(self, facts: Sequence[cf.Fact], now: float) -> None:
        for fact in facts:
            if isinstance(fact, cf.FillApplied):
                side = fact.side.value
                self.metrics.fills_total.inc(token=fact.token, side=side)
                self.metrics.filled_shares_total.inc(abs(fact.delta), token=fact.token, side=side)
            elif isinstance(fact, cf.ReserveRefused) and fact.reason.startswith(LIMIT_REASONS):
                self._refused(fact, now)


class _SubFill(cf.FillApplied):
    """A subclass: counted as a fill, as isinstance would."""


_TOKENS = st.sampled_from(["7", "8", "0xabc"])
_SIDES = st.sampled_from(list(Side))
_AMOUNTS = st.decimals(min_value=-50, max_value=50, places=2)
_FACTS = st.one_of(
    st.builds(
        cf.FillApplied, st.just("0xa"), _TOKENS, _SIDES, _AMOUNTS, _AMOUNTS, st.just("trade"), st.just("t")
    ),
    st.builds(_SubFill, st.just("0xb"), _TOKENS, _SIDES, _AMOUNTS, _AMOUNTS, st.just("rest")),
    st.builds(
        cf.ReserveRefused, _TOKENS, _SIDES, st.just(D("0.5")), _AMOUNTS,
        st.sampled_from(["L1: worst 20 + 5 > max_position 20", "L3: sellable", "market notional 9",
                         "global notional 9", "halted: MANUAL", "unknown token 9", "L2"]),
    ),
    st.builds(cf.TradeRecorded, st.just("t"), st.just("0xa"), _AMOUNTS, st.just(D("0.5")),
              st.sampled_from(list(ce.TradeStatus))),
)  # fmt: skip


@given(st.lists(st.lists(_FACTS, max_size=6), max_size=40))
def test_fact_observer_counts_as_the_reference_does(outcomes: list[list[cf.Fact]]) -> None:
    """Differential: the memoised observer leaves the same counter values and raises the same alerts as
    the plain isinstance loop, outcome after outcome (refusal storms included: threshold 3 here)."""
    got_alerts: list[tuple[str, str]] = []
    want_alerts: list[tuple[str, str]] = []
    storms = StormThresholds(refusals=3, refusal_window=5.0)
    got = FactObserver(make_aqbot_metrics(), lambda k, t: got_alerts.append((k, t)), storms.refusal())
    want = _ReferenceObserver(make_aqbot_metrics(), lambda k, t: want_alerts.append((k, t)), storms.refusal())
    for i, facts in enumerate(outcomes):
        got(facts, float(i))
        want(facts, float(i))
    for name in ("fills_total", "filled_shares_total", "limit_refusals_total"):
        assert getattr(got.metrics, name).values == getattr(want.metrics, name).values, name
    assert got_alerts == want_alerts
    assert got.metrics.registry.render() == want.metrics.registry.render()


def test_storm_thresholds_come_from_the_alerts_config() -> None:
    text = "[alerts]\nreconnect_storm_gaps = 2\nreconnect_storm_window = 10\nrefusal_storm_count = 3\n"
    storms = storms_of(config_from_toml(text))
    assert storms == StormThresholds(reconnect_gaps=2, reconnect_window=10.0, refusals=3, refusal_window=60.0)
    alerts: list[str] = []
    probe = ObservedListener(
        Recording(), make_aqbot_metrics().ws_lag_seconds, lambda: 0.0, lambda k, t: alerts.append(k),
        storms.reconnect(),
    )  # fmt: skip
    probe.gap("user", "closed", 0.0)
    probe.gap("user", "closed", 11.0)  # outside the 10 s window
    assert alerts == []
    probe.gap("user", "closed", 12.0)
    assert alerts == ["reconnect-storm:user"]
    observe = FactObserver(make_aqbot_metrics(), lambda k, t: alerts.append(k), storms.refusal())
    limit = cf.ReserveRefused("7", Side.BUY, D("0.5"), D(5), "L1: worst 20 + 5 > max_position 20")
    observe([limit, limit], 0.0)
    assert alerts == ["reconnect-storm:user"]
    observe([limit], 59.0)
    assert alerts == ["reconnect-storm:user", "limit-refusals"]


def test_endpoint_templates_carry_no_ids() -> None:
    assert endpoint_template("/order") == "/order"
    assert endpoint_template("/data/trades") == "/data/trades"
    assert endpoint_template("/auth/derive-api-key") == "/auth/derive-api-key"
    assert endpoint_template("/cancel-market-orders") == "/cancel-market-orders"
    assert endpoint_template("/order/0x" + "ab" * 32) == "/order/{id}"
    assert endpoint_template("/markets/123456789") == "/markets/{id}"
    assert endpoint_template("/trade/6f1c2a9e-8b6d-4c1e-9a63-5f0e3f7d1a2b") == "/trade/{id}"


async def test_rest_latency_is_observed_per_method_and_template(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The histogram gets the request-to-answer time of each attempt (errors included), the rate
    limiter's wait excluded, labelled by method and path template."""
    metrics = make_aqbot_metrics()

    async def handler(request: httpx2.Request) -> httpx2.Response:
        await trio.sleep(0.2 if request.url.path == "/orders" else 0.03)
        status = 500 if request.url.path.startswith("/order/") else 200
        return httpx2.Response(status, json={})

    def observe(method: str, endpoint: str, seconds: float) -> None:
        metrics.rest_latency_seconds.observe(seconds, method=method, endpoint=endpoint)

    with trio.fail_after(60):
        async with httpx2.AsyncClient(
            transport=httpx2.MockTransport(handler), base_url="https://x.test"
        ) as http:
            rest = RestTransport(http, RateLimiter(), on_latency=observe)
            await rest.request("POST", "/orders", body="[]")
            await rest.request("GET", "/data/trades", idempotent=True)
            with pytest.raises(Exception, match="500"):
                await rest.request("GET", "/order/0x" + "cd" * 32)
    h = metrics.rest_latency_seconds
    assert h.sums[("POST", "/orders")] == pytest.approx(0.2)
    assert h.sums[("GET", "/data/trades")] == pytest.approx(0.03)
    assert h.counts[("GET", "/order/{id}")][-1] == 1
    text = metrics.registry.render()
    assert 'aqbot_rest_latency_seconds_bucket{method="POST",endpoint="/orders",le="0.25"} 1' in text
    assert 'aqbot_rest_latency_seconds_bucket{method="POST",endpoint="/orders",le="0.1"} 0' in text
    assert "cdcd" not in text


async def test_dropped_alerts_are_counted_and_drain_waits_for_delivery(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A webhook that answers after 5 s: the sink queue (2) fills and drops are counted per sink into
    aqbot_alerts_dropped_total; drain() returns only once every accepted alert went through the sink."""
    metrics = make_aqbot_metrics()
    delivered: list[float] = []

    async def slow(request: httpx2.Request) -> httpx2.Response:
        await trio.sleep(5)
        delivered.append(trio.current_time())
        return httpx2.Response(200)

    config = AlertsConfig(webhook_url="https://hooks.test/a", queue_size=2, rate_per_minute=600, burst=10)
    with trio.fail_after(120):
        async with httpx2.AsyncClient(transport=httpx2.MockTransport(slow)) as http, trio.open_nursery() as n:

            def dropped(sink: str) -> None:
                metrics.alerts_dropped_total.inc(sink=sink)

            alerter: Alerter = await n.start(
                lambda task_status: run_alerter(
                    build_sinks(config, None, http), config, on_drop=dropped, task_status=task_status
                )
            )
            t0 = trio.current_time()
            sent = 0
            for i in range(6):
                sent += alerter.send_nowait(Alert("x", Severity.WARNING, f"alert {i}", key=f"k{i}"))
                await trio.lowlevel.checkpoint()
            await trio.testing.wait_all_tasks_blocked()
            for i in range(6, 9):  # the shared queue (2) is full while the fan-out waits for room
                alerter.send_nowait(Alert("x", Severity.WARNING, f"alert {i}", key=f"k{i}"))
            await alerter.drain()
            drained_at = trio.current_time() - t0
            n.cancel_scope.cancel()
    stats = alerter.statistics()
    assert stats.sinks["webhook"].dropped >= 1
    assert metrics.alerts_dropped_total.values[("webhook",)] == stats.sinks["webhook"].dropped
    assert metrics.alerts_dropped_total.values.get(("queue",), 0) == stats.dropped
    assert stats.sinks["webhook"].sent == len(delivered)
    assert stats.sinks["webhook"].sent + stats.sinks["webhook"].dropped == stats.accepted
    assert drained_at == pytest.approx(5 * len(delivered))
    assert 'aqbot_alerts_dropped_total{sink="webhook"}' in metrics.registry.render()


async def test_alert_callback_maps_keys_to_kinds_and_severities(
    autojump_clock: trio.testing.MockClock,
) -> None:
    seen: list[dict[str, Any]] = []

    async def record(request: httpx2.Request) -> httpx2.Response:
        seen.append(json.loads(request.content))
        return httpx2.Response(200)

    config = AlertsConfig(webhook_url="https://hooks.test/a")
    with trio.fail_after(60):
        async with (
            httpx2.AsyncClient(transport=httpx2.MockTransport(record)) as http,
            trio.open_nursery() as n,
        ):
            alerter: Alerter = await n.start(run_alerter, build_sinks(config, None, http), config)
            alert = alert_callback(alerter)
            alert("halt:LEDGER_FAILURE:global", "halt LEDGER_FAILURE (global): disk full")
            alert("resume:LEDGER_FAILURE:global", "resume LEDGER_FAILURE (global)")
            alert("reconnect-storm:user", "user channel: 5 gaps")
            alert("halt:LEDGER_FAILURE:global", "deduplicated")
            await alerter.drain()
            n.cancel_scope.cancel()
    assert [(b["kind"], b["severity"], b["key"]) for b in seen] == [
        ("halt", "CRITICAL", "halt:LEDGER_FAILURE:global"),
        ("resume", "INFO", "resume:LEDGER_FAILURE:global"),
        ("reconnect-storm", "WARNING", "reconnect-storm:user"),
    ]
    assert severity_of("heartbeat-lapsed") is Severity.CRITICAL
    assert severity_of("startup") is Severity.INFO
    assert severity_of("shutdown") is Severity.INFO
    assert severity_of("limit-refusals") is Severity.WARNING


async def test_bot_alerts_reach_a_fake_telegram_and_a_real_scrape_has_the_runtime_metrics(
    tmp_path: Path,
) -> None:
    """Real time, real sockets: a bot on the in-process simulator with the alerter in front of a loopback
    fake Telegram. Its startup and shutdown alerts arrive as sendMessage calls (the shutdown one through
    drain), and a scrape of its metrics endpoint shows REST latency, WS lag and idle time and the ledger
    counters."""
    fake = FakeTelegram()
    hconfig = HypercornConfig()
    hconfig.bind = ["127.0.0.1:0"]
    hconfig.accesslog = None
    with trio.fail_after(90):
        async with trio.open_nursery() as nursery, httpx2.AsyncClient() as http:
            binds = await nursery.start(functools.partial(serve, fake, hconfig))
            config = AlertsConfig(telegram_chat_id="-100123", telegram_api_base=binds[0])
            alerter: Alerter = await nursery.start(
                run_alerter, build_sinks(config, Secret(BOT_TOKEN), http), config
            )
            sim = await nursery.start(run_inprocess_simulator, SimConfig(seed=3, markets=1))
            params = params_for_sim(sim, tmp_path / "l.sqlite3", ledger_synchronous="NORMAL")
            params = attrs.evolve(params, metrics=MetricsConfig(enabled=True, host="127.0.0.1", port=0))
            bot = functools.partial(
                run_bot, params, ExchangeConnectors.simulator(sim), alert=alert_callback(alerter)
            )
            async with trio.open_nursery() as bot_nursery:
                handle = await bot_nursery.start(bot)
                await fake.receive.receive()  # the startup alert
                await trio.sleep(1.5)  # one more tick of the metrics updater (1 s)
                answer = await http.get(f"http://127.0.0.1:{handle.metrics_port}/metrics")
                handle.request_shutdown()
            await alerter.drain()
            nursery.cancel_scope.cancel()
    texts = [body["text"] for _, body in fake.calls]
    assert texts[0].startswith("[INFO] startup: aqbot ")
    assert texts[-1].startswith("[INFO] shutdown: aqbot stopped")
    text = answer.text
    assert re.search(r'aqbot_rest_latency_seconds_count\{method="GET",endpoint="/data/orders"\} [1-9]', text)
    assert re.search(
        r'aqbot_rest_latency_seconds_count\{method="POST",endpoint="/v1/heartbeats"\} [1-9]', text
    )
    assert re.search(r'aqbot_ws_lag_seconds\{channel="market"\} -?\d', text)
    idle = re.search(r'aqbot_ws_idle_seconds\{channel="market"\} ([0-9.]+)', text)
    assert idle is not None
    assert 0 <= float(idle.group(1)) < 30
    assert "aqbot_ledger_failures_total 0" in text
    assert re.search(r"aqbot_ledger_lag_events \d+", text)
