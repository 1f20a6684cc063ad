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
from aqbot.sim.flow import Flow, FlowConfig
from aqbot.sim.market import AccountConfig, MarketConfig, random_account, random_hex, random_market
from aqbot.sim.orderdicts import limit_order, order_dict
from aqbot.sim.retention import RetentionConfig
from aqbot.sim.settlement import SettlementConfig
from aqbot.sim.units import ONE, fmt_units, parse_units
from aqbot.sim.validation import ERR_BALANCE, OrderRequest

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
    retention: RetentionConfig | None = None,
    **market_overrides: object,
) -> tuple[Engine, list[MarketConfig], list[Trader]]:
    """A fresh engine with seeded markets and funded traders."""
    rng = random.Random(f"testkit-{seed}")
    markets = [random_market(rng, i, **market_overrides) for i in range(n_markets)]
    accounts = [random_account(rng, pusd) for _ in range(n_traders)]
    engine = Engine(
        seed=seed,
        markets=markets,
        accounts=accounts,
        fault_config=fault_config,
        settlement=settlement,
        retention=retention,
    )
    return engine, markets, [Trader(engine, a, rng) for a in accounts]


def order_id_of(reply: Reply) -> str:
    """The ``orderID`` of a successful placement reply."""
    oid = reply.body.get("orderID") if isinstance(reply.body, dict) else None
    if not isinstance(oid, str) or not oid:
        raise ValueError(f"not an accepted placement: {reply!r}")
    return oid


class NaiveQuoter:
    """A simple engine-level quoter standing in for a bot in tests and benchmarks.

    Every ``period_ms`` it cancels its quotes and re-quotes BUY YES one tick under the midpoint and BUY NO one
    tick over it (post-only), sells YES above ``sell_above`` shares, sends chained heartbeats every 5 s and
    reads its Data API positions every 10 s. It exercises every engine-side fault a real bot would meet.
    """

    def __init__(
        self, trader: Trader, market: MarketConfig, period_ms: int = 2_000, size: str = "10"
    ) -> None:
        self.trader = trader
        self.market = market
        self.period_ms = period_ms
        self.size = size
        self.sell_above = 50 * ONE
        self.orders: list[str] = []
        self.heartbeat_id = ""
        self._next_quote = trader.engine.now_ms
        self._next_beat = trader.engine.now_ms
        self._next_positions = trader.engine.now_ms

    def step(self, now_ms: int) -> None:
        """Act for every due timer up to ``now_ms``."""
        engine = self.trader.engine
        if now_ms >= self._next_beat:
            reply = engine.heartbeat(self.trader.owner, self.heartbeat_id, now_ms)
            if isinstance(reply.body, dict):
                self.heartbeat_id = str(reply.body.get("heartbeat_id", ""))
            self._next_beat = now_ms + 5_000
        if now_ms >= self._next_positions:
            engine.positions(self.trader.address, now_ms, size_threshold="0")
            self._next_positions = now_ms + 10_000
        if now_ms >= self._next_quote:
            self._quote(now_ms)
            self._next_quote = now_ms + self.period_ms

    def _quote(self, now_ms: int) -> None:
        engine = self.trader.engine
        m = self.market
        if self.orders:
            if not engine.cancel_orders(self.trader.owner, self.orders, now_ms).ok:
                return  # refused (restart): keep the quotes, try again next period
            self.orders = []
        ms = engine.markets[m.condition_id]
        tick = ms.tick_u
        mid = engine.midpoint_u(m.yes_token) // tick * tick
        quotes = [(m.yes_token, "BUY", mid - tick), (m.no_token, "BUY", ONE - mid - tick)]
        if self.trader.position(m.yes_token) > self.sell_above:
            quotes.append((m.yes_token, "SELL", mid + tick))
        for token, side, price in quotes:
            if not tick <= price <= ONE - tick:
                continue
            reply = self.trader.limit(token, side, fmt_units(price), self.size, post_only=True, now_ms=now_ms)
            if reply.ok and isinstance(reply.body, dict):
                self.orders.append(str(reply.body["orderID"]))
            elif isinstance(reply.body, dict) and reply.body.get("error") == ERR_BALANCE:
                engine.update_balance_allowance(self.trader.owner, "CONDITIONAL", token)


def run_scenario(
    seed: int,
    fault_config: FaultConfig | None,
    duration_ms: int,
    *,
    n_markets: int = 4,
    step_ms: int = 100,
    flow_config: FlowConfig | None = None,
    retention: RetentionConfig | None = None,
) -> tuple[Engine, list[NaiveQuoter]]:
    """Run ``n_markets`` markets with the synthetic flow and one :class:`NaiveQuoter` per market.

    The loop is what an in-process runner does: every ``step_ms`` of simulated time, step the flow and the
    quoters, advance the engine and drain its events.
    """
    engine, markets, traders = make_engine(
        seed,
        n_markets=n_markets,
        n_traders=n_markets,
        fault_config=fault_config,
        retention=retention,
        fee_rate="0.07",
    )
    flow = Flow(engine, seed, flow_config)
    quoters = [NaiveQuoter(t, m) for t, m in zip(traders, markets, strict=True)]
    start = engine.now_ms
    for now in range(start, start + duration_ms + 1, step_ms):
        flow.step(now)
        for q in quoters:
            q.step(now)
        engine.advance(now)
        engine.drain_events()
    return engine, quoters
