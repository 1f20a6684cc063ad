"""The py-clob-client-v2 oracle for tests/auth: SDK calls with a fixed salt and timestamp, plus strategies.

aqbot never imports the SDK; only these tests do.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction
from types import SimpleNamespace
from typing import Any
from unittest.mock import patch

from hypothesis import strategies as st
from py_clob_client_v2.clob_types import CreateOrderOptions, MarketOrderArgsV2, OrderArgsV2
from py_clob_client_v2.order_builder import builder as sdk_builder_module
from py_clob_client_v2.order_builder.builder import ROUNDING_CONFIG as SDK_ROUNDING
from py_clob_client_v2.order_builder.builder import OrderBuilder
from py_clob_client_v2.order_builder.helpers import round_down, round_normal
from py_clob_client_v2.order_utils import ExchangeOrderBuilderV2
from py_clob_client_v2.order_utils.model.order_data_v2 import order_to_json_v2
from py_clob_client_v2.order_utils.model.signature_type_v2 import SignatureTypeV2
from py_clob_client_v2.signer import Signer

from aqbot.auth import ROUNDING_CONFIG
from aqbot.core.types import Side

# Hardhat's publicly known development keys #0-#2 (never funded on a real chain).
HARDHAT_KEYS = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9ea804cdfa8ee",
)
TICKS = tuple(sorted(ROUNDING_CONFIG))
# The SDK's float pipeline is exact only while the scaled pUSD leg fits a double's mantissa.
FLOAT_SAFE_LIMIT = 2**49

_AMOUNTS = OrderBuilder(None, funder="0x" + "00" * 20)


def sdk_side(side: Side) -> str:
    return "BUY" if side is Side.BUY else "SELL"


def sdk_limit_amounts(side: Side, price: Decimal, size: Decimal, tick: Decimal) -> tuple[int, int]:
    _, maker, taker = _AMOUNTS.get_order_amounts(
        sdk_side(side), float(size), float(price), SDK_ROUNDING[str(tick)]
    )
    return maker, taker


def sdk_market_amounts(side: Side, amount: Decimal, price: Decimal, tick: Decimal) -> tuple[int, int]:
    _, maker, taker = _AMOUNTS.get_market_order_amounts(
        sdk_side(side), float(amount), float(price), SDK_ROUNDING[str(tick)]
    )
    return maker, taker


def sdk_rounded_inputs(market: bool, price: Decimal, size: Decimal, tick: Decimal) -> tuple[Decimal, Decimal]:
    """The price and size the SDK's float steps actually use (its floats, read back as decimals)."""
    cfg = ROUNDING_CONFIG[tick]
    price_f = (round_down if market else round_normal)(float(price), cfg.price)
    return Decimal(repr(price_f)), Decimal(repr(round_down(float(size), cfg.size)))


def exact_rounded_inputs(
    market: bool, price: Decimal, size: Decimal, tick: Decimal
) -> tuple[Decimal, Decimal]:
    """What those steps mean on the exact decimals (floor / half-even)."""
    cfg = ROUNDING_CONFIG[tick]
    with localcontext() as ctx:
        ctx.prec = 200
        p = price.quantize(Decimal(1).scaleb(-cfg.price), rounding=ROUND_FLOOR if market else ROUND_HALF_EVEN)
        s = size.quantize(Decimal(1).scaleb(-cfg.size), rounding=ROUND_FLOOR)
    return p, s


def _leg(value: Fraction, decimals: int) -> Fraction:
    """The SDK's pUSD-leg rule stated on exact rationals: up at decimals+4, then down at decimals."""
    if (value * 10**decimals).denominator != 1:
        value = Fraction(math.ceil(value * 10 ** (decimals + 4)), 10 ** (decimals + 4))
        if (value * 10**decimals).denominator != 1:
            value = Fraction(math.floor(value * 10**decimals), 10**decimals)
    return value


def _units(value: Fraction) -> int:
    scaled = value * 10**6
    assert scaled.denominator == 1, value
    return int(scaled)


def reference_amounts(
    market: bool, side: Side, price: Decimal, size: Decimal, tick: Decimal
) -> tuple[int, int]:
    """An independent exact statement of the SDK algorithm (Fractions, step by step as the SDK writes it)."""
    cfg = ROUNDING_CONFIG[tick]
    p, s = (Fraction(x) for x in exact_rounded_inputs(market, price, size, tick))
    other = _leg(s / p if market and side is Side.BUY else s * p, cfg.amount)
    if side is Side.BUY:
        return _units(s if market else other), _units(other if market else s)
    return _units(s), _units(other)


def float_safe(market: bool, side: Side, price: Decimal, size: Decimal, tick: Decimal) -> bool:
    """Whether the SDK's float pipeline has the precision to be exact for these inputs."""
    cfg = ROUNDING_CONFIG[tick]
    p, s = (Fraction(x) for x in exact_rounded_inputs(market, price, size, tick))
    if p == 0:
        return False
    leg = s / p if market and side is Side.BUY else s * p
    return bool(leg * 10 ** (cfg.amount + 4) < FLOAT_SAFE_LIMIT)


# --- strategies ---------------------------------------------------------------------------------------

# Cent amounts whose float times 100 lands just below the integer (4.35 -> 434.99999999999994).
NOISY_CENTS = tuple(k for k in range(1, 100_000) if math.floor(float(Decimal(k).scaleb(-2)) * 100) != k)
# Per tick, on-grid prices whose float floor at the price decimals drops a step (0.29 -> 0.28).
NOISY_GRID_PRICES = {
    tick: tuple(
        tick * k
        for k in range(1, int(1 / tick))
        if Decimal(repr(round_down(float(tick * k), ROUNDING_CONFIG[tick].price))) != tick * k
    )
    for tick in TICKS
}


@st.composite
def prices(draw: st.DrawFn, tick: Decimal) -> Decimal:
    """On-grid prices mostly; sometimes off the price grid (extra decimals, exact halves) or at the edges."""
    cfg = ROUNDING_CONFIG[tick]
    kind = draw(st.sampled_from(["grid", "grid", "grid", "noisy", "edge", "off", "half"]))
    steps = int(1 / tick)
    if kind == "noisy" and NOISY_GRID_PRICES[tick]:
        return draw(st.sampled_from(NOISY_GRID_PRICES[tick]))
    if kind in ("grid", "noisy"):
        return tick * draw(st.integers(1, steps - 1))
    if kind == "edge":
        return draw(st.sampled_from([tick, 1 - tick, tick * 2, 1 - 2 * tick]))
    extra = draw(st.integers(1, 3))
    scale = Decimal(1).scaleb(-(cfg.price + extra))
    lo, hi = int(tick / scale), int((1 - tick) / scale)
    if kind == "half":
        base = draw(st.integers(int(tick.scaleb(cfg.price)), int((1 - tick).scaleb(cfg.price)) - 1))
        return Decimal(base).scaleb(-cfg.price) + Decimal(5).scaleb(-(cfg.price + 1))
    return Decimal(draw(st.integers(lo, hi))) * scale


@st.composite
def sizes(draw: st.DrawFn, max_units: int = 10**8) -> Decimal:
    """Sizes in shares (or pUSD): cents mostly, near-edge and long decimals sometimes, rarely below 0.01."""
    kinds = [
        "cents",
        "realistic",
        "realistic",
        "noisy",
        "whole",
        "long",
        "edge",
        "cents",
        "realistic",
        "tiny",
    ]
    kind = draw(st.sampled_from(kinds))
    if kind == "noisy":
        return Decimal(draw(st.sampled_from(NOISY_CENTS))).scaleb(-2)
    if kind == "cents":
        return Decimal(draw(st.integers(1, max_units))).scaleb(-2)
    if kind == "realistic":
        return Decimal(draw(st.integers(500, min(max_units, 10**6)))).scaleb(-2)
    if kind == "whole":
        return Decimal(draw(st.integers(1, max_units // 100)))
    if kind == "tiny":
        return Decimal(draw(st.integers(1, 99))).scaleb(-4)
    if kind == "long":
        places = draw(st.integers(3, 8))
        return Decimal(draw(st.integers(10 ** (places - 2), max_units * 10 ** (places - 2)))).scaleb(-places)
    cents = Decimal(draw(st.integers(1, max_units))).scaleb(-2)
    return cents + draw(st.sampled_from([Decimal("0.005"), Decimal("0.0099999"), Decimal("0.00000001")]))


# --- full SDK order path with a fixed salt and timestamp ----------------------------------------------


@functools.cache
def sdk_signer(key: str, chain_id: int) -> Signer:
    return Signer(key, chain_id)


@contextmanager
def fixed_salt_and_time(salt: int, timestamp_ms: int) -> Iterator[None]:
    """Make the SDK's OrderBuilder use this salt and timestamp (it reads time.time_ns and a salt default)."""
    builder_cls = functools.partial(ExchangeOrderBuilderV2, generate_salt=lambda: str(salt))
    fake_time = SimpleNamespace(time_ns=lambda: timestamp_ms * 1_000_000)
    with (
        patch.object(sdk_builder_module, "ExchangeOrderBuilderV2", builder_cls),
        patch.object(sdk_builder_module, "time", fake_time),
    ):
        yield


def sdk_signed_order(
    *,
    key: str,
    chain_id: int,
    funder: str | None,
    signature_type: int,
    market: bool,
    token_id: str,
    side: Side,
    price: Decimal,
    size: Decimal,
    tick: Decimal,
    neg_risk: bool,
    salt: int,
    timestamp_ms: int,
    expiration: int,
    metadata: str,
    builder: str,
) -> tuple[Any, str]:
    """(SignedOrderV2, order hash) through the SDK's public OrderBuilder path."""
    signer = sdk_signer(key, chain_id)
    sdk = OrderBuilder(signer, signature_type=SignatureTypeV2(signature_type), funder=funder)
    options = CreateOrderOptions(tick_size=str(tick), neg_risk=neg_risk)
    with fixed_salt_and_time(salt, timestamp_ms):
        if market:
            args_m = MarketOrderArgsV2(
                token_id=token_id,
                amount=float(size),
                side=sdk_side(side),
                price=float(price),
                builder_code=builder,
                metadata=metadata,
            )
            order = sdk.build_market_order(args_m, options)
        else:
            args = OrderArgsV2(
                token_id=token_id,
                price=float(price),
                size=float(size),
                side=sdk_side(side),
                expiration=expiration,
                builder_code=builder,
                metadata=metadata,
            )
            order = sdk.build_order(args, options)
    exchange = ExchangeOrderBuilderV2(
        _verifying_contract(chain_id, neg_risk), chain_id, signer, generate_salt=lambda: str(salt)
    )
    return order, exchange.build_order_hash(exchange.build_order_typed_data(order))


def _verifying_contract(chain_id: int, neg_risk: bool) -> str:
    from py_clob_client_v2.config import get_contract_config

    cfg = get_contract_config(chain_id)
    return str(cfg.neg_risk_exchange_v2 if neg_risk else cfg.exchange_v2)


def sdk_order_json(
    order: Any, owner: str = "owner", order_type: str = "GTC", **flags: bool
) -> dict[str, Any]:
    result: dict[str, Any] = order_to_json_v2(order, owner, order_type, **flags)
    return result
