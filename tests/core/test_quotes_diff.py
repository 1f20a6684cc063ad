"""Worked examples for the desired-vs-resting quote diff (aqbot.core.quotes)."""

from __future__ import annotations

import random
from decimal import Decimal as D

import pytest

from aqbot.core.quotes import DesiredQuote, DiffConfig, RestingQuote, diff_quotes
from aqbot.core.types import Side
from aqbot.errors import ConfigError

Y, N = "1001", "2002"
TICK = D("0.01")


def want(token: str, side: Side, price: str, size: str) -> DesiredQuote:
    return DesiredQuote(token, side, D(price), D(size))


def rest(oid: str, token: str, side: Side, price: str, size: str) -> RestingQuote:
    return RestingQuote(oid, token, side, D(price), D(size))


BOOK = [rest("0xa", Y, Side.BUY, "0.48", "10"), rest("0xb", N, Side.BUY, "0.48", "10")]
DESIRED = [want(Y, Side.BUY, "0.48", "10"), want(N, Side.BUY, "0.48", "10")]


def test_identical_desired_set_is_no_churn() -> None:
    d = diff_quotes(BOOK, DESIRED, tick=TICK)
    assert not d.has_actions
    assert d.cancels == ()
    assert d.places == ()
    assert d.kept == ((BOOK[0], DESIRED[0]), (BOOK[1], DESIRED[1]))


def test_price_move_cancels_and_places() -> None:
    desired = [want(Y, Side.BUY, "0.47", "10"), DESIRED[1]]
    d = diff_quotes(BOOK, desired, tick=TICK)
    assert d.cancel_ids == ("0xa",)
    assert d.places == (desired[0],)
    assert d.kept == ((BOOK[1], DESIRED[1]),)


def test_size_tolerance_keeps_partially_filled_quotes() -> None:
    partly = [rest("0xa", Y, Side.BUY, "0.48", "9.5"), BOOK[1]]
    assert not diff_quotes(partly, DESIRED, tick=TICK).has_actions  # 5 % off: within the default 10 %
    mostly = [rest("0xa", Y, Side.BUY, "0.48", "6"), BOOK[1]]
    d = diff_quotes(mostly, DESIRED, tick=TICK)
    assert d.cancel_ids == ("0xa",)
    assert d.places == (DESIRED[0],)
    strict = DiffConfig(size_tolerance=D(0))
    assert diff_quotes(partly, DESIRED, tick=TICK, config=strict).cancel_ids == ("0xa",)


def test_requote_threshold_in_ticks() -> None:
    lazy = DiffConfig(requote_ticks=2)
    one_tick = [want(Y, Side.BUY, "0.47", "10"), DESIRED[1]]
    assert not diff_quotes(BOOK, one_tick, tick=TICK, config=lazy).has_actions
    two_ticks = [want(Y, Side.BUY, "0.46", "10"), DESIRED[1]]
    d = diff_quotes(BOOK, two_ticks, tick=TICK, config=lazy)
    assert d.cancel_ids == ("0xa",)
    assert d.places == (two_ticks[0],)


def test_exact_price_match_wins_over_a_nearby_one() -> None:
    resting = [rest("0x1", Y, Side.BUY, "0.47", "10"), rest("0x2", Y, Side.BUY, "0.48", "10")]
    desired = [want(Y, Side.BUY, "0.47", "10"), want(Y, Side.BUY, "0.48", "10")]
    d = diff_quotes(resting, desired, tick=TICK, config=DiffConfig(requote_ticks=3))
    assert [(r.order_id, w.price) for r, w in d.kept] == [("0x1", D("0.47")), ("0x2", D("0.48"))]


def test_duplicates_and_extras_are_cancelled() -> None:
    resting = [
        rest("0x3", Y, Side.BUY, "0.48", "10"),
        rest("0x1", Y, Side.BUY, "0.48", "10"),  # duplicate: the smaller id is kept
        rest("0x2", Y, Side.SELL, "0.55", "10"),  # a side no longer desired
        rest("0x9", "3003", Side.BUY, "0.10", "5"),  # another token entirely
    ]
    d = diff_quotes(resting, [DESIRED[0]], tick=TICK)
    assert d.kept == ((resting[1], DESIRED[0]),)
    # Sorted by (token, side, price, id).
    assert d.cancel_ids == ("0x3", "0x2", "0x9")
    assert d.places == ()


def test_max_places_caps_and_defers_in_desired_order() -> None:
    desired = [want(Y, Side.BUY, p, "10") for p in ("0.48", "0.47", "0.46")]
    d = diff_quotes([], desired, tick=TICK, config=DiffConfig(max_places=2))
    assert d.places == tuple(desired[:2])
    assert d.deferred == (desired[2],)
    assert diff_quotes([], desired, tick=TICK, config=DiffConfig(max_places=0)).places == ()


def test_places_fit_free_capacity_and_cancels_free_nothing() -> None:
    # A BUY of 10 rests at 0.48 and the strategy now wants it at 0.47. Free capacity is 0 (the resting
    # order holds the reservation until its cancel is confirmed): cancel now, place on a later call.
    resting = [rest("0xa", Y, Side.BUY, "0.48", "10")]
    desired = [want(Y, Side.BUY, "0.47", "10")]
    d = diff_quotes(resting, desired, tick=TICK, buy_capacity={Y: D(0)})
    assert d.cancel_ids == ("0xa",)
    assert d.places == ()
    assert d.deferred == (desired[0],)
    # Once confirmed: nothing rests, capacity 10.
    d = diff_quotes([], desired, tick=TICK, buy_capacity={Y: D(10)})
    assert d.places == (desired[0],)


def test_capacity_is_cumulative_per_token_and_side() -> None:
    desired = [
        want(Y, Side.BUY, "0.48", "10"),
        want(Y, Side.BUY, "0.47", "10"),
        want(N, Side.BUY, "0.48", "10"),
        want(Y, Side.SELL, "0.52", "10"),
    ]
    d = diff_quotes([], desired, tick=TICK, buy_capacity={Y: D(15)}, sell_capacity={Y: D(10)})
    # Y BUY: 10 fits, the next 10 does not; N is missing from the mapping: no capacity; SELL fits.
    assert d.places == (desired[0], desired[3])
    assert d.deferred == (desired[1], desired[2])


def test_output_is_deterministic_whatever_the_input_order() -> None:
    resting = [rest(f"0x{i:02x}", Y if i % 2 else N, Side.BUY, f"0.{40 + i}", "10") for i in range(8)]
    desired = [
        want(Y, Side.BUY, "0.43", "10"),
        want(N, Side.BUY, "0.44", "10"),
        want(Y, Side.BUY, "0.30", "7"),
    ]
    first = diff_quotes(resting, desired, tick=TICK)
    rng = random.Random(3)
    for _ in range(5):
        shuffled = resting[:]
        rng.shuffle(shuffled)
        assert diff_quotes(shuffled, desired, tick=TICK) == first


@pytest.mark.parametrize(
    "kwargs",
    [{"requote_ticks": 0}, {"size_tolerance": D(-1)}, {"size_tolerance": D("NaN")}, {"max_places": -1}],
)
def test_config_validation(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        DiffConfig(**kwargs)  # type: ignore[arg-type]


def test_matching_is_maximum_not_greedy() -> None:
    # Greedy would give the exact-price 0x2 to the first desired quote and then have to replace 0x1, which
    # only fits the first one. A maximum matching keeps both.
    cfg = DiffConfig(requote_ticks=2, size_tolerance=D("0.3"))
    resting = [rest("0x1", Y, Side.BUY, "0.46", "7.5"), rest("0x2", Y, Side.BUY, "0.45", "12")]
    desired = [want(Y, Side.BUY, "0.45", "10"), want(Y, Side.BUY, "0.45", "12")]
    d = diff_quotes(resting, desired, tick=TICK, config=cfg)
    assert not d.has_actions
    assert d.kept == ((resting[0], desired[0]), (resting[1], desired[1]))


def test_public_names_are_pinned() -> None:
    import aqbot.core.quotes as mod

    assert sorted(mod.__all__) == ["DesiredQuote", "DiffConfig", "QuoteDiff", "RestingQuote", "diff_quotes"]
    assert all(hasattr(mod, name) for name in mod.__all__)
