"""Domain types shared by every part of the core (and converted to and from wire types at the edge).

Numbers are :class:`decimal.Decimal` (prices in pUSD per share, sizes in shares), never float.
Times inside the core are plain ``float`` seconds on a monotonic clock that the caller passes in.
"""

from __future__ import annotations

import enum
from decimal import Decimal

import attrs

TokenId = str
"""An outcome token id: a 77-78 digit decimal string, kept as text end to end."""

ConditionId = str
"""A market's condition id: ``0x`` + 64 hex digits."""

OrderId = str
"""An order id: the EIP-712 hash of the signed order, ``0x`` + 64 hex digits (lower case)."""


class Side(enum.Enum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(enum.Enum):
    GTC = "GTC"
    GTD = "GTD"
    FOK = "FOK"
    FAK = "FAK"


@attrs.frozen
class MarketSpec:
    """What a quoter must know about one binary market.

    ``rewards_max_spread`` is the liquidity-rewards max incentive spread in *cents* (as the exchange
    publishes it, ``r.ma``); ``rewards_min_size`` is in shares. Either is ``None`` when the market has
    no rewards program.
    """

    condition_id: ConditionId
    yes_token: TokenId
    no_token: TokenId
    tick_size: Decimal
    min_order_size: Decimal = Decimal(5)
    neg_risk: bool = False
    rewards_max_spread: Decimal | None = None
    rewards_min_size: Decimal | None = None

    @property
    def tokens(self) -> tuple[TokenId, TokenId]:
        return (self.yes_token, self.no_token)

    def complement(self, token: TokenId) -> TokenId:
        """The other outcome token of this market."""
        if token == self.yes_token:
            return self.no_token
        if token == self.no_token:
            return self.yes_token
        raise KeyError(token)
