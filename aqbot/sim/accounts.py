"""Balances, reservations and the position history of every simulated account.

All values are integer base units. A BUY reserves pUSD, a SELL reserves tokens; ``available = balance -
reserved``. Every token balance change is appended to a per-(owner, token) history so that the ground truth
(:meth:`Accounts.true_position`) and the lagged Data API (:mod:`aqbot.sim.positions`) can look back in time,
as far as the retention (:mod:`aqbot.sim.retention`) keeps it.
The engine's own balances are the only source of truth: nothing here is fed by what clients report.
"""

from __future__ import annotations

import logging

import attrs

from aqbot.sim.market import AccountConfig

logger = logging.getLogger(__name__)

FEE_OWNER = "__fees__"
"""The owner that collects taker fees (pUSD on SELL, shares on BUY); keeps conservation checkable."""


@attrs.define(eq=False, slots=True)
class PositionPoint:
    """One point of a token position history: the state right after a change at ``ms``."""

    ms: int
    size: int
    cost: int
    bought: int
    realized: int


@attrs.define(eq=False, slots=True)
class Account:
    """One account: balances, reservations, cost basis, and the stale-balance-cache fault state."""

    owner: str
    address: str
    signer: str
    pusd: int
    tokens: dict[str, int] = attrs.field(factory=dict)
    reserved_pusd: int = 0
    reserved_tokens: dict[str, int] = attrs.field(factory=dict)
    cost: dict[str, int] = attrs.field(factory=dict)
    bought: dict[str, int] = attrs.field(factory=dict)
    realized: dict[str, int] = attrs.field(factory=dict)
    stale_tokens: dict[str, int] = attrs.field(factory=dict)

    def token(self, token: str) -> int:
        return self.tokens.get(token, 0)

    def available_pusd(self) -> int:
        return self.pusd - self.reserved_pusd

    def available_tokens(self, token: str) -> int:
        """Tokens free for a new SELL, as the (possibly stale) balance cache sees them."""
        bal = self.tokens.get(token, 0)
        cached = self.stale_tokens.get(token)
        if cached is not None:
            bal = min(bal, cached)
        return bal - self.reserved_tokens.get(token, 0)


class ChainLedger:
    """The on-chain view of token balances: a trade counts here once MINED, never if it FAILED.

    This is what an indexer (the Data API) sees; the exchange's own balances (:class:`Accounts`) move at
    MATCHED. Each (owner, token) keeps a history with its cost basis, for lagged position rows.
    """

    def __init__(self) -> None:
        self.history: dict[tuple[str, str], list[PositionPoint]] = {}

    def apply(self, owner: str, token: str, delta: int, cash: int, now_ms: int) -> None:
        """Settle ``delta`` shares of ``token`` for ``owner`` at ``now_ms``, traded for ``cash`` pUSD."""
        hist = self.history.setdefault((owner, token), [])
        prev = hist[-1] if hist else PositionPoint(ms=now_ms, size=0, cost=0, bought=0, realized=0)
        cost, bought, realized = prev.cost, prev.bought, prev.realized
        if delta > 0:
            cost += cash
            bought += delta
        elif delta < 0:
            removed = prev.cost * (-delta) // prev.size if prev.size > 0 else 0
            cost -= removed
            realized += cash - removed
        point = PositionPoint(ms=now_ms, size=prev.size + delta, cost=cost, bought=bought, realized=realized)
        if hist and hist[-1].ms == now_ms:
            hist[-1] = point
        else:
            hist.append(point)

    def point_at(self, owner: str, token: str, at_ms: int) -> PositionPoint | None:
        """The settled position in force at ``at_ms``, or None before any."""
        hist = self.history.get((owner, token))
        if not hist:
            return None
        i = _bisect_ms(hist, at_ms)
        return hist[i - 1] if i > 0 else None

    def forget_before(self, cut_ms: int) -> None:
        """Drop the points superseded before ``cut_ms`` (:meth:`point_at` stays exact from ``cut_ms`` on)."""
        _forget_before(self.history, cut_ms)


class Accounts:
    """Every account, by owner (API key) and by address, plus position histories."""

    def __init__(self) -> None:
        self.by_owner: dict[str, Account] = {}
        self.by_address: dict[str, Account] = {}
        self.history: dict[tuple[str, str], list[PositionPoint]] = {}
        self.max_seen: dict[tuple[str, str], int] = {}
        self.chain = ChainLedger()
        self.add(AccountConfig(owner=FEE_OWNER, address="0x" + "fe" * 20, signer="0x" + "fe" * 20), 0)

    def add(self, cfg: AccountConfig, now_ms: int) -> Account:
        if cfg.owner in self.by_owner:
            raise ValueError(f"duplicate account owner {cfg.owner!r}")
        acct = Account(owner=cfg.owner, address=cfg.address.lower(), signer=cfg.signer.lower(), pusd=cfg.pusd)
        self.by_owner[cfg.owner] = acct
        self.by_address.setdefault(acct.address, acct)
        for token, amount in cfg.tokens.items():
            acct.tokens[token] = amount
            self._record(acct, token, now_ms)
            self.chain.apply(cfg.owner, token, amount, 0, now_ms)
        return acct

    def get(self, owner: str) -> Account | None:
        return self.by_owner.get(owner)

    def owners(self) -> list[str]:
        return [o for o in self.by_owner if o != FEE_OWNER]

    # ---- balance moves -------------------------------------------------------------------------------

    def move_tokens(self, acct: Account, token: str, delta: int, cash: int, now_ms: int) -> None:
        """Change ``acct``'s ``token`` balance by ``delta`` shares, for ``cash`` pUSD.

        ``cash`` only feeds the cost basis (avgPrice, realized PnL); pUSD balances move separately.
        """
        before = acct.tokens.get(token, 0)
        after = before + delta
        acct.tokens[token] = after
        cost = acct.cost.get(token, 0)
        if delta > 0:
            acct.cost[token] = cost + cash
            acct.bought[token] = acct.bought.get(token, 0) + delta
        elif delta < 0:
            removed = cost * (-delta) // before if before > 0 else 0
            acct.cost[token] = cost - removed
            acct.realized[token] = acct.realized.get(token, 0) + cash - removed
        self._record(acct, token, now_ms)

    def _record(self, acct: Account, token: str, now_ms: int) -> None:
        key = (acct.owner, token)
        size = acct.tokens.get(token, 0)
        point = PositionPoint(
            ms=now_ms,
            size=size,
            cost=acct.cost.get(token, 0),
            bought=acct.bought.get(token, 0),
            realized=acct.realized.get(token, 0),
        )
        hist = self.history.setdefault(key, [])
        if hist and hist[-1].ms == now_ms:
            hist[-1] = point
        else:
            hist.append(point)
        if size > self.max_seen.get(key, 0):
            self.max_seen[key] = size

    # ---- ground truth --------------------------------------------------------------------------------

    def point_at(self, owner: str, token: str, at_ms: int | None) -> PositionPoint | None:
        """The history point in force at ``at_ms`` (the latest if None), or None before any."""
        hist = self.history.get((owner, token))
        if not hist:
            return None
        if at_ms is None:
            return hist[-1]
        i = _bisect_ms(hist, at_ms)
        return hist[i - 1] if i > 0 else None

    def true_position(self, owner: str, token: str, at_ms: int | None = None) -> int:
        """Shares of ``token`` the exchange credits ``owner`` with at ``at_ms`` (now if None), base units."""
        point = self.point_at(owner, token, at_ms)
        return point.size if point is not None else 0

    def max_position_seen(self, owner: str, token: str) -> int:
        """The largest balance of ``token`` ``owner`` ever held (base units)."""
        return self.max_seen.get((owner, token), 0)

    def forget_before(self, cut_ms: int, chain_cut_ms: int) -> None:
        """Drop history points superseded before ``cut_ms`` (the on-chain view's before ``chain_cut_ms``):
        :meth:`true_position` stays exact for ``at_ms >= cut_ms`` (see :mod:`aqbot.sim.retention`)."""
        _forget_before(self.history, cut_ms)
        self.chain.forget_before(chain_cut_ms)


def _forget_before(histories: dict[tuple[str, str], list[PositionPoint]], cut_ms: int) -> None:
    for hist in histories.values():
        i = _bisect_ms(hist, cut_ms)  # hist[i - 1] is the point in force at cut_ms: keep it
        if i > 1:
            del hist[: i - 1]


def _bisect_ms(hist: list[PositionPoint], at_ms: int) -> int:
    lo, hi = 0, len(hist)
    while lo < hi:
        mid = (lo + hi) // 2
        if hist[mid].ms <= at_ms:
            lo = mid + 1
        else:
            hi = mid
    return lo
