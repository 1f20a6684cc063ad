"""The ground-truth tape: deterministic byte for byte, well-formed, secret-free, auditable on its own."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import sys

from aqbot.sim.engine import Engine
from aqbot.sim.faults import profile
from aqbot.sim.testkit import run_scenario
from aqbot.sim.units import parse_units

MINUTES = 10 * 60_000


@functools.cache
def _tape(seed: int) -> bytes:
    engine, _ = run_scenario(seed, profile("chaos"), MINUTES, n_markets=2)
    return engine.tape.getbytes()


@functools.cache
def _engine(seed: int) -> Engine:
    engine, _ = run_scenario(seed, profile("chaos"), MINUTES, n_markets=2)
    return engine


def test_same_seed_same_bytes_different_seed_different_bytes() -> None:
    assert _tape(7) == _engine(7).tape.getbytes()
    assert _tape(7) != _tape(8)


def test_records_are_well_formed_and_time_ordered() -> None:
    lines = _tape(7).decode("ascii").splitlines()
    header = json.loads(lines[0])
    assert header["type"] == "header"
    assert header["seed"] == 7
    assert header["fault_profile"] == "chaos"
    assert len(header["markets"]) == 2
    last_t = header["t"]
    types = set()
    for line in lines[1:]:
        rec = json.loads(line)
        assert rec["t"] >= last_t
        last_t = rec["t"]
        types.add(rec["type"])
    for expected in ("order_accepted", "order_rejected", "order_cancelled", "fill", "trade_status", "fault"):
        assert expected in types


def test_no_secrets_on_the_tape() -> None:
    text = _tape(7).decode("ascii").lower()
    for word in ("secret", "passphrase", "private"):
        assert word not in text


def test_positions_can_be_rebuilt_from_the_tape_alone() -> None:
    """An auditor's script: replay fills and FAILED reversals; it agrees with the engine's ground truth."""
    engine = _engine(7)
    positions: dict[tuple[str, str], int] = {}
    fills: dict[str, list[tuple[str, str, int]]] = {}
    for line in engine.tape.lines:
        rec = json.loads(line)
        if rec["type"] == "fill":
            size = parse_units(rec["size"])
            fee = parse_units(rec["fee"]) if rec["side"] == "BUY" else 0
            delta = size - fee if rec["side"] == "BUY" else -size
            key = (rec["owner"], rec["token"])
            positions[key] = positions.get(key, 0) + delta
            fills.setdefault(rec["trade_id"], []).append((rec["owner"], rec["token"], delta))
            assert parse_units(rec["position"]) == positions[key]  # no account starts with tokens here
        elif rec["type"] == "trade_status" and rec["status"] == "FAILED":
            for owner, token, delta in fills[rec["trade_id"]]:
                positions[(owner, token)] -= delta
    for (owner, token), pos in positions.items():
        assert engine.true_position(owner, token) == pos


_SCRIPT = """
import hashlib
from aqbot.sim.faults import profile
from aqbot.sim.testkit import run_scenario
engine, _ = run_scenario(5, profile("chaos"), 3 * 60_000, n_markets=2)
print(hashlib.sha256(engine.tape.getbytes()).hexdigest())
"""


def test_tape_is_identical_across_processes_and_hash_seeds() -> None:
    digests = set()
    for hash_seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        out = subprocess.run(
            [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, check=True, env=env, timeout=120
        )
        digests.add(out.stdout.strip())
    engine, _ = run_scenario(5, profile("chaos"), 3 * 60_000, n_markets=2)
    digests.add(hashlib.sha256(engine.tape.getbytes()).hexdigest())
    assert len(digests) == 1
