"""The simulator in process: memory network under MockClock, determinism, transport faults, slow clients.

Rules (as in trio-websocket's tests): no sockets, virtual time only (``autojump_clock`` or a fresh
``trio.run(..., clock=MockClock(autojump_threshold=0))``), an absolute ``fail_after`` on every I/O test, and
clients whose requests are byte-identical across runs (fixed salts and timestamps).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest
import trio
import trio.testing
import trio_websocket
from _sim_server_helpers import call, fixed_limit_body

from aqbot.sim.faults import FaultConfig, RestAction, WsAction
from aqbot.sim.runner import SimConfig, SimHandle, run_inprocess_simulator

SESSION_MINUTES = 5


async def _active_session(config: SimConfig, minutes: int) -> tuple[bytes, dict[str, int], SimHandle]:
    """A client that quotes and cancels every 2 s and reads both channels (reconnecting) for ``minutes``."""
    stats = {"rest_errors": 0, "ws_messages": 0, "reconnects": 0}
    with trio.fail_after(minutes * 60 + 600):
        async with trio.open_nursery() as nursery:
            handle: SimHandle = await nursery.start(run_inprocess_simulator, config)
            acct = handle.accounts[0]
            assets = [str(t["token_id"]) for m in handle.info.markets for t in m["tokens"]]  # type: ignore[attr-defined]

            async def reader(path: str, first: str) -> None:
                while True:
                    try:
                        async with handle.connector.ws_connect(handle.info.ws_url + path) as ws:
                            await ws.send_message(first)
                            while True:
                                await ws.get_message()
                                stats["ws_messages"] += 1
                    except trio_websocket.ConnectionClosed:
                        stats["reconnects"] += 1
                        await trio.sleep(1)

            market_sub = {"type": "market", "assets_ids": assets, "custom_feature_enabled": True}
            nursery.start_soon(reader, "/ws/market", json.dumps(market_sub))
            auth = {"apiKey": acct.api_key, "secret": acct.creds.secret, "passphrase": acct.creds.passphrase}
            nursery.start_soon(reader, "/ws/user", json.dumps({"auth": auth, "type": "user", "markets": []}))
            yes = assets[0]
            async with httpx2.AsyncClient(
                transport=handle.connector.http_transport(), base_url="http://x"
            ) as http:
                for i in range(minutes * 30):
                    try:
                        body = fixed_limit_body(acct, yes, 5 + i % 5, 10, "BUY", salt=i)
                        if (await call(http, acct, "POST", "/order", body)).status_code != 200:
                            stats["rest_errors"] += 1
                        await call(http, acct, "DELETE", "/cancel-all")
                    except httpx2.TransportError:
                        stats["rest_errors"] += 1
                    await trio.sleep(2)
            nursery.cancel_scope.cancel()
    return handle.tape.getbytes(), stats, handle


def _run(config: SimConfig, minutes: int) -> tuple[bytes, dict[str, int], SimHandle]:
    return trio.run(_active_session, config, minutes, clock=trio.testing.MockClock(autojump_threshold=0))


def test_same_seed_same_tape_and_faults_fire(capsys: pytest.CaptureFixture[str]) -> None:
    config = SimConfig(seed=5, markets=4, faults="chaos")
    started = time.perf_counter()
    tape1, stats1, handle = _run(config, SESSION_MINUTES)
    wall = time.perf_counter() - started
    tape2, stats2, _ = _run(config, SESSION_MINUTES)
    assert tape1 == tape2
    assert stats1 == stats2
    counts = handle.tape.fault_counts
    for fault in (
        "rest_latency",
        "rest_5xx",
        "rest_429",
        "ws_drop",
        "ws_duplicate",
        "ws_reorder",
        "ws_delay",
    ):
        assert counts[fault] > 0, (fault, dict(counts))
    assert counts["rest_timeout_applied"] + counts["rest_timeout_not_applied"] > 0
    assert stats1["rest_errors"] > 0
    assert stats1["ws_messages"] > 100
    speed = SESSION_MINUTES * 60 / wall
    with capsys.disabled():
        print(f"\nsim speed, 4 markets chaos + active client: {speed:.0f} simulated s per wall s")
    assert speed > 20  # goal >= 100x; loose bound so a loaded CI box does not flake


def test_different_seeds_differ() -> None:
    a, _, _ = _run(SimConfig(seed=1, markets=1, faults="mild"), 1)
    b, _, _ = _run(SimConfig(seed=2, markets=1, faults="mild"), 1)
    assert a != b


def _faults(**knobs: Any) -> SimConfig:
    return SimConfig(seed=3, markets=1, flow=False, fault_config=FaultConfig(name="test", **knobs))


async def test_ambiguous_submit_applied_raises_read_timeout(
    nursery: trio.Nursery, autojump_clock: Any
) -> None:
    with trio.fail_after(60):
        handle: SimHandle = await nursery.start(run_inprocess_simulator, _faults(rest_timeout_applied_p=1.0))
        acct = handle.accounts[0]
        yes = str(handle.info.markets[0]["tokens"][0]["token_id"])  # type: ignore[index]
        async with httpx2.AsyncClient(
            transport=handle.connector.http_transport(), base_url="http://x"
        ) as http:
            before = trio.current_time()
            with pytest.raises(httpx2.ReadTimeout):
                await call(http, acct, "POST", "/order", fixed_limit_body(acct, yes, 40, 10, "BUY", salt=1))
            assert trio.current_time() - before == pytest.approx(5.0)  # the client's own read timeout
        assert len(handle.engine.open_orders(acct.api_key)) == 1  # applied, answer lost
        assert handle.tape.fault_counts["rest_timeout_applied"] == 1


async def test_ambiguous_submit_not_applied(nursery: trio.Nursery, autojump_clock: Any) -> None:
    with trio.fail_after(60):
        handle: SimHandle = await nursery.start(
            run_inprocess_simulator, _faults(rest_timeout_not_applied_p=1.0)
        )
        acct = handle.accounts[0]
        yes = str(handle.info.markets[0]["tokens"][0]["token_id"])  # type: ignore[index]
        async with httpx2.AsyncClient(
            transport=handle.connector.http_transport(), base_url="http://x"
        ) as http:
            with pytest.raises(httpx2.ReadTimeout):
                await call(http, acct, "POST", "/order", fixed_limit_body(acct, yes, 40, 10, "BUY", salt=1))
        assert handle.engine.open_orders(acct.api_key) == []
        assert handle.tape.fault_counts["rest_timeout_not_applied"] == 1


async def test_throttle_and_server_errors(nursery: trio.Nursery, autojump_clock: Any) -> None:
    with trio.fail_after(60):
        handle: SimHandle = await nursery.start(
            run_inprocess_simulator, _faults(rest_429_p=0.5, rest_5xx_p=0.5)
        )
        seen: set[int] = set()
        async with httpx2.AsyncClient(
            transport=handle.connector.http_transport(), base_url="http://x"
        ) as http:
            for _ in range(20):
                r = await http.get("/time")
                seen.add(r.status_code)
                if r.status_code == 429:
                    assert r.headers["retry-after"] == "2"
                    assert r.json() == {"error": "Too Many Requests", "retry_after_seconds": 2}
                else:
                    assert r.status_code in (500, 502, 503)
                    assert "error" in r.json()
        assert 429 in seen
        assert seen & {500, 502, 503}
        counts = handle.tape.fault_counts
        assert counts["rest_429"] + counts["rest_5xx"] == 20


async def test_slow_ws_client_is_disconnected_not_waited_for(
    nursery: trio.Nursery, autojump_clock: Any
) -> None:
    with trio.fail_after(1200):
        config = SimConfig(seed=4, markets=2, ws_queue_size=16)
        handle: SimHandle = await nursery.start(run_inprocess_simulator, config)
        assets = [str(t["token_id"]) for m in handle.info.markets for t in m["tokens"]]  # type: ignore[attr-defined]
        async with handle.connector.ws_connect(handle.info.ws_url + "/ws/market") as ws:
            await ws.send_message(json.dumps({"type": "market", "assets_ids": assets}))
            await trio.sleep(120)  # a client that stops reading for two simulated minutes
            assert handle.tape.counts["ws_overflow"] == 1
            with pytest.raises(trio_websocket.ConnectionClosed):
                await _drain(ws)
        await trio.testing.wait_all_tasks_blocked()
        assert handle.hub.connections == 0


async def _drain(ws: trio_websocket.WebSocketConnection) -> None:
    while True:
        await ws.get_message()


async def test_freeze_stops_data_but_not_pong(nursery: trio.Nursery, autojump_clock: Any) -> None:
    with trio.fail_after(120):
        config = _faults(ws_freeze_p=1.0, ws_freeze_ms=30_000)
        handle: SimHandle = await nursery.start(run_inprocess_simulator, config)
        yes = str(handle.info.markets[0]["tokens"][0]["token_id"])  # type: ignore[index]
        async with handle.connector.ws_connect(handle.info.ws_url + "/ws/market") as ws:
            await ws.send_message(json.dumps({"type": "market", "assets_ids": [yes]}))
            await ws.send_message("PING")
            assert await ws.get_message() == "PONG"  # the book snapshot was swallowed by the freeze
            assert handle.tape.fault_counts["ws_freeze"] == 1


def test_tape_never_holds_secrets() -> None:
    tape, _, handle = _run(SimConfig(seed=8, markets=1, faults="mild"), 1)
    text = tape.decode()
    for acct in handle.accounts:
        assert acct.creds.secret not in text
        assert acct.creds.passphrase not in text
        assert acct.private_key[2:] not in text
        for shown in (repr(acct), repr(handle.info), repr(handle.app.backend.keys.get(acct.api_key))):
            assert acct.creds.secret not in shown
            assert acct.creds.passphrase not in shown
            assert acct.private_key[2:] not in shown


class _Scripted:
    """A transport-fault decider: throttle ``GET /time``, drop every market-channel message."""

    def rest_action(self, method: str, path: str, now_ms: int) -> RestAction:
        return RestAction("throttle", status=429, retry_after_s=7) if path == "/time" else RestAction("ok")

    def ws_action(self, channel: str, key: str, now_ms: int) -> WsAction:
        return WsAction("drop") if channel == "market" else WsAction("deliver")


async def test_transport_faults_can_be_scripted(nursery: trio.Nursery, autojump_clock: Any) -> None:
    with trio.fail_after(60):
        handle: SimHandle = await nursery.start(run_inprocess_simulator, SimConfig(seed=6, markets=1))
        handle.set_transport_faults(_Scripted())
        yes = str(handle.info.markets[0]["tokens"][0]["token_id"])  # type: ignore[index]
        async with httpx2.AsyncClient(
            transport=handle.connector.http_transport(), base_url="http://x"
        ) as http:
            throttled = await http.get("/time")
            assert (throttled.status_code, throttled.headers["retry-after"]) == (429, "7")
            assert (await http.get("/ok")).status_code == 200
        async with handle.connector.ws_connect(handle.info.ws_url + "/ws/market") as ws:
            await ws.send_message(json.dumps({"type": "market", "assets_ids": [yes]}))
            await ws.send_message("PING")
            assert await ws.get_message() == "PONG"  # the book snapshot was dropped


_CHILD = """
import hashlib, sys
sys.path.insert(0, sys.argv[1])
from test_inproc_sim import _run
from aqbot.sim.runner import SimConfig
tape, stats, _ = _run(SimConfig(seed=12, markets=2, faults="chaos"), 1)
print(hashlib.sha256(tape).hexdigest(), sorted(stats.items()))
"""


@pytest.mark.e2e
async def test_same_tape_across_processes_and_hash_seeds() -> None:
    here = str(Path(__file__).parent)
    outputs: list[bytes] = []
    with trio.fail_after(120):
        for hash_seed in ("1", "4242"):
            env = {**os.environ, "PYTHONHASHSEED": hash_seed}
            done = await trio.run_process([sys.executable, "-c", _CHILD, here], capture_stdout=True, env=env)
            outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert len(outputs[0].split()[0]) == 64


async def test_latency_beyond_the_read_timeout(nursery: trio.Nursery, autojump_clock: Any) -> None:
    with trio.fail_after(60):
        config = _faults(rest_latency_p=1.0, rest_latency_max_ms=4_000)
        handle: SimHandle = await nursery.start(run_inprocess_simulator, config)
        transport = handle.connector.http_transport()
        outcomes: list[str] = []
        async with httpx2.AsyncClient(transport=transport, base_url="http://x", timeout=0.5) as http:
            for _ in range(20):  # latencies are 1..4000 ms: most exceed 0.5 s
                before = trio.current_time()
                try:
                    await http.get("/time")
                    outcomes.append("ok")
                    assert trio.current_time() - before < 0.5
                except httpx2.ReadTimeout:
                    outcomes.append("timeout")
                    assert trio.current_time() - before == pytest.approx(0.5)
        assert set(outcomes) == {"ok", "timeout"}
        assert handle.tape.fault_counts["rest_latency"] == 20
