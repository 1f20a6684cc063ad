"""makerAmount/takerAmount: examples, equality with py-clob-client-v2, and each float-noise divergence.

The property tests compare aqbot with the SDK on the same inputs. Where the SDK's binary floats round an
intermediate differently from the exact decimal (``4.35 * 100 == 434.99999999999994``), the test proves that
this is the *only* difference: aqbot fed the SDK's own (noisy) intermediates reproduces the SDK bytes.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from auth_oracle import (
    TICKS,
    exact_rounded_inputs,
    float_safe,
    prices,
    reference_amounts,
    sdk_limit_amounts,
    sdk_market_amounts,
    sdk_rounded_inputs,
    sizes,
)
from hypothesis import assume, event, given
from hypothesis import strategies as st
from py_clob_client_v2.order_builder.builder import ROUNDING_CONFIG as SDK_ROUNDING

from aqbot.auth import ROUNDING_CONFIG, InvalidOrderSpec, limit_order_amounts, market_order_amounts
from aqbot.core.types import Side

D = Decimal


def test_rounding_config_is_the_sdks() -> None:
    ours = {str(tick): (c.price, c.size, c.amount) for tick, c in ROUNDING_CONFIG.items()}
    theirs = {tick: (c.price, c.size, c.amount) for tick, c in SDK_ROUNDING.items()}
    assert ours == theirs
    assert set(ours) == {"0.1", "0.01", "0.005", "0.0025", "0.001", "0.0001"}


@pytest.mark.parametrize(
    ("side", "size", "price", "tick", "expected"),
    [
        (Side.BUY, "21.04", "0.56", "0.01", (11782400, 21040000)),
        (Side.SELL, "21.04", "0.56", "0.01", (21040000, 11782400)),
        (Side.BUY, "5.555", "0.123", "0.001", (682650, 5550000)),
        (Side.SELL, "7.129", "0.3333", "0.0001", (7120000, 2373096)),
        (Side.BUY, "16.90", "0.30", "0.01", (5070000, 16900000)),
        (Side.SELL, "66.60", "0.15", "0.01", (66600000, 9990000)),
        (Side.BUY, "10", "0.0025", "0.0025", (25000, 10000000)),
        (Side.SELL, "3", "0.995", "0.005", (3000000, 2985000)),
    ],
)
def test_limit_examples(side: Side, size: str, price: str, tick: str, expected: tuple[int, int]) -> None:
    assert limit_order_amounts(side, D(price), D(size), D(tick)) == expected


@pytest.mark.parametrize(
    ("side", "amount", "price", "tick", "expected"),
    [
        (Side.BUY, "2", "0.936", "0.001", (2000000, 2136750)),
        (Side.BUY, "1.06", "0.51", "0.01", (1060000, 2078400)),
        (Side.SELL, "2", "0.936", "0.001", (2000000, 1872000)),
        (Side.BUY, "100", "0.3", "0.1", (100000000, 333333000)),
        # 10 / 0.57 = 17.54385...: up at 8 decimals, down at 4 (the SDK floors 0.57 to 0.56: 17857100).
        (Side.BUY, "10", "0.57", "0.01", (10000000, 17543800)),
    ],
)
def test_market_examples(side: Side, amount: str, price: str, tick: str, expected: tuple[int, int]) -> None:
    assert market_order_amounts(side, D(amount), D(price), D(tick)) == expected


def _compare_with_sdk(market: bool, side: Side, price: Decimal, size: Decimal, tick: Decimal) -> None:
    ours_fn = market_order_amounts if market else limit_order_amounts
    sdk_fn = sdk_market_amounts if market else sdk_limit_amounts
    args = (size, price) if market else (price, size)
    sdk = sdk_fn(side, *args, tick)
    try:
        ours = ours_fn(side, *args, tick)
    except InvalidOrderSpec:
        # aqbot refuses orders whose amounts round to zero; the SDK would sign them.
        exact_p, exact_s = exact_rounded_inputs(market, price, size, tick)
        assert exact_s == 0 or reference_amounts(market, side, price, size, tick)[1] == 0
        event("refused: zero amount")
        return
    assert ours == reference_amounts(market, side, price, size, tick)
    assume(float_safe(market, side, price, size, tick))
    sdk_p, sdk_s = sdk_rounded_inputs(market, price, size, tick)
    exact_p, exact_s = exact_rounded_inputs(market, price, size, tick)
    if (sdk_p, sdk_s) == (exact_p, exact_s):
        event("no float noise")
        assert ours == sdk
        return
    # The SDK's float rounding of the price or the size differs from the exact decimal's.
    event(f"noise in {'price' if sdk_p != exact_p else 'size'}")
    assume(sdk_s > 0 and sdk_p >= tick)
    replay = ours_fn(side, *((sdk_s, sdk_p) if market else (sdk_p, sdk_s)), tick)
    assert replay == sdk


@given(tick=st.sampled_from(TICKS), side=st.sampled_from(Side), data=st.data())
def test_limit_amounts_match_sdk(tick: Decimal, side: Side, data: st.DataObject) -> None:
    price, size = data.draw(prices(tick), label="price"), data.draw(sizes(), label="size")
    _compare_with_sdk(False, side, price, size, tick)


@given(tick=st.sampled_from(TICKS), side=st.sampled_from(Side), data=st.data())
def test_market_amounts_match_sdk(tick: Decimal, side: Side, data: st.DataObject) -> None:
    price = data.draw(prices(tick), label="price")
    # Market BUYs spend pUSD: keep the share leg within the SDK's float precision more often.
    amount = data.draw(sizes(10**7 if side is Side.BUY else 10**8), label="amount")
    _compare_with_sdk(True, side, price, amount, tick)


def test_divergence_size_float_floor() -> None:
    # 4.35 * 100 == 434.99999999999994 in binary: the SDK signs 4.34 shares, aqbot the 4.35 asked for.
    assert sdk_limit_amounts(Side.BUY, D("0.5"), D("4.35"), D("0.01")) == (2170000, 4340000)
    assert limit_order_amounts(Side.BUY, D("0.5"), D("4.35"), D("0.01")) == (2175000, 4350000)
    # The cent-boundary sizes upstream's later tests pin (16.90 @ 0.30): the SDK 1.2.1 drops a cent.
    assert sdk_limit_amounts(Side.BUY, D("0.30"), D("16.90"), D("0.01")) == (5067000, 16890000)
    assert limit_order_amounts(Side.BUY, D("0.30"), D("16.90"), D("0.01")) == (5070000, 16900000)


def test_divergence_market_price_float_floor() -> None:
    # 0.29 * 100 == 28.999999999999996: the SDK floors a 0.29 market price to 0.28.
    assert sdk_market_amounts(Side.SELL, D("10"), D("0.29"), D("0.01")) == (10000000, 2800000)
    assert market_order_amounts(Side.SELL, D("10"), D("0.29"), D("0.01")) == (10000000, 2900000)


def test_divergence_large_market_buy() -> None:
    # 57590.68 / 0.025 == 2303627.2 exactly; scaled by 10**10 it exceeds 2**53 and the SDK loses the 0.2.
    amount, price, tick = D("57590.68"), D("0.025"), D("0.0025")
    assert sdk_market_amounts(Side.BUY, amount, price, tick) == (57590680000, 2303627199999)
    assert market_order_amounts(Side.BUY, amount, price, tick) == (57590680000, 2303627200000)


def test_off_grid_half_rounds_half_even() -> None:
    assert limit_order_amounts(Side.SELL, D("0.125"), D("100"), D("0.01")) == (100000000, 12000000)
    assert limit_order_amounts(Side.SELL, D("0.135"), D("100"), D("0.01")) == (100000000, 14000000)
    assert limit_order_amounts(Side.SELL, D("0.1351"), D("100"), D("0.01")) == (100000000, 14000000)


@pytest.mark.parametrize(
    ("price", "size", "tick"),
    [
        ("0.005", "10", "0.01"),  # below the tick
        ("0.995", "10", "0.01"),  # above 1 - tick
        ("0", "10", "0.01"),
        ("1", "10", "0.01"),
        ("0.5", "0", "0.01"),
        ("0.5", "-1", "0.01"),
        ("0.5", "0.009", "0.01"),  # floors to zero shares
        ("0.5", "NaN", "0.01"),
        ("0.5", "Infinity", "0.01"),
        ("NaN", "10", "0.01"),
        ("sNaN", "10", "0.01"),
        ("-Infinity", "10", "0.01"),
        ("0.5", "10", "0.02"),  # not a tick size
        ("0.5", "10", "0.05"),
    ],
)
def test_invalid_inputs_are_refused(price: str, size: str, tick: str) -> None:
    with pytest.raises(InvalidOrderSpec):
        limit_order_amounts(Side.BUY, D(price), D(size), D(tick))
    with pytest.raises(InvalidOrderSpec):
        market_order_amounts(Side.SELL, D(size), D(price), D(tick))


def test_tick_lookup_ignores_representation() -> None:
    assert limit_order_amounts(Side.BUY, D("0.56"), D("21.04"), D("0.010")) == (11782400, 21040000)
    with pytest.raises(InvalidOrderSpec):
        limit_order_amounts(Side.BUY, D("0.56"), D("21.04"), "0.01")  # type: ignore[arg-type]


def test_side_must_be_a_side() -> None:
    with pytest.raises(InvalidOrderSpec):
        limit_order_amounts("BUY", D("0.5"), D("10"), D("0.01"))  # type: ignore[arg-type]
    with pytest.raises(InvalidOrderSpec):
        market_order_amounts("SELL", D("10"), D("0.5"), D("0.01"))  # type: ignore[arg-type]


_any_decimal = st.one_of(
    st.builds(lambda m, e: Decimal(m).scaleb(e), st.integers(-(10**20), 10**20), st.integers(-40, 40)),
    st.integers(-(2 * 10**6), 2 * 10**6).map(lambda u: Decimal(u).scaleb(-6)),
    st.sampled_from(
        [D("NaN"), D("sNaN"), D("Infinity"), D("-Infinity"), D(0), D("1E+100000"), D("1E-100000")]
    ),
)


@given(
    side=st.sampled_from(Side),
    price=_any_decimal,
    size=_any_decimal,
    tick=st.sampled_from([*TICKS, D("0.02"), D("1"), D("NaN"), D("0")]),
    market=st.booleans(),
)
def test_only_positive_amounts_or_invalid_order_spec(
    side: Side, price: Decimal, size: Decimal, tick: Decimal, market: bool
) -> None:
    try:
        if market:
            maker, taker = market_order_amounts(side, size, price, tick)
        else:
            maker, taker = limit_order_amounts(side, price, size, tick)
    except InvalidOrderSpec:
        return
    assert maker > 0
    assert taker > 0
