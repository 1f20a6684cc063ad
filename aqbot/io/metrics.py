"""Metrics: a tiny registry (counters, gauges, histograms with labels) and a ``GET /metrics`` server.

The exposition is the Prometheus text format 0.0.4 (``# HELP``, ``# TYPE``, one sample per line, label
values escaped). The server is a minimal HTTP/1.1 responder on Trio sockets using h11 (sans-IO): one
request per connection, ``GET /metrics`` answers 200, other paths 404, other methods 405. Each
connection is bounded by ``CONNECTION_TIMEOUT`` so a stuck client cannot pile up tasks. It is started
only when ``[metrics] enabled = true``.

Values are plain numbers; a ``Decimal`` (shares, pUSD) is accepted and rendered exactly.
:func:`make_aqbot_metrics` registers the documented aqbot metrics (see docs/io.md) on a registry the
composition root owns and passes down (no global registry).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from decimal import Decimal
from functools import partial
from typing import NoReturn

import attrs
import h11
import trio

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds one scrape connection may take, end to end.
CONNECTION_TIMEOUT = 10.0
# Bytes read per receive while parsing a request.
RECEIVE_BYTES = 16384
# Default latency buckets (seconds) for REST round trips.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

Number = int | float | Decimal
LabelValues = tuple[str, ...]


def _format_value(value: Number) -> str:
    if isinstance(value, Decimal):
        return "NaN" if value.is_nan() else ("+Inf" if value == Decimal("Infinity") else str(value))
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        return repr(value)
    return str(value)


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: Sequence[str], values: Sequence[str]) -> str:
    if not names:
        return ""
    return "{" + ",".join(f'{n}="{_escape_label(v)}"' for n, v in zip(names, values, strict=True)) + "}"


@attrs.define
class _Family:
    name: str
    help: str
    labelnames: tuple[str, ...]

    def _key(self, labels: dict[str, str]) -> LabelValues:
        if set(labels) != set(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {tuple(labels)}")
        return tuple(str(labels[n]) for n in self.labelnames)

    def series(self, **labels: str) -> LabelValues:
        """The key of one series in the family's values (labels checked once): a hot path then sets
        ``values[key]`` itself, as :meth:`Gauge.set` or :meth:`Counter.inc` do after checking the labels
        again (a counter's hot path adds only amounts >= 0)."""
        return self._key(labels)

    def header(self, kind: str) -> list[str]:
        help_text = self.help.replace("\\", "\\\\").replace("\n", "\\n")
        return [f"# HELP {self.name} {help_text}", f"# TYPE {self.name} {kind}"]


@attrs.define
class Gauge(_Family):
    """A value that goes up and down."""

    values: dict[LabelValues, Number] = attrs.Factory(dict)

    def set(self, value: Number, **labels: str) -> None:
        self.values[self._key(labels)] = value

    def inc(self, amount: Number = 1, **labels: str) -> None:
        key = self._key(labels)
        self.values[key] = self.values.get(key, 0) + amount  # type: ignore[operator]

    def remove(self, **labels: str) -> None:
        """Forget one series (e.g. a halt reason that cleared, a token no longer quoted)."""
        self.values.pop(self._key(labels), None)

    def render(self) -> list[str]:
        return self.header("gauge") + [
            f"{self.name}{_labels(self.labelnames, k)} {_format_value(v)}"
            for k, v in sorted(self.values.items())
        ]


@attrs.define
class Counter(_Family):
    """A value that only goes up (the name should end in ``_total``)."""

    values: dict[LabelValues, Number] = attrs.Factory(dict)

    def inc(self, amount: Number = 1, **labels: str) -> None:
        if amount < 0:
            raise ValueError("a counter only goes up")
        key = self._key(labels)
        self.values[key] = self.values.get(key, 0) + amount  # type: ignore[operator]

    def set_total(self, total: Number, **labels: str) -> None:
        """Mirror a count kept elsewhere (e.g. the ledger writer's failures); it must not go down."""
        key = self._key(labels)
        if total < self.values.get(key, 0):
            raise ValueError("a counter only goes up")
        self.values[key] = total

    def render(self) -> list[str]:
        return self.header("counter") + [
            f"{self.name}{_labels(self.labelnames, k)} {_format_value(v)}"
            for k, v in sorted(self.values.items())
        ]


@attrs.define
class Histogram(_Family):
    """Observations in cumulative buckets, with ``_sum`` and ``_count``."""

    buckets: tuple[float, ...] = LATENCY_BUCKETS
    counts: dict[LabelValues, list[int]] = attrs.Factory(dict)
    sums: dict[LabelValues, float] = attrs.Factory(dict)

    def observe(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        counts = self.counts.setdefault(key, [0] * (len(self.buckets) + 1))
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                counts[i] += 1
        counts[-1] += 1
        self.sums[key] = self.sums.get(key, 0.0) + value

    def render(self) -> list[str]:
        lines = self.header("histogram")
        names = (*self.labelnames, "le")
        for key, counts in sorted(self.counts.items()):
            for bound, count in zip((*self.buckets, math.inf), counts, strict=True):
                lines.append(f"{self.name}_bucket{_labels(names, (*key, _format_value(bound)))} {count}")
            lines.append(f"{self.name}_sum{_labels(self.labelnames, key)} {_format_value(self.sums[key])}")
            lines.append(f"{self.name}_count{_labels(self.labelnames, key)} {counts[-1]}")
        return lines


class MetricsRegistry:
    """Metric families by name; :meth:`render` produces the exposition text."""

    def __init__(self) -> None:
        self._families: dict[str, Gauge | Counter | Histogram] = {}

    def _add(self, family: Gauge | Counter | Histogram) -> None:
        if family.name in self._families:
            raise ValueError(f"metric {family.name} is already registered")
        self._families[family.name] = family

    def gauge(self, name: str, help: str, labelnames: Sequence[str] = ()) -> Gauge:
        family = Gauge(name, help, tuple(labelnames))
        self._add(family)
        return family

    def counter(self, name: str, help: str, labelnames: Sequence[str] = ()) -> Counter:
        family = Counter(name, help, tuple(labelnames))
        self._add(family)
        return family

    def histogram(
        self, name: str, help: str, labelnames: Sequence[str] = (), buckets: Sequence[float] = LATENCY_BUCKETS
    ) -> Histogram:
        family = Histogram(name, help, tuple(labelnames), tuple(sorted(buckets)))
        self._add(family)
        return family

    def render(self) -> str:
        lines: list[str] = []
        for family in self._families.values():
            lines.extend(family.render())
        return "\n".join(lines) + "\n"


@attrs.frozen
class AqbotMetrics:
    """The documented aqbot metrics (docs/io.md), registered by :func:`make_aqbot_metrics` on
    ``registry`` (what the server renders)."""

    registry: MetricsRegistry
    position_shares: Gauge
    worst_case_shares: Gauge
    limit_shares: Gauge
    reserved_shares: Gauge
    open_orders: Gauge
    halt_active: Gauge
    gaps_open: Gauge
    ws_lag_seconds: Gauge
    ws_idle_seconds: Gauge
    rest_latency_seconds: Histogram
    ledger_lag_events: Gauge
    ledger_failures_total: Counter
    alerts_dropped_total: Counter
    fills_total: Counter
    filled_shares_total: Counter
    limit_refusals_total: Counter
    pnl_pusd: Gauge


def make_aqbot_metrics(registry: MetricsRegistry | None = None) -> AqbotMetrics:
    """Register aqbot's metrics on ``registry`` (a new one when ``None``)."""
    registry = registry or MetricsRegistry()
    return AqbotMetrics(
        registry=registry,
        position_shares=registry.gauge(
            "aqbot_position_shares", "Shares held per token (own fills).", ["token"]
        ),
        worst_case_shares=registry.gauge(
            "aqbot_worst_case_shares", "held + open BUY remaining, per token (limit L1).", ["token"]
        ),
        limit_shares=registry.gauge("aqbot_limit_shares", "max_position per token.", ["token"]),
        reserved_shares=registry.gauge(
            "aqbot_reserved_shares", "Open BUY remaining reserved against the limit.", ["token"]
        ),
        open_orders=registry.gauge("aqbot_open_orders", "Orders that might still fill (non-terminal)."),
        halt_active=registry.gauge("aqbot_halt_active", "1 while a halt reason is latched.", ["reason"]),
        gaps_open=registry.gauge("aqbot_gaps_open", "WebSocket gaps not yet resolved by a reconciliation."),
        ws_lag_seconds=registry.gauge(
            "aqbot_ws_lag_seconds",
            "Local receive time minus the exchange timestamp of the newest event of the channel's last "
            "timestamped frame (server-time corrected).",
            ["channel"],
        ),
        ws_idle_seconds=registry.gauge(
            "aqbot_ws_idle_seconds", "Seconds since the last frame (PONG included) on a channel.", ["channel"]
        ),
        rest_latency_seconds=registry.histogram(
            "aqbot_rest_latency_seconds",
            "REST round trip (request sent to answer received) per method and path template.",
            ["method", "endpoint"],
        ),
        ledger_lag_events=registry.gauge(
            "aqbot_ledger_lag_events", "Events received by the ledger writer and not yet durable."
        ),
        ledger_failures_total=registry.counter(
            "aqbot_ledger_failures_total", "Failed ledger write attempts (each retry counts)."
        ),
        alerts_dropped_total=registry.counter(
            "aqbot_alerts_dropped_total", "Alerts dropped because a queue was full.", ["sink"]
        ),
        fills_total=registry.counter(
            "aqbot_fills_total", "Fills applied (held moved), per token and side.", ["token", "side"]
        ),
        filled_shares_total=registry.counter(
            "aqbot_filled_shares_total", "Shares filled, per token and side.", ["token", "side"]
        ),
        limit_refusals_total=registry.counter(
            "aqbot_limit_refusals_total", "Placements the core refused for a position limit.", ["token"]
        ),
        pnl_pusd=registry.gauge(
            "aqbot_pnl_pusd", "The core's PnL in pUSD: realized, unrealized, total, daily.", ["kind"]
        ),
    )


def _response(conn: h11.Connection, status: int, body: bytes, content_type: str) -> bytes:
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body))), ("Connection", "close")]
    return (
        conn.send(h11.Response(status_code=status, headers=headers))
        + conn.send(h11.Data(data=body))
        + (conn.send(h11.EndOfMessage()) or b"")
    )


async def _read_request(conn: h11.Connection, stream: trio.SocketStream) -> h11.Request | None:
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await stream.receive_some(RECEIVE_BYTES)
            conn.receive_data(data)
            continue
        if isinstance(event, h11.Request):
            return event
        return None  # ConnectionClosed or PAUSED before a request


async def _handle(registry: MetricsRegistry, stream: trio.SocketStream) -> None:
    """Answer one request on ``stream`` and close it; expected network errors are logged, not raised."""
    conn = h11.Connection(h11.SERVER)
    with trio.move_on_after(CONNECTION_TIMEOUT):
        try:
            request = await _read_request(conn, stream)
            if request is not None:
                target = request.target.split(b"?", 1)[0]
                if request.method not in (b"GET", b"HEAD"):
                    out = _response(conn, 405, b"method not allowed\n", "text/plain")
                elif target != b"/metrics":
                    out = _response(conn, 404, b"not found\n", "text/plain")
                else:
                    body = registry.render().encode()
                    out = _response(conn, 200, body if request.method == b"GET" else b"", CONTENT_TYPE)
                await stream.send_all(out)
        except h11.RemoteProtocolError as exc:
            log.debug("metrics: bad request (%s)", exc)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            log.debug("metrics: connection lost (%s)", exc)
    with trio.move_on_after(1.0, shield=True):
        await stream.aclose()


async def run_metrics_server(
    host: str,
    port: int,
    registry: MetricsRegistry,
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> NoReturn:
    """Serve ``GET /metrics`` on ``host:port``. Runs until cancelled; ``started(port)`` (0 -> ephemeral)."""
    listeners = await trio.open_tcp_listeners(port, host=host)
    bound = listeners[0].socket.getsockname()[1]
    log.info("metrics on http://%s:%d/metrics", host, bound)
    async with trio.open_nursery() as nursery:
        await nursery.start(partial(trio.serve_listeners, partial(_handle, registry), listeners))
        task_status.started(bound)
        await trio.sleep_forever()
    raise AssertionError("unreachable")  # pragma: no cover
