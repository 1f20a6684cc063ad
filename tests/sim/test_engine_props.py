"""Property tests of the matching engine over random order flows.

After every operation: pUSD and shares are conserved (mints lock exactly the collateral they create, merges
release it, fees move to the fee account), the book is never crossed at rest, level sizes equal the sum of
their orders, reservations equal what the live orders still need, no balance goes negative, and every trade
gives the taker its limit price or better.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aqbot.sim.accounts import FEE_OWNER
from aqbot.sim.engine import RACER_PUSD, Engine
from aqbot.sim.faults import profile
from aqbot.sim.flow import FlowConfig
from aqbot.sim.market import MarketConfig
from aqbot.sim.testkit import Trader, make_engine, run_scenario
from aqbot.sim.units import ONE, notional, parse_units

GRANT = 100 * ONE

order_op = st.tuples(
    st.just("order"),
    st.integers(0, 2),  # trader
    st.booleans(),  # YES token?
    st.booleans(),  # BUY?
    st.one_of(st.integers(40, 60), st.integers(1, 99)),  # price in cents
    st.integers(5, 40),  # size in shares
    st.sampled_from(["GTC", "GTC", "GTC", "FAK", "FOK"]),
    st.booleans(),  # post only (GTC only)
)
op = st.one_of(
    order_op,
    order_op,
    order_op,
    st.tuples(st.just("cancel"), st.integers(0, 2), st.integers(0, 50)),
    st.tuples(st.just("advance"), st.integers(1, 20_000)),
)


def _setup(fee_rate: str) -> tuple[Engine, MarketConfig, list[Trader]]:
    engine, (m,), traders = make_engine(seed=99, n_traders=3, pusd=1_000 * ONE, fee_rate=fee_rate)
    for t in traders:
        acct = engine.accounts.by_owner[t.owner]
        engine.accounts.move_tokens(acct, m.yes_token, GRANT, 50 * ONE, 0)
        engine.accounts.move_tokens(acct, m.no_token, GRANT, 50 * ONE, 0)
    engine.markets[m.condition_id].locked = 3 * GRANT
    return engine, m, traders


def _check(engine: Engine, m: MarketConfig, pusd0: int) -> None:
    ms = engine.markets[m.condition_id]
    accts = engine.accounts.by_owner.values()
    assert sum(a.pusd for a in accts) + ms.locked == pusd0
    assert sum(a.tokens.get(m.yes_token, 0) for a in accts) == ms.locked
    assert sum(a.tokens.get(m.no_token, 0) for a in accts) == ms.locked
    book = ms.book
    bb, ba = book.best_bid(), book.best_ask()
    assert bb is None or ba is None or bb < ba, (bb, ba)
    reserved_pusd: dict[str, int] = {}
    reserved_tok: dict[tuple[str, str], int] = {}
    for bid, levels in ((True, book.bids), (False, book.asks)):
        for price, level in levels.items():
            assert level.orders
            assert level.size == sum(o.remaining_u for o in level.orders.values())
            for o in level.orders.values():
                assert o.status == "LIVE"
                assert o.remaining_u > 0
                assert o.bid == bid
                assert o.book_price == price
    for owner, live in engine.live.items():
        for o in live.values():
            assert o.status == "LIVE"
            if o.is_buy:
                assert o.reserved >= notional(o.remaining_u, o.price_u)
                reserved_pusd[owner] = reserved_pusd.get(owner, 0) + o.reserved
            else:
                assert o.reserved == o.remaining_u
                key = (owner, o.token)
                reserved_tok[key] = reserved_tok.get(key, 0) + o.reserved
    for a in accts:
        assert a.reserved_pusd == reserved_pusd.get(a.owner, 0)
        assert 0 <= a.reserved_pusd <= a.pusd
        for token in (m.yes_token, m.no_token):
            assert a.reserved_tokens.get(token, 0) == reserved_tok.get((a.owner, token), 0)
            assert 0 <= a.reserved_tokens.get(token, 0) <= a.tokens.get(token, 0)
    for trade in engine.trades.values():
        taker = trade.taker
        if taker.is_buy:
            assert trade.price_u <= taker.price_u
        else:
            assert trade.price_u >= taker.price_u
        for mf in trade.makers:
            assert mf.price_u == mf.order.price_u  # makers trade at their own price


def _run(ops: list[tuple[object, ...]], fee_rate: str) -> Engine:
    engine, m, traders = _setup(fee_rate)
    pusd0 = sum(a.pusd for a in engine.accounts.by_owner.values()) + engine.markets[m.condition_id].locked
    placed: list[tuple[int, str]] = []
    for item in ops:
        kind = item[0]
        if kind == "order":
            _, ti, yes, buy, cents, size, otype, post_only = item
            assert isinstance(ti, int)
            assert isinstance(cents, int)
            assert isinstance(size, int)
            token = m.yes_token if yes else m.no_token
            t = traders[ti]
            side = "BUY" if buy else "SELL"
            if otype in ("FAK", "FOK"):
                price = cents * 10_000
                if buy:
                    usd = max(ONE, size * price // ONE // 10_000 * 10_000)
                    r = t.raw(token, side, usd, usd * ONE // price // 100 * 100, order_type=str(otype))
                else:
                    r = t.raw(token, side, size * ONE, size * price, order_type=str(otype))
            else:
                r = t.limit(token, side, f"{cents / 100:.2f}", str(size), post_only=bool(post_only))
            if r.ok and isinstance(r.body, dict):
                placed.append((ti, str(r.body["orderID"])))
        elif kind == "cancel":
            _, ti, idx = item
            assert isinstance(ti, int)
            assert isinstance(idx, int)
            if placed:
                _, oid = placed[idx % len(placed)]
                traders[ti].cancel(oid)
        else:
            delta = item[1]
            assert isinstance(delta, int)
            engine.advance(engine.now_ms + delta)
        _check(engine, m, pusd0)
    return engine


@given(st.lists(op, min_size=30, max_size=80))
def test_conservation_and_book_invariants(ops: list[tuple[object, ...]]) -> None:
    _run(ops, "0")


@given(st.lists(op, min_size=30, max_size=80))
def test_invariants_hold_with_taker_fees(ops: list[tuple[object, ...]]) -> None:
    engine = _run(ops, "0.07")
    fees = engine.accounts.by_owner[FEE_OWNER]
    assert fees.pusd >= 0
    assert all(v >= 0 for v in fees.tokens.values())


def test_fee_account_collects_on_both_sides() -> None:
    engine, m, traders = _setup("0.07")
    a, b, _ = traders
    a.limit(m.yes_token, "BUY", "0.40", "10")
    b.limit(m.yes_token, "SELL", "0.40", "10")  # SELL taker: fee in pUSD
    a.limit(m.no_token, "SELL", "0.70", "10")  # YES bid 0.30
    b.limit(m.no_token, "BUY", "0.70", "10")  # BUY taker: fee in shares
    fees = engine.accounts.by_owner[FEE_OWNER]
    assert fees.pusd > 0
    assert fees.tokens[m.no_token] > 0


def _random_ops(seed: int, n: int) -> list[tuple[object, ...]]:
    rng = random.Random(seed)
    ops: list[tuple[object, ...]] = []
    for _ in range(n):
        r = rng.random()
        if r < 0.75:
            otype = rng.choice(["GTC", "GTC", "GTC", "FAK", "FOK"])
            cents = rng.randint(40, 60) if rng.random() < 0.8 else rng.randint(1, 99)
            ops.append(
                (
                    "order",
                    rng.randrange(3),
                    rng.random() < 0.5,
                    rng.random() < 0.5,
                    cents,
                    rng.randint(5, 40),
                    otype,
                    rng.random() < 0.3,
                )
            )
        elif r < 0.95:
            ops.append(("cancel", rng.randrange(3), rng.randrange(1000)))
        else:
            ops.append(("advance", rng.randint(1, 20_000)))
    return ops


@pytest.mark.parametrize("seed", range(4))
def test_long_random_flows_keep_invariants(seed: int) -> None:
    engine = _run(_random_ops(seed, 400), "0.07")
    assert len(engine.trades) > 20
    assert any(t.locked_delta > 0 for t in engine.trades.values())  # mints happened
    assert any(t.locked_delta < 0 for t in engine.trades.values())  # merges happened
    assert any(t.locked_delta == 0 for t in engine.trades.values())  # transfers happened


def test_conservation_survives_chaos_with_failed_settlements() -> None:
    """FAILED reversals, cancel races, restarts and fees under `chaos` never create or destroy value."""
    n = 2
    engine, _ = run_scenario(12, profile("chaos"), 15 * 60_000, n_markets=n)
    assert any(t.status == "FAILED" for t in engine.trades.values())
    expected = n * 10_000 * ONE + (n + 1) * parse_units(FlowConfig().participant_pusd) + RACER_PUSD
    locked = sum(ms.locked for ms in engine.markets.values())
    accts = engine.accounts.by_owner.values()
    assert sum(a.pusd for a in accts) + locked == expected
    for ms in engine.markets.values():
        for token in (ms.cfg.yes_token, ms.cfg.no_token):
            assert sum(a.tokens.get(token, 0) for a in accts) == ms.locked
