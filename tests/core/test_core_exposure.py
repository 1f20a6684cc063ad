"""Exposure arithmetic and the atomic reserve: L1, L3 and notional caps."""

from __future__ import annotations

from decimal import Decimal as D

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aqbot.core.exposure import Exposure, Limits, Reservation, TokenExposure
from aqbot.core.types import Side

MARKETS = {"Y": "m1", "N": "m1", "Z": "m2"}


def make(**kw: object) -> Exposure:
    limits = Limits(D(10), **kw)  # type: ignore[arg-type]
    return Exposure(limits, dict(MARKETS))


def test_l1_counts_open_buys() -> None:
    e = make()
    assert e.reserve("a", "Y", Side.BUY, D("0.5"), D(6)) is None
    reason = e.reserve("b", "Y", Side.BUY, D("0.5"), D(5))
    assert reason is not None
    assert reason.startswith("L1")
    assert e.reserve("b", "Y", Side.BUY, D("0.5"), D(4)) is None
    assert e.token("Y").open_buy == D(10)
    assert e.token("Y").worst == D(10)


def test_l1_counts_held() -> None:
    e = make()
    e.add_held("Y", D(7), D("0.4"))
    assert e.reserve("a", "Y", Side.BUY, D("0.5"), D(4)) is not None
    assert e.reserve("a", "Y", Side.BUY, D("0.5"), D(3)) is None


def test_per_token_override() -> None:
    e = make(token_max_position=(("Z", D(2)),))
    assert e.limits.max_for("Z") == D(2)
    assert e.limits.max_for("Y") == D(10)
    assert e.reserve("a", "Z", Side.BUY, D("0.5"), D(3)) is not None


def test_l3_sells_need_held() -> None:
    e = make()
    reason = e.reserve("s", "Y", Side.SELL, D("0.5"), D(1))
    assert reason is not None
    assert reason.startswith("L3")
    e.add_held("Y", D(3), D("0.5"))
    assert e.reserve("s", "Y", Side.SELL, D("0.6"), D(2)) is None
    assert e.reserve("t", "Y", Side.SELL, D("0.6"), D(2)) is not None
    assert e.token("Y").open_sell == D(2)
    assert e.token("Y").worst == D(3)  # sells do not count in worst


def test_market_and_global_notional_caps() -> None:
    e = make(max_market_notional=D(5), max_global_notional=D(7))
    assert e.reserve("a", "Y", Side.BUY, D("0.5"), D(8)) is None  # 4.0
    reason = e.reserve("b", "N", Side.BUY, D("0.5"), D(4))  # market would be 6.0
    assert reason is not None
    assert reason.startswith("market notional")
    assert e.reserve("b", "N", Side.BUY, D("0.5"), D(2)) is None  # 5.0
    assert e.reserve("c", "Z", Side.BUY, D("0.5"), D(6)) is not None  # global 8.0
    assert e.reserve("c", "Z", Side.BUY, D("0.5"), D(4)) is None  # global 7.0
    assert e.global_notional() == D(7)
    assert e.market_notional("m1") == D(5)


def test_refusals_for_bad_input() -> None:
    e = make()
    assert "positive" in (e.reserve("a", "Y", Side.BUY, D("0.5"), D(0)) or "")
    assert "unknown token" in (e.reserve("a", "Q", Side.BUY, D("0.5"), D(1)) or "")
    assert e.reserve("a", "Y", Side.BUY, D("0.5"), D(1)) is None
    assert "already reserved" in (e.reserve("a", "Y", Side.BUY, D("0.5"), D(1)) or "")


def test_set_remaining_and_release() -> None:
    e = make()
    e.reserve("a", "Y", Side.BUY, D("0.5"), D(10))
    assert e.set_remaining("a", D(6)) == D(-4)
    assert e.token("Y").open_buy_notional == D(3)
    assert e.set_remaining("a", D(-1)) == D(-6)  # clamps at zero
    assert e.remaining("a") == D(0)
    e.set_remaining("a", D(2))
    assert e.release("a") == D(2)
    assert e.release("a") == D(0)
    assert e.remaining("a") == D(0)
    assert e.token("Y").open_buy == D(0)


def test_held_cost_moves_with_average_cost() -> None:
    e = make()
    e.add_held("Y", D(4), D("0.5"))
    e.add_held("Y", D(4), D("0.25"))
    assert e.token("Y").cost == D(3)
    e.add_held("Y", D(-2), D("0.9"))  # sells remove average cost, not the sell price
    assert e.token("Y").cost == D("2.25")
    e.add_held("Y", D(-6), D("0.9"))
    assert e.token("Y").held == D(0)
    assert e.token("Y").cost == D(0)
    e.add_held("Y", D(-1), D("0.9"))  # reversal below zero keeps cost at zero
    assert e.token("Y").cost == D(0)


def test_set_held_tracks_adjustment() -> None:
    e = make()
    e.add_held("Y", D(2), D("0.5"))
    e.set_held("Y", D(5), D("0.4"))
    assert e.token("Y").held == D(5)
    assert e.token("Y").adjusted == D(3)
    e.set_held("Y", D(4), D("0.4"))
    assert e.token("Y").adjusted == D(2)


def test_over_limit_and_recompute() -> None:
    e = make()
    e.force_reserve("a", "Y", Side.BUY, D("0.5"), D(12))
    e.force_reserve("s", "Y", Side.SELL, D("0.5"), D(1))
    assert e.over_limit("Y")
    assert e.recompute()["Y"] == (D(12), D(1), D(6))
    e.token("Y").open_buy = D(0)
    e.rebuild_aggregates()
    assert e.token("Y").open_buy == D(12)
    assert sorted(e.tokens_of("m1")) == ["N", "Y"]


@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
def test_refusal_does_not_reserve(side: Side) -> None:
    e = make()
    assert e.reserve("a", "Y", side, D("0.5"), D(11)) is not None
    assert "a" not in e.reservations
    assert e.token("Y").open_buy == D(0)
    assert e.token("Y").open_sell == D(0)


# --- breached(): the incremental L1 check against a full recompute ----------------------------------

_TOKENS = ["Y", "N", "Z", "X"]  # "X" is in no market: never reported
_SIZES = st.decimals(min_value=-4, max_value=6, places=1, allow_nan=False, allow_infinity=False)
_OP = st.one_of(
    st.tuples(st.just("reserve"), st.integers(0, 5), st.sampled_from(_TOKENS), st.sampled_from(Side), _SIZES),
    st.tuples(st.just("remaining"), st.integers(0, 5), _SIZES),
    st.tuples(st.just("release"), st.integers(0, 5)),
    st.tuples(st.just("held"), st.sampled_from(_TOKENS), _SIZES),
    st.tuples(st.just("set_held"), st.sampled_from(_TOKENS), _SIZES),
    st.tuples(st.just("unsettled"), st.sampled_from(_TOKENS), st.sampled_from(Side), _SIZES),
    st.tuples(st.just("token"), st.sampled_from(_TOKENS)),
    st.tuples(st.just("save")),
    st.tuples(st.just("restore")),
    st.tuples(st.just("rebuild")),
)


def _full_check(e: Exposure) -> list[str]:
    return sorted(t for t in e.market_of if e.token(t).worst > e.limits.max_for(t))


@settings(max_examples=300)
@given(ops=st.lists(st.tuples(_OP, st.booleans()), max_size=30), per_token=st.booleans())
def test_breached_equals_a_full_recompute_after_any_operations(
    ops: list[tuple[tuple[object, ...], bool]], per_token: bool
) -> None:
    """``breached()`` looks again only at the tokens whose worst moved; after any sequence of exposure
    operations (checked after some of them) it names exactly the tokens over their cap."""
    limits = Limits(D(3), token_max_position=(("Z", D(1)),) if per_token else ())
    e = Exposure(limits, dict(MARKETS))
    saved: tuple[dict[str, TokenExposure], dict[str, Reservation]] = ({}, {})
    for op, check in ops:
        kind = op[0]
        if kind == "reserve":
            e.force_reserve(f"o{op[1]}", op[2], op[3], D("0.5"), op[4])  # type: ignore[arg-type]
        elif kind == "remaining" and f"o{op[1]}" in e.reservations:
            e.set_remaining(f"o{op[1]}", op[2])  # type: ignore[arg-type]
        elif kind == "release":
            e.release(f"o{op[1]}")
        elif kind == "held":
            e.add_held(op[1], op[2], D("0.5"))  # type: ignore[arg-type]
        elif kind == "set_held":
            e.set_held(op[1], op[2], D("0.5"))  # type: ignore[arg-type]
        elif kind == "unsettled":
            e.add_unsettled(op[1], op[2], op[3])  # type: ignore[arg-type]
        elif kind == "token":
            e.token(op[1])  # type: ignore[arg-type]
        elif kind == "save":
            saved = ({t: attrs.evolve(x) for t, x in e.tokens.items()}, dict(e.reservations))
        elif kind == "restore":  # as snapshot.restore does: the saved records in new dicts
            e.tokens = {t: attrs.evolve(x) for t, x in saved[0].items()}
            e.reservations = {k: attrs.evolve(r) for k, r in saved[1].items()}
        elif kind == "rebuild":
            e.rebuild_aggregates()
        if check:
            assert e.breached() == _full_check(e)
    assert e.breached() == _full_check(e)
    assert e.breached() == _full_check(e)  # twice: nothing moved in between
