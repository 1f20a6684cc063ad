"""The synthetic market: a seeded fair-value process per market and background participants.

Per market, a fair value (YES probability, in base units) follows a random walk with occasional jumps and,
sometimes, a drift toward 0 or 1 (a market resolving). Background participants have their own accounts:

* one **maker** per market keeps a ladder of resting BUY YES (bids) and BUY NO (asks, in YES terms) orders
  around the fair value, refreshed when the fair value moves or the ladder gets old (only pUSD needed);
* one **taker** account sends FAK orders at Poisson times with Pareto (heavy-tailed) sizes. An ``informed``
  fraction trades toward the fair value (so resting quotes get picked off: adverse fills); the rest is noise.
  Takers SELL tokens they hold about half the time, which exercises transfers and merges.

Everything goes through the engine's public entry points, so the tape records it. ``step(now_ms)`` drives
it; its randomness is its own ``random.Random`` stream. The fair value is an integer; ``float`` appears only
inside the random draws.
"""

from __future__ import annotations

import logging
import math
import random

import attrs

from aqbot.sim.engine import Engine
from aqbot.sim.market import AccountConfig, random_hex
from aqbot.sim.orderdicts import limit_order, order_dict
from aqbot.sim.units import CENT_SHARES, ONE, fmt_units, parse_units
from aqbot.sim.validation import OrderRequest

logger = logging.getLogger(__name__)


@attrs.frozen
class FlowConfig:
    """Knobs of the synthetic market (rates per simulated hour or minute, sizes as decimal strings)."""

    step_ms: int = 1_000
    vol_per_sqrt_s: float = 0.002
    jumps_per_hour: float = 3.0
    jump_max: float = 0.12
    drifts_per_hour: float = 0.3
    drift_ms: int = 600_000
    drift_per_s: float = 0.0006
    maker_levels: int = 3
    maker_half_spread_ticks: int = 2
    maker_level_size: str = "60"
    maker_refresh_ms: int = 20_000
    takers_per_minute: float = 8.0
    taker_alpha: float = 1.6
    taker_min_size: str = "5"
    taker_max_size: str = "1500"
    informed_p: float = 0.35
    noise_ticks: int = 4
    participant_pusd: str = "100000000"
    adaptive_tick: bool = True
    record_fv_ms: int = 10_000


@attrs.define(eq=False, slots=True)
class _MarketFlow:
    cid: str
    fv: int
    drift_dir: int = 0
    drift_until_ms: int = 0
    quoted_fv: int = -1
    quoted_ms: int = -(10**15)
    maker: str = ""
    maker_address: str = ""
    maker_orders: list[str] = attrs.field(factory=list)


class Flow:
    """Background liquidity and takers for every market of ``engine``.

    Args:
        engine: the engine to trade on (the flow adds its own accounts to it).
        seed: the run's seed.
        config: the knobs.
    """

    def __init__(self, engine: Engine, seed: int, config: FlowConfig | None = None) -> None:
        self.engine = engine
        self.config = config if config is not None else FlowConfig()
        self.rng = random.Random(f"flow-{seed}")
        pusd = parse_units(self.config.participant_pusd)
        self.markets: list[_MarketFlow] = []
        now = engine.now_ms
        for i, cid in enumerate(engine.markets):
            owner = f"flow-maker-{i}"
            address = random_hex(self.rng, 20)
            engine.add_account(AccountConfig(owner=owner, address=address, signer=address, pusd=pusd))
            engine.fault_exempt.add(owner)
            fv = ONE // 2 + self.rng.randint(-25, 25) * 10_000
            self.markets.append(_MarketFlow(cid=cid, fv=fv, maker=owner, maker_address=address))
        self.taker = "flow-taker"
        self.taker_address = random_hex(self.rng, 20)
        engine.add_account(AccountConfig(self.taker, self.taker_address, self.taker_address, pusd=pusd))
        engine.fault_exempt.add(self.taker)
        self._next_step_ms = now
        self._next_record_ms = now
        self._next_taker_ms = now + self._taker_gap()
        self._salt = 0

    # ---- public ---------------------------------------------------------------------------------------

    def fair_value(self, condition_id: str) -> int:
        """The current fair value of a market's YES token (base units)."""
        return next(m.fv for m in self.markets if m.cid == condition_id)

    def step(self, now_ms: int) -> None:
        """Run the synthetic market up to ``now_ms``: fair values, maker refreshes, takers (in time order)."""
        while True:
            t = min(self._next_step_ms, self._next_taker_ms)
            if t > now_ms:
                break
            self.engine.advance(t)  # earlier timed transitions first: the tape stays time-ordered
            if self._next_step_ms <= self._next_taker_ms:
                self._step_values(t)
                self._next_step_ms += self.config.step_ms
            else:
                self._taker(t)
                self._next_taker_ms += self._taker_gap()

    # ---- fair value and makers -------------------------------------------------------------------------

    def _step_values(self, t: int) -> None:
        c = self.config
        dt_s = c.step_ms / 1000
        for mf in self.markets:
            move = self.rng.gauss(0.0, c.vol_per_sqrt_s * math.sqrt(dt_s))
            if self.rng.random() < c.jumps_per_hour * dt_s / 3600:
                move += self.rng.uniform(-c.jump_max, c.jump_max)
            if mf.drift_dir == 0 and self.rng.random() < c.drifts_per_hour * dt_s / 3600:
                mf.drift_dir = 1 if mf.fv > ONE // 2 else -1
                mf.drift_until_ms = t + c.drift_ms
                self.engine.tape.write(t, "flow_drift", market=mf.cid, direction=mf.drift_dir)
            if mf.drift_dir != 0:
                move += mf.drift_dir * c.drift_per_s * dt_s
                if t >= mf.drift_until_ms:
                    mf.drift_dir = 0
            mf.fv = min(ONE - 5_000, max(5_000, mf.fv + int(move * ONE)))
            self._adapt_tick(mf, t)
            self._refresh_maker(mf, t)
        if c.record_fv_ms > 0 and t >= self._next_record_ms:
            self.engine.tape.write(t, "fair_value", values={mf.cid: fmt_units(mf.fv) for mf in self.markets})
            self._next_record_ms = t + c.record_fv_ms

    def _adapt_tick(self, mf: _MarketFlow, t: int) -> None:
        if not self.config.adaptive_tick:
            return
        ms = self.engine.markets[mf.cid]
        extreme = mf.fv > 960_000 or mf.fv < 40_000
        if extreme and ms.tick_u == 10_000:
            self.engine.set_tick_size(mf.cid, "0.001", t)
        elif not extreme and 100_000 < mf.fv < 900_000 and ms.tick_u == 1_000:
            self.engine.set_tick_size(mf.cid, "0.01", t)

    def _refresh_maker(self, mf: _MarketFlow, t: int) -> None:
        c = self.config
        tick = self.engine.markets[mf.cid].tick_u
        if abs(mf.fv - mf.quoted_fv) < tick and t - mf.quoted_ms < c.maker_refresh_ms:
            return
        if mf.maker_orders:
            if not self.engine.cancel_orders(mf.maker, mf.maker_orders, t).ok:
                return  # exchange refused cancels (restart): keep the old ladder
            mf.maker_orders = []
        ms = self.engine.markets[mf.cid]
        center = mf.fv // tick * tick
        base = parse_units(c.maker_level_size)
        for i in range(c.maker_levels):
            off = (c.maker_half_spread_ticks + i) * tick
            size = max(parse_units("5"), int(base * self.rng.uniform(0.5, 1.5)) // CENT_SHARES * CENT_SHARES)
            bid = center - off
            ask = center + off
            if tick <= bid <= ONE - tick:
                self._maker_order(mf, ms.cfg.yes_token, bid, size, t)
            if tick <= ask <= ONE - tick:
                self._maker_order(mf, ms.cfg.no_token, ONE - ask, size, t)
        mf.quoted_fv = mf.fv
        mf.quoted_ms = t

    def _maker_order(self, mf: _MarketFlow, token: str, price: int, size: int, t: int) -> None:
        self._salt += 1
        order = limit_order(
            maker=mf.maker_address,
            token=token,
            is_buy=True,
            price_u=price,
            size_u=size,
            timestamp_ms=t,
            salt=self._salt,
        )
        oid = random_hex(self.rng, 32)
        reply = self.engine.place_order(
            OrderRequest(order=order, order_id=oid, owner=mf.maker, post_only=True), t
        )
        if reply.ok:
            mf.maker_orders.append(oid)

    # ---- takers ----------------------------------------------------------------------------------------

    def _taker_gap(self) -> int:
        rate_per_ms = self.config.takers_per_minute / 60_000
        return max(1, int(self.rng.expovariate(rate_per_ms))) if rate_per_ms > 0 else 10**15

    def _taker(self, t: int) -> None:
        c = self.config
        mf = self.markets[self.rng.randrange(len(self.markets))]
        ms = self.engine.markets[mf.cid]
        tick = ms.tick_u
        size = int(parse_units(c.taker_min_size) * self.rng.paretovariate(c.taker_alpha))
        size = min(size, parse_units(c.taker_max_size)) // CENT_SHARES * CENT_SHARES
        informed = self.rng.random() < c.informed_p
        if informed:
            mid = self.engine.midpoint_u(ms.cfg.yes_token)
            buy_yes = mf.fv > mid
            yes_limit = mf.fv
        else:
            buy_yes = self.rng.random() < 0.5
            yes_limit = mf.fv + (c.noise_ticks if buy_yes else -c.noise_ticks) * tick
        yes_limit = min(ONE - tick, max(tick, yes_limit // tick * tick))
        # buy YES == sell NO; pick SELL when the taker holds the token it would sell
        acct = self.engine.accounts.by_owner[self.taker]
        sell_token = ms.cfg.no_token if buy_yes else ms.cfg.yes_token
        if acct.available_tokens(sell_token) >= size and self.rng.random() < 0.5:
            price = ONE - yes_limit if buy_yes else yes_limit
            self._taker_sell(sell_token, price, size, t)
        elif buy_yes:
            self._taker_buy(ms.cfg.yes_token, yes_limit, size, tick, t)
        else:
            self._taker_buy(ms.cfg.no_token, ONE - yes_limit, size, tick, t)

    def _taker_buy(self, token: str, price: int, size: int, tick: int, t: int) -> None:
        usd = max(ONE, size * price // ONE // CENT_SHARES * CENT_SHARES)
        dp_unit = 100  # 4 decimals on the taker leg
        shares = usd * ONE // price // dp_unit * dp_unit
        if shares <= 0 or price < tick:
            return
        self._send(token, True, usd, shares, t)

    def _taker_sell(self, token: str, price: int, size: int, t: int) -> None:
        if size * price // ONE < ONE:
            return
        self._send(token, False, size, size * price // ONE, t)

    def _send(self, token: str, is_buy: bool, maker_amount: int, taker_amount: int, t: int) -> None:
        self._salt += 1
        order = order_dict(
            maker=self.taker_address,
            token=token,
            is_buy=is_buy,
            maker_amount=maker_amount,
            taker_amount=taker_amount,
            timestamp_ms=t,
            salt=self._salt,
        )
        req = OrderRequest(order=order, order_id=random_hex(self.rng, 32), owner=self.taker, order_type="FAK")
        self.engine.place_order(req, t)
