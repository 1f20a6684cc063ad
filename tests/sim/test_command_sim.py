"""``aqbot sim``: the argument parser, and the real command in a subprocess (info file, tape, SIGINT -> 0)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest
import trio
import trio_websocket

from aqbot.errors import ConfigError
from aqbot.sim.command import add_sim_parser, config_from_args, run_sim_command
from aqbot.sim.runner import SimConfig


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="aqbot")
    add_sim_parser(root.add_subparsers(dest="command"))
    return root


def test_parser_registers_sim_and_builds_the_config() -> None:
    args = parser().parse_args(
        ["sim", "--seed", "7", "--markets", "4", "--faults", "chaos", "--port", "8080"]
    )
    assert args.handler is run_sim_command
    config = config_from_args(args)
    assert (config.seed, config.markets, config.faults, config.port, config.flow) == (
        7,
        4,
        "chaos",
        8080,
        True,
    )
    assert config_from_args(parser().parse_args(["sim", "--no-flow"])).flow is False


@pytest.mark.parametrize(
    "argv", [["sim", "--markets", "0"], ["sim", "--faults", "nope"], ["sim", "--port", "70000"]]
)
def test_parser_rejects_bad_values(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parser().parse_args(argv)
    assert exc.value.code == 2
    assert "sim" in capsys.readouterr().err


@pytest.mark.e2e
async def test_command_serves_until_sigint_and_exits_zero(tmp_path: Path) -> None:
    info_path, tape_path = tmp_path / "info.json", tmp_path / "tape.jsonl"
    argv = [sys.executable, "-m", "aqbot.sim.command", "--seed", "4", "--no-flow"]
    argv += ["--info-file", str(info_path), "--tape", str(tape_path)]
    with trio.fail_after(60):
        proc = await trio.lowlevel.open_process(
            argv, stdout=subprocess.PIPE, env={**os.environ, "PYTHONWARNINGS": ""}
        )
        try:
            assert proc.stdout is not None
            line = b""
            while not line.endswith(b"\n"):
                chunk = await proc.stdout.receive_some(1)
                assert chunk, "the simulator exited before serving"
                line += chunk
            assert line.startswith(b"aqbot sim: rest=http://127.0.0.1:")
            info = json.loads(info_path.read_text())
            assert stat.S_IMODE(info_path.stat().st_mode) == 0o600
            assert set(info) == {
                "rest_url",
                "ws_url",
                "data_api_url",
                "chain_id",
                "seed",
                "accounts",
                "markets",
            }
            account = info["accounts"][0]
            assert set(account) == {
                "private_key", "address", "funder", "signature_type",
                "api_key", "secret", "passphrase", "pusd",
            }  # fmt: skip
            assert {m["neg_risk"] for m in info["markets"]} == {False, True}
            async with httpx2.AsyncClient(base_url=info["rest_url"]) as http:
                assert (await http.get("/ok")).json() == "OK"
            async with trio_websocket.open_websocket_url(info["ws_url"] + "/ws/market") as ws:
                await ws.send_message("PING")
                assert await ws.get_message() == "PONG"
            proc.send_signal(signal.SIGINT)
            assert await proc.wait() == 0
        finally:
            with trio.move_on_after(5, shield=True):
                if proc.returncode is None:
                    proc.kill()
                await proc.wait()
            if proc.stdout is not None:
                await proc.stdout.aclose()
        tape = tape_path.read_text()
        assert tape.startswith('{"accounts":')
        assert account["secret"] not in tape
        assert account["private_key"][2:] not in tape


@pytest.mark.parametrize(
    ("field", "value"),
    [("markets", 0), ("faults", "bogus"), ("tick_ms", 0), ("ws_port", -1), ("account_pusd", "-3")],
)
def test_sim_config_validates(field: str, value: object) -> None:
    with pytest.raises(ConfigError) as exc:
        SimConfig(**{field: value})  # type: ignore[arg-type]
    assert exc.value.field == f"sim.{field}"


def test_bad_config_exits_two(capsys: pytest.CaptureFixture[str]) -> None:
    args = parser().parse_args(["sim"])
    args.host = "127.0.0.1"
    args.markets = 0  # bypassing the parser's own check
    assert run_sim_command(args) == 2
    assert capsys.readouterr().err.strip() == "aqbot sim: sim.markets: must be at least 1"
