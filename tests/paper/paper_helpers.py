"""Shared helpers of the paper tests: a tight-limit configuration and ledger event keys."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from aqbot.config import default_config_path

SABOTAGE = Path(__file__).with_name("sabotage.py")


def tight_config(tmp_path: Path, max_position: int = 20) -> Path:
    """The shipped default with a small per-token limit (the bot sits at its limit often) and notional
    caps out of the way: the configuration that gives a campaign teeth."""
    text = default_config_path().read_text(encoding="utf-8")
    for old, new in (
        ("max_position = 100 ", f"max_position = {max_position} "),
        ("max_market_notional = 100 ", "max_market_notional = 1000 "),
        ("max_global_notional = 500 ", "max_global_notional = 5000 "),
    ):
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "tight.toml"
    path.write_text(text, encoding="utf-8")
    return path


LedgerRow = tuple[int, float, str, str | None, str | None, str | None, str]


def ledger_rows(path: Path) -> list[LedgerRow]:
    """Every event as (seq, mono_time, type, token, order_id, trade_id, payload): all but the wall-time
    label."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT seq, mono_time, type, token, order_id, trade_id, payload FROM events ORDER BY seq"
        ).fetchall()
    finally:
        conn.close()
    return [tuple(r) for r in rows]
