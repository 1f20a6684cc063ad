"""Hypothesis properties of the quote diff: applying it yields the desired set (modulo kept quotes within
tolerance), an identical desired set yields no actions, and a second diff after applying the first
is empty."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from aqbot.core.quotes import DesiredQuote, DiffConfig, QuoteDiff, RestingQuote, diff_quotes
from aqbot.core.types import Side

TICK = D("0.01")
tokens = st.sampled_from(["1", "2"])
sides = st.sampled_from([Side.BUY, Side.SELL])
prices = st.integers(40, 50).map(lambda t: t * TICK)
sizes = st.sampled_from([D(5), D("9.5"), D(10), D("10.5"), D(20)])

desired_quotes = st.builds(DesiredQuote, token=tokens, side=sides, price=prices, size=sizes)
configs = st.builds(
    DiffConfig,
    requote_ticks=st.integers(1, 3),
    size_tolerance=st.sampled_from([D(0), D("0.06"), D("0.5")]),
    max_places=st.just(1000),
)


@st.composite
def resting_sets(draw: st.DrawFn) -> list[RestingQuote]:
    raw = draw(st.lists(st.tuples(tokens, sides, prices, sizes), max_size=10))
    return [RestingQuote(f"0x{i:04x}", t, s, p, z) for i, (t, s, p, z) in enumerate(raw)]


def key(q: DesiredQuote | RestingQuote) -> tuple[str, Side, D, D]:
    return (q.token, q.side, q.price, q.size)


def apply(resting: list[RestingQuote], diff: QuoteDiff, start: int) -> list[RestingQuote]:
    cancelled = set(diff.cancel_ids)
    after = [r for r in resting if r.order_id not in cancelled]
    after += [
        RestingQuote(f"0xn{start + i:04x}", q.token, q.side, q.price, q.size)
        for i, q in enumerate(diff.places)
    ]
    return after


@given(resting=resting_sets(), desired=st.lists(desired_quotes, max_size=10), config=configs)
def test_applying_the_diff_yields_the_desired_set(
    resting: list[RestingQuote], desired: list[DesiredQuote], config: DiffConfig
) -> None:
    diff = diff_quotes(resting, desired, tick=TICK, config=config)
    kept_ids = [r.order_id for r, _ in diff.kept]
    # Every resting quote is either kept or cancelled, never both, never neither.
    assert sorted(kept_ids + list(diff.cancel_ids)) == sorted(r.order_id for r in resting)
    assert len(set(kept_ids)) == len(kept_ids)
    # Kept quotes are within the thresholds of the desired quote they stand for.
    for r, d in diff.kept:
        assert (r.token, r.side) == (d.token, d.side)
        assert abs(r.price - d.price) < TICK * config.requote_ticks
        assert abs(r.size - d.size) <= config.size_tolerance * d.size
    # What rests afterwards = desired, with each kept resting quote standing in for its desired quote.
    assert diff.deferred == ()
    assert Counter(key(d) for _, d in diff.kept) + Counter(key(q) for q in diff.places) == Counter(
        key(d) for d in desired
    )
    after = apply(resting, diff, len(resting))
    assert len(after) == len(desired)
    # And a second pass over the result changes nothing (no churn).
    assert not diff_quotes(after, desired, tick=TICK, config=config).has_actions


@given(desired=st.lists(desired_quotes, max_size=10), config=configs)
def test_identical_desired_set_yields_no_actions(desired: list[DesiredQuote], config: DiffConfig) -> None:
    resting = [RestingQuote(f"0x{i:04x}", q.token, q.side, q.price, q.size) for i, q in enumerate(desired)]
    diff = diff_quotes(list(reversed(resting)), desired, tick=TICK, config=config)
    assert not diff.has_actions
    assert len(diff.kept) == len(desired)


@given(
    resting=resting_sets(),
    desired=st.lists(desired_quotes, max_size=10),
    max_places=st.integers(0, 5),
    cap=st.sampled_from([D(0), D(10), D(25), D(1000)]),
)
def test_caps_only_defer(
    resting: list[RestingQuote], desired: list[DesiredQuote], max_places: int, cap: D
) -> None:
    capped = diff_quotes(
        resting,
        desired,
        tick=TICK,
        config=DiffConfig(max_places=max_places),
        buy_capacity={"1": cap, "2": cap},
        sell_capacity={"1": cap},
    )
    free = diff_quotes(resting, desired, tick=TICK)
    assert capped.cancels == free.cancels
    assert capped.kept == free.kept
    assert len(capped.places) <= max_places
    assert Counter(capped.places) + Counter(capped.deferred) == Counter(free.places)
    for token in ("1", "2"):
        buys = sum((q.size for q in capped.places if q.token == token and q.side is Side.BUY), D(0))
        sells = sum((q.size for q in capped.places if q.token == token and q.side is Side.SELL), D(0))
        assert buys <= cap
        assert sells <= (cap if token == "1" else D(0))
