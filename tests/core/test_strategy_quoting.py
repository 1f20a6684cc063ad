"""Worked examples for the default quoting strategy (aqbot.core.strategy)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from aqbot.core.book import BookSnapshot, Level, OrderBook, TickSizeChange, build_book
from aqbot.core.quotes import DesiredQuote, RestingQuote
from aqbot.core.strategy import (
    Inventory,
    MarketInputs,
    SkewedMidStrategy,
    Strategy,
    StrategyConfig,
    ceil_to_tick,
    floor_to_tick,
    inventory_from,
    market_tick,
    quote_market,
)
from aqbot.core.types import MarketSpec, OrderType, Side
from aqbot.errors import ConfigError

Y, N = "1001", "2002"
SPEC = MarketSpec("0xc0", Y, N, D("0.01"))
REWARDS = MarketSpec("0xc0", Y, N, D("0.01"), rewards_max_spread=D(3), rewards_min_size=D(20))
NO_FILTERS = StrategyConfig(target_rewards=False)
ROOMY = {Y: Inventory(buy_capacity=D(100)), N: Inventory(buy_capacity=D(100))}


def book(token: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]], now: float = 0.0) -> OrderBook:
    return build_book(
        BookSnapshot(
            token, tuple(Level(D(p), D(s)) for p, s in bids), tuple(Level(D(p), D(s)) for p, s in asks)
        ),
        now,
    )


def books(yes_bid: str = "0.48", yes_ask: str = "0.52", size: str = "100") -> dict[str, OrderBook]:
    """A YES book and its mirror image as the NO book."""
    y_b, y_a = D(yes_bid), D(yes_ask)
    return {
        Y: book(Y, [(yes_bid, size)], [(yes_ask, size)]),
        N: book(N, [(str(1 - y_a), size)], [(str(1 - y_b), size)]),
    }


def q(token: str, side: Side, price: str, size: str) -> DesiredQuote:
    return DesiredQuote(token, side, D(price), D(size))


def run(
    inventory: dict[str, Inventory] | None = None,
    config: StrategyConfig = NO_FILTERS,
    spec: MarketSpec = SPEC,
    fair: str | None = None,
    bk: dict[str, OrderBook] | None = None,
    now: float = 1.0,
) -> list[DesiredQuote]:
    market = MarketInputs(
        spec, bk if bk is not None else books(), ROOMY if inventory is None else inventory, fair and D(fair)
    )
    return quote_market(market, config, now)


def test_flat_inventory_quotes_buy_yes_and_buy_no_around_mid() -> None:
    # mid 0.50, half spread 0.02: bid 0.48 (BUY YES), ask 0.52 (no YES held: BUY NO at 1 - 0.52).
    assert run() == [q(Y, Side.BUY, "0.48", "10"), q(N, Side.BUY, "0.48", "10")]
    assert all(x.order_type is OrderType.GTC and x.post_only for x in run())


def test_held_yes_is_sold_instead_of_buying_no() -> None:
    inv = {Y: Inventory(held=D(30), buy_capacity=D(70)), N: Inventory(buy_capacity=D(100))}
    assert run(inv) == [q(Y, Side.BUY, "0.48", "10"), q(Y, Side.SELL, "0.52", "10")]


def test_held_no_is_sold_instead_of_buying_yes() -> None:
    inv = {Y: Inventory(buy_capacity=D(100)), N: Inventory(held=D(30), buy_capacity=D(70))}
    assert run(inv) == [q(N, Side.SELL, "0.52", "10"), q(N, Side.BUY, "0.48", "10")]


def test_partial_holdings_sell_only_what_is_held() -> None:
    inv = {Y: Inventory(held=D(7), buy_capacity=D(93)), N: Inventory(buy_capacity=D(100))}
    assert run(inv)[1] == q(Y, Side.SELL, "0.52", "7")
    # Below the min order size (5) the held shares cannot be offered: BUY NO instead.
    inv = {Y: Inventory(held=D(3), buy_capacity=D(97)), N: Inventory(buy_capacity=D(100))}
    assert run(inv)[1] == q(N, Side.BUY, "0.48", "10")
    # Shares already offered by other open sells are not offered twice.
    inv = {
        Y: Inventory(held=D(30), buy_capacity=D(70), sell_capacity=D(2)),
        N: Inventory(buy_capacity=D(100)),
    }
    assert run(inv)[1] == q(N, Side.BUY, "0.48", "10")


def test_buy_is_capped_by_capacity_and_dropped_below_min_size() -> None:
    inv = {Y: Inventory(buy_capacity=D("8.456")), N: Inventory(buy_capacity=D(4))}
    assert run(inv) == [q(Y, Side.BUY, "0.48", "8.45")]  # sizes round down to 0.01 share
    inv = {Y: Inventory(buy_capacity=D(-3)), N: Inventory(buy_capacity=D(0))}
    assert run(inv) == []


def test_own_resting_buys_count_toward_the_budget() -> None:
    # Capacity is 0 because the quoter's own 10-share BUY already rests: it may stay (the diff keeps it).
    inv = {Y: Inventory(buy_capacity=D(0), resting_buy=D(10)), N: Inventory(buy_capacity=D(100))}
    assert run(inv)[0] == q(Y, Side.BUY, "0.48", "10")
    inv = {Y: Inventory(held=D(10), sell_capacity=D(0), resting_sell=D(10)), N: Inventory()}
    assert run(inv) == [q(Y, Side.SELL, "0.52", "10")]


def test_inventory_skew_moves_both_quotes() -> None:
    cfg = StrategyConfig(target_rewards=False, skew_per_share=D("0.001"), max_skew=D("0.05"))
    inv = {Y: Inventory(held=D(20), buy_capacity=D(80)), N: Inventory(buy_capacity=D(100))}
    # net +20 YES -> r = 0.50 - 0.02 = 0.48: bid 0.46, ask 0.50 (still above the best bid 0.48).
    assert run(inv, cfg) == [q(Y, Side.BUY, "0.46", "10"), q(Y, Side.SELL, "0.50", "10")]
    # Long NO skews the other way.
    inv = {Y: Inventory(buy_capacity=D(100)), N: Inventory(held=D(20), buy_capacity=D(80))}
    assert run(inv, cfg) == [q(N, Side.SELL, "0.50", "10"), q(N, Side.BUY, "0.46", "10")]
    # The skew is capped at max_skew (0.05): r = 0.45, ask 0.47 would cross the 0.48 bid -> 0.49.
    inv = {Y: Inventory(held=D(1000), buy_capacity=D(0)), N: Inventory(buy_capacity=D(100))}
    assert run(inv, cfg) == [q(Y, Side.SELL, "0.49", "10")]


def test_tick_rounding_is_away_from_the_market() -> None:
    # fair 0.503: bid floor(0.483) = 0.48, ask ceil(0.523) = 0.53 -> BUY NO 0.47 (rounded down in NO terms).
    assert run(fair="0.503") == [q(Y, Side.BUY, "0.48", "10"), q(N, Side.BUY, "0.47", "10")]
    assert floor_to_tick(D("0.4875"), D("0.0025")) == D("0.4875")
    assert floor_to_tick(D("0.4874"), D("0.0025")) == D("0.4850")
    assert ceil_to_tick(D("0.4851"), D("0.005")) == D("0.490")


def test_post_only_never_crosses_own_or_complement_book() -> None:
    # Caller's fair 0.60: bid 0.58 would take the 0.52 ask: capped at 0.51; ask 0.62 -> BUY NO 0.38.
    assert run(fair="0.60") == [q(Y, Side.BUY, "0.51", "10"), q(N, Side.BUY, "0.38", "10")]
    # A NO bid at 0.50 is a YES ask at 0.50: a BUY YES at >= 0.50 would match it.
    bk = {Y: book(Y, [("0.48", "100")], [("0.52", "100")]), N: book(N, [("0.50", "5")], [("0.52", "100")])}
    out = run(fair="0.60", bk=bk)
    assert out[0] == q(Y, Side.BUY, "0.49", "10")


def test_prices_outside_tick_bounds_are_dropped() -> None:
    bk = books("0.01", "0.03")
    # fair 0.015: bid floor(-0.005) is off the price range -> no bid; ask 0.04 -> BUY NO at 0.96.
    assert run(fair="0.015", bk=bk) == [q(N, Side.BUY, "0.96", "10")]
    bk = books("0.97", "0.99")
    assert run(fair="0.985", bk=bk) == [q(Y, Side.BUY, "0.96", "10")]


def test_rewards_band_and_min_size() -> None:
    cfg = StrategyConfig(half_spread=D("0.05"))
    # v = 3 cents around the mid 0.50: quotes must sit strictly inside (0.47, 0.53); size raised to 20.
    assert run(spec=REWARDS, config=cfg) == [q(Y, Side.BUY, "0.48", "20"), q(N, Side.BUY, "0.48", "20")]
    # Not enough capacity for the rewards size: quote what the limit allows (>= min order size).
    inv = {Y: Inventory(buy_capacity=D(15)), N: Inventory(buy_capacity=D(100))}
    assert run(inv, spec=REWARDS, config=cfg)[0] == q(Y, Side.BUY, "0.48", "15")
    # Deeper levels outside the band earn nothing and are dropped.
    cfg3 = StrategyConfig(half_spread=D("0.01"), max_levels=3)
    out = run(spec=REWARDS, config=cfg3)
    assert [x.price for x in out] == [D("0.49"), D("0.49"), D("0.48"), D("0.48")]
    # The band never pulls a quote past the reservation price: fair 0.40 keeps the bid at 0.35.
    out = run(spec=REWARDS, config=cfg, fair="0.40")
    assert out == [q(Y, Side.BUY, "0.35", "20"), q(N, Side.BUY, "0.51", "20")]


def test_rewards_band_narrower_than_a_tick_still_keeps_ask_above_bid() -> None:
    spec = MarketSpec("0xc0", Y, N, D("0.01"), rewards_max_spread=D("0.5"), rewards_min_size=D(5))
    out = run(spec=spec, config=StrategyConfig(half_spread=D("0.02")))
    assert out == [q(Y, Side.BUY, "0.50", "10"), q(N, Side.BUY, "0.49", "10")]


def test_levels_share_the_budget() -> None:
    cfg = StrategyConfig(target_rewards=False, max_levels=3)
    inv = {Y: Inventory(buy_capacity=D(25)), N: Inventory(buy_capacity=D(12))}
    assert run(inv, cfg) == [
        q(Y, Side.BUY, "0.48", "10"),
        q(N, Side.BUY, "0.48", "10"),
        q(Y, Side.BUY, "0.47", "10"),
        q(Y, Side.BUY, "0.46", "5"),
    ]


def test_half_spread_in_ticks() -> None:
    cfg = StrategyConfig(target_rewards=False, half_spread_ticks=1)
    assert [x.price for x in run(config=cfg, fair="0.50")] == [D("0.49"), D("0.49")]


def test_yes_only_mode_never_uses_the_no_token() -> None:
    cfg = StrategyConfig(target_rewards=False, quote_both_tokens=False)
    assert run(config=cfg) == [q(Y, Side.BUY, "0.48", "10")]
    inv = {Y: Inventory(held=D(10)), N: Inventory(held=D(50), buy_capacity=D(100))}
    assert run(inv, cfg) == [q(Y, Side.SELL, "0.52", "10")]


def test_unusable_books_desire_nothing() -> None:
    assert run(bk={Y: books()[Y]}) == []  # the complement book is missing
    assert run(now=100.0) == []  # stale (max_book_age 30 s)
    bk = books()
    bk[N].apply_tick_size_change(TickSizeChange(N, D("0.001")), 1.0)
    assert run(bk=bk) == []  # invalid until the next snapshot
    assert run(bk=books("0.55", "0.52")) == []  # crossed
    one_sided = {Y: book(Y, [("0.48", "100")], []), N: book(N, [], [("0.52", "100")])}
    assert run(bk=one_sided) == []  # no mid and no fair value
    assert run(bk=one_sided, fair="0.50") == [q(Y, Side.BUY, "0.48", "10"), q(N, Side.BUY, "0.48", "10")]
    assert run(fair="1.2") == []


def test_market_tick_takes_the_coarsest() -> None:
    bk = books()
    assert market_tick(SPEC, *bk.values()) == D("0.01")
    fine = build_book(BookSnapshot(Y, (), (), tick_size=D("0.1")), 0.0)
    assert market_tick(SPEC, fine) == D("0.1")


def test_strategy_protocol_and_wrapper() -> None:
    strategy: Strategy = SkewedMidStrategy(NO_FILTERS)
    market = MarketInputs(SPEC, books(), ROOMY)
    assert strategy.desired_quotes(market, 1.0) == quote_market(market, NO_FILTERS, 1.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"size": D(0)},
        {"half_spread": D(-1)},
        {"max_levels": 0},
        {"half_spread_ticks": 0},
        {"skew_per_share": D(-1)},
        {"max_book_age": 0.0},
    ],
)
def test_config_validation(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        StrategyConfig(**kwargs)  # type: ignore[arg-type]


def test_microprice_as_fair_value() -> None:
    # Thin bid (10) vs thick ask (90): microprice (0.48*90 + 0.52*10)/100 = 0.484 -> bid 0.46, ask 0.51.
    bk = {Y: book(Y, [("0.48", "10")], [("0.52", "90")]), N: book(N, [("0.48", "90")], [("0.52", "10")])}
    cfg = StrategyConfig(target_rewards=False, use_microprice=True)
    assert run(bk=bk, config=cfg) == [q(Y, Side.BUY, "0.46", "10"), q(N, Side.BUY, "0.49", "10")]


def test_inventory_from_resting_quotes() -> None:
    resting = [
        RestingQuote("0x1", Y, Side.BUY, D("0.48"), D("10")),
        RestingQuote("0x2", Y, Side.BUY, D("0.47"), D("4.5")),
        RestingQuote("0x3", Y, Side.SELL, D("0.55"), D("3")),
        RestingQuote("0x4", N, Side.BUY, D("0.40"), D("7")),
    ]
    inv = inventory_from(Y, D(20), D(5), resting)
    assert inv == Inventory(held=D(20), buy_capacity=D(5), resting_buy=D("14.5"), resting_sell=D(3))
    assert inv.buy_budget == D("19.5")
    assert inv.sell_budget == D(20)
    assert Inventory(held=D(20), sell_capacity=D(5), resting_sell=D(3)).sell_budget == D(8)


def test_public_names_are_pinned() -> None:
    import aqbot.core.strategy as mod

    assert sorted(mod.__all__) == [
        "Inventory",
        "MarketInputs",
        "SkewedMidStrategy",
        "Strategy",
        "StrategyConfig",
        "ceil_to_tick",
        "floor_to_tick",
        "inventory_from",
        "market_tick",
        "quote_market",
    ]
    assert all(hasattr(mod, name) for name in mod.__all__)
