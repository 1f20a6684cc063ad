"""The quoting loop as the runtime will run it: strategy -> diff -> a model exchange with fills and
delayed cancel confirmations. Checks L1 (held + open BUY <= max position) and L3 (open SELL <= held) after
every step, with capacity computed exactly as docs/strategy.md section 4 prescribes."""

from __future__ import annotations

from decimal import Decimal as D

import attrs
from hypothesis import event, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from aqbot.core.book import BookSnapshot, Level, OrderBook, build_book
from aqbot.core.quotes import DiffConfig, QuoteDiff, RestingQuote, diff_quotes
from aqbot.core.strategy import MarketInputs, StrategyConfig, inventory_from, market_tick, quote_market
from aqbot.core.types import MarketSpec, Side

Y, N = "1001", "2002"
TICK = D("0.01")
MAX_POS = D(40)
SPEC = MarketSpec("0xc", Y, N, TICK, rewards_max_spread=D(3), rewards_min_size=D(10))


@attrs.define
class Order:
    order_id: str
    token: str
    side: Side
    price: D
    remaining: D
    cancel_pending: bool = False


def books_at(mid_ticks: int, spread_ticks: int) -> dict[str, OrderBook]:
    bid, ask = (mid_ticks - spread_ticks) * TICK, (mid_ticks + spread_ticks) * TICK
    yes = build_book(BookSnapshot(Y, (Level(bid, D(50)),), (Level(ask, D(50)),)), 0.0)
    no = build_book(BookSnapshot(N, (Level(1 - ask, D(50)),), (Level(1 - bid, D(50)),)), 0.0)
    return {Y: yes, N: no}


class QuotingLoop(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.held = {Y: D(0), N: D(0)}
        self.orders: dict[str, Order] = {}
        self.books = books_at(50, 2)
        self.next_id = 0
        self.config = StrategyConfig()
        self.diff_config = DiffConfig()

    @initialize(
        size=st.sampled_from([D(5), D(10), D("12.5"), D(25)]),
        levels=st.integers(1, 3),
        skew=st.sampled_from([D(0), D("0.001")]),
        requote=st.integers(1, 2),
        tol=st.sampled_from([D(0), D("0.2")]),
    )
    def configure(self, size: D, levels: int, skew: D, requote: int, tol: D) -> None:
        self.config = StrategyConfig(size=size, max_levels=levels, skew_per_share=skew)
        self.diff_config = DiffConfig(requote_ticks=requote, size_tolerance=tol)

    # -- what the exposure tracker would report ---------------------------------------------------

    def open_size(self, token: str, side: Side) -> D:
        return sum((o.remaining for o in self.orders.values() if o.token == token and o.side is side), D(0))

    def buy_capacity(self, token: str) -> D:
        return MAX_POS - self.held[token] - self.open_size(token, Side.BUY)

    def sell_capacity(self, token: str) -> D:
        return self.held[token] - self.open_size(token, Side.SELL)

    def live(self) -> list[RestingQuote]:
        return [
            RestingQuote(o.order_id, o.token, o.side, o.price, o.remaining)
            for o in self.orders.values()
            if not o.cancel_pending
        ]

    def diff(self) -> QuoteDiff:
        live = self.live()
        inventory = {
            t: inventory_from(t, self.held[t], self.buy_capacity(t), live, self.sell_capacity(t))
            for t in SPEC.tokens
        }
        desired = quote_market(MarketInputs(SPEC, self.books, inventory), self.config, 1.0)
        diff = diff_quotes(
            live,
            desired,
            tick=market_tick(SPEC, *self.books.values()),
            config=self.diff_config,
            buy_capacity={t: self.buy_capacity(t) for t in SPEC.tokens},
            sell_capacity={t: self.sell_capacity(t) for t in SPEC.tokens},
        )
        return diff

    # -- rules -------------------------------------------------------------------------------------

    @rule()
    def quote(self) -> None:
        diff = self.diff()
        note(f"cancel {diff.cancel_ids} place {diff.places}")
        event("quote: " + ("places" if diff.places else "") + (" cancels" if diff.cancels else ""))
        if diff.deferred:
            event("quote: deferred some places")
        for r in diff.cancels:
            self.orders[r.order_id].cancel_pending = True
        for q in diff.places:
            oid = f"0x{self.next_id:04x}"
            self.next_id += 1
            self.orders[oid] = Order(oid, q.token, q.side, q.price, q.size)
        if not diff.cancels:
            # Nothing changed hands: an immediate second pass must find nothing to do (no churn).
            again = self.diff()
            assert not again.has_actions, again

    @rule(mid=st.integers(5, 95), spread=st.integers(1, 4))
    def move_book(self, mid: int, spread: int) -> None:
        mid = max(spread + 1, min(100 - spread - 1, mid))
        self.books = books_at(mid, spread)

    @precondition(lambda self: bool(self.orders))
    @rule(data=st.data(), fraction=st.sampled_from([D("0.3"), D("0.5"), D(1)]))
    def fill(self, data: st.DataObject, fraction: D) -> None:
        oid = data.draw(st.sampled_from(sorted(self.orders)))
        order = self.orders[oid]
        qty = (order.remaining * fraction).quantize(D("0.01"))
        if order.side is Side.BUY:
            self.held[order.token] += qty
        else:
            self.held[order.token] -= qty
        order.remaining -= qty
        if order.remaining <= 0:
            del self.orders[oid]

    @precondition(lambda self: any(o.cancel_pending for o in self.orders.values()))
    @rule(data=st.data())
    def confirm_cancel(self, data: st.DataObject) -> None:
        oid = data.draw(st.sampled_from(sorted(k for k, o in self.orders.items() if o.cancel_pending)))
        del self.orders[oid]

    # -- invariants --------------------------------------------------------------------------------

    @invariant()
    def l1_position_limit_holds(self) -> None:
        for t in SPEC.tokens:
            assert self.held[t] + self.open_size(t, Side.BUY) <= MAX_POS

    @invariant()
    def l3_never_offer_shares_not_held(self) -> None:
        for t in SPEC.tokens:
            assert D(0) <= self.open_size(t, Side.SELL) <= self.held[t]


QuotingLoop.TestCase.settings = settings(stateful_step_count=25)
TestQuotingLoop = QuotingLoop.TestCase
