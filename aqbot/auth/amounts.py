"""Price and size to ``makerAmount``/``takerAmount`` (PROTOCOL 3.4), exactly, in integers.

py-clob-client-v2 1.2.1 computes these amounts in binary floats:

1. price: ``round(price * 10**p) / 10**p`` (limit) or ``floor(price * 10**p) / 10**p`` (market);
2. shares (limit, market SELL) or pUSD (market BUY): ``floor(x * 100) / 100``;
3. the other leg ``x * price`` (or ``x / price`` for a market BUY); when it has more than ``amount``
   decimals it is rounded *up* at ``amount + 4`` decimals, then, if still too long, *down* at ``amount``;
4. ``round(leg * 10**6)``.

Here every step is done on exact rationals (``Decimal.as_integer_ratio`` and Python integers), so the
result is what that algorithm means on the decimal the caller wrote. For step 3 the exact form is::

    units = floor(ceil(v * 10**(amount + 4)) / 10**4) * 10**(6 - amount)

which equals the SDK's two-step rounding whether or not ``v`` already fits in ``amount`` decimals.

Where float noise makes the SDK disagree with that exact meaning, aqbot keeps the exact answer (the
property tests in ``tests/auth`` pin each case and check that it is *only* the float noise):

* ``floor`` of an on-grid value just below itself in binary: size ``4.35`` (``4.35 * 100`` is
  ``434.99999999999994``) becomes 4.34 shares in the SDK; a market price ``0.29`` becomes ``0.28``.
  aqbot keeps 4.35 and 0.29. Upstream fixed exactly this after 1.2.1 (``Decimal(str(x))`` rounding).
* half-way prices off the price grid (``0.135`` at tick 0.01) round half-even on the exact decimal,
  where the SDK rounds whatever binary neighbour the float holds. A quoting bot sends on-grid prices.
* values so large that ``x * 10**(amount + 4)`` exceeds a double's 53-bit mantissa (over ~10**5 pUSD
  at tick 0.0001): the SDK's rounding of the pUSD leg is then noise; aqbot's is exact.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Final

import attrs

from aqbot.auth._errors import InvalidOrderSpec
from aqbot.core.types import Side

logger = logging.getLogger(__name__)

# Both pUSD and outcome shares have 6 decimals on chain.
TOKEN_DECIMALS: Final = 6
# Extra decimals the SDK rounds *up* at before flooring the pUSD leg (absorbs float noise).
_GUARD_DECIMALS: Final = 4
_GUARD: Final = 10**_GUARD_DECIMALS
# Largest accepted order of magnitude of a size or amount (10**15 shares or pUSD is far beyond any market);
# it also bounds the integers the exact arithmetic builds.
_MAX_MAGNITUDE: Final = 15
# Powers of ten as a table: exact ints, typed as int (``10 ** n`` with a variable ``n`` is ``Any`` to mypy).
_POW10: Final[tuple[int, ...]] = tuple(10**i for i in range(64))


@attrs.frozen
class RoundConfig:
    """Decimals of the price, of the size and of the pUSD leg for one tick size."""

    price: int
    size: int
    amount: int


# py-clob-client-v2 1.2.1 ``ROUNDING_CONFIG``, keyed by the tick as a Decimal (``Decimal("0.010")`` finds
# the ``0.01`` row: equal Decimals hash alike).
ROUNDING_CONFIG: Final[Mapping[Decimal, RoundConfig]] = {
    Decimal("0.1"): RoundConfig(price=1, size=2, amount=3),
    Decimal("0.01"): RoundConfig(price=2, size=2, amount=4),
    Decimal("0.005"): RoundConfig(price=3, size=2, amount=5),
    Decimal("0.0025"): RoundConfig(price=4, size=2, amount=6),
    Decimal("0.001"): RoundConfig(price=3, size=2, amount=5),
    Decimal("0.0001"): RoundConfig(price=4, size=2, amount=6),
}
assert all(c.amount <= TOKEN_DECIMALS and c.size <= TOKEN_DECIMALS for c in ROUNDING_CONFIG.values())


def round_config(tick: Decimal) -> RoundConfig:
    """The rounding row of a tick size.

    Raises:
        InvalidOrderSpec: not one of 0.1, 0.01, 0.005, 0.0025, 0.001, 0.0001.
    """
    try:
        return ROUNDING_CONFIG[tick]
    except (KeyError, TypeError):
        raise InvalidOrderSpec(f"unsupported tick size {tick!r}") from None


def _ratio(value: Decimal, what: str) -> tuple[int, int]:
    if not value.is_finite() or value <= 0:
        raise InvalidOrderSpec(f"{what} must be a positive finite number, got {value}")
    if value.adjusted() > _MAX_MAGNITUDE:
        raise InvalidOrderSpec(f"{what} is implausibly large: {value:.3E}")
    return value.as_integer_ratio()


def _check_price(price: Decimal, tick: Decimal) -> None:
    # The SDK's ``price_valid``: tick <= price <= 1 - tick, on the price as given.
    if not price.is_finite() or not (tick <= price <= 1 - tick):
        raise InvalidOrderSpec(f"invalid price ({price}), min: {tick} - max: {1 - tick}")


def _floor_units(value: Decimal, decimals: int, what: str) -> int:
    if value.is_finite() and value > 0 and value.adjusted() < -decimals:
        return 0  # below one unit: skip the (possibly huge) exact ratio
    num, den = _ratio(value, what)
    return num * _POW10[decimals] // den


def _round_half_even_units(value: Decimal, decimals: int, what: str) -> int:
    num, den = _ratio(value, what)
    quotient, remainder = divmod(num * _POW10[decimals], den)
    twice = 2 * remainder
    if twice > den or (twice == den and quotient & 1):
        quotient += 1
    return quotient


def _capped_units(num: int, den: int, amount_decimals: int) -> int:
    """``num/den`` rounded like the SDK's pUSD leg, in 10**-6 units (see the module docstring)."""
    scaled = num * _POW10[amount_decimals + _GUARD_DECIMALS]
    ceiled = -(-scaled // den)
    return (ceiled // _GUARD) * _POW10[TOKEN_DECIMALS - amount_decimals]


def _nonzero(maker: int, taker: int) -> tuple[int, int]:
    if maker <= 0 or taker <= 0:
        raise InvalidOrderSpec(f"order rounds to a zero amount (maker {maker}, taker {taker})")
    return maker, taker


def limit_order_amounts(side: Side, price: Decimal, size: Decimal, tick: Decimal) -> tuple[int, int]:
    """``(makerAmount, takerAmount)`` in 10**-6 units of a limit (GTC/GTD) order.

    BUY pays ``size * price`` pUSD for ``size`` shares; SELL gives ``size`` shares for ``size * price``.
    The price is rounded half-even to the tick's price decimals and the size floored to 2 decimals.

    Raises:
        InvalidOrderSpec: unknown tick, price outside ``[tick, 1 - tick]``, non-positive size, or an
            amount that rounds to zero.
    """
    cfg = round_config(tick)
    _check_price(price, tick)
    price_units = _round_half_even_units(price, cfg.price, "price")
    size_units = _floor_units(size, cfg.size, "size")
    shares = size_units * _POW10[TOKEN_DECIMALS - cfg.size]
    pusd = _capped_units(size_units * price_units, _POW10[cfg.size + cfg.price], cfg.amount)
    if side is Side.BUY:
        return _nonzero(pusd, shares)
    if side is Side.SELL:
        return _nonzero(shares, pusd)
    raise InvalidOrderSpec(f"side must be a Side, got {side!r}")


def market_order_amounts(side: Side, amount: Decimal, price: Decimal, tick: Decimal) -> tuple[int, int]:
    """``(makerAmount, takerAmount)`` in 10**-6 units of a market (FOK/FAK) order.

    ``amount`` is pUSD to spend for a BUY and shares to sell for a SELL (floored to 2 decimals); the
    worst acceptable ``price`` is floored to the tick's price decimals (V2; V1 rounded it).

    Raises:
        InvalidOrderSpec: unknown tick, price outside ``[tick, 1 - tick]``, non-positive amount, or an
            amount that rounds to zero.
    """
    cfg = round_config(tick)
    _check_price(price, tick)
    price_units = _floor_units(price, cfg.price, "price")
    amount_units = _floor_units(amount, cfg.size, "amount")
    maker = amount_units * _POW10[TOKEN_DECIMALS - cfg.size]
    if side is Side.BUY:
        # shares = pUSD / price = (A / 10**size) / (P / 10**price)
        taker = _capped_units(amount_units * _POW10[cfg.price], price_units * _POW10[cfg.size], cfg.amount)
    elif side is Side.SELL:
        taker = _capped_units(amount_units * price_units, _POW10[cfg.size + cfg.price], cfg.amount)
    else:
        raise InvalidOrderSpec(f"side must be a Side, got {side!r}")
    return _nonzero(maker, taker)
