"""Helpers of the end-to-end tests: real processes, real loopback sockets, real time.

Waiting is always polling a file (the info file, the ledger) with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import attrs
import trio

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
POLL = 0.1


async def poll(what: str, probe: Callable[[], T | None], *, limit: float, log: Path | None = None) -> T:
    """Call ``probe`` every :data:`POLL` seconds until it returns something other than None.

    Raises:
        AssertionError: ``limit`` seconds passed (naming ``what``, with the tail of ``log``).
    """
    with trio.move_on_after(limit):
        while True:
            value = probe()
            if value is not None:
                return value
            await trio.sleep(POLL)
    raise AssertionError(f"timed out after {limit}s waiting for {what}\n{log_tail(log)}")


def log_tail(log: Path | None, lines: int = 40) -> str:
    if log is None or not log.exists():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@attrs.frozen
class Row:
    seq: int
    wall: float
    mono: float
    type: str
    token: str | None
    order_id: str | None
    payload: dict[str, Any]


def ledger_rows(path: Path, after_seq: int = 0) -> list[Row]:
    """Events after ``after_seq`` (read-only; [] while the database does not exist yet)."""
    if not path.exists():
        return []
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            rows = conn.execute(
                "SELECT seq, wall_time, mono_time, type, token, order_id, payload FROM events WHERE seq > ? "
                "ORDER BY seq",
                (after_seq,),
            ).fetchall()
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return []  # not created yet, or mid-migration
    return [Row(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6])) for r in rows]


def bot_config(info: dict[str, Any], ledger: Path, *, max_position: int, markets: int) -> str:
    """A bot TOML for the simulator of ``info`` (account 0; credentials go in the environment)."""
    account = info["accounts"][0]
    lines = [
        "[endpoints]",
        f'clob_url = "{info["rest_url"]}"',
        f'ws_url = "{info["ws_url"].rstrip("/")}/ws/"',
        f'data_api_url = "{info["data_api_url"]}"',
        f"chain_id = {info['chain_id']}",
        "[account]",
        f'address = "{account["address"]}"',
        f'funder = "{account["funder"]}"',
        f"signature_type = {account['signature_type']}",
        "[limits]",
        f"max_position = {max_position}",
        "max_market_notional = 1000",
        "max_global_notional = 5000",
        "[strategy]",
        "size = 10",
        "[ledger]",
        f'path = "{ledger}"',
        'synchronous = "NORMAL"',
        "[logging]",
        'level = "INFO"',
    ]
    for market in info["markets"][:markets]:
        yes, no = (t["token_id"] for t in market["tokens"])
        lines += ["[[markets]]", f'condition_id = "{market["condition_id"]}"', f'yes_token = "{yes}"',
                  f'no_token = "{no}"']  # fmt: skip
    return "\n".join(lines) + "\n"


def bot_env(info: dict[str, Any]) -> dict[str, str]:
    account = info["accounts"][0]
    env = dict(os.environ)
    env.update(
        AQBOT_PRIVATE_KEY=account["private_key"],
        AQBOT_API_KEY=account["api_key"],
        AQBOT_API_SECRET=account["secret"],
        AQBOT_API_PASSPHRASE=account["passphrase"],
        PYTHONUNBUFFERED="1",
    )
    return env


def aqbot(*args: str) -> list[str]:
    return [sys.executable, "-m", "aqbot", *args]


async def stop_process(proc: trio.Process, *, limit: float) -> int:
    """SIGINT, then wait (bounded) for the exit code; SIGKILL if it overstays."""
    if proc.returncode is None:
        proc.send_signal(signal.SIGINT)
    with trio.move_on_after(limit):
        return await proc.wait()
    proc.kill()
    await proc.wait()
    raise AssertionError(f"{proc.args!r} did not stop within {limit}s of SIGINT")


@attrs.define
class Live:
    """One order's life on the exchange, from the tape (ms)."""

    size: Decimal
    start: int
    end: int | None = None
    fills: list[tuple[int, Decimal]] = attrs.Factory(list)

    def filled_by(self, t: int) -> Decimal:
        return sum((q for at, q in self.fills if at <= t), start=Decimal(0))


def order_lives(tape: Path, owner: str) -> dict[str, Live]:
    """Every order of ``owner`` on the tape: accepted, its fills, and when it stopped resting."""
    lives: dict[str, Live] = {}
    for line in tape.read_text(encoding="ascii").splitlines():
        rec = json.loads(line)
        if rec.get("owner") != owner:
            continue
        kind, t = rec["type"], int(rec["t"])
        if kind == "order_accepted":
            lives[rec["order_id"]] = Live(Decimal(rec["size"]), t)
        elif kind in ("order_cancelled", "order_expired") and rec["order_id"] in lives:
            live = lives[rec["order_id"]]
            live.end = t if live.end is None else min(live.end, t)
        elif kind == "fill" and rec["order_id"] in lives:
            live = lives[rec["order_id"]]
            live.fills.append((t, Decimal(rec["size"])))
            if live.filled_by(t) >= live.size and live.end is None:
                live.end = t
    return lives


def final_held(rows: list[Row]) -> dict[str, Decimal]:
    """``held`` per token in the last ``snapshot`` (the graceful stop writes one)."""
    last = next(r for r in reversed(rows) if r.type == "snapshot")
    return {t: Decimal(str(v["held"])) for t, v in last.payload["state"]["tokens"].items()}


def trade_statuses(rows: list[Row]) -> dict[str, str]:
    """The last status the ledger recorded per trade id (``fill.trade`` events)."""
    out: dict[str, str] = {}
    for r in rows:
        if r.type == "fill.trade":
            out[str(r.payload["trade_id"])] = str(r.payload["status"])
    return out


def reserved_at_first_place(section: list[Row]) -> tuple[Row, dict[str, Decimal]] | None:
    """For one process's ledger section: its first ``command.place`` and every order it held a
    reservation for at that moment (replayed snapshot, then reservation and adoption facts). A process
    that placed nothing is judged at its section's last row, once it had reconciled: what it held then
    (it may restart at its limits, or keep orders it adopted as its quotes). ``None``: no completed
    reconciliation and no placement in the section (nothing to judge)."""
    reserved: dict[str, Decimal] = {}
    snapshot_seen = reconciled = False
    for r in section:
        if r.type == "command.place":
            return r, {o: q for o, q in reserved.items() if q > 0}
        if r.type == "snapshot" and not snapshot_seen:
            snapshot_seen = True
            for order_id, res in r.payload["state"].get("reservations", {}).items():
                reserved[order_id] = Decimal(str(res["remaining"]))
        elif r.type in ("reservation", "order.adopted"):
            reserved[str(r.payload["order_id"])] = Decimal(str(r.payload["remaining"]))
        elif r.type == "reconcile.done" and r.payload.get("ok"):
            reconciled = True
    if reconciled:
        return section[-1], {o: q for o, q in reserved.items() if q > 0}
    return None
