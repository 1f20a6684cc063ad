"""Snapshot/restore: JSON-able, exact, and conservative about what died with the process."""

from __future__ import annotations

import json

import pytest
from core_helpers import CONFIG, MARKET, YES, D, live_buy, maker_trade, oid, order_event, ready_core

from aqbot.core.events import Channel, OrderEventType, OrdersSnapshot, TradeStatus
from aqbot.core.facts import CancelOrder
from aqbot.core.halts import HaltReason, Scope
from aqbot.core.lifecycle import OrderState
from aqbot.core.snapshot import restore, snapshot
from aqbot.core.types import Side


def _busy_core() -> object:
    core = ready_core()
    core.set_halt(HaltReason.MANUAL, Scope.market(MARKET.condition_id), 0.5, "op")
    core.clear_halt(HaltReason.MANUAL, Scope.market(MARKET.condition_id), 0.6)
    live_buy(core, 1, size="7.25", price="0.37")
    core.on_trade_event(maker_trade("t1", [(oid(1), "1.125")], TradeStatus.CONFIRMED, price="0.37"), 2.0)
    live_buy(core, 2, size="1", price="0.41")
    core.on_order_event(order_event(oid(2), "1", "MATCHED", size="1", price="0.41"), 2.5)
    core.place(oid(3), YES, Side.SELL, D("0.6"), D("1.125"), 3.0)  # POST in flight
    core.on_channel_gap(Channel.USER, 4.0, "decode")
    return core


def test_snapshot_is_json_and_exact() -> None:
    core = _busy_core()
    data = snapshot(core)  # type: ignore[arg-type]
    text = json.dumps(data, sort_keys=True)
    assert '"7.25"' in text
    assert "Decimal" not in text
    restored, out = restore(CONFIG, [MARKET], json.loads(text), 10.0)
    for token in MARKET.tokens:
        before, after = core.token_exposure(token), restored.token_exposure(token)  # type: ignore[attr-defined]
        assert (before.held, before.cost, before.open_buy, before.open_sell) == (
            after.held, after.cost, after.open_buy, after.open_sell,
        )  # fmt: skip
        assert str(before.cost) == str(after.cost)
        assert (before.unsettled_buy, before.unsettled_sell) == (after.unsettled_buy, after.unsettled_sell)
    assert restored.tracker.fills.records == core.tracker.fills.records  # type: ignore[attr-defined]
    # The POST in flight died with the process: no longer in flight (absence can resolve it past grace),
    # still reserved; the gap had already cancelled it.
    sell = restored.order(oid(3))
    assert sell is not None
    assert sell.state is OrderState.CANCEL_REQUESTED
    assert not sell.post_in_flight
    assert restored.token_exposure(YES).open_sell == D("1.125")
    assert [f for f in out.facts if type(f).__name__ == "OrderTransitioned"] == []
    assert not restored.can_quote(YES, 10.0).allowed
    # The old unresolved gap and the restart gap are both there; nothing in flight survived.
    assert len(restored.gaps.gaps) == 2
    assert restored.gaps.in_flight == {}


def test_restore_makes_posts_in_flight_unknown_and_cancels_them() -> None:
    core = ready_core()
    core.place(oid(1), YES, Side.BUY, D("0.5"), D(2), 1.0)
    restored, out = restore(CONFIG, [MARKET], json.loads(json.dumps(snapshot(core))), 10.0)
    order = restored.order(oid(1))
    assert order is not None
    assert order.state is OrderState.UNKNOWN
    assert order.cancel_sent
    assert [c.order_id for c in out.commands if isinstance(c, CancelOrder)] == [oid(1)]
    assert restored.token_exposure(YES).open_buy == D(2)


def test_restored_core_resumes_after_a_reconciliation() -> None:
    core = _busy_core()
    restored, _ = restore(CONFIG, [MARKET], json.loads(json.dumps(snapshot(core))), 10.0)  # type: ignore[arg-type]
    restored.on_channel_up(Channel.USER, 11.0)
    recon, _ = restored.begin_reconciliation(11.0)
    restored.on_reconciliation(recon, OrdersSnapshot(11.0), None, 11.5)
    assert restored.can_quote(YES, 11.5).allowed
    assert restored.order(oid(1)).state is OrderState.UNKNOWN  # type: ignore[union-attr]
    recon, _ = restored.begin_reconciliation(17.0)  # the second snapshot that misses it (review D1)
    restored.on_reconciliation(recon, OrdersSnapshot(17.0), None, 17.0)
    assert restored.order(oid(1)).state is OrderState.CANCELED  # type: ignore[union-attr]


def test_pending_absence_survives_a_restart_timed_from_the_restart() -> None:
    """An order absent from one snapshot (review D1) stays UNKNOWN and reserved across a restart; the
    confirming snapshot must come ``grace`` after the restart (the old clock's origin is unknown)."""
    core = ready_core()
    live_buy(core, 1, now=1.0)
    recon, _ = core.begin_reconciliation(10.0)
    core.on_reconciliation(recon, OrdersSnapshot(10.0), None, 10.0)
    assert core.order(oid(1)).state is OrderState.UNKNOWN  # type: ignore[union-attr]
    seq = core.order(oid(1)).absent_seq  # type: ignore[union-attr]
    assert seq > 0
    restored, _ = restore(CONFIG, [MARKET], json.loads(json.dumps(snapshot(core))), 100.0)
    order = restored.order(oid(1))
    assert order is not None
    assert (order.state, order.absent_at, order.absent_seq) == (OrderState.UNKNOWN, 100.0, seq)
    assert restored.next_reconcile_at(100.0) == 100.0  # the startup reconciliation (never completed)
    restored.on_channel_up(Channel.USER, 101.0)
    recon, _ = restored.begin_reconciliation(101.0)
    restored.on_reconciliation(recon, OrdersSnapshot(101.0), None, 101.0)  # too soon after the restart
    assert restored.token_exposure(YES).open_buy == D(10)
    due = restored.next_reconcile_at(101.0)  # the follow-up (restore swept a cancel at 100), not 161
    assert due is not None
    assert 105.0 < due < 105.001
    recon, _ = restored.begin_reconciliation(due)
    restored.on_reconciliation(recon, OrdersSnapshot(due), None, due)
    assert restored.order(oid(1)).state is OrderState.CANCELED  # type: ignore[union-attr]
    assert restored.token_exposure(YES).open_buy == D(0)


def test_restore_round_trip_is_stable() -> None:
    core = _busy_core()
    first, _ = restore(CONFIG, [MARKET], json.loads(json.dumps(snapshot(core))), 10.0)  # type: ignore[arg-type]
    second, _ = restore(CONFIG, [MARKET], json.loads(json.dumps(snapshot(first))), 10.0)
    a, b = snapshot(first), snapshot(second)
    a["gaps"]["gaps"].pop(max(a["gaps"]["gaps"], key=int))  # each restore adds its own restart gap
    b["gaps"]["gaps"].pop(max(b["gaps"]["gaps"], key=int))
    b["gaps"]["gaps"].pop(max(b["gaps"]["gaps"], key=int))
    a["gaps"]["next_gap_id"] = b["gaps"]["next_gap_id"] = 0
    assert a == b


def test_restore_rejects_bad_input() -> None:
    core = _busy_core()
    data = snapshot(core)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="version"):
        restore(CONFIG, [MARKET], {**data, "version": 0}, 1.0)
    tampered = json.loads(json.dumps(data))
    tampered["tokens"][YES]["open_buy"] = "99"
    with pytest.raises(ValueError, match="disagree"):
        restore(CONFIG, [MARKET], tampered, 1.0)


def test_terminal_event_after_restore_releases_exactly_the_rest() -> None:
    core = ready_core()
    live_buy(core, 1)
    core.on_order_event(order_event(oid(1), "3"), 2.0)
    restored, _ = restore(CONFIG, [MARKET], json.loads(json.dumps(snapshot(core))), 5.0)
    restored.on_order_event(order_event(oid(1), "4", "CANCELED", OrderEventType.CANCELLATION), 6.0)
    e = restored.token_exposure(YES)
    assert (e.held, e.open_buy) == (D(4), D(0))


def test_prune_forgets_settled_terminal_orders_and_ignores_late_news() -> None:
    core = ready_core()
    live_buy(core, 1, size="4")
    core.on_trade_event(maker_trade("t1", [(oid(1), "4")]), 2.0)
    core.on_order_event(order_event(oid(1), "4", "MATCHED", size="4"), 2.0)
    core.begin_reconciliation(1000.0)  # unsettled (MATCHED only): kept
    assert core.order(oid(1)) is not None
    core.on_trade_event(maker_trade("t1", [(oid(1), "4")], TradeStatus.CONFIRMED), 1001.0)
    core.begin_reconciliation(1100.0)
    assert core.order(oid(1)) is None
    assert oid(1) in core.tracker.pruned
    assert core.tracker.fills.records == {}
    assert core.token_exposure(YES).held == D(4)  # held is untouched
    out = core.on_trade_event(maker_trade("t1", [(oid(1), "4")], TradeStatus.CONFIRMED), 1101.0)
    out.extend(core.on_order_event(order_event(oid(1), "4", "MATCHED", size="4"), 1101.0))
    assert out.facts == []  # late duplicates: no gap, no adoption
    data = json.loads(json.dumps(snapshot(core)))
    restored, _ = restore(CONFIG, [MARKET], data, 1200.0)
    assert oid(1) in restored.tracker.pruned
    assert restored.tracker.pruned_trades == {oid(1): ["t1"]}  # its known fills survive the restart
    late = restored.on_trade_event(maker_trade("t1", [(oid(1), "4")], TradeStatus.CONFIRMED), 1201.0)
    assert late.facts == []
    restored.begin_reconciliation(1100.0 + 86_401.0)
    assert restored.tracker.pruned == {}  # remembered for a day only
    assert restored.tracker.pruned_trades == {}
