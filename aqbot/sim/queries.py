"""Read-only views for the REST layer and the ground-truth API (mixed into :class:`aqbot.sim.engine.Engine`).

None of these advance time or draw randomness, so the server may call them freely without changing a run.
"""

from __future__ import annotations

import logging

from aqbot.sim.accounts import FEE_OWNER
from aqbot.sim.events import Reply, error
from aqbot.sim.matching import MatchingCore
from aqbot.sim.positions import mid_price
from aqbot.sim.units import ONE, fmt_price, fmt_units
from aqbot.sim.views import best_bid_ask, book_event, book_summary, clob_market, open_order, trade_object

logger = logging.getLogger(__name__)

EXCHANGE = "0xE111180000d2663C0091e4f400237545B87B996B"
NEG_RISK_EXCHANGE = "0xe2222d279d744050d28e00520010520000310F59"
NEG_RISK_ADAPTER = "0xadA2005600Dec949baf300f4C6120000bDB6eAab"
MAX_ALLOWANCE = str(2**256 - 1)


class QueryMixin(MatchingCore):
    """REST views (PROTOCOL 1.4, 1.5, 5.3, 7.1), balances, and the ground truth."""

    # ---- orders and trades ------------------------------------------------------------------------------

    def open_orders(
        self, owner: str, market: str | None = None, asset_id: str | None = None, order_id: str | None = None
    ) -> list[dict[str, object]]:
        """``GET /data/orders`` rows (unpaginated, oldest first) of ``owner``'s LIVE orders."""
        out: list[dict[str, object]] = []
        for o in self.live.get(owner, {}).values():
            if market is not None and o.market != market:
                continue
            if asset_id is not None and o.token != asset_id:
                continue
            if order_id is not None and o.order_id != order_id:
                continue
            out.append(open_order(o, self.markets[o.market]))
        return out

    def get_order(self, owner: str, order_id: str) -> dict[str, object] | None:
        """``GET /data/order/{id}``: the order while it is LIVE, None once terminal or not ``owner``'s."""
        o = self.live.get(owner, {}).get(order_id)
        return open_order(o, self.markets[o.market]) if o is not None else None

    def order_state(self, order_id: str) -> dict[str, object] | None:
        """Any order's current object, terminal or not, until the retention forgets it (ground truth; not a
        wire endpoint)."""
        o = self.orders.get(order_id)
        return open_order(o, self.markets[o.market]) if o is not None else None

    def get_trades(
        self,
        owner: str,
        *,
        trade_id: str | None = None,
        market: str | None = None,
        asset_id: str | None = None,
        before: int | None = None,
        after: int | None = None,
        maker_address: str | None = None,
    ) -> list[dict[str, object]]:
        """``GET /data/trades`` rows for ``owner`` (newest first); ``before``/``after`` are Unix seconds.

        Lists the trades the retention still holds (:mod:`aqbot.sim.retention`: 1 h after their final
        status by default).

        ``asset_id`` matches the trade's taker asset or any of ``owner``'s maker fills' assets.
        """
        out: list[dict[str, object]] = []
        for tid in reversed(self.owner_trades.get(owner, ())):
            trade = self.trades.get(tid)
            if trade is None:  # forgotten (retention) but still queued behind an older one
                continue
            if trade_id is not None and tid != trade_id:
                continue
            if market is not None and trade.market != market:
                continue
            match_s = trade.match_ms // 1000
            if before is not None and match_s >= before:
                continue
            if after is not None and match_s <= after:
                continue
            obj = trade_object(trade, self.markets[trade.market], owner)
            if asset_id is not None:
                assets = {trade.taker.token} | {m.order.token for m in trade.makers if m.order.owner == owner}
                if asset_id not in assets:
                    continue
            if maker_address is not None and str(obj["maker_address"]).lower() != maker_address.lower():
                continue
            out.append(obj)
        return out

    # ---- market data -------------------------------------------------------------------------------------

    def book(self, token: str, now_ms: int) -> dict[str, object] | None:
        """``GET /book?token_id=`` (None: unknown token -> the server answers 404)."""
        ms = self.token_market.get(token)
        return book_summary(ms, token, now_ms) if ms is not None else None

    def book_event(self, token: str, now_ms: int) -> dict[str, object] | None:
        """The market-channel ``book`` snapshot for a (re)subscribe."""
        ms = self.token_market.get(token)
        return book_event(ms, token, now_ms) if ms is not None else None

    def tick_size(self, token: str) -> dict[str, object] | None:
        ms = self.token_market.get(token)
        return {"minimum_tick_size": float(fmt_price(ms.tick_u))} if ms is not None else None

    def neg_risk(self, token: str) -> dict[str, object] | None:
        ms = self.token_market.get(token)
        return {"neg_risk": ms.cfg.neg_risk} if ms is not None else None

    def fee_rate(self, token: str) -> dict[str, object] | None:
        ms = self.token_market.get(token)
        return {"base_fee": ms.cfg.fee_rate_ppm // 100} if ms is not None else None

    def clob_market(self, condition_id: str) -> dict[str, object] | None:
        ms = self.markets.get(condition_id)
        return clob_market(ms) if ms is not None else None

    def market_by_token(self, token: str) -> dict[str, object] | None:
        ms = self.token_market.get(token)
        if ms is None:
            return None
        return {
            "condition_id": ms.condition_id,
            "primary_token_id": ms.cfg.yes_token,
            "secondary_token_id": ms.cfg.no_token,
        }

    def midpoint(self, token: str) -> dict[str, object] | None:
        ms = self.token_market.get(token)
        return {"mid": fmt_price(mid_price(ms, token))} if ms is not None else None

    def price(self, token: str, side: str) -> dict[str, object] | None:
        """``GET /price``: the best price a ``side`` order would trade against (BUY -> best ask)."""
        ms = self.token_market.get(token)
        if ms is None:
            return None
        bb, ba = best_bid_ask(ms, token)
        p = ba if side.upper() == "BUY" else bb
        return {"price": fmt_price(p) if p is not None else "0"}

    def spread(self, token: str) -> dict[str, object] | None:
        ms = self.token_market.get(token)
        if ms is None:
            return None
        bb, ba = best_bid_ask(ms, token)
        return {"spread": fmt_price((ba if ba is not None else ONE) - (bb if bb is not None else 0))}

    def last_trade_price(self, token: str) -> dict[str, object] | None:
        ms = self.token_market.get(token)
        if ms is None:
            return None
        p = ms.last_trade_u
        if p is not None and not ms.is_yes(token):
            p = ONE - p
        return {"price": fmt_price(p) if p is not None else "0.5", "side": ""}

    # ---- balances -----------------------------------------------------------------------------------------

    def balance_allowance(self, owner: str, asset_type: str, token_id: str | None = None) -> Reply:
        """``GET /balance-allowance``: base-unit ``balance`` (the stale cache when that fault holds)."""
        acct = self.accounts.get(owner)
        if acct is None:
            return error(401, "Unauthorized/Invalid api key")
        if asset_type.upper() == "COLLATERAL":
            balance = acct.pusd
        elif asset_type.upper() == "CONDITIONAL" and token_id:
            balance = acct.tokens.get(token_id, 0)
            cached = acct.stale_tokens.get(token_id)
            if cached is not None:
                balance = min(balance, cached)
        else:
            return error(400, "invalid asset_type / token_id")
        allowances = {
            EXCHANGE: MAX_ALLOWANCE,
            NEG_RISK_EXCHANGE: MAX_ALLOWANCE,
            NEG_RISK_ADAPTER: MAX_ALLOWANCE,
        }
        return Reply(200, {"balance": str(balance), "allowances": allowances})

    def update_balance_allowance(self, owner: str, asset_type: str, token_id: str | None = None) -> Reply:
        """``GET /balance-allowance/update``: refresh the balance cache (clears the stale-balance fault)."""
        acct = self.accounts.get(owner)
        if acct is None:
            return error(401, "Unauthorized/Invalid api key")
        if asset_type.upper() == "CONDITIONAL" and token_id:
            acct.stale_tokens.pop(token_id, None)
        elif asset_type.upper() == "CONDITIONAL":
            acct.stale_tokens.clear()
        return Reply(200, {})

    @staticmethod
    def server_time(now_ms: int) -> int:
        """``GET /time``: Unix seconds."""
        return now_ms // 1000

    @staticmethod
    def version() -> dict[str, object]:
        return {"version": 2}

    # ---- ground truth -------------------------------------------------------------------------------------

    def true_position(self, owner: str, token: str, at_ms: int | None = None) -> int:
        """Shares (base units) of ``token`` the exchange credits ``owner`` with, now or at ``at_ms``."""
        return self.accounts.true_position(owner, token, at_ms)

    def max_position_seen(self, owner: str, token: str) -> int:
        """The largest ``token`` balance ``owner`` ever had (base units)."""
        return self.accounts.max_position_seen(owner, token)

    def summary(self) -> dict[str, object]:
        """A JSON-able run summary: per owner and token, final and max positions; trade and fault counts."""
        owners: dict[str, object] = {}
        for owner in self.accounts.owners():
            acct = self.accounts.by_owner[owner]
            tokens = {
                t: {"position": fmt_units(v), "max_seen": fmt_units(self.max_position_seen(owner, t))}
                for t, v in sorted(acct.tokens.items())
            }
            owners[owner] = {"address": acct.address, "pusd": fmt_units(acct.pusd), "tokens": tokens}
        statuses: dict[str, int] = dict(self.retention.pruned_statuses)
        for trade in self.trades.values():
            statuses[trade.status] = statuses.get(trade.status, 0) + 1
        return {
            "now_ms": self.now_ms,
            "owners": owners,
            "fees_pusd": fmt_units(self.accounts.by_owner[FEE_OWNER].pusd),
            "orders": len(self.orders) + self.retention.orders_pruned,
            "trades": len(self.trades) + self.retention.trades_pruned,
            "trade_statuses": dict(sorted(statuses.items())),
            "tape_counts": dict(sorted(self.tape.counts.items())),
            "faults": dict(sorted(self.tape.fault_counts.items())),
        }
