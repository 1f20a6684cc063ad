"""Paper runs start the alerter too: halts, resumes, startup and shutdown alerts of the bot reach the log
(max speed), and the configured webhook in real time (a loopback fake webhook server)."""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path
from typing import Any

import pytest
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve
from paper_helpers import tight_config

from aqbot.app_state import BotHandle
from aqbot.core.halts import HaltReason
from aqbot.io.ledger_writer import to_thread
from aqbot.paper.maxspeed import run_paper
from aqbot.paper.runner import PaperOptions, PaperPaths, paper_session


def alert_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "aqbot.io.alerts"]


def test_max_speed_run_alerts_to_the_log(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A manual halt and its resume inside a max-speed paper run are alerted (the log is the sink)."""
    caplog.set_level(logging.INFO, logger="aqbot.io.alerts")

    def halt_and_resume(handle: BotHandle) -> None:
        handle.hub.set_halt(HaltReason.MANUAL, "paper test halt")
        handle.hub.clear_halt(HaltReason.MANUAL)

    options = PaperOptions(
        seed=3, duration=30, markets=1, config_path=tight_config(tmp_path), settle_seconds=5
    )
    paths = PaperPaths(tmp_path / "ledger.sqlite3", tmp_path / "tape.jsonl", None)
    run_paper(options, paths, hook=halt_and_resume, stall_limit=60.0)
    lines = alert_lines(caplog)
    assert lines[0].startswith("ALERT startup: aqbot ")
    assert "ALERT halt: halt MANUAL (global): paper test halt" in lines
    assert "ALERT resume: resume MANUAL (global)" in lines
    assert lines[-1].startswith("ALERT shutdown: aqbot stopped")


class FakeWebhook:
    """An ASGI endpoint that records every JSON body posted to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
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
        self.bodies.append(json.loads(body))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def test_real_time_run_delivers_to_the_configured_webhook(tmp_path: Path) -> None:
    """Real time over loopback: the configured webhook receives the bot's startup, halt, resume and (drained
    before the session ends) shutdown alerts."""
    fake = FakeWebhook()
    hconfig = HypercornConfig()
    hconfig.bind = ["127.0.0.1:0"]
    hconfig.accesslog = None

    def halt_and_resume(handle: BotHandle) -> None:
        handle.hub.set_halt(HaltReason.MANUAL, "paper test halt")
        handle.hub.clear_halt(HaltReason.MANUAL)

    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            binds = await nursery.start(functools.partial(serve, fake, hconfig))
            config = tight_config(tmp_path)
            text = config.read_text().replace("[alerts]\n", f'[alerts]\nwebhook_url = "{binds[0]}/hook"\n', 1)
            config.write_text(text)
            options = PaperOptions(seed=3, duration=3, markets=1, config_path=config, settle_seconds=1)
            paths = PaperPaths(tmp_path / "ledger.sqlite3", tmp_path / "tape.jsonl", None)
            await paper_session(
                options, paths, loopback=True, offload=to_thread, synchronous="NORMAL", stop=trio.Event(),
                hook=halt_and_resume, alert_sinks=True,
            )  # fmt: skip
            nursery.cancel_scope.cancel()
    keys = [b["key"] for b in fake.bodies]
    assert keys[0] == "startup"
    assert "halt:MANUAL:global" in keys
    assert "resume:MANUAL:global" in keys
    assert keys[-1] == "shutdown"
    assert fake.bodies[keys.index("halt:MANUAL:global")]["severity"] == "CRITICAL"
