"""The matching core: order entry, price-time matching on the unified book, fills and their balance moves.

:class:`MatchingCore` owns the state (markets, accounts, orders, trades, the event queue) and implements
placement and matching; :class:`aqbot.sim.engine.Engine` adds cancels, heartbeats, time and views on top.

Per fill of ``s`` shares at YES price ``P`` (the maker's level): a YES party's pUSD leg is
``floor(s*P)``, a NO party's is ``s - floor(s*P)``, so a mint (BUY YES x BUY NO) locks exactly ``s`` pUSD
and a merge (SELL YES x SELL NO) releases exactly ``s``: shares and pUSD are conserved by construction, in
integers. The taker pays the fee (shares on a BUY, pUSD on a SELL) to :data:`aqbot.sim.accounts.FEE_OWNER`.
"""

from __future__ import annotations

import collections
import logging
import random

from aqbot.sim.accounts import FEE_OWNER, Account, Accounts
from aqbot.sim.book import MarketState, SimOrder
from aqbot.sim.events import Event, MarketEvent, UserEvent
from aqbot.sim.faults import FaultPlan
from aqbot.sim.market import AccountConfig, MarketConfig, random_hex, random_uuid
from aqbot.sim.retention import Retention, RetentionConfig
from aqbot.sim.settlement import MakerFill, Move, Settlement, SettlementConfig, Trade, reverse_moves
from aqbot.sim.tape import Tape
from aqbot.sim.units import ONE, ceil_div, fmt_price, fmt_size, taker_fee
from aqbot.sim.views import last_trade_event, order_event, price_change_event, trade_event

logger = logging.getLogger(__name__)


class MatchingCore:
    """State and matching. See the module docstring."""

    def __init__(
        self,
        *,
        seed: int,
        markets: list[MarketConfig],
        faults: FaultPlan,
        tape: Tape,
        settlement: SettlementConfig,
        start_ms: int,
        retention: RetentionConfig,
    ) -> None:
        self.seed = seed
        self.rng = random.Random(f"engine-{seed}")
        self.faults = faults
        self.tape = tape
        self.now_ms = start_ms
        self.markets: dict[str, MarketState] = {}
        self.token_market: dict[str, MarketState] = {}
        for cfg in markets:
            ms = MarketState(cfg)
            if cfg.condition_id in self.markets:
                raise ValueError(f"duplicate market {cfg.condition_id}")
            self.markets[cfg.condition_id] = ms
            self.token_market[cfg.yes_token] = ms
            self.token_market[cfg.no_token] = ms
        self.accounts = Accounts()
        self.orders: dict[str, SimOrder] = {}
        self.live: dict[str, dict[str, SimOrder]] = {}
        self.trades: dict[str, Trade] = {}
        self.owner_trades: dict[str, collections.deque[str]] = {}
        self.settlement = Settlement(settlement)
        self.retention = Retention(retention)
        self._events: list[Event] = []
        self.fault_exempt: set[str] = set()
        """Owners (background participants) that engine-side faults never target."""

    # ---- accounts and events ---------------------------------------------------------------------------

    def _add_account(self, cfg: AccountConfig) -> Account:
        acct = self.accounts.add(cfg, self.now_ms)
        self.live.setdefault(cfg.owner, {})
        for token, amount in cfg.tokens.items():
            ms = self.token_market.get(token)
            if ms is None:
                raise ValueError(f"account {cfg.owner}: unknown token {token}")
            if amount < 0:
                raise ValueError("token balances must be non-negative")
        return acct

    def drain_events(self) -> list[Event]:
        """Every event since the last call, in order."""
        out = self._events
        self._events = []
        return out

    def _user(self, t: int, owner: str, market: str, payload: dict[str, object]) -> None:
        self._events.append(UserEvent(t, owner, market, payload))

    def _flush_book(self, ms: MarketState, now_ms: int) -> None:
        changes = ms.book.take_changes()
        if changes:
            payload = price_change_event(ms, changes, now_ms)
            self._events.append(
                MarketEvent(now_ms, ms.condition_id, (ms.cfg.yes_token, ms.cfg.no_token), payload)
            )

    # ---- reservations ------------------------------------------------------------------------------------

    def _reserve(self, acct: Account, order: SimOrder) -> None:
        if order.is_buy:
            acct.reserved_pusd += order.reserved
        else:
            acct.reserved_tokens[order.token] = acct.reserved_tokens.get(order.token, 0) + order.reserved

    def _release(self, order: SimOrder) -> None:
        if order.reserved == 0:
            return
        acct = self.accounts.by_owner[order.owner]
        if order.is_buy:
            acct.reserved_pusd -= order.reserved
        else:
            acct.reserved_tokens[order.token] -= order.reserved
        order.reserved = 0

    def _finish(self, order: SimOrder, status: str) -> None:
        """Make ``order`` terminal (not touching the book): release what it still reserves."""
        order.status = status
        self._release(order)
        self.live.get(order.owner, {}).pop(order.order_id, None)
        self.retention.order_ended(order.order_id, self.now_ms)

    def _forget(self, now_ms: int) -> None:
        """Forget terminal orders, final trades and position history past their retention."""
        r = self.retention
        for oid in r.orders_due(now_ms):
            order = self.orders.get(oid)
            if order is not None and order.status in ("MATCHED", "CANCELED"):
                del self.orders[oid]
                r.orders_pruned += 1
        due = r.trades_due(now_ms)
        if due:
            for tid in due:
                trade = self.trades.pop(tid, None)
                if trade is not None:
                    r.trades_pruned += 1
                    r.pruned_statuses[trade.status] += 1
            for ids in self.owner_trades.values():
                while ids and ids[0] not in self.trades:
                    ids.popleft()
        cut = r.history_due(now_ms)
        if cut is not None:
            c = self.faults.config
            lag = c.positions_lag_ms + c.positions_stale_extra_ms
            self.accounts.forget_before(cut, min(cut, now_ms - lag))

    # ---- matching ----------------------------------------------------------------------------------------

    def fillable(self, ms: MarketState, order: SimOrder) -> int:
        """Shares ``order`` could take right now (respecting its price and, for a BUY, its budget)."""
        total = 0
        budget = order.reserved if order.is_buy else 0
        want = order.remaining_u
        book_levels = ms.book.asks if order.bid else ms.book.bids
        for price in ms.book.crossing_levels(order.bid, order.book_price):
            size = book_levels[price].size
            if order.is_buy:
                x = price if order.is_yes else ONE - price
                size = min(size, budget * ONE // x)
                budget -= ceil_div(size * x, ONE)
            total += size
            if total >= want:
                return want
        return total

    def _match(self, ms: MarketState, taker: SimOrder, now_ms: int) -> list[Trade]:
        trades: list[Trade] = []
        book_levels = ms.book.asks if taker.bid else ms.book.bids
        for price in ms.book.crossing_levels(taker.bid, taker.book_price):
            if taker.remaining_u <= 0:
                break
            level = book_levels.get(price)
            if level is None:
                continue
            trade = self._fill_level(ms, taker, price, list(level.orders.values()), now_ms)
            if trade is None:
                break
            trades.append(trade)
        return trades

    def _fill_level(
        self, ms: MarketState, taker: SimOrder, price: int, makers: list[SimOrder], now_ms: int
    ) -> Trade | None:
        """Fill ``taker`` against ``makers`` (all at YES price ``price``, oldest first): one trade."""
        x_taker = price if taker.is_yes else ONE - price
        trade = Trade(
            trade_id=random_uuid(self.rng),
            market=ms.condition_id,
            taker=taker,
            size_u=0,
            price_u=x_taker,
            fee_u=0,
            fee_rate_bps=ms.cfg.fee_rate_ppm // 100,
            match_ms=now_ms,
            last_update_ms=now_ms,
        )
        for maker in makers:
            s = min(taker.remaining_u, maker.remaining_u)
            if taker.is_buy:
                s = min(s, taker.reserved * ONE // x_taker)
            if maker.is_buy:
                s = min(s, maker.reserved * ONE // (price if maker.is_yes else ONE - price))
            if s <= 0:
                break
            ms.book.reduce(maker, s)
            maker.matched_u += s
            taker.matched_u += s
            self._settle(ms, maker, s, price, trade, is_taker=False, now_ms=now_ms)
            self._settle(ms, taker, s, price, trade, is_taker=True, now_ms=now_ms)
            if maker.is_buy and taker.is_buy:
                trade.locked_delta += s
            elif not maker.is_buy and not taker.is_buy:
                trade.locked_delta -= s
            maker.trades.append(trade.trade_id)
            trade.makers.append(MakerFill(maker, s, price if maker.is_yes else ONE - price))
            trade.size_u += s
            if maker.remaining_u == 0:
                ms.book.remove(maker)
                self._finish(maker, "MATCHED")
        if trade.size_u == 0:
            return None
        ms.locked += trade.locked_delta
        ms.last_trade_u = price
        taker.trades.append(trade.trade_id)
        self._register_trade(ms, trade, now_ms)
        return trade

    def _settle(
        self,
        ms: MarketState,
        order: SimOrder,
        s: int,
        price: int,
        trade: Trade,
        *,
        is_taker: bool,
        now_ms: int,
    ) -> None:
        """Move balances for ``order``'s side of an ``s``-share fill at YES price ``price``."""
        acct = self.accounts.by_owner[order.owner]
        yes_leg = s * price // ONE
        amt = yes_leg if order.is_yes else s - yes_leg
        x = price if order.is_yes else ONE - price
        rate = ms.cfg.fee_rate_ppm if is_taker else 0
        token = order.token
        fee = 0
        if order.is_buy:
            dec = min(order.reserved, ceil_div(s * order.price_u, ONE))
            order.reserved -= dec
            acct.reserved_pusd -= dec
            fee = min(taker_fee(s, x, rate, ms.cfg.fee_exponent), s)
            acct.pusd -= amt
            if (
                order.owner not in self.fault_exempt
                and token not in acct.stale_tokens
                and self.faults.engine_roll(
                    self.faults.config.stale_balance_p,
                    now_ms,
                    "stale_balance",
                    {"owner": order.owner, "token": token},
                )
            ):
                acct.stale_tokens[token] = acct.tokens.get(token, 0)
            self.accounts.move_tokens(acct, token, s - fee, amt, now_ms)
            trade.moves.append(Move(order.owner, -amt, token, s - fee, amt))
            if fee:
                self.accounts.move_tokens(self.accounts.by_owner[FEE_OWNER], token, fee, 0, now_ms)
                trade.moves.append(Move(FEE_OWNER, 0, token, fee, 0))
        else:
            order.reserved -= s
            acct.reserved_tokens[token] -= s
            fee = min(taker_fee(s, x, rate, ms.cfg.fee_exponent), amt)
            self.accounts.move_tokens(acct, token, -s, amt - fee, now_ms)
            acct.pusd += amt - fee
            trade.moves.append(Move(order.owner, amt - fee, token, -s, amt - fee))
            if fee:
                self.accounts.by_owner[FEE_OWNER].pusd += fee
                trade.moves.append(Move(FEE_OWNER, fee, token, 0, 0))
        if is_taker:
            trade.fee_u += fee
        self.tape.write(
            now_ms,
            "fill",
            trade_id=trade.trade_id,
            owner=order.owner,
            order_id=order.order_id,
            role="TAKER" if is_taker else "MAKER",
            market=ms.condition_id,
            token=token,
            side=order.side,
            size=fmt_size(s),
            price=fmt_price(x),
            fee=fmt_size(fee),
            position=fmt_size(acct.tokens.get(token, 0)),
            pusd=fmt_size(acct.pusd),
        )

    def _register_trade(self, ms: MarketState, trade: Trade, now_ms: int) -> None:
        c = self.faults.config
        detail: dict[str, object] = {"trade_id": trade.trade_id}
        if all(owner in self.fault_exempt for owner in trade.owners()):
            pass
        elif self.faults.engine_roll(c.settle_fail_p, now_ms, "settle_failed", detail):
            trade.fate = "fail"
        elif self.faults.engine_roll(c.settle_retry_p, now_ms, "settle_retrying", detail):
            trade.fate = "retry"
        self.trades[trade.trade_id] = trade
        for owner in trade.owners():
            self.owner_trades.setdefault(owner, collections.deque()).append(trade.trade_id)
        self.settlement.schedule(trade)
        self.tape.write(
            now_ms, "trade_status", trade_id=trade.trade_id, status="MATCHED", owners=trade.owners()
        )
        for owner in trade.owners():
            self._user(now_ms, owner, ms.condition_id, trade_event(trade, ms, owner, now_ms))
        for mf in trade.makers:
            o = mf.order
            self._user(now_ms, o.owner, ms.condition_id, order_event(o, ms, "UPDATE", now_ms))
        taker = trade.taker
        status = "MATCHED" if taker.remaining_u == 0 else "LIVE"
        self._user(now_ms, taker.owner, ms.condition_id, order_event(taker, ms, "UPDATE", now_ms, status))
        self._events.append(
            MarketEvent(now_ms, ms.condition_id, (taker.token,), last_trade_event(ms, trade, now_ms))
        )

    def _settle_status(self, trade: Trade, status: str, now_ms: int) -> None:
        """Apply one scheduled settlement status change (and the reversal on FAILED)."""
        ms = self.markets[trade.market]
        trade.status = status
        trade.last_update_ms = now_ms
        if status in ("MINED", "RETRYING") and not trade.tx_hash:
            trade.tx_hash = random_hex(self.rng, 32)
        if status == "MINED":
            for mv in trade.moves:
                if mv.shares:
                    self.accounts.chain.apply(mv.owner, mv.token, mv.shares, mv.cash, now_ms)
        if status == "FAILED":
            reverse_moves(self.accounts, trade, now_ms)
            ms.locked -= trade.locked_delta
        if status in ("CONFIRMED", "FAILED"):
            self.retention.trade_final(trade.trade_id, now_ms)
        self.tape.write(now_ms, "trade_status", trade_id=trade.trade_id, status=status, owners=trade.owners())
        for owner in trade.owners():
            self._user(now_ms, owner, ms.condition_id, trade_event(trade, ms, owner, now_ms))
