"""A synthetic ledger with known answers (built with the ``LedgerStore`` API)."""

from __future__ import annotations

from typing import Any

from aqbot.io.ledger_events import LedgerEvent

TOKEN_A = "1" * 70
TOKEN_B = "2" * 70
ORDER_1 = "0x" + "a1" * 32
ORDER_2 = "0x" + "b2" * 32
ORDER_3 = "0x" + "c3" * 32
T0 = 1_790_000_000.0  # 2026-09-21T14:13:20Z


def _tokens(held_a: str, buy_a: str) -> dict[str, Any]:
    return {
        TOKEN_A: {"held": held_a, "open_buy": buy_a, "open_sell": "0", "cost": "0"},
        TOKEN_B: {"held": "0", "open_buy": "0", "open_sell": "0", "cost": "0"},
    }


def synthetic_events() -> list[LedgerEvent]:
    """A run with known answers (limit 10 on TOKEN_A, seen in an L1 refusal):

    * ORDER_1 BUY 10 @ 0.40 rests, 4 fill (trade at 0.40), its cancel answer says "not found" -> UNKNOWN,
      a user-channel CANCELLATION releases the remaining 6;
    * ORDER_2 BUY 6 @ 0.41: a submit timeout -> UNKNOWN, resolved by reconciliation (released 6);
    * ORDER_3 SELL 4 @ 0.50 fills fully -> realised PnL 4 * (0.50 - 0.40) = 0.40;
    * worst on TOKEN_A peaks at 10 (= limit): held 4 + open buy 6;
    * one WS gap (user, disconnect) opened, closed and resolved by reconciliation 2;
    * halts: WS_GAP_UNRESOLVED (cleared), MANUAL (still latched at the end).
    """
    specs: list[tuple[float, str, dict[str, Any], dict[str, str]]] = [
        (0, "snapshot", {"state": {"tokens": _tokens("0", "0"), "reservations": {}}}, {}),
        (
            1,
            "reservation",
            {
                "order_id": ORDER_1,
                "token": TOKEN_A,
                "side": "BUY",
                "delta": "10",
                "remaining": "10",
                "cause": "reserve",
            },
            {"token": TOKEN_A, "order_id": ORDER_1},
        ),
        (
            1,
            "command.place",
            {"order_id": ORDER_1, "token": TOKEN_A, "side": "BUY", "price": "0.40", "size": "10"},
            {"token": TOKEN_A, "order_id": ORDER_1},
        ),
        (
            1,
            "order.state",
            {
                "order_id": ORDER_1,
                "token": TOKEN_A,
                "old": "PENDING_SUBMIT",
                "new": "LIVE",
                "trigger": "ACCEPT",
                "source": "answer",
            },
            {"token": TOKEN_A, "order_id": ORDER_1},
        ),
        (
            2,
            "reserve.refused",
            {
                "token": TOKEN_A,
                "side": "BUY",
                "price": "0.41",
                "size": "5",
                "reason": "L1: worst 10 + 5 > max_position 10",
            },
            {"token": TOKEN_A},
        ),
        (
            3,
            "fill.trade",
            {"trade_id": "t-1", "order_id": ORDER_1, "amount": "4", "price": "0.40", "status": "MATCHED"},
            {"trade_id": "t-1", "order_id": ORDER_1},
        ),
        (
            3,
            "fill.applied",
            {
                "order_id": ORDER_1,
                "token": TOKEN_A,
                "side": "BUY",
                "delta": "4",
                "matched": "4",
                "source": "trade",
                "trade_id": "t-1",
            },
            {"token": TOKEN_A, "order_id": ORDER_1, "trade_id": "t-1"},
        ),
        (
            3,
            "reservation",
            {
                "order_id": ORDER_1,
                "token": TOKEN_A,
                "side": "BUY",
                "delta": "-4",
                "remaining": "6",
                "cause": "fill:trade",
            },
            {"token": TOKEN_A, "order_id": ORDER_1},
        ),
        (
            4,
            "order.state",
            {
                "order_id": ORDER_1,
                "token": TOKEN_A,
                "old": "LIVE",
                "new": "CANCEL_REQUESTED",
                "trigger": "CANCEL_SEND",
                "source": "local",
            },
            {"token": TOKEN_A, "order_id": ORDER_1},
        ),
        (
            4,
            "order.state",
            {
                "order_id": ORDER_1,
                "token": TOKEN_A,
                "old": "CANCEL_REQUESTED",
                "new": "UNKNOWN",
                "trigger": "CANCEL_NOT_FOUND",
                "source": "cancel-answer",
            },
            {"token": TOKEN_A, "order_id": ORDER_1},
        ),
        (5, "gap.open", {"gap_id": 2, "channel": "user", "reason": "disconnect"}, {}),
        (
            6,
            "halt",
            {
                "reason": "WS_GAP_UNRESOLVED",
                "scope": {"kind": "global", "key": ""},
                "detail": "3 reconciliations failed",
            },
            {},
        ),
        (7, "gap.close", {"gap_id": 2}, {}),
        (
            8,
            "order.state",
            {
                "order_id": ORDER_1,
                "token": TOKEN_A,
                "old": "UNKNOWN",
                "new": "CANCELED",
                "trigger": "EXCH_CANCELED",
                "source": "order_event",
            },
            {"token": TOKEN_A, "order_id": ORDER_1},
        ),
        (
            8,
            "reservation",
            {
                "order_id": ORDER_1,
                "token": TOKEN_A,
                "side": "BUY",
                "delta": "-6",
                "remaining": "0",
                "cause": "released:order_event",
            },
            {"token": TOKEN_A, "order_id": ORDER_1},
        ),
        (9, "reconcile.start", {"recon_id": 2, "started": 9}, {}),
        (9, "gap.resolve", {"gap_id": 2, "reconcile_id": 2}, {}),
        (9, "reconcile.done", {"recon_id": 2, "ok": True, "failed_attempts": 0, "detail": ""}, {}),
        (9, "resume", {"reason": "WS_GAP_UNRESOLVED", "scope": {"kind": "global", "key": ""}}, {}),
        (
            10,
            "reservation",
            {
                "order_id": ORDER_2,
                "token": TOKEN_A,
                "side": "BUY",
                "delta": "6",
                "remaining": "6",
                "cause": "reserve",
            },
            {"token": TOKEN_A, "order_id": ORDER_2},
        ),
        (
            10,
            "command.place",
            {"order_id": ORDER_2, "token": TOKEN_A, "side": "BUY", "price": "0.41", "size": "6"},
            {"token": TOKEN_A, "order_id": ORDER_2},
        ),
        (
            11,
            "order.state",
            {
                "order_id": ORDER_2,
                "token": TOKEN_A,
                "old": "PENDING_SUBMIT",
                "new": "UNKNOWN",
                "trigger": "SUBMIT_UNKNOWN",
                "source": "transport",
            },
            {"token": TOKEN_A, "order_id": ORDER_2},
        ),
        (
            12,
            "snapshot",
            {
                "state": {
                    "tokens": _tokens("4", "6"),
                    "reservations": {
                        ORDER_2: {
                            "order_id": ORDER_2,
                            "token": TOKEN_A,
                            "side": "BUY",
                            "price": "0.41",
                            "remaining": "6",
                        }
                    },
                }
            },
            {},
        ),
        (
            20,
            "order.state",
            {
                "order_id": ORDER_2,
                "token": TOKEN_A,
                "old": "UNKNOWN",
                "new": "CANCELED",
                "trigger": "SNAPSHOT_ABSENT",
                "source": "rest",
            },
            {"token": TOKEN_A, "order_id": ORDER_2},
        ),
        (
            20,
            "reservation",
            {
                "order_id": ORDER_2,
                "token": TOKEN_A,
                "side": "BUY",
                "delta": "-6",
                "remaining": "0",
                "cause": "released:rest",
            },
            {"token": TOKEN_A, "order_id": ORDER_2},
        ),
        (
            21,
            "reservation",
            {
                "order_id": ORDER_3,
                "token": TOKEN_A,
                "side": "SELL",
                "delta": "4",
                "remaining": "4",
                "cause": "reserve",
            },
            {"token": TOKEN_A, "order_id": ORDER_3},
        ),
        (
            21,
            "command.place",
            {"order_id": ORDER_3, "token": TOKEN_A, "side": "SELL", "price": "0.50", "size": "4"},
            {"token": TOKEN_A, "order_id": ORDER_3},
        ),
        (
            21,
            "order.state",
            {
                "order_id": ORDER_3,
                "token": TOKEN_A,
                "old": "PENDING_SUBMIT",
                "new": "LIVE",
                "trigger": "ACCEPT",
                "source": "answer",
            },
            {"token": TOKEN_A, "order_id": ORDER_3},
        ),
        (
            22,
            "order.state",
            {
                "order_id": ORDER_3,
                "token": TOKEN_A,
                "old": "LIVE",
                "new": "FILLED",
                "trigger": "FILL",
                "source": "order_event",
            },
            {"token": TOKEN_A, "order_id": ORDER_3},
        ),
        (
            22,
            "fill.trade",
            {"trade_id": "t-2", "order_id": ORDER_3, "amount": "4", "price": "0.50", "status": "MATCHED"},
            {"trade_id": "t-2", "order_id": ORDER_3},
        ),
        (
            22,
            "fill.applied",
            {
                "order_id": ORDER_3,
                "token": TOKEN_A,
                "side": "SELL",
                "delta": "-4",
                "matched": "4",
                "source": "trade",
                "trade_id": "t-2",
            },
            {"token": TOKEN_A, "order_id": ORDER_3, "trade_id": "t-2"},
        ),
        (
            22,
            "reservation",
            {
                "order_id": ORDER_3,
                "token": TOKEN_A,
                "side": "SELL",
                "delta": "-4",
                "remaining": "0",
                "cause": "released:order_event",
            },
            {"token": TOKEN_A, "order_id": ORDER_3},
        ),
        (
            23,
            "position.decision",
            {
                "token": TOKEN_A,
                "kind": "agree",
                "api_size": "0",
                "held_before": "0",
                "held_after": "0",
                "divergent_syncs": 0,
            },
            {"token": TOKEN_A},
        ),
        (30, "halt", {"reason": "MANUAL", "scope": {"kind": "global", "key": ""}, "detail": "shutdown"}, {}),
        (30, "snapshot", {"state": {"tokens": _tokens("0", "0"), "reservations": {}}}, {}),
        (30, "shutdown", {"open_orders": 0}, {}),
    ]
    return [
        LedgerEvent(type=t, payload=p, mono_time=100.0 + at, wall_time=T0 + at, **keys)  # type: ignore[arg-type]
        for at, t, p, keys in specs
    ]
