"""Metrics: Prometheus 0.0.4 text, and scraping the h11 server over a real loopback socket."""

from __future__ import annotations

from decimal import Decimal
from functools import partial

import httpx2
import pytest
import trio

from aqbot.io.metrics import CONTENT_TYPE, MetricsRegistry, make_aqbot_metrics, run_metrics_server

TOKEN = "7" * 77


def test_exposition_format() -> None:
    registry = MetricsRegistry()
    gauge = registry.gauge("aqbot_position_shares", "Shares held.\nper token", ["token"])
    gauge.set(Decimal("12.50"), token=TOKEN)
    gauge.set(3, token='we"ird\\tok\nen')
    counter = registry.counter("aqbot_fills_total", "Fills.")
    counter.inc()
    counter.inc(2)
    hist = registry.histogram("aqbot_rest_latency_seconds", "RTT.", ["endpoint"], buckets=[0.1, 1.0])
    hist.observe(0.05, endpoint="POST /order")
    hist.observe(0.5, endpoint="POST /order")
    nan = registry.gauge("aqbot_ws_lag_seconds", "Lag.", ["channel"])
    nan.set(float("nan"), channel="user")
    nan.set(float("inf"), channel="market")
    assert registry.render() == (
        "# HELP aqbot_position_shares Shares held.\\nper token\n"
        "# TYPE aqbot_position_shares gauge\n"
        f'aqbot_position_shares{{token="{TOKEN}"}} 12.50\n'
        'aqbot_position_shares{token="we\\"ird\\\\tok\\nen"} 3\n'
        "# HELP aqbot_fills_total Fills.\n"
        "# TYPE aqbot_fills_total counter\n"
        "aqbot_fills_total 3\n"
        "# HELP aqbot_rest_latency_seconds RTT.\n"
        "# TYPE aqbot_rest_latency_seconds histogram\n"
        'aqbot_rest_latency_seconds_bucket{endpoint="POST /order",le="0.1"} 1\n'
        'aqbot_rest_latency_seconds_bucket{endpoint="POST /order",le="1.0"} 2\n'
        'aqbot_rest_latency_seconds_bucket{endpoint="POST /order",le="+Inf"} 2\n'
        'aqbot_rest_latency_seconds_sum{endpoint="POST /order"} 0.55\n'
        'aqbot_rest_latency_seconds_count{endpoint="POST /order"} 2\n'
        "# HELP aqbot_ws_lag_seconds Lag.\n"
        "# TYPE aqbot_ws_lag_seconds gauge\n"
        'aqbot_ws_lag_seconds{channel="market"} +Inf\n'
        'aqbot_ws_lag_seconds{channel="user"} NaN\n'
    )


def test_registry_misuse_is_refused() -> None:
    registry = MetricsRegistry()
    gauge = registry.gauge("g", "G.", ["token"])
    with pytest.raises(ValueError, match="takes labels"):
        gauge.set(1, side="BUY")
    with pytest.raises(ValueError, match="takes labels"):
        gauge.series(side="BUY")
    key = gauge.series(token="a")  # a hot path's key: values[key] = v is what set(v, token="a") does
    gauge.values[key] = 2
    assert 'g{token="a"} 2' in registry.render()
    with pytest.raises(ValueError, match="already registered"):
        registry.counter("g", "again")
    with pytest.raises(ValueError, match="only goes up"):
        registry.counter("c_total", "C.").inc(-1)
    gauge.set(1, token="a")
    gauge.remove(token="a")
    assert registry.render() == "# HELP g G.\n# TYPE g gauge\n# HELP c_total C.\n# TYPE c_total counter\n"


async def test_scrape_over_loopback() -> None:
    registry = MetricsRegistry()
    metrics = make_aqbot_metrics(registry)
    metrics.worst_case_shares.set(Decimal(40), token=TOKEN)
    metrics.halt_active.set(1, reason="WS_GAP_UNRESOLVED")
    metrics.open_orders.set(2)
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery, httpx2.AsyncClient() as http:
            port = await nursery.start(partial(run_metrics_server, "127.0.0.1", 0, registry))
            assert port > 0
            base = f"http://127.0.0.1:{port}"
            response = await http.get(f"{base}/metrics")
            assert response.status_code == 200
            assert response.headers["content-type"] == CONTENT_TYPE
            assert response.text == registry.render()
            assert f'aqbot_worst_case_shares{{token="{TOKEN}"}} 40' in response.text
            assert 'aqbot_halt_active{reason="WS_GAP_UNRESOLVED"} 1' in response.text
            assert (await http.get(f"{base}/nope")).status_code == 404
            assert (await http.post(f"{base}/metrics", content=b"x")).status_code == 405
            stream = await trio.open_tcp_stream("127.0.0.1", port)  # garbage does not kill the server
            await stream.send_all(b"\x00\x01 not http\r\n\r\n")
            await stream.aclose()
            metrics.open_orders.set(3)
            again = await http.get(f"{base}/metrics?x=1")
            assert "aqbot_open_orders 3" in again.text
            nursery.cancel_scope.cancel()
