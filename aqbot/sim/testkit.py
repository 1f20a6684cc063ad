"""Small helpers to drive an :class:`~aqbot.sim.engine.Engine` directly (tests, benchmarks, notebooks).

A :class:`Trader` wraps one account and places orders by price and size (decimal strings) without the HTTP
layer: it builds the V2 order dict with exact integer amounts and a random order id.
"""

from __future__ import annotations

import logging
import random

from aqbot.sim.engine import Engine
from aqbot.sim.events import Reply
from aqbot.sim.faults import FaultConfig
from aqbot.sim.market import AccountConfig, MarketConfig, random_account, random_hex, random_market
from aqbot.sim.orderdicts import limit_order, order_dict
from aqbot.sim.settlement import SettlementConfig
from aqbot.sim.units import ONE, parse_units
from aqbot.sim.validation import OrderRequest

logger = logging.getLogger(__name__)


class Trader:
    """One account on ``engine``; every call takes the simulated time ``now_ms`` (default: the engine's)."""

    def __init__(self, engine: Engine, account: AccountConfig, rng: random.Random) -> None:
        self.engine = engine
        self.account = account
        self.owner = account.owner
        self.address = account.address.lower()
        self._rng = rng
        self._salt = 0

    def _now(self, now_ms: int | None) -> int:
        return self.engine.now_ms if now_ms is None else now_ms

    def request(
        self,
        order: dict[str, object],
        order_type: str = "GTC",
        post_only: bool = False,
        order_id: str | None = None,
    ) -> OrderRequest:
        oid = order_id if order_id is not None else random_hex(self._rng, 32)
        return OrderRequest(
            order=order, order_id=oid, owner=self.owner, order_type=order_type, post_only=post_only
        )

    def limit(
        self,
        token: str,
        side: str,
        price: str,
        size: str,
        *,
        order_type: str = "GTC",
        post_only: bool = False,
        expiration_s: int = 0,
        now_ms: int | None = None,
    ) -> Reply:
        """Place a limit order of ``size`` shares at ``price`` (amounts as the SDK builds them)."""
        now = self._now(now_ms)
        self._salt += 1
        order = limit_order(
            maker=self.address,
            token=token,
            is_buy=side == "BUY",
            price_u=parse_units(price),
            size_u=parse_units(size),
            timestamp_ms=now,
            salt=self._salt,
            expiration_s=expiration_s,
        )
        return self.engine.place_order(self.request(order, order_type, post_only), now)

    def raw(
        self,
        token: str,
        side: str,
        maker_amount: int,
        taker_amount: int,
        *,
        order_type: str = "GTC",
        post_only: bool = False,
        expiration_s: int = 0,
        order_id: str | None = None,
        now_ms: int | None = None,
    ) -> Reply:
        """Place an order with explicit integer amounts."""
        now = self._now(now_ms)
        self._salt += 1
        order = order_dict(
            maker=self.address,
            token=token,
            is_buy=side == "BUY",
            maker_amount=maker_amount,
            taker_amount=taker_amount,
            timestamp_ms=now,
            salt=self._salt,
            expiration_s=expiration_s,
        )
        return self.engine.place_order(self.request(order, order_type, post_only, order_id), now)

    def cancel(self, *order_ids: str, now_ms: int | None = None) -> Reply:
        return self.engine.cancel_orders(self.owner, list(order_ids), self._now(now_ms))

    def position(self, token: str) -> int:
        return self.engine.true_position(self.owner, token)

    def pusd(self) -> int:
        return self.engine.accounts.by_owner[self.owner].pusd


def make_engine(
    seed: int = 1,
    *,
    n_markets: int = 1,
    n_traders: int = 2,
    pusd: int = 10_000 * ONE,
    fault_config: FaultConfig | None = None,
    settlement: SettlementConfig | None = None,
    **market_overrides: object,
) -> tuple[Engine, list[MarketConfig], list[Trader]]:
    """A fresh engine with seeded markets and funded traders."""
    rng = random.Random(f"testkit-{seed}")
    markets = [random_market(rng, i, **market_overrides) for i in range(n_markets)]
    accounts = [random_account(rng, pusd) for _ in range(n_traders)]
    engine = Engine(
        seed=seed, markets=markets, accounts=accounts, fault_config=fault_config, settlement=settlement
    )
    return engine, markets, [Trader(engine, a, rng) for a in accounts]


def order_id_of(reply: Reply) -> str:
    """The ``orderID`` of a successful placement reply."""
    oid = reply.body.get("orderID") if isinstance(reply.body, dict) else None
    if not isinstance(oid, str) or not oid:
        raise ValueError(f"not an accepted placement: {reply!r}")
    return oid
