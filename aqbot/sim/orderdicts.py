"""Build unsigned V2 order dicts (the ``order`` object of ``POST /order``) for engine-internal participants.

The synthetic flow and the tests use these; their orders never cross the HTTP layer, so they carry a
placeholder signature and a random order id instead of an EIP-712 hash. Amounts follow PROTOCOL 3.4 exactly
(integer base units).
"""

from __future__ import annotations

import logging

from aqbot.sim.units import CENT_SHARES, ONE

logger = logging.getLogger(__name__)

ZERO32 = "0x" + "00" * 32


def limit_amounts(is_buy: bool, price_u: int, size_u: int) -> tuple[int, int]:
    """``(makerAmount, takerAmount)`` for ``size_u`` shares (floored to 0.01) at ``price_u``."""
    size = size_u // CENT_SHARES * CENT_SHARES
    pusd = size * price_u // ONE
    return (pusd, size) if is_buy else (size, pusd)


def order_dict(
    *,
    maker: str,
    token: str,
    is_buy: bool,
    maker_amount: int,
    taker_amount: int,
    timestamp_ms: int,
    salt: int,
    expiration_s: int = 0,
    signer: str | None = None,
) -> dict[str, object]:
    """The JSON ``order`` object with the given integer amounts (strings on the wire)."""
    return {
        "salt": salt,
        "maker": maker,
        "signer": signer if signer is not None else maker,
        "tokenId": token,
        "makerAmount": str(maker_amount),
        "takerAmount": str(taker_amount),
        "side": "BUY" if is_buy else "SELL",
        "expiration": str(expiration_s),
        "signatureType": 0,
        "timestamp": str(timestamp_ms),
        "metadata": ZERO32,
        "builder": ZERO32,
        "signature": "0x" + "00" * 65,
    }


def limit_order(
    *,
    maker: str,
    token: str,
    is_buy: bool,
    price_u: int,
    size_u: int,
    timestamp_ms: int,
    salt: int,
    expiration_s: int = 0,
) -> dict[str, object]:
    """A limit order dict (GTC/GTD) for ``size_u`` shares at ``price_u``."""
    m, t = limit_amounts(is_buy, price_u, size_u)
    return order_dict(
        maker=maker,
        token=token,
        is_buy=is_buy,
        maker_amount=m,
        taker_amount=t,
        timestamp_ms=timestamp_ms,
        salt=salt,
        expiration_s=expiration_s,
    )
