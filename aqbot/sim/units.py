"""Integer base units used everywhere inside the simulator engine, and their wire formatting.

Every amount is an ``int`` of 6-decimal base units ("micro"): 1 share = 1 pUSD = ``ONE`` = 1_000_000.
Prices are micro-pUSD per share, so a 0.01 tick is ``10_000`` and a price of 0.56 is ``560_000``. The engine
never uses ``Decimal`` or ``float`` for money in its hot path; :func:`parse_units` is the one place where a
decimal string becomes an integer, and the ``fmt_*`` helpers the one place where integers become wire strings.
"""

from __future__ import annotations

import functools
import logging

logger = logging.getLogger(__name__)

ONE = 1_000_000
"""One share, one pUSD, or a price of 1.0, in base units."""

CENT_SHARES = 10_000
"""0.01 share: the size granularity of limit orders (the 2-decimal size rule)."""

FEE_QUANTUM = 10
"""0.00001: fees are rounded to 5 decimals."""


def parse_units(text: str) -> int:
    """Parse a non-negative decimal string (at most 6 decimals) into base units.

    Raises:
        ValueError: the text is not a plain decimal or has more than 6 decimals.
    """
    s = text.strip()
    if not s or s.startswith("-") or s.startswith("+"):
        raise ValueError(f"not a non-negative decimal: {text!r}")
    whole, _, frac = s.partition(".")
    if not whole:
        whole = "0"
    if not whole.isdigit() or (frac and not frac.isdigit()):
        raise ValueError(f"not a decimal: {text!r}")
    frac = frac.rstrip("0")
    if len(frac) > 6:
        raise ValueError(f"more than 6 decimals: {text!r}")
    return int(whole) * ONE + (int(frac.ljust(6, "0")) if frac else 0)


@functools.lru_cache(maxsize=1 << 12)
def fmt_units(units: int, min_dp: int = 0) -> str:
    """Format base units as a decimal string, trailing zeros trimmed, at least ``min_dp`` decimals."""
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), ONE)
    digits = f"{frac:06d}".rstrip("0")
    if len(digits) < min_dp:
        digits = digits.ljust(min_dp, "0")
    return f"{sign}{whole}.{digits}" if digits else f"{sign}{whole}"


def fmt_price(units: int) -> str:
    """A price as the exchange prints it: ``"0.48"``, ``"0.5"``."""
    return fmt_units(units)


def fmt_size(units: int) -> str:
    """A size in shares (or an amount in pUSD) with at least two decimals: ``"100.00"``, ``"17.8571"``."""
    return fmt_units(units, 2)


def decimals_of(units: int) -> int:
    """How many decimals a base-unit value needs (0-6)."""
    if units % ONE == 0:
        return 0
    return len(f"{units % ONE:06d}".rstrip("0"))


def amount_decimals(tick_u: int) -> int:
    """The SDK's ``amount`` decimals for a tick (ROUNDING_CONFIG, PROTOCOL 3.4): price decimals + 2."""
    return min(6, decimals_of(tick_u) + 2)


def ceil_div(a: int, b: int) -> int:
    """Ceiling division of non-negative integers."""
    return -(-a // b)


def notional(size_u: int, price_u: int) -> int:
    """pUSD base units (floored) of ``size_u`` shares at ``price_u``."""
    return size_u * price_u // ONE


def taker_fee(size_u: int, price_u: int, rate_ppm: int, exponent: int) -> int:
    """Taker fee ``C * rate * (p(1-p))^e`` in base units, rounded half-up to 5 decimals (minimum 0.00001).

    ``rate_ppm`` is the fee rate in millionths (0.07 -> 70_000). The result is in shares on a BUY and in
    pUSD on a SELL (the caller decides which); it is zero when the rate is zero.

    Args:
        size_u: the filled size in share base units.
        price_u: the fill price of the taker's token in base units.
        rate_ppm: the market's fee rate in millionths.
        exponent: the fee-curve exponent (1 or 2 in practice).
    """
    if rate_ppm <= 0 or size_u <= 0:
        return 0
    pq: int = price_u * (ONE - price_u)  # scale ONE**2
    num: int = size_u * rate_ppm * pq**exponent
    den: int = ONE * (ONE * ONE) ** exponent
    raw = num // den  # base units, floored
    rem_num = num - raw * den
    # half-up rounding to FEE_QUANTUM on the exact rational value
    q, r = divmod(raw, FEE_QUANTUM)
    if 2 * (r * den + rem_num) >= FEE_QUANTUM * den:
        q += 1
    fee = q * FEE_QUANTUM
    if fee == 0 and num > 0:
        fee = FEE_QUANTUM
    return fee
