"""A Hypothesis state machine over the engine with faults on (FAILED settlements, cancel races, stale caches).

Whatever the interleaving of orders, cancels, heartbeats and time, value is conserved, the book is never
crossed, live-order bookkeeping matches the book and the reservations, and the tape stays time-ordered.
"""

from __future__ import annotations

import json

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from aqbot.sim.faults import FaultConfig
from aqbot.sim.testkit import make_engine
from aqbot.sim.units import ONE

FAULTS = FaultConfig(
    name="stateful", settle_fail_p=0.3, settle_retry_p=0.3, cancel_race_p=0.3, stale_balance_p=0.3
)
PRICES = st.integers(30, 70)
SIZES = st.integers(5, 30)


class EngineMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self) -> None:
        self.engine, (self.m,), self.traders = make_engine(
            seed=77, n_traders=3, fault_config=FAULTS, fee_rate="0.05"
        )
        self.ids: list[tuple[int, str]] = []
        self.hb: dict[int, str] = {}
        self.total = sum(a.pusd for a in self.engine.accounts.by_owner.values())

    @rule(ti=st.integers(0, 2), yes=st.booleans(), cents=PRICES, size=SIZES, post_only=st.booleans())
    def buy_limit(self, ti: int, yes: bool, cents: int, size: int, post_only: bool) -> None:
        token = self.m.yes_token if yes else self.m.no_token
        r = self.traders[ti].limit(token, "BUY", f"{cents / 100:.2f}", str(size), post_only=post_only)
        if r.ok and isinstance(r.body, dict):
            self.ids.append((ti, str(r.body["orderID"])))

    @rule(ti=st.integers(0, 2), yes=st.booleans(), cents=PRICES, size=SIZES)
    def sell_limit(self, ti: int, yes: bool, cents: int, size: int) -> None:
        token = self.m.yes_token if yes else self.m.no_token
        r = self.traders[ti].limit(token, "SELL", f"{cents / 100:.2f}", str(size))
        if r.ok and isinstance(r.body, dict):
            self.ids.append((ti, str(r.body["orderID"])))

    @rule(ti=st.integers(0, 2), yes=st.booleans(), cents=PRICES, usd=st.integers(1, 20))
    def market_buy(self, ti: int, yes: bool, cents: int, usd: int) -> None:
        token = self.m.yes_token if yes else self.m.no_token
        price = cents * 10_000
        shares = usd * ONE * ONE // price // 100 * 100
        self.traders[ti].raw(token, "BUY", usd * ONE, shares, order_type="FAK")

    @rule(ti=st.integers(0, 2), pick=st.integers(0, 10**6))
    def cancel(self, ti: int, pick: int) -> None:
        if self.ids:
            owner_i, oid = self.ids[pick % len(self.ids)]
            self.traders[owner_i if pick % 3 else ti].cancel(oid)

    @rule(ti=st.integers(0, 2))
    def cancel_all(self, ti: int) -> None:
        self.engine.cancel_all(self.traders[ti].owner, self.engine.now_ms)

    @rule(ti=st.integers(0, 2), wrong=st.booleans())
    def heartbeat(self, ti: int, wrong: bool) -> None:
        sent = "bogus" if wrong else self.hb.get(ti, "")
        r = self.engine.heartbeat(self.traders[ti].owner, sent, self.engine.now_ms)
        if isinstance(r.body, dict):
            self.hb[ti] = str(r.body["heartbeat_id"])

    @rule(ms=st.integers(1, 15_000))
    def wait(self, ms: int) -> None:
        self.engine.advance(self.engine.now_ms + ms)

    @invariant()
    def conserved(self) -> None:
        ms = self.engine.markets[self.m.condition_id]
        accts = self.engine.accounts.by_owner.values()
        assert sum(a.pusd for a in accts) + ms.locked == self.total
        assert sum(a.tokens.get(self.m.yes_token, 0) for a in accts) == ms.locked
        assert sum(a.tokens.get(self.m.no_token, 0) for a in accts) == ms.locked

    @invariant()
    def book_consistent(self) -> None:
        book = self.engine.markets[self.m.condition_id].book
        bb, ba = book.best_bid(), book.best_ask()
        assert bb is None or ba is None or bb < ba
        resting = {o.order_id for o in book.orders()}
        live = {
            oid for orders in self.engine.live.values() for oid, o in orders.items() if o.status == "LIVE"
        }
        assert resting == live
        for acct in self.engine.accounts.by_owner.values():
            orders = self.engine.live.get(acct.owner, {}).values()
            assert acct.reserved_pusd == sum(o.reserved for o in orders if o.is_buy)

    @invariant()
    def tape_ordered(self) -> None:
        lines = self.engine.tape.lines
        if len(lines) >= 2:
            assert json.loads(lines[-2])["t"] <= json.loads(lines[-1])["t"]


TestEngineMachine = EngineMachine.TestCase
