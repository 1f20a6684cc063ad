"""Ledger replay rebuilds the PnL book: the snapshot's day baseline and marks, plus the fills recorded
after it, so a restart can neither reset nor forget the day's loss."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from aqbot.core.config import CoreConfig
from aqbot.core.engine import Core
from aqbot.core.events import Channel, OrdersSnapshot
from aqbot.core.exposure import Limits
from aqbot.core.facts import HaltCleared, HaltRaised
from aqbot.core.halts import HaltReason, Scope
from aqbot.core.pnl import DAY_SECONDS
from aqbot.core.types import MarketSpec, Side
from aqbot.io import edge
from aqbot.io.ledger import LedgerStore
from aqbot.io.ledger_events import LedgerEvent
from aqbot.io.ws_replay import replay_ledger, snapshot_event
from aqbot.wire.codec import decode_user_frame

D = Decimal
SPEC = MarketSpec("0x" + "1" * 64, "111", "222", D("0.01"))
CONFIG = CoreConfig(Limits(D(20)), owner="key", funder="0xf", daily_loss_limit=D(1))
ME = edge.Identity("key", "0xf")
OLD = 150_000.0
MIDNIGHT = 20_454 * DAY_SECONDS  # 2026-01-01 00:00 UTC


def order_message(matched: str, status: str, kind: str) -> str:
    return json.dumps(
        {
            "event_type": "order", "type": kind, "id": "0xo1", "owner": "key", "market": SPEC.condition_id,
            "asset_id": "111", "side": "BUY", "price": "0.4", "original_size": "10", "size_matched": matched,
            "status": status, "timestamp": "1700000000000",
        }
    )  # fmt: skip


def raw(text: str, seq: int) -> LedgerEvent:
    return LedgerEvent("ws.user.raw", {"local_seq": seq, "text": text}, mono_time=OLD + seq, seq=seq)


def ledger_with_a_fill_after_the_snapshot(path: Path) -> Core:
    """The old process: marked at 10:00 UTC (baseline 0, bid 0.30), a LIVE BUY 10 @0.40, a snapshot; then
    (recorded after it, before the crash) the order fills 10: -1.00 at the 0.30 mark."""
    core = Core(CONFIG, [SPEC], OLD)
    core.on_channel_up(Channel.USER, OLD)
    rid, _ = core.begin_reconciliation(OLD)
    core.on_reconciliation(rid, OrdersSnapshot(OLD), None, OLD)
    core.mark({"111": D("0.30")}, OLD, MIDNIGHT + 36_000)
    assert core.place("0xo1", "111", Side.BUY, D("0.4"), D(10), OLD).ok
    core.on_order_event(edge.order_event(decode_user_frame(order_message("0", "LIVE", "PLACEMENT"))[0]), OLD)  # type: ignore[arg-type]
    snap = snapshot_event(core, OLD)
    with LedgerStore.open(path) as store:
        store.append_batch(
            [
                LedgerEvent(snap.type, snap.payload, mono_time=OLD, seq=1),
                raw(order_message("10", "MATCHED", "UPDATE"), 2),
            ]
        )
    return core


def test_replay_keeps_the_days_baseline_and_counts_later_fills(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    old = ledger_with_a_fill_after_the_snapshot(path)
    assert old.pnl.tokens["111"].position == 0  # the fill is only in the ledger's raw message
    with LedgerStore.open(path) as store:
        replayed = replay_ledger(store, CONFIG, [SPEC], ME, 10.0)
    core = replayed.core
    t = core.pnl.tokens["111"]
    assert (t.position, t.cost, t.mark) == (D(10), D("4.0"), D("0.30"))
    assert (core.pnl.day, core.pnl.baseline) == (MIDNIGHT // DAY_SECONDS, 0)
    assert core.pnl.daily() == D("-1.00")
    # The replayed fill already crossed the limit against the restored baseline: latched during replay.
    assert any(
        isinstance(f, HaltRaised) and f.reason is HaltReason.DAILY_LOSS for f in replayed.outcome.facts
    )
    # The first mark of the new process, later the same day, keeps the day's baseline (no reset).
    assert core.mark({"111": D("0.30")}, 11.0, MIDNIGHT + 40_000).facts == []
    assert HaltReason.DAILY_LOSS in core.can_quote("111", 11.0).reasons
    assert core.pnl.daily() == D("-1.00")


def test_replay_then_the_next_utc_day_clears(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    ledger_with_a_fill_after_the_snapshot(path)
    with LedgerStore.open(path) as store:
        core = replay_ledger(store, CONFIG, [SPEC], ME, 10.0).core
    out = core.mark({"111": D("0.30")}, 11.0, MIDNIGHT + DAY_SECONDS + 1)
    assert HaltCleared(HaltReason.DAILY_LOSS, Scope.global_()) in out.facts
    assert core.pnl.daily() == 0
    assert core.pnl.baseline == D("-1.00")
