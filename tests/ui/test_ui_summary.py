"""The non-TTY progress line and the shutdown summary."""

from __future__ import annotations

import attrs
from ui_states import LABELS, M1, N1, Y1, D, halted, health, healthy, token

from aqbot.app_state import BotState, HaltState, PnlState
from aqbot.ui import log_progress_line, shutdown_summary
from aqbot.ui.model import DashboardExtras, FillTotals


def test_progress_line_healthy_with_extras() -> None:
    fills = FillTotals().add("BUY", D(10), D("0.47"))
    ex = DashboardExtras(started_at=880.0, fills=fills)
    assert log_progress_line(healthy(), ex) == (
        "t=120s quoting=yes markets=2 worst/limit max=0.44 quotes=5 fills=1 halts=none gaps=0 "
        "placed=40 rejected=1 unknown=0"
    )


def test_progress_line_halted_without_extras() -> None:
    assert log_progress_line(halted()) == (
        "quoting=no:MARKET_DATA_STALE,RECONCILE_PENDING,USER_WS_DOWN markets=2 worst/limit max=0.44 quotes=5 "
        "halts=MARKET_DATA_STALE,USER_WS_DOWN gaps=1 placed=40 rejected=1 unknown=0 ws=user:DOWN,market:up"
    )


def test_progress_line_ledger_failing_and_no_tokens() -> None:
    state = BotState(1.0, (), (), (), 0, {}, health(ledger_failing=True))
    assert log_progress_line(state) == (
        "quoting=yes markets=0 worst/limit max=0.00 quotes=0 halts=none gaps=0 placed=40 rejected=1 "
        "unknown=0 ledger=FAILING"
    )


def test_shutdown_summary_clean_stop() -> None:
    tokens = (token(Y1, M1, held="12"), token(N1, M1))
    stop = HaltState("MANUAL", "global:", 99.0, "shutdown")
    pnl = PnlState(D(0), D("-0.84"), D("-0.84"), D("-0.84"), D(50))
    state = BotState(100.0, tokens, (), (stop,), 0, {M1: False}, health(), pnl)
    fills = FillTotals().add("BUY", D(12), D("0.47"))
    ex = DashboardExtras(labels=LABELS, fills=fills)
    text = shutdown_summary(state, ledger_path="runs/paper/ledger.sqlite3", extras=ex)
    assert text == (
        "aqbot stopped cleanly: 0 orders left open. Fills seen: 1 (bought 12 for 5.64 pUSD, sold 0 for 0 "
        "pUSD). PnL -0.84 pUSD (realized 0.00, unrealized -0.84 at the bid, today -0.84). Final positions: "
        "YES 0xaaaa…1111 held 12 (worst 12) / limit 50. Every "
        "token stayed within its limit at the end. No halt active at exit besides the stop's own MANUAL "
        "halt. Ledger: runs/paper/ledger.sqlite3; make the report with: "
        "aqbot report runs/paper/ledger.sqlite3"
    )


def test_shutdown_summary_orders_left_halts_and_breach() -> None:
    state = attrs.evolve(
        halted(), tokens=(token(Y1, M1, held="55", limit="50"), token(N1, M1)), quoting_allowed={M1: False}
    )
    text = shutdown_summary(state, report_hint="make report")
    assert text.startswith(
        "aqbot stopped with 5 order(s) that may still rest (LIVE 3, PENDING_SUBMIT 1, UNKNOWN 1): check the "
        "exchange; the next start reconciles them. Final positions: YES 0xaaaa…1111 held 55 (worst 55) / "
        "limit 50. LIMIT EXCEEDED on 1 token(s). Halts active at exit: USER_WS_DOWN (user channel down: "
        "connection closed), MARKET_DATA_STALE (no book update for 120s)."
    )
    assert text.endswith(" Make the report with: make report")


def test_shutdown_summary_flat_no_halts() -> None:
    state = BotState(1.0, (token(Y1, M1), token(N1, M1)), (), (), 0, {M1: True}, health())
    assert shutdown_summary(state) == (
        "aqbot stopped cleanly: 0 orders left open. Final positions: flat on all 2 tokens. Every token "
        "stayed within its limit at the end. No halt active at exit."
    )
