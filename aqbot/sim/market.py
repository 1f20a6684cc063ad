"""Static configuration of simulated markets and accounts, and the seeded id generators.

:class:`MarketConfig` and :class:`AccountConfig` are what a runner hands to :class:`aqbot.sim.engine.Engine`.
Numbers in configs are decimal strings (as an operator writes them); the engine converts them once to integer
base units (:mod:`aqbot.sim.units`).
"""

from __future__ import annotations

import logging
import random

import attrs

from aqbot.sim.units import ONE, parse_units

logger = logging.getLogger(__name__)

VALID_TICKS = ("0.1", "0.01", "0.005", "0.0025", "0.001", "0.0001")


@attrs.frozen
class MarketConfig:
    """One binary market.

    Attributes:
        condition_id: ``0x`` + 64 hex digits.
        yes_token: the YES outcome token id (77-78 digit decimal string).
        no_token: the NO outcome token id.
        tick_size: minimum tick as a decimal string (one of :data:`VALID_TICKS`).
        min_order_size: minimum resting size in shares.
        neg_risk: whether the market trades through the neg-risk exchange.
        fee_rate: taker fee rate (``fd.r``), e.g. ``"0.07"``; ``"0"`` for a fee-free market.
        fee_exponent: fee-curve exponent (``fd.e``).
        rewards_min_size: liquidity-rewards min size in shares, or None (no rewards program).
        rewards_max_spread: liquidity-rewards max spread in cents, or None.
        accepting_orders: False makes every new order fail with "the market is not yet ready...".
        question: human title (Data API ``title``).
        slug: market slug.
        end_date: ISO date for the Data API ``endDate``.
        seconds_delay: taker delay (``sd``): a marketable non-post-only order answers ``delayed`` and is
            matched this many seconds later (sports markets).
    """

    condition_id: str
    yes_token: str
    no_token: str
    tick_size: str = "0.01"
    min_order_size: str = "5"
    neg_risk: bool = False
    fee_rate: str = "0"
    fee_exponent: int = 1
    rewards_min_size: str | None = None
    rewards_max_spread: str | None = None
    accepting_orders: bool = True
    question: str = ""
    slug: str = ""
    end_date: str = "2027-01-01"
    seconds_delay: int = 0

    def __attrs_post_init__(self) -> None:
        if self.tick_size not in VALID_TICKS:
            raise ValueError(f"tick_size must be one of {VALID_TICKS}, got {self.tick_size!r}")
        if not (self.condition_id.startswith("0x") and len(self.condition_id) == 66):
            raise ValueError(f"bad condition id {self.condition_id!r}")
        for tok in (self.yes_token, self.no_token):
            if not tok.isdigit():
                raise ValueError(f"bad token id {tok!r}")
        if self.yes_token == self.no_token:
            raise ValueError("YES and NO token ids must differ")

    @property
    def tick_u(self) -> int:
        return parse_units(self.tick_size)

    @property
    def min_size_u(self) -> int:
        return parse_units(self.min_order_size)

    @property
    def fee_rate_ppm(self) -> int:
        return parse_units(self.fee_rate)


@attrs.frozen
class AccountConfig:
    """One trading account (an API key and its wallet).

    Attributes:
        owner: the API key (a UUID string). It is an identifier, not a secret, and appears on the tape.
        address: the funder / maker address (``0x`` + 40 hex); the Data API ``user``.
        signer: the signer EOA (equal to ``address`` for EOA wallets).
        pusd: starting pUSD balance in base units.
        tokens: starting outcome-token balances in base units, by token id (treated as pre-minted).
    """

    owner: str
    address: str
    signer: str
    pusd: int = 0
    tokens: dict[str, int] = attrs.field(factory=dict)


def random_hex(rng: random.Random, nbytes: int) -> str:
    """``0x`` + ``2*nbytes`` lower-case hex digits from ``rng``."""
    return "0x" + f"{rng.getrandbits(8 * nbytes):0{2 * nbytes}x}"


def random_token_id(rng: random.Random) -> str:
    """A 77-78 digit decimal token id (a uint256 the way Polymarket prints them)."""
    lo = 10**76
    return str(rng.randrange(lo, 2**256))


def random_uuid(rng: random.Random) -> str:
    """A version-4-shaped UUID string from ``rng`` (trade ids, heartbeat ids, API keys)."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def random_market(rng: random.Random, index: int, **overrides: object) -> MarketConfig:
    """A fresh market with seeded ids; ``overrides`` are passed to :class:`MarketConfig`."""
    fields: dict[str, object] = {
        "condition_id": random_hex(rng, 32),
        "yes_token": random_token_id(rng),
        "no_token": random_token_id(rng),
        "question": f"Simulated market {index}?",
        "slug": f"sim-market-{index}",
    }
    fields.update(overrides)
    return MarketConfig(**fields)  # type: ignore[arg-type]


def random_account(rng: random.Random, pusd: int = 10_000 * ONE) -> AccountConfig:
    """A fresh EOA account with seeded ids and ``pusd`` base units of collateral."""
    address = random_hex(rng, 20)
    return AccountConfig(owner=random_uuid(rng), address=address, signer=address, pusd=pusd)
