"""Engine rules: validation error strings, settlement lifecycle, heartbeats, expiry, modes, positions lag."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from py_clob_client_v2.order_builder.builder import ROUNDING_CONFIG, OrderBuilder

from aqbot.sim.engine import Engine
from aqbot.sim.events import batch_leg
from aqbot.sim.faults import FaultConfig
from aqbot.sim.market import MarketConfig
from aqbot.sim.settlement import SettlementConfig
from aqbot.sim.testkit import Trader, make_engine, order_id_of
from aqbot.sim.units import ONE
from aqbot.sim.validation import (
    ERR_BALANCE,
    ERR_EXPIRATION,
    ERR_MARKET_BUY_PRECISION,
    ERR_NOT_READY,
    ERR_POST_ONLY_CROSS,
    ERR_POST_ONLY_TYPE,
)

Env = tuple[Engine, MarketConfig, Trader, Trader]


@pytest.fixture
def env() -> Env:
    engine, (m,), (a, b) = make_engine(seed=21)
    return engine, m, a, b


def err(reply: object) -> str:
    body = getattr(reply, "body", None)
    assert isinstance(body, dict)
    return str(body["error"])


def test_validation_error_strings(env: Env) -> None:
    engine, m, a, b = env
    y = m.yes_token
    r = a.raw(y, "BUY", 4_550_000, 10_000_000)  # 0.455 on a 0.01 grid
    assert r.status == 400
    assert err(r).endswith("is invalid. Price breaks minimum tick size rules")
    r = a.limit(y, "BUY", "0.50", "4")
    assert err(r) == f"order {r_id(a, r)} is invalid. Size (4) lower than the minimum: 5"
    assert "max accuracy of 2 decimals" in err(a.raw(y, "BUY", 2_502_500, 5_005_000))
    assert "must be between 0.01 and 0.99" in err(a.raw(y, "BUY", 10 * ONE, 10 * ONE))
    assert err(a.limit(y, "BUY", "0.5", "10", expiration_s=engine.now_ms // 1000 + 100)) == ERR_EXPIRATION
    gtd_soon = engine.now_ms // 1000 + 60
    assert err(a.limit(y, "BUY", "0.5", "10", order_type="GTD", expiration_s=gtd_soon)) == ERR_EXPIRATION
    assert a.limit(y, "BUY", "0.5", "10", order_type="GTD", expiration_s=gtd_soon + 2).status == 200
    assert err(a.raw(y, "BUY", 5 * ONE, 10 * ONE, order_type="FOK", post_only=True)) == ERR_POST_ONLY_TYPE
    assert err(a.raw(y, "BUY", 5_000_100, 10 * ONE, order_type="FAK")) == ERR_MARKET_BUY_PRECISION
    assert err(a.raw(y, "BUY", 500_000, ONE, order_type="FAK")) == (
        "invalid amount for a marketable BUY order ($0.5), min size: $1"
    )
    assert err(a.limit(y, "BUY", "0.5", "100000")) == ERR_BALANCE
    assert err(a.limit(y, "SELL", "0.5", "10")) == ERR_BALANCE
    b.limit(m.no_token, "BUY", "0.40", "10")  # YES ask at 0.60
    assert err(a.limit(y, "BUY", "0.60", "10", post_only=True)) == ERR_POST_ONLY_CROSS
    oid = order_id_of(a.limit(y, "BUY", "0.30", "10"))
    dup = a.raw(y, "BUY", 3 * ONE, 10 * ONE, order_id=oid)
    assert err(dup) == f"order {oid} is invalid. Duplicated."
    engine.set_accepting_orders(m.condition_id, False)
    assert err(a.limit(y, "BUY", "0.30", "10")) == ERR_NOT_READY
    leg = batch_leg(a.limit(y, "BUY", "0.30", "10"))
    assert leg["success"] is False
    assert leg["orderID"] == ""
    assert leg["errorMsg"] == ERR_NOT_READY
    rejected = engine.tape.counts["order_rejected"]
    assert rejected == 15


def test_marketable_limit_order_needs_one_dollar(env: Env) -> None:
    _, m, a, b = env
    b.limit(m.no_token, "BUY", "0.90", "10")  # YES ask at 0.10
    msg = "invalid amount for a marketable BUY order ($0.5), min size: $1"
    assert err(a.limit(m.yes_token, "BUY", "0.10", "5")) == msg
    assert a.limit(m.yes_token, "BUY", "0.10", "10").status == 200


def r_id(trader: Trader, reply: object) -> str:
    """The order id a rejected request carried (the last one on the tape)."""
    last = json.loads(trader.engine.tape.lines[-1])
    return str(last["order_id"])


def test_owner_and_signer_checks(env: Env) -> None:
    engine, m, a, b = env
    req = a.request(
        {
            "salt": 1,
            "maker": b.address,
            "signer": b.address,
            "tokenId": m.yes_token,
            "makerAmount": "5000000",
            "takerAmount": "10000000",
            "side": "BUY",
            "expiration": "0",
            "timestamp": "1",
        }
    )
    assert err(engine.place_order(req, engine.now_ms)) == "the order owner has to be the owner of the API KEY"
    bad = dict(req.order, maker=a.address)
    assert "signer" in err(engine.place_order(a.request(bad), engine.now_ms))
    assert err(engine.place_order(a.request({"side": "BUY"}), engine.now_ms)).startswith(
        "Invalid order payload"
    )


@given(
    tick=st.sampled_from(["0.1", "0.01", "0.001", "0.0001"]),
    ticks=st.integers(min_value=1, max_value=9999),
    size=st.decimals(min_value=5, max_value=5000, places=3),
    side=st.sampled_from(["BUY", "SELL"]),
)
def test_sdk_limit_amounts_are_accepted_at_their_price(
    tick: str, ticks: int, size: object, side: str
) -> None:
    """Oracle: what the official SDK builds for a limit order rests at exactly the intended price."""
    tick_u = {"0.1": 100_000, "0.01": 10_000, "0.001": 1_000, "0.0001": 100}[tick]
    price_u = (ticks * tick_u) % ONE or tick_u
    engine, (m,), (a,) = make_engine(seed=5, n_traders=1, pusd=10**7 * ONE, tick_size=tick)
    engine.accounts.move_tokens(engine.accounts.by_owner[a.owner], m.yes_token, 10**6 * ONE, 0, 0)
    builder = OrderBuilder(signer=None)  # type: ignore[arg-type]
    _, maker, taker = builder.get_order_amounts(side, float(str(size)), price_u / ONE, ROUNDING_CONFIG[tick])
    r = a.raw(m.yes_token, side, int(maker), int(taker))
    assert r.status == 200, r.body
    row = engine.open_orders(a.owner)[0]
    assert row["price"] == f"{price_u / ONE:.6f}".rstrip("0").rstrip(".")


def test_settlement_lifecycle_ok() -> None:
    engine, (m,), (a, b) = make_engine(seed=2, settlement=SettlementConfig(mined_ms=1000, confirmed_ms=3000))
    a.limit(m.yes_token, "BUY", "0.40", "10")
    b.limit(m.no_token, "BUY", "0.60", "10")
    t0 = engine.now_ms
    engine.drain_events()
    statuses: list[str] = []
    for t in range(t0, t0 + 5000, 500):
        engine.advance(t)
        statuses += [
            str(e.payload["status"]) for e in engine.drain_events() if e.payload["event_type"] == "trade"
        ]
    assert statuses == ["MINED", "MINED", "CONFIRMED", "CONFIRMED"]
    trade = engine.get_trades(a.owner)[0]
    assert trade["status"] == "CONFIRMED"
    assert str(trade["transaction_hash"]).startswith("0x")


def test_settlement_failed_reverses_the_fill() -> None:
    faults = FaultConfig(name="fail", settle_fail_p=1.0)
    engine, (m,), (a, b) = make_engine(seed=2, fault_config=faults, fee_rate="0.07")
    totals0 = {o: acct.pusd for o, acct in engine.accounts.by_owner.items()}
    a.limit(m.yes_token, "BUY", "0.40", "10")
    b.limit(m.no_token, "BUY", "0.60", "10")
    assert a.position(m.yes_token) == 10 * ONE
    t_match = engine.now_ms
    engine.drain_events()
    engine.advance(t_match + 60_000)
    seq = [
        (e.owner, e.payload["status"]) for e in engine.drain_events() if e.payload["event_type"] == "trade"
    ]
    assert [s for _, s in seq] == ["RETRYING", "RETRYING", "FAILED", "FAILED"]
    assert a.position(m.yes_token) == 0
    assert b.position(m.no_token) == 0
    assert engine.accounts.by_owner["__fees__"].tokens[m.no_token] == 0
    assert {o: acct.pusd for o, acct in engine.accounts.by_owner.items()} == totals0
    assert engine.markets[m.condition_id].locked == 0
    assert engine.true_position(a.owner, m.yes_token, at_ms=t_match) == 10 * ONE
    assert engine.max_position_seen(a.owner, m.yes_token) == 10 * ONE
    assert engine.tape.fault_counts["settle_failed"] == 1


def test_heartbeat_chain_and_dead_man_switch(env: Env) -> None:
    engine, m, a, _ = env
    t = engine.now_ms
    oid = order_id_of(a.limit(m.yes_token, "BUY", "0.40", "10"))
    engine.advance(t + 60_000)  # heartbeats not started: nothing is cancelled
    assert engine.orders[oid].status == "LIVE"
    t += 60_000
    r = engine.heartbeat(a.owner, "", t)
    assert r.status == 200
    first = r.body["heartbeat_id"] if isinstance(r.body, dict) else ""
    bad = engine.heartbeat(a.owner, "nope", t + 1000)
    assert bad.status == 400
    assert bad.body == {"error": "Invalid Heartbeat ID", "heartbeat_id": first}
    r = engine.heartbeat(a.owner, str(first), t + 5000)
    assert r.status == 200
    engine.advance(t + 15_000)  # 10 s after the last counted beat: still alive
    assert engine.orders[oid].status == "LIVE"
    engine.advance(t + 15_001)
    assert engine.orders[oid].status == "CANCELED"
    assert engine.tape.counts["heartbeat_timeout"] == 1
    cancels = [e.payload for e in engine.drain_events() if e.payload.get("type") == "CANCELLATION"]
    assert [p["id"] for p in cancels] == [oid]


def test_gtd_expires_a_minute_early(env: Env) -> None:
    engine, m, a, _ = env
    now_s = engine.now_ms // 1000
    oid = order_id_of(a.limit(m.yes_token, "BUY", "0.40", "10", order_type="GTD", expiration_s=now_s + 90))
    engine.advance((now_s + 29) * 1000)
    assert engine.orders[oid].status == "LIVE"
    engine.advance((now_s + 30) * 1000)
    assert engine.orders[oid].status == "CANCELED"
    assert engine.tape.counts["order_expired"] == 1
    assert engine.accounts.by_owner[a.owner].reserved_pusd == 0


def test_restart_post_only_window_and_cancel_only(env: Env) -> None:
    engine, m, a, _ = env
    t = engine.now_ms
    oid = order_id_of(a.limit(m.yes_token, "BUY", "0.40", "10"))
    engine.trigger_restart(t + 1)
    r = a.limit(m.yes_token, "BUY", "0.41", "10", now_ms=t + 10)
    assert r.status == 425
    assert engine.cancel_orders(a.owner, [oid], t + 10).status == 425
    t2 = t + 90_001 + 1
    assert a.limit(m.yes_token, "BUY", "0.41", "10", now_ms=t2).status == 400
    assert a.limit(m.yes_token, "BUY", "0.41", "10", post_only=True, now_ms=t2).status == 200
    assert engine.cancel_orders(a.owner, [oid], t2).status == 200
    t3 = t2 + 120_000
    assert a.limit(m.yes_token, "BUY", "0.42", "10", now_ms=t3).status == 200
    engine.trigger_cancel_only(t3 + 1, 5000)
    r = a.limit(m.yes_token, "BUY", "0.43", "10", now_ms=t3 + 2)
    assert r.status == 503
    assert "cancel-only" in err(r)
    assert engine.cancel_all(a.owner, t3 + 3).status == 200
    assert engine.tape.fault_counts["restart_425"] == 1


def test_stale_balance_cache_rejects_sell_until_update() -> None:
    engine, (m,), (a, b) = make_engine(seed=8, fault_config=FaultConfig(name="stale", stale_balance_p=1.0))
    a.limit(m.yes_token, "BUY", "0.40", "10")
    b.limit(m.no_token, "BUY", "0.60", "10")
    assert a.position(m.yes_token) == 10 * ONE
    assert err(a.limit(m.yes_token, "SELL", "0.50", "10")) == ERR_BALANCE
    bal = engine.balance_allowance(a.owner, "CONDITIONAL", m.yes_token)
    assert isinstance(bal.body, dict)
    assert bal.body["balance"] == "0"
    engine.update_balance_allowance(a.owner, "CONDITIONAL", m.yes_token)
    assert a.limit(m.yes_token, "SELL", "0.50", "10").status == 200


def test_cancel_race_and_cancellation_before_trade() -> None:
    faults = FaultConfig(name="race", cancel_race_p=1.0, cancel_before_trade_p=1.0)
    outcomes: set[str] = set()
    for seed in range(6):
        engine, (m,), (a,) = make_engine(seed=seed, n_traders=1, fault_config=faults)
        oid = order_id_of(a.limit(m.yes_token, "BUY", "0.40", "10"))
        engine.drain_events()
        body = a.cancel(oid).body
        assert isinstance(body, dict)
        order = engine.orders[oid]
        assert order.matched_u > 0
        events = [e.payload for e in engine.drain_events() if getattr(e, "owner", None) == a.owner]
        kinds = [(p["event_type"], p.get("type"), p.get("status")) for p in events]
        if body["canceled"] == [oid]:
            outcomes.add("partial")
            assert order.status == "CANCELED"
            assert kinds[0] == ("order", "CANCELLATION", "CANCELED")
            assert ("trade", "TRADE", "MATCHED") in kinds[1:]
        else:
            outcomes.add("filled")
            assert body["not_canceled"] == {oid: "already canceled or matched"}
            assert order.status == "MATCHED"
        assert a.position(m.yes_token) == order.matched_u
    assert outcomes == {"partial", "filled"}


def test_positions_lag_and_faults() -> None:
    engine, (m,), (a, b) = make_engine(seed=9, fault_config=FaultConfig(name="lag", positions_lag_ms=5000))
    t = engine.now_ms
    a.limit(m.yes_token, "BUY", "0.40", "10", now_ms=t)
    b.limit(m.no_token, "BUY", "0.60", "10", now_ms=t)
    # visible once MINED (+2 s) and the indexer lag (5 s) have passed
    assert engine.positions(a.address, t + 6999) == []
    rows = engine.positions(a.address.upper().replace("0X", "0x"), t + 7000)
    assert len(rows) == 1
    row = rows[0]
    assert row["size"] == 10
    assert row["avgPrice"] == 0.4
    assert row["asset"] == m.yes_token
    assert row["oppositeAsset"] == m.no_token
    assert row["outcome"] == "Yes"
    assert engine.positions(a.address, t + 7000, size_threshold="11") == []
    zero = FaultConfig(name="zero", positions_lag_ms=0, positions_zero_p=1.0)
    engine2, (m2,), (c, d) = make_engine(seed=9, fault_config=zero)
    c.limit(m2.yes_token, "BUY", "0.40", "10")
    d.limit(m2.no_token, "BUY", "0.60", "10")
    assert engine2.positions(c.address, engine2.now_ms + 1) == []
    assert engine2.tape.fault_counts["positions_zero"] == 1


def test_taker_delay_answers_delayed_then_matches() -> None:
    engine, (m,), (a, b) = make_engine(seed=31, seconds_delay=3)
    t = engine.now_ms
    maker = order_id_of(a.limit(m.yes_token, "BUY", "0.40", "10", now_ms=t))  # resting: not delayed
    assert engine.orders[maker].status == "LIVE"
    r = b.limit(m.no_token, "BUY", "0.60", "10", now_ms=t + 1)
    assert isinstance(r.body, dict)
    assert r.body["status"] == "delayed"
    oid = order_id_of(r)
    assert engine.open_orders(b.owner)[0]["status"] == "DELAYED"
    engine.advance(t + 3000)
    assert engine.orders[oid].status == "DELAYED"
    engine.advance(t + 3001)
    assert engine.orders[oid].status == "MATCHED"
    assert b.position(m.no_token) == 10 * ONE
    info = engine.clob_market(m.condition_id)
    assert info is not None
    assert info["sd"] == 3
    # a delayed order can be cancelled before it runs
    a.limit(m.yes_token, "BUY", "0.40", "10", now_ms=t + 4000)
    oid2 = order_id_of(b.limit(m.no_token, "BUY", "0.60", "10", now_ms=t + 4001))
    assert isinstance(b.cancel(oid2, now_ms=t + 4002).body, dict)
    engine.advance(t + 10_000)
    assert engine.orders[oid2].status == "CANCELED"
    assert engine.orders[oid2].matched_u == 0
    assert engine.accounts.by_owner[b.owner].reserved_pusd == 0


def test_failed_trades_never_reach_the_positions_api() -> None:
    faults = FaultConfig(name="fail", settle_fail_p=1.0, positions_lag_ms=1000)
    engine, (m,), (a, b) = make_engine(seed=10, fault_config=faults)
    t = engine.now_ms
    a.limit(m.yes_token, "BUY", "0.40", "10", now_ms=t)
    b.limit(m.no_token, "BUY", "0.60", "10", now_ms=t)
    assert a.position(m.yes_token) == 10 * ONE  # the exchange credits it at MATCHED ...
    for dt in (1_000, 5_000, 20_000, 60_000):
        assert engine.positions(a.address, t + dt) == []  # ... the chain never does
    assert a.position(m.yes_token) == 0
