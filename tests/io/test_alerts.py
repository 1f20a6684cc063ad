"""Alerts: a real loopback fake Telegram server, dedup, rate limiting, drops, dead sinks, no token leaks."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from functools import partial
from typing import Any

import httpx2
import pytest
import trio
import trio.testing
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from aqbot.config import AlertsConfig
from aqbot.io.alerts import Alert, Alerter, Severity, TelegramSink, WebhookSink, build_sinks, run_alerter
from aqbot.logs import configure_logging
from aqbot.secrets import Secret

BOT_TOKEN = "7100200300:AAH-fake-telegram-token-for-tests-0123456"
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


class FakeTelegram:
    """A minimal ASGI Telegram Bot API: records sendMessage calls and answers ``{"ok": true}``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.send, self.receive = trio.open_memory_channel[None](100)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": message["type"] + ".complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.calls.append((scope["path"], json.loads(body)))
        reply = json.dumps({"ok": True, "result": {"message_id": len(self.calls)}}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": reply})
        self.send.send_nowait(None)


async def test_telegram_over_a_real_loopback_server_never_logs_the_token(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging("DEBUG", json_lines=True, stream=out)
    fake = FakeTelegram()
    hconfig = HypercornConfig()
    hconfig.bind = ["127.0.0.1:0"]
    hconfig.accesslog = None
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery, httpx2.AsyncClient() as http:
            binds = await nursery.start(partial(serve, fake, hconfig))
            config = AlertsConfig(telegram_chat_id="-100123", telegram_api_base=binds[0])
            sinks = build_sinks(config, Secret(BOT_TOKEN), http)
            assert [s.name for s in sinks] == ["telegram"]
            alerter: Alerter = await nursery.start(run_alerter, sinks, config)
            assert alerter.send_nowait(Alert("halt", Severity.CRITICAL, "WS_GAP_UNRESOLVED latched"))
            assert alerter.send_nowait(Alert("resume", Severity.INFO, "quoting resumed"))
            for _ in range(2):
                await fake.receive.receive()
            nursery.cancel_scope.cancel()
    assert fake.calls == [
        (
            f"/bot{BOT_TOKEN}/sendMessage",
            {"chat_id": "-100123", "text": "[CRITICAL] halt: WS_GAP_UNRESOLVED latched"},
        ),
        (f"/bot{BOT_TOKEN}/sendMessage", {"chat_id": "-100123", "text": "[INFO] resume: quoting resumed"}),
    ]
    assert alerter.statistics().sinks["telegram"].sent == 2
    logged = out.getvalue()
    assert "sendMessage" in logged  # httpx2 logged the request line ...
    assert BOT_TOKEN not in logged  # ... with the token redacted
    assert BOT_TOKEN.split(":")[1] not in logged


def recording_client(times: list[tuple[float, dict[str, Any]]], status: int = 200) -> httpx2.AsyncClient:
    async def handler(request: httpx2.Request) -> httpx2.Response:
        times.append((trio.current_time(), json.loads(request.content)))
        return httpx2.Response(status, json={"ok": status == 200})

    return httpx2.AsyncClient(transport=httpx2.MockTransport(handler))


async def test_dedup_window_and_token_bucket(autojump_clock: trio.testing.MockClock) -> None:
    seen: list[tuple[float, dict[str, Any]]] = []
    config = AlertsConfig(webhook_url="https://hooks.test/a", dedup_window=60, rate_per_minute=60, burst=2)
    with trio.fail_after(600):
        async with recording_client(seen) as http, trio.open_nursery() as nursery:
            alerter: Alerter = await nursery.start(run_alerter, build_sinks(config, None, http), config)
            t0 = trio.current_time()
            assert alerter.send_nowait(Alert("gap", Severity.WARNING, "user ws gap", key="gap:user"))
            assert not alerter.send_nowait(Alert("gap", Severity.WARNING, "again", key="gap:user"))
            for i in range(4):
                assert alerter.send_nowait(Alert("fill", Severity.INFO, f"fill {i}", key=f"fill:{i}"))
            await trio.sleep(30)
            assert not alerter.send_nowait(Alert("gap", Severity.WARNING, "still", key="gap:user"))
            await trio.sleep(31)
            assert alerter.send_nowait(Alert("gap", Severity.WARNING, "window passed", key="gap:user"))
            await trio.sleep(5)
            nursery.cancel_scope.cancel()
    assert [round(t - t0, 6) for t, _ in seen] == [0, 0, 1, 2, 3, 61]  # burst 2, then 1 per second
    assert [body["text"] for _, body in seen][:2] == ["user ws gap", "fill 0"]
    assert seen[0][1] == {"kind": "gap", "severity": "WARNING", "text": "user ws gap", "key": "gap:user"}
    stats = alerter.statistics()
    assert (stats.accepted, stats.deduplicated, stats.sinks["webhook"].sent) == (6, 2, 6)


async def test_a_dead_sink_never_blocks_and_full_queues_drop(autojump_clock: trio.testing.MockClock) -> None:
    delivered: list[tuple[float, dict[str, Any]]] = []

    async def dead(request: httpx2.Request) -> httpx2.Response:
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    config = AlertsConfig(queue_size=3, rate_per_minute=6000, burst=100, delivery_timeout=10)
    with trio.fail_after(600):
        async with (
            httpx2.AsyncClient(transport=httpx2.MockTransport(dead)) as dead_http,
            recording_client(delivered) as live_http,
            trio.open_nursery() as nursery,
        ):
            sinks = [
                TelegramSink(dead_http, Secret(BOT_TOKEN), "1", "https://tg.test"),
                WebhookSink(live_http, "https://hooks.test/x"),
            ]
            alerter: Alerter = await nursery.start(run_alerter, sinks, config)
            t0 = trio.current_time()
            accepted = [alerter.send_nowait(Alert("k", Severity.INFO, f"a{i}", key=str(i))) for i in range(5)]
            assert trio.current_time() == t0  # sending is synchronous
            # The fan-out task, waiting in receive(), takes one at once; three fill the queue; one is dropped.
            assert accepted == [True, True, True, True, False]
            await trio.testing.wait_all_tasks_blocked()
            assert [b["text"] for _, b in delivered] == [
                "a0",
                "a1",
                "a2",
                "a3",
            ]  # the live sink is not held up
            for i in range(5, 10):  # one in delivery, three queued: the dead sink starts dropping
                assert alerter.send_nowait(Alert("k", Severity.INFO, f"a{i}", key=str(i)))
                await trio.testing.wait_all_tasks_blocked()
            await trio.sleep(100)  # delivery timeouts expire
            nursery.cancel_scope.cancel()
    stats = alerter.statistics()
    assert stats.dropped == 1
    assert stats.sinks["webhook"].sent == 9
    assert stats.sinks["telegram"].sent == 0
    assert stats.sinks["telegram"].dropped == 5
    assert stats.sinks["telegram"].failed == 4  # each attempt timed out after delivery_timeout


async def test_failures_are_counted_never_raised(autojump_clock: trio.testing.MockClock) -> None:
    seen: list[tuple[float, dict[str, Any]]] = []
    config = AlertsConfig(telegram_chat_id="1", webhook_url="https://hooks.test/a")
    with trio.fail_after(60):
        async with recording_client(seen, status=500) as http, trio.open_nursery() as nursery:
            alerter: Alerter = await nursery.start(
                run_alerter, build_sinks(config, Secret(BOT_TOKEN), http), config
            )
            alerter.send_nowait(Alert("halt", Severity.CRITICAL, "x"))
            await trio.testing.wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
    assert len(seen) == 2
    assert {n: (s.sent, s.failed) for n, s in alerter.statistics().sinks.items()} == {
        "telegram": (0, 1),
        "webhook": (0, 1),
    }


async def test_telegram_429_retry_after_is_honoured_once(autojump_clock: trio.testing.MockClock) -> None:
    times: list[float] = []

    async def handler(request: httpx2.Request) -> httpx2.Response:
        times.append(trio.current_time())
        if len(times) == 1:
            return httpx2.Response(
                429, json={"ok": False, "error_code": 429, "parameters": {"retry_after": 7}}
            )
        return httpx2.Response(200, json={"ok": True})

    config = AlertsConfig(telegram_chat_id="1")
    with trio.fail_after(60):
        async with (
            httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as http,
            trio.open_nursery() as n,
        ):
            alerter: Alerter = await n.start(
                run_alerter, build_sinks(config, Secret(BOT_TOKEN), http), config
            )
            t0 = trio.current_time()
            alerter.send_nowait(Alert("halt", Severity.CRITICAL, "x"))
            await trio.sleep(20)
            n.cancel_scope.cancel()
    assert [t - t0 for t in times] == [0, 7]
    telegram = alerter.statistics().sinks["telegram"]
    assert (telegram.failed, telegram.sent) == (1, 1)


async def test_without_sinks_alerts_go_to_the_log(caplog: pytest.LogCaptureFixture) -> None:
    with trio.fail_after(10), caplog.at_level(logging.INFO, logger="aqbot.io.alerts"):
        async with trio.open_nursery() as nursery:
            alerter: Alerter = await nursery.start(run_alerter, [], AlertsConfig())
            alerter.send_nowait(Alert("halt", Severity.CRITICAL, "LEDGER_FAILURE latched"))
            nursery.cancel_scope.cancel()
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.CRITICAL, "ALERT halt: LEDGER_FAILURE latched")
    ]


def test_telegram_sink_repr_hides_the_token() -> None:
    sink = TelegramSink(httpx2.AsyncClient(), Secret(BOT_TOKEN), "1")
    assert BOT_TOKEN not in repr(sink)
    assert sink.safe_url == "https://api.telegram.org/bot***/sendMessage"
