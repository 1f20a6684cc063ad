"""Hypothesis properties of the default strategy: every desired quote is one the exchange and the limits
accept (grid, bounds, min size, capacity, held shares), never crosses either book, and sits inside the
rewards band when the market allows it."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal as D

from hypothesis import event, given, note
from hypothesis import strategies as st

from aqbot.core.book import BookSnapshot, Level, OrderBook, build_book
from aqbot.core.quotes import DesiredQuote
from aqbot.core.strategy import Inventory, MarketInputs, StrategyConfig, quote_market
from aqbot.core.types import MarketSpec, Side

Y, N = "1001", "2002"
TICKS = [D("0.1"), D("0.01"), D("0.005"), D("0.0025"), D("0.001")]


@st.composite
def side_levels(draw: st.DrawFn, tick: D, lo: int, hi: int, min_levels: int) -> tuple[Level, ...]:
    if lo > hi:
        return ()
    prices = draw(
        st.lists(st.integers(lo, hi), min_size=min(min_levels, hi - lo + 1), max_size=5, unique=True)
    )
    return tuple(Level(p * tick, D(draw(st.integers(1, 500)))) for p in prices)


@st.composite
def uncrossed_book(draw: st.DrawFn, token: str, tick: D, min_levels: int = 0) -> OrderBook:
    n = int(1 / tick)
    split = draw(st.integers(2, n - 1))
    bids = draw(side_levels(tick, 1, split - 1, min_levels))
    asks = draw(side_levels(tick, split, n - 1, min_levels))
    return build_book(BookSnapshot(token, bids, asks), 0.0)


money = st.integers(-2000, 20000).map(lambda c: D(c) / 100) | st.just(D(1000))


@st.composite
def inventories(draw: st.DrawFn) -> Inventory:
    held = draw(st.integers(0, 20000).map(lambda c: D(c) / 100) | st.just(D(0)))
    return Inventory(held=held, buy_capacity=draw(money))


@st.composite
def configs(draw: st.DrawFn) -> StrategyConfig:
    return StrategyConfig(
        half_spread=draw(st.sampled_from([D("0.001"), D("0.01"), D("0.02"), D("0.05"), D("0.2")])),
        half_spread_ticks=draw(st.none() | st.integers(1, 5)),
        size=draw(st.sampled_from([D(50), D("12.5"), D(5), D(1)])),
        max_levels=draw(st.integers(1, 3)),
        level_step_ticks=draw(st.integers(1, 3)),
        skew_per_share=draw(st.sampled_from([D(0), D("0.0001"), D("0.001")])),
        max_skew=draw(st.sampled_from([D(0), D("0.05"), D("0.5")])),
        quote_both_tokens=draw(st.booleans()),
        target_rewards=draw(st.booleans()),
    )


def yes_terms(q: DesiredQuote) -> tuple[str, D]:
    """('bid'|'ask', YES price) of a quote."""
    if q.token == Y:
        return ("bid" if q.side is Side.BUY else "ask", q.price)
    return ("ask" if q.side is Side.BUY else "bid", 1 - q.price)


def check_quote_rules(quotes: list[DesiredQuote], market: MarketInputs, tick: D) -> None:
    spec = market.spec
    buys: dict[str, D] = defaultdict(D)
    sells: dict[str, D] = defaultdict(D)
    for q in quotes:
        comp = spec.complement(q.token)
        own, other = market.books[q.token], market.books[comp]
        assert q.price % tick == 0, q
        assert tick <= q.price <= 1 - tick, q
        assert q.size >= spec.min_order_size, q
        assert q.size == q.size.quantize(D("0.01")), q
        assert q.post_only
        if q.side is Side.BUY:
            buys[q.token] += q.size
            ask, comp_bid = own.best_ask(), other.best_bid()
            assert ask is None or q.price < ask.price, q
            assert comp_bid is None or q.price + comp_bid.price < 1, q  # would match a BUY of the complement
        else:
            sells[q.token] += q.size
            bid, comp_ask = own.best_bid(), other.best_ask()
            assert bid is None or q.price > bid.price, q
            assert comp_ask is None or q.price + comp_ask.price > 1, q  # would match a SELL of the complement
    for token in spec.tokens:
        inv = market.inventory[token]
        assert buys[token] <= max(inv.buy_capacity, D(0))
        assert sells[token] <= inv.held
    # Own quotes never cross each other (a BUY YES at p and a BUY NO at >= 1 - p would match).
    bids = [p for kind, p in map(yes_terms, quotes) if kind == "bid"]
    asks = [p for kind, p in map(yes_terms, quotes) if kind == "ask"]
    if bids and asks:
        assert max(bids) < min(asks)


def mirror(book: OrderBook, token: str) -> OrderBook:
    bids = tuple(Level(1 - lv.price, lv.size) for lv in book.levels(Side.SELL))
    asks = tuple(Level(1 - lv.price, lv.size) for lv in book.levels(Side.BUY))
    return build_book(BookSnapshot(token, bids, asks), 0.0)


@given(data=st.data())
def test_desired_quotes_obey_exchange_and_limit_rules(data: st.DataObject) -> None:
    tick = data.draw(st.sampled_from(TICKS))
    rewards = data.draw(st.none() | st.sampled_from([D("0.5"), D(1), D(3), D("4.5")]))
    spec = MarketSpec(
        "0xc",
        Y,
        N,
        tick,
        min_order_size=data.draw(st.sampled_from([D(5), D(1), D(15)])),
        rewards_max_spread=rewards,
        rewards_min_size=None if rewards is None else data.draw(st.sampled_from([D(10), D(20), D(100)])),
    )
    # The NO book is the YES book's mirror (as on Polymarket) or drawn independently (it may then cross).
    yes = data.draw(uncrossed_book(Y, tick, min_levels=data.draw(st.integers(0, 1))))
    no = mirror(yes, N) if data.draw(st.booleans()) else data.draw(uncrossed_book(N, tick))
    books = {Y: yes, N: no}
    inventory = {Y: data.draw(inventories()), N: data.draw(inventories())}
    fair = data.draw(st.none() | st.integers(1, 999).map(lambda m: D(m) / 1000))
    market = MarketInputs(spec, books, inventory, fair)
    config = data.draw(configs())
    quotes = quote_market(market, config, 1.0)
    note(f"quotes: {quotes}")
    event("quoted" if quotes else "desired nothing")
    check_quote_rules(quotes, market, tick)


@given(data=st.data())
def test_quotes_sit_inside_the_rewards_band_when_the_mid_allows(data: st.DataObject) -> None:
    tick = data.draw(st.sampled_from([D("0.01"), D("0.001"), D("0.005")]))
    v_ticks = data.draw(st.integers(2, 40))
    v_cents = v_ticks * tick * 100
    spec = MarketSpec("0xc", Y, N, tick, rewards_max_spread=v_cents, rewards_min_size=D(20))
    yes = data.draw(uncrossed_book(Y, tick, min_levels=1))
    top_b, top_a = yes.best_bid(), yes.best_ask()
    if top_b is None or top_a is None or top_b.size < 20 or top_a.size < 20:
        event("skipped: thin top")
        return  # the rewards mid is the plain mid only when the top levels reach the min size
    books = {Y: yes, N: mirror(yes, N)}
    m, v = (top_b.price + top_a.price) / 2, v_cents / 100
    if not (top_a.price - tick > m - v and top_b.price + tick < m + v):
        event("skipped: no room in band")
        return  # the book leaves no room strictly inside the band on some side
    roomy = {Y: Inventory(held=D(500), buy_capacity=D(500)), N: Inventory(held=D(500), buy_capacity=D(500))}
    config = StrategyConfig(
        half_spread=data.draw(st.sampled_from([D("0.001"), D("0.02"), D("0.3")])),
        max_levels=data.draw(st.integers(1, 4)),
    )
    quotes = quote_market(MarketInputs(spec, books, roomy), config, 1.0)
    note(f"mid {m} v {v} quotes {quotes}")
    event("checked")
    assert quotes  # both sides can always be quoted here
    for q in quotes:
        _, p = yes_terms(q)
        assert m - v < p < m + v, q
        assert q.size >= 20, q
