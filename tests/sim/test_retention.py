"""The retention: ended orders, final trades and old position history are forgotten; nothing else changes."""

from __future__ import annotations

import functools

import pytest

from aqbot.sim.engine import Engine
from aqbot.sim.entry import ALREADY_DONE, NOT_FOUND
from aqbot.sim.faults import profile
from aqbot.sim.retention import RetentionConfig
from aqbot.sim.testkit import make_engine, order_id_of, run_scenario

MINUTE = 60_000
SHORT = RetentionConfig(orders_ms=MINUTE, trades_ms=MINUTE, history_ms=MINUTE)
FOREVER = RetentionConfig(orders_ms=10**12, trades_ms=10**12, history_ms=10**12)


@functools.cache
def _pair() -> tuple[Engine, Engine]:
    """The same 12-minute chaos scenario, forgetting after a minute and never forgetting."""
    short, _ = run_scenario(5, profile("chaos"), 12 * MINUTE, n_markets=2, retention=SHORT)
    full, _ = run_scenario(5, profile("chaos"), 12 * MINUTE, n_markets=2, retention=FOREVER)
    return short, full


def test_forgetting_changes_neither_the_tape_nor_the_summary() -> None:
    # (no one here cancels an order that ended a minute ago: that answer, and its tape record, would differ)
    short, full = _pair()
    assert short.tape.getbytes() == full.tape.getbytes()
    assert short.summary() == full.summary()
    assert short.retention.orders_pruned > 0
    assert short.retention.trades_pruned > 0


def test_only_what_ended_more_than_the_retention_ago_is_forgotten() -> None:
    short, full = _pair()
    assert len(short.orders) < len(full.orders) / 3
    assert len(short.trades) < len(full.trades) / 3
    for oid, order in full.orders.items():
        if order.status in ("LIVE", "DELAYED"):
            assert short.orders[oid] is not None  # an active order is never forgotten
    for tid, trade in full.trades.items():
        if trade.last_update_ms > short.now_ms - MINUTE or trade.status not in ("CONFIRMED", "FAILED"):
            assert tid in short.trades
        else:
            assert tid not in short.trades


def test_trades_positions_and_the_data_api_are_unchanged_within_the_retention() -> None:
    short, full = _pair()
    now = short.now_ms
    after_s = (now - MINUTE) // 1000
    owners = [o for o in full.accounts.owners() if o not in full.fault_exempt]
    assert owners
    for owner in owners:
        window = full.get_trades(owner, after=after_s)
        assert window
        assert short.get_trades(owner, after=after_s) == window
        for token in full.token_market:
            for at in (now - MINUTE, now - MINUTE // 2, now):
                assert short.true_position(owner, token, at) == full.true_position(owner, token, at)
        address = full.accounts.by_owner[owner].address
        assert short.positions(address, now + 1, size_threshold="0") == full.positions(
            address, now + 1, size_threshold="0"
        )
    for hist in short.accounts.history.values():
        assert len(hist) == 1 or hist[1].ms > now - 2 * MINUTE  # older points are gone


def test_a_forgotten_order_is_not_found_and_its_expiry_passes_quietly() -> None:
    engine, (m,), (a, _) = make_engine(retention=SHORT)
    now_s = engine.now_ms // 1000
    oid = order_id_of(a.limit(m.yes_token, "BUY", "0.40", "10", order_type="GTD", expiration_s=now_s + 600))
    assert a.cancel(oid).body == {"canceled": [oid], "not_canceled": {}}
    assert a.cancel(oid).body == {"canceled": [], "not_canceled": {oid: ALREADY_DONE}}
    engine.advance(engine.now_ms + MINUTE + 1)
    assert oid not in engine.orders
    assert a.cancel(oid).body == {"canceled": [], "not_canceled": {oid: NOT_FOUND}}
    engine.advance(engine.now_ms + 10 * MINUTE)  # the GTD expiry of the forgotten order comes due
    assert engine.summary()["orders"] == 1


def test_retention_is_at_least_a_minute() -> None:
    with pytest.raises(ValueError, match="orders_ms"):
        RetentionConfig(orders_ms=59_999)
