"""Alerts: Telegram and webhook sinks that can never block or crash quoting.

Shape::

    producers --send_nowait--> [dedup] --> bounded queue --> run_alerter --> per-sink bounded queue
                                                                               --> [token bucket] --> deliver

* :meth:`Alerter.send_nowait` is synchronous and never waits: an alert whose ``key`` was accepted less
  than ``dedup_window`` seconds ago is counted as deduplicated; when the queue is full the alert is
  dropped and counted. Every accepted alert is also logged at its severity.
* Each sink has its own task, queue and token bucket (``rate_per_minute``, ``burst``), so a dead
  Telegram never delays the webhook. A delivery is bounded by ``delivery_timeout``; failures are
  logged and counted, never raised into the bot.
* With no sink configured, alerts go to the log only.

The Telegram URL contains the bot token (``{base}/bot<token>/sendMessage``): it is built from the
:class:`~aqbot.secrets.Secret` only at the moment of the request, and every message this module logs
shows the URL as ``{base}/bot***/sendMessage``. The token is registered with the redaction filter, so
httpx2's own request log lines are redacted too.
"""

from __future__ import annotations

import collections
import enum
import functools
import logging
import math
from collections.abc import Callable, Sequence
from typing import NoReturn, Protocol

import attrs
import httpx2
import trio

from aqbot.config import AlertsConfig
from aqbot.errors import AqbotError
from aqbot.secrets import Secret, redact_text

log = logging.getLogger(__name__)

# Telegram refuses messages longer than this (Bot API sendMessage).
TELEGRAM_MAX_TEXT = 4096
# The ``on_drop`` name of the shared queue in front of the sinks.
QUEUE_SINK = "queue"
# The longest server-requested pause (429 retry_after) a sink honours before retrying once, seconds.
MAX_RETRY_AFTER = 300.0


class Severity(enum.Enum):
    INFO = "INFO"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"

    @property
    def log_level(self) -> int:
        return {"INFO": logging.INFO, "WARNING": logging.WARNING, "CRITICAL": logging.CRITICAL}[self.value]


@attrs.frozen
class Alert:
    """One alert. ``key`` groups repeats for deduplication (defaults to ``kind``)."""

    kind: str
    severity: Severity
    text: str
    key: str = attrs.field(default=attrs.Factory(lambda self: self.kind, takes_self=True))


def severity_of(key: str) -> Severity:
    """The severity of a runtime alert key (``halt:<REASON>:<scope>``, ``resume:...``, ``startup``, ...)."""
    if key.startswith(("halt:", "defect", "heartbeat-lapsed")):
        return Severity.CRITICAL
    if key.startswith(("resume:", "startup", "shutdown")):
        return Severity.INFO
    return Severity.WARNING


def alert_callback(alerter: Alerter) -> Callable[[str, str], None]:
    """The runtime's ``alert(key, text)`` (what :func:`aqbot.app.run_bot` takes) on top of ``alerter``:
    the kind is the key up to its first ``:``, the severity comes from :func:`severity_of`."""

    def alert(key: str, text: str) -> None:
        alerter.send_nowait(Alert(key.split(":", 1)[0], severity_of(key), text, key))

    return alert


@attrs.define
class StormDetector:
    """``threshold`` events within ``window`` seconds make a storm (reconnects, limit refusals).

    :meth:`note` returns the number of events in the window when it reaches the threshold, then starts
    counting afresh (so a continuing storm reports again after another ``threshold`` events; the
    alerter's dedup window keeps it from paging more often than that).
    """

    threshold: int
    window: float
    _times: collections.deque[float] = attrs.Factory(collections.deque)

    def note(self, now: float) -> int | None:
        self._times.append(now)
        while self._times and self._times[0] <= now - self.window:
            self._times.popleft()
        if len(self._times) < self.threshold:
            return None
        count = len(self._times)
        self._times.clear()
        return count


class AlertDeliveryError(AqbotError):
    """A sink could not deliver an alert (never carries a secret).

    ``retry_after`` is the server's request to wait (Telegram 429 ``parameters.retry_after``), if any.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AlertSink(Protocol):
    """Somewhere alerts go. ``deliver`` raises :class:`AlertDeliveryError` on failure."""

    name: str

    async def deliver(self, alert: Alert) -> None: ...


@attrs.define
class TelegramSink:
    """Telegram Bot API ``sendMessage`` over an injected client."""

    http: httpx2.AsyncClient
    token: Secret
    chat_id: str
    api_base: str = "https://api.telegram.org"
    name: str = "telegram"

    @property
    def safe_url(self) -> str:
        return f"{self.api_base.rstrip('/')}/bot***/sendMessage"

    async def deliver(self, alert: Alert) -> None:
        url = f"{self.api_base.rstrip('/')}/bot{self.token.reveal()}/sendMessage"
        text = f"[{alert.severity.value}] {alert.kind}: {alert.text}"[:TELEGRAM_MAX_TEXT]
        try:
            response = await self.http.post(url, json={"chat_id": self.chat_id, "text": text})
        except httpx2.HTTPError as exc:
            raise AlertDeliveryError(f"POST {self.safe_url}: {type(exc).__name__}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        body = body if isinstance(body, dict) else {}
        if response.is_success and body.get("ok") is True:
            return
        retry_after = None
        parameters = body.get("parameters")
        if response.status_code == 429 and isinstance(parameters, dict):
            value = parameters.get("retry_after")
            if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
                retry_after = float(value)
        raise AlertDeliveryError(
            f"POST {self.safe_url}: HTTP {response.status_code}", retry_after=retry_after
        )


@attrs.define
class WebhookSink:
    """A generic JSON webhook: POST ``{kind, severity, text, key}``; any 2xx is success."""

    http: httpx2.AsyncClient
    url: str
    name: str = "webhook"

    async def deliver(self, alert: Alert) -> None:
        body = {"kind": alert.kind, "severity": alert.severity.value, "text": alert.text, "key": alert.key}
        try:
            response = await self.http.post(self.url, json=body)
        except httpx2.HTTPError as exc:
            raise AlertDeliveryError(f"POST {redact_text(self.url)}: {type(exc).__name__}") from None
        if not response.is_success:
            raise AlertDeliveryError(f"POST {redact_text(self.url)}: HTTP {response.status_code}")


def build_sinks(
    config: AlertsConfig, telegram_token: Secret | None, http: httpx2.AsyncClient
) -> list[AlertSink]:
    """The sinks ``config`` asks for (an empty list means "log only")."""
    sinks: list[AlertSink] = []
    if config.telegram_chat_id is not None and telegram_token is not None:
        sinks.append(TelegramSink(http, telegram_token, config.telegram_chat_id, config.telegram_api_base))
    if config.webhook_url is not None:
        sinks.append(WebhookSink(http, config.webhook_url))
    return sinks


@attrs.define
class SinkStatistics:
    sent: int = 0
    failed: int = 0
    dropped: int = 0


@attrs.frozen
class AlerterStatistics:
    """Counters since start (``sinks`` maps sink name to its counters)."""

    accepted: int
    deduplicated: int
    dropped: int
    sinks: dict[str, SinkStatistics]


class TokenBucket:
    """``burst`` tokens, refilled at ``rate`` per second, on Trio's clock."""

    def __init__(self, rate: float, burst: int) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._stamp = trio.current_time()

    async def acquire(self) -> None:
        """Wait until a token is available and take it."""
        now = trio.current_time()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens < 1:
            await trio.sleep_until(now + (1 - self._tokens) / self._rate)
            self._tokens = 1.0
            self._stamp = trio.current_time()
        else:
            await trio.lowlevel.checkpoint()
        self._tokens -= 1


class Alerter:
    """The producer side, handed out by :func:`run_alerter` through ``task_status.started``."""

    def __init__(
        self,
        send: trio.MemorySendChannel[Alert],
        dedup_window: float,
        on_drop: Callable[[str], None] | None = None,
    ) -> None:
        self._send = send
        self._dedup_window = dedup_window
        self._last_accepted: dict[str, float] = {}
        self._on_drop = on_drop
        self._progress = trio.Event()
        self.accepted = 0
        self.deduplicated = 0
        self.dropped = 0
        self.fanned_out = 0
        self.sink_stats: dict[str, SinkStatistics] = {}
        self._handled: dict[str, int] = {}

    def _dropped(self, where: str) -> None:
        if self._on_drop is not None:
            self._on_drop(where)

    def _advance(self) -> None:
        self._progress.set()
        self._progress = trio.Event()

    def _idle(self) -> bool:
        return self.fanned_out == self.accepted and all(n == self.fanned_out for n in self._handled.values())

    async def drain(self) -> None:
        """Wait until every accepted alert went through every sink (sent, failed or dropped). Bound it
        with the caller's scope (at shutdown: the last alerts leave before the sinks are cancelled)."""
        while not self._idle():
            await self._progress.wait()
        await trio.lowlevel.checkpoint()

    def send_nowait(self, alert: Alert) -> bool:
        """Queue ``alert`` without waiting. Returns False when it was deduplicated or dropped."""
        now = trio.current_time()
        last = self._last_accepted.get(alert.key, -math.inf)
        if now - last < self._dedup_window:
            self.deduplicated += 1
            return False
        try:
            self._send.send_nowait(alert)
        except (trio.WouldBlock, trio.ClosedResourceError, trio.BrokenResourceError):
            self.dropped += 1
            self._dropped(QUEUE_SINK)
            log.warning("alert queue full: dropped %s alert %r", alert.severity.value, alert.kind)
            return False
        self._last_accepted[alert.key] = now
        self.accepted += 1
        log.log(alert.severity.log_level, "ALERT %s: %s", alert.kind, alert.text)
        return True

    def statistics(self) -> AlerterStatistics:
        return AlerterStatistics(
            accepted=self.accepted,
            deduplicated=self.deduplicated,
            dropped=self.dropped,
            sinks={name: attrs.evolve(s) for name, s in self.sink_stats.items()},
        )


def _handled(alerter: Alerter, sink: str) -> None:
    alerter._handled[sink] += 1
    alerter._advance()


async def _deliver_once(
    sink: AlertSink, alert: Alert, stats: SinkStatistics, bucket: TokenBucket, delivery_timeout: float
) -> float | None:
    """One rate-limited, time-bounded attempt. Returns the server's ``retry_after`` when it sent one."""
    await bucket.acquire()
    with trio.move_on_after(delivery_timeout):
        try:
            await sink.deliver(alert)
        except AlertDeliveryError as exc:
            stats.failed += 1
            log.warning("alert sink %s failed: %s", sink.name, exc)
            return exc.retry_after
        stats.sent += 1
        return None
    stats.failed += 1
    log.warning("alert sink %s timed out after %.1fs", sink.name, delivery_timeout)
    return None


async def _run_sink(
    sink: AlertSink,
    receive: trio.MemoryReceiveChannel[Alert],
    stats: SinkStatistics,
    bucket: TokenBucket,
    delivery_timeout: float,
    handled: Callable[[], None],
) -> NoReturn:
    """Deliver alerts to one sink, rate-limited, each attempt bounded. Runs until cancelled."""
    async with receive:
        async for alert in receive:
            retry_after = await _deliver_once(sink, alert, stats, bucket, delivery_timeout)
            if retry_after is not None:  # the server asked for a pause: honour it, then retry once
                log.warning("alert sink %s asked to wait %.0fs", sink.name, retry_after)
                await trio.sleep(min(retry_after, MAX_RETRY_AFTER))
                await _deliver_once(sink, alert, stats, bucket, delivery_timeout)
            handled()
    raise AssertionError("alert sink channel closed")  # pragma: no cover


async def run_alerter(
    sinks: Sequence[AlertSink],
    config: AlertsConfig,
    *,
    on_drop: Callable[[str], None] | None = None,
    task_status: trio.TaskStatus[Alerter] = trio.TASK_STATUS_IGNORED,
) -> NoReturn:
    """Fan alerts out to ``sinks``. Runs until cancelled; hands an :class:`Alerter` to ``started``.

    Args:
        sinks: where alerts go (see :func:`build_sinks`); empty means log only.
        config: dedup window, rate, burst, queue size and delivery timeout.
        on_drop: called with the sink name (``"queue"`` for the shared queue) of every dropped alert
            (``aqbot_alerts_dropped_total``).
    """
    send, receive = trio.open_memory_channel[Alert](config.queue_size)
    alerter = Alerter(send, config.dedup_window, on_drop)
    async with trio.open_nursery() as nursery:
        outs: list[tuple[AlertSink, trio.MemorySendChannel[Alert], SinkStatistics]] = []
        for sink in sinks:
            sink_send, sink_receive = trio.open_memory_channel[Alert](config.queue_size)
            stats = alerter.sink_stats.setdefault(sink.name, SinkStatistics())
            alerter._handled[sink.name] = 0
            bucket = TokenBucket(config.rate_per_minute / 60.0, config.burst)
            nursery.start_soon(
                _run_sink,
                sink,
                sink_receive,
                stats,
                bucket,
                config.delivery_timeout,
                functools.partial(_handled, alerter, sink.name),
                name=f"alert-{sink.name}",
            )
            outs.append((sink, sink_send, stats))
        task_status.started(alerter)
        async with receive:
            async for alert in receive:
                alerter.fanned_out += 1
                for sink, sink_send, stats in outs:
                    try:
                        sink_send.send_nowait(alert)
                    except trio.WouldBlock:
                        stats.dropped += 1
                        alerter._handled[sink.name] += 1
                        alerter._dropped(sink.name)
                        log.warning("alert sink %s is backed up: dropped %r", sink.name, alert.kind)
                alerter._advance()
    raise AssertionError("alert channel closed")  # pragma: no cover
