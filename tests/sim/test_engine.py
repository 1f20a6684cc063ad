"""Unit tests of the simulator engine: matching, unified book, fees, views, cancels."""

from __future__ import annotations

import pytest
from py_clob_client_v2.clob_types import OrderBookSummary, OrderSummary
from py_clob_client_v2.utilities import generate_orderbook_summary_hash

from aqbot.sim.engine import Engine
from aqbot.sim.market import MarketConfig
from aqbot.sim.testkit import Trader, make_engine, order_id_of
from aqbot.sim.units import ONE, parse_units, taker_fee
from aqbot.sim.validation import ERR_FAK


@pytest.fixture
def env() -> tuple[Engine, MarketConfig, Trader, Trader]:
    engine, markets, (a, b) = make_engine(seed=11)
    return engine, markets[0], a, b


def body(reply: object) -> dict[str, object]:
    b = getattr(reply, "body", None)
    assert isinstance(b, dict)
    return b


def test_resting_order_shapes(env: tuple[Engine, MarketConfig, Trader, Trader]) -> None:
    engine, m, a, _ = env
    r = a.limit(m.yes_token, "BUY", "0.45", "10", post_only=True)
    assert r.status == 200
    assert body(r) == {
        "success": True,
        "errorMsg": "",
        "orderID": order_id_of(r),
        "status": "live",
        "makingAmount": "",
        "takingAmount": "",
        "tradeIDs": [],
    }
    rows = engine.open_orders(a.owner)
    assert len(rows) == 1
    row = rows[0]
    assert row["status"] == "LIVE"
    assert row["price"] == "0.45"
    assert row["original_size"] == "10.00"
    assert row["size_matched"] == "0.00"
    assert row["outcome"] == "Yes"
    assert row["maker_address"] == a.address
    assert isinstance(row["created_at"], int)
    # reservation: 4.5 pUSD locked
    assert engine.accounts.by_owner[a.owner].reserved_pusd == 4_500_000


def test_book_mirror_ordering_and_sdk_hash(env: tuple[Engine, MarketConfig, Trader, Trader]) -> None:
    engine, m, a, b = env
    a.limit(m.yes_token, "BUY", "0.40", "10")
    a.limit(m.yes_token, "BUY", "0.42", "7")
    b.limit(m.no_token, "BUY", "0.50", "20")  # an ask on YES at 0.50
    b.limit(m.no_token, "BUY", "0.45", "5")  # an ask on YES at 0.55
    yes = engine.book(m.yes_token, engine.now_ms)
    no = engine.book(m.no_token, engine.now_ms)
    assert yes is not None
    assert no is not None
    assert yes["bids"] == [{"price": "0.4", "size": "10.00"}, {"price": "0.42", "size": "7.00"}]
    assert yes["asks"] == [{"price": "0.55", "size": "5.00"}, {"price": "0.5", "size": "20.00"}]
    assert no["bids"] == [{"price": "0.45", "size": "5.00"}, {"price": "0.5", "size": "20.00"}]
    assert no["asks"] == [{"price": "0.6", "size": "10.00"}, {"price": "0.58", "size": "7.00"}]
    for snap in (yes, no):
        summary = OrderBookSummary(
            market=str(snap["market"]),
            asset_id=str(snap["asset_id"]),
            timestamp=str(snap["timestamp"]),
            bids=[OrderSummary(price=lv["price"], size=lv["size"]) for lv in snap["bids"]],  # type: ignore[attr-defined]
            asks=[OrderSummary(price=lv["price"], size=lv["size"]) for lv in snap["asks"]],  # type: ignore[attr-defined]
            min_order_size=str(snap["min_order_size"]),
            neg_risk=bool(snap["neg_risk"]),
            tick_size=str(snap["tick_size"]),
            last_trade_price=str(snap["last_trade_price"]),
        )
        assert generate_orderbook_summary_hash(summary) == snap["hash"]


def _conserved(engine: Engine) -> tuple[int, int]:
    total = sum(acct.pusd for acct in engine.accounts.by_owner.values())
    locked = sum(ms.locked for ms in engine.markets.values())
    return total, locked


def test_transfer_yes_against_yes_with_price_improvement(
    env: tuple[Engine, MarketConfig, Trader, Trader],
) -> None:
    engine, m, a, b = env
    a.engine.accounts.move_tokens(engine.accounts.by_owner[a.owner], m.yes_token, 50 * ONE, 25 * ONE, 0)
    total0, _ = _conserved(engine)
    a.limit(m.yes_token, "SELL", "0.60", "10")
    r = b.limit(m.yes_token, "BUY", "0.65", "10")
    assert body(r)["status"] == "matched"
    assert body(r)["makingAmount"] == "6"
    assert body(r)["takingAmount"] == "10"
    assert b.position(m.yes_token) == 10 * ONE
    assert a.position(m.yes_token) == 40 * ONE
    assert b.pusd() == 10_000 * ONE - 6 * ONE  # paid the maker's price, not its limit
    assert engine.accounts.by_owner[b.owner].reserved_pusd == 0
    assert _conserved(engine)[0] == total0


def test_mint_buy_yes_against_buy_no(env: tuple[Engine, MarketConfig, Trader, Trader]) -> None:
    engine, m, a, b = env
    total0, _ = _conserved(engine)
    a.limit(m.yes_token, "BUY", "0.40", "10")
    r = b.limit(m.no_token, "BUY", "0.60", "10")
    assert body(r)["status"] == "matched"
    assert a.position(m.yes_token) == 10 * ONE
    assert b.position(m.no_token) == 10 * ONE
    assert a.pusd() == 10_000 * ONE - 4 * ONE
    assert b.pusd() == 10_000 * ONE - 6 * ONE
    total, locked = _conserved(engine)
    assert locked == 10 * ONE
    assert total + locked == total0
    trade = engine.get_trades(b.owner)[0]
    assert trade["trader_side"] == "TAKER"
    assert trade["asset_id"] == m.no_token
    maker_view = engine.get_trades(a.owner)[0]
    assert maker_view["trader_side"] == "MAKER"
    maker_orders = maker_view["maker_orders"]
    assert isinstance(maker_orders, list)
    assert maker_orders[0]["asset_id"] == m.yes_token
    assert maker_orders[0]["side"] == "BUY"
    assert maker_orders[0]["price"] == "0.4"


def test_merge_sell_yes_against_sell_no(env: tuple[Engine, MarketConfig, Trader, Trader]) -> None:
    engine, m, a, b = env
    a.limit(m.yes_token, "BUY", "0.40", "10")
    b.limit(m.no_token, "BUY", "0.60", "10")
    total0, locked0 = _conserved(engine)
    a.limit(m.yes_token, "SELL", "0.45", "10")  # an ask on YES at 0.45
    r = b.limit(m.no_token, "SELL", "0.50", "10")  # a bid on YES at 0.50: crosses, merges at 0.45
    assert body(r)["status"] == "matched"
    assert a.position(m.yes_token) == 0
    assert b.position(m.no_token) == 0
    total, locked = _conserved(engine)
    assert locked == locked0 - 10 * ONE
    assert total == total0 + 10 * ONE
    assert a.pusd() == 10_000 * ONE - 4 * ONE + 4_500_000
    assert b.pusd() == 10_000 * ONE - 6 * ONE + 5_500_000


def test_price_time_priority() -> None:
    engine, (m,), (a, b, c) = make_engine(seed=12, n_traders=3)
    first = order_id_of(a.limit(m.yes_token, "BUY", "0.50", "10"))
    second = order_id_of(b.limit(m.yes_token, "BUY", "0.50", "10"))
    third = order_id_of(a.limit(m.yes_token, "BUY", "0.51", "5"))
    r = c.limit(m.no_token, "BUY", "0.50", "12")  # an ask at YES 0.50: hits 0.51 first, then 0.50 FIFO
    trades = body(r)["tradeIDs"]
    assert isinstance(trades, list)
    assert len(trades) == 2
    t1, t2 = (engine.trades[t] for t in trades)
    assert [mf.order.order_id for mf in t1.makers] == [third]
    assert [mf.order.order_id for mf in t2.makers] == [first]
    assert t2.makers[0].size_u == 7 * ONE
    assert engine.orders[second].matched_u == 0
    # the taker got price improvement on the first level: YES 0.51 -> NO 0.49
    assert t1.price_u == 490_000
    assert t2.price_u == 500_000


def test_taker_fee_formula_and_application() -> None:
    # documented example: rate 0.25, exponent 2, 100 shares at 0.50 -> 1.5625 shares
    assert taker_fee(100 * ONE, ONE // 2, 250_000, 2) == 1_562_500
    assert taker_fee(6 * ONE, 400_000, 70_000, 1) == 100_800
    assert taker_fee(ONE, 10_000, 1, 1) == 10  # minimum 0.00001
    assert taker_fee(10 * ONE, ONE // 2, 0, 1) == 0
    engine, (m,), (a, b) = make_engine(seed=3, fee_rate="0.07")
    a.limit(m.yes_token, "BUY", "0.40", "10")
    b.limit(m.no_token, "BUY", "0.60", "10")  # taker BUY NO at 0.6: fee in shares
    assert b.position(m.no_token) == 10 * ONE - taker_fee(10 * ONE, 600_000, 70_000, 1)
    assert a.position(m.yes_token) == 10 * ONE  # makers never pay
    fees = engine.accounts.by_owner["__fees__"]
    assert fees.tokens[m.no_token] == taker_fee(10 * ONE, 600_000, 70_000, 1)


def test_sell_taker_pays_fee_in_pusd() -> None:
    engine, (m,), (a, b) = make_engine(seed=4, fee_rate="0.04")
    engine.accounts.move_tokens(engine.accounts.by_owner[b.owner], m.yes_token, 20 * ONE, 0, 0)
    a.limit(m.yes_token, "BUY", "0.50", "10")
    before = b.pusd()
    b.limit(m.yes_token, "SELL", "0.50", "10")
    fee = taker_fee(10 * ONE, ONE // 2, 40_000, 1)
    assert fee == 100_000
    assert b.pusd() - before == 5 * ONE - fee
    assert engine.accounts.by_owner["__fees__"].pusd == fee


def test_partial_fill_rests_remainder_and_updates(env: tuple[Engine, MarketConfig, Trader, Trader]) -> None:
    engine, m, a, b = env
    a.limit(m.yes_token, "BUY", "0.40", "6")
    engine.drain_events()
    oid = order_id_of(b.limit(m.no_token, "BUY", "0.60", "10"))
    assert engine.orders[oid].matched_u == 6 * ONE
    assert engine.orders[oid].status == "LIVE"
    yes = engine.book(m.yes_token, engine.now_ms)
    assert yes is not None
    assert yes["asks"] == [{"price": "0.4", "size": "4.00"}]
    events = engine.drain_events()
    kinds = [(type(e).__name__, e.payload["event_type"], e.payload.get("type")) for e in events]
    assert ("UserEvent", "order", "PLACEMENT") in kinds
    assert kinds.count(("UserEvent", "trade", "TRADE")) == 2  # one per party
    updates = [e.payload for e in events if e.payload.get("type") == "UPDATE"]
    taker_update = next(p for p in updates if p["id"] == oid)
    assert taker_update["size_matched"] == "6.00"
    assert taker_update["status"] == "LIVE"
    pcs = [e.payload for e in events if e.payload["event_type"] == "price_change"]
    assert pcs
    entries = pcs[-1]["price_changes"]
    assert isinstance(entries, list)
    assert {e["asset_id"] for e in entries} == {m.yes_token, m.no_token}


def test_cancels(env: tuple[Engine, MarketConfig, Trader, Trader]) -> None:
    engine, m, a, b = env
    o1 = order_id_of(a.limit(m.yes_token, "BUY", "0.40", "10"))
    o2 = order_id_of(a.limit(m.yes_token, "BUY", "0.41", "10"))
    o3 = order_id_of(a.limit(m.no_token, "BUY", "0.30", "10"))
    b.limit(m.no_token, "BUY", "0.59", "10")  # fills o2 entirely
    r = engine.cancel_orders(a.owner, [o1, o2, "0xdead"], engine.now_ms)
    assert body(r) == {
        "canceled": [o1],
        "not_canceled": {o2: "already canceled or matched", "0xdead": "order not found"},
    }
    assert body(engine.cancel_orders(b.owner, [o3], engine.now_ms))["not_canceled"] == {o3: "order not found"}
    assert body(engine.cancel_market(a.owner, m.condition_id, m.no_token, engine.now_ms))["canceled"] == [o3]
    assert engine.accounts.by_owner[a.owner].reserved_pusd == 0
    o4 = order_id_of(a.limit(m.yes_token, "BUY", "0.40", "10"))
    assert body(engine.cancel_all(a.owner, engine.now_ms))["canceled"] == [o4]
    assert engine.cancel_orders(a.owner, [f"0x{i:064x}" for i in range(1001)], engine.now_ms).status == 400
    events = [e.payload for e in engine.drain_events() if e.payload.get("type") == "CANCELLATION"]
    assert {p["id"] for p in events} == {o1, o3, o4}
    assert all(p["status"] == "CANCELED" for p in events)


def test_fak_and_fok(env: tuple[Engine, MarketConfig, Trader, Trader]) -> None:
    engine, m, a, b = env
    a.limit(m.yes_token, "BUY", "0.40", "10")
    # FOK SELL NO? use BUY NO at 0.60 for 20 shares: only 10 available -> killed
    usd = 12 * ONE
    r = b.raw(m.no_token, "BUY", usd, 20 * ONE, order_type="FOK")
    assert r.status == 400
    assert body(r)["error"] == "order couldn't be fully filled. FOK orders are fully filled or killed."
    r = b.raw(m.no_token, "BUY", usd, 20 * ONE, order_type="FAK")
    assert body(r)["status"] == "matched"
    oid = order_id_of(r)
    assert engine.orders[oid].matched_u == 10 * ONE
    assert engine.orders[oid].status == "CANCELED"
    assert engine.accounts.by_owner[b.owner].reserved_pusd == 0
    r = b.raw(m.no_token, "BUY", usd, 20 * ONE, order_type="FAK")
    assert body(r)["error"] == ERR_FAK


def test_clob_market_and_small_views() -> None:
    engine, (m,), _ = make_engine(seed=5, fee_rate="0.07", rewards_min_size="50", rewards_max_spread="3.5")
    info = engine.clob_market(m.condition_id)
    assert info is not None
    assert info["c"] == m.condition_id
    assert info["mts"] == "0.01"
    assert info["mos"] == "5"
    assert info["fd"] == {"r": "0.07", "e": 1, "to": True}
    assert info["r"] == {"mi": "50", "ma": "3.5", "e": True, "smoa": False, "moas": 0}
    assert "nr" not in info
    assert engine.tick_size(m.yes_token) == {"minimum_tick_size": 0.01}
    assert engine.neg_risk(m.no_token) == {"neg_risk": False}
    assert engine.fee_rate(m.no_token) == {"base_fee": 700}
    assert engine.book("123", 0) is None
    assert engine.server_time(1_700_000_000_999) == 1_700_000_000
    assert parse_units("0.0025") == 2_500


def test_tick_size_change_event(env: tuple[Engine, MarketConfig, Trader, Trader]) -> None:
    engine, m, a, _ = env
    engine.drain_events()
    engine.set_tick_size(m.condition_id, "0.001", engine.now_ms + 1)
    evs = [e.payload for e in engine.drain_events()]
    assert [p["event_type"] for p in evs] == ["tick_size_change", "tick_size_change"]
    assert evs[0]["old_tick_size"] == "0.01"
    assert evs[0]["new_tick_size"] == "0.001"
    assert a.limit(m.yes_token, "BUY", "0.405", "10").status == 200


def test_price_change_hash_equals_book_hash(env: tuple[Engine, MarketConfig, Trader, Trader]) -> None:
    engine, m, a, b = env
    a.limit(m.yes_token, "BUY", "0.40", "10")
    b.limit(m.no_token, "BUY", "0.55", "8")
    b.limit(m.no_token, "BUY", "0.60", "3")  # trades: last_trade_price enters the hash
    engine.set_tick_size(m.condition_id, "0.001", engine.now_ms)
    a.limit(m.yes_token, "BUY", "0.401", "6")
    pcs = [e for e in engine.drain_events() if e.payload["event_type"] == "price_change"]
    last = pcs[-1]
    entries = last.payload["price_changes"]
    assert isinstance(entries, list)
    for entry in entries:
        snap = engine.book(entry["asset_id"], last.t)
        assert snap is not None
        assert entry["hash"] == snap["hash"]
