"""The Data API ``GET /positions`` view (PROTOCOL 6.1), served with a lag behind on-chain settlement.

Rows are built from the on-chain position history (:class:`aqbot.sim.accounts.ChainLedger`: a trade counts
once MINED, never if it FAILED) as it stood ``lag`` ms ago, so a fill shows up late, like on the real
endpoint. The fault plan can make single rows staler (an older snapshot than the
rest), drop one row, or return no rows at all; each injection is recorded on the tape. Numbers are
JSON numbers, as on the real API.
"""

from __future__ import annotations

import logging

from aqbot.sim.accounts import Accounts, PositionPoint
from aqbot.sim.book import MarketState
from aqbot.sim.faults import FaultPlan
from aqbot.sim.units import ONE

logger = logging.getLogger(__name__)


def _num(units: int) -> float | int:
    """A JSON number from base units (an int when whole)."""
    return units // ONE if units % ONE == 0 else units / ONE


def _row(address: str, ms: MarketState, token: str, pt: PositionPoint, mid_u: int) -> dict[str, object]:
    cfg = ms.cfg
    size = pt.size
    avg = pt.cost * ONE // size if size > 0 else 0
    current = size * mid_u // ONE
    cash_pnl = current - pt.cost
    pct = (cash_pnl * 100 / pt.cost) if pt.cost > 0 else 0.0
    is_yes = ms.is_yes(token)
    return {
        "proxyWallet": address,
        "asset": token,
        "conditionId": cfg.condition_id,
        "size": _num(size),
        "avgPrice": _num(avg),
        "initialValue": _num(pt.cost),
        "currentValue": _num(current),
        "cashPnl": _num(cash_pnl),
        "percentPnl": pct,
        "totalBought": _num(pt.bought),
        "realizedPnl": _num(pt.realized),
        "percentRealizedPnl": (pt.realized * 100 / pt.cost) if pt.cost > 0 else 0.0,
        "curPrice": _num(mid_u),
        "redeemable": False,
        "mergeable": False,
        "title": cfg.question,
        "slug": cfg.slug,
        "icon": "",
        "eventSlug": cfg.slug,
        "outcome": "Yes" if is_yes else "No",
        "outcomeIndex": 0 if is_yes else 1,
        "oppositeOutcome": "No" if is_yes else "Yes",
        "oppositeAsset": ms.complement(token),
        "endDate": cfg.end_date,
        "negativeRisk": cfg.neg_risk,
    }


def mid_price(ms: MarketState, token: str) -> int:
    """Midpoint of ``token`` (last trade, or 0.5, when a side is empty)."""
    bb, ba = ms.book.best_bid(), ms.book.best_ask()
    if bb is not None and ba is not None:
        mid = (bb + ba) // 2
    elif ms.last_trade_u is not None:
        mid = ms.last_trade_u
    else:
        mid = ONE // 2
    return mid if ms.is_yes(token) else ONE - mid


def positions(
    accounts: Accounts,
    markets: dict[str, MarketState],
    faults: FaultPlan,
    *,
    user: str,
    now_ms: int,
    market: list[str] | None = None,
    size_threshold_u: int = ONE,
) -> list[dict[str, object]]:
    """Rows for ``user`` (a funder address) as of ``now_ms - lag``; filtered by condition ids ``market``.

    Args:
        accounts: the engine's accounts.
        markets: the engine's markets by condition id.
        faults: the fault plan (lag, stale, missing and zero-row knobs).
        user: the ``user`` query parameter (address, any case).
        now_ms: current simulated time.
        market: optional condition ids.
        size_threshold_u: hide rows with ``size`` below this (``sizeThreshold``; default 1 share).
    """
    c = faults.config
    acct = accounts.by_address.get(user.lower())
    if acct is None:
        return []
    detail: dict[str, object] = {"user": acct.address}
    if faults.engine_roll(c.positions_zero_p, now_ms, "positions_zero", detail):
        return []
    at_ms = now_ms - c.positions_lag_ms
    found: list[tuple[int, str, dict[str, object]]] = []
    for ms in markets.values():
        if market is not None and ms.condition_id not in market:
            continue
        for token in (ms.cfg.yes_token, ms.cfg.no_token):
            if (acct.owner, token) not in accounts.chain.history:
                continue
            row_at = at_ms
            stale = {**detail, "asset": token, "extra_ms": c.positions_stale_extra_ms}
            if faults.engine_roll(c.positions_stale_p, now_ms, "positions_stale", stale):
                row_at -= c.positions_stale_extra_ms
            pt = accounts.chain.point_at(acct.owner, token, row_at)
            if pt is None or pt.size <= 0 or pt.size < size_threshold_u:
                continue
            found.append((pt.size, token, _row(acct.address, ms, token, pt, mid_price(ms, token))))
    found.sort(key=lambda item: (-item[0], item[1]))
    if found:
        victim = (
            found[faults.engine_random("positions").randrange(len(found))][1]
            if c.positions_missing_p > 0
            else ""
        )
        if faults.engine_roll(
            c.positions_missing_p, now_ms, "positions_missing", {**detail, "asset": victim}
        ):
            found = [item for item in found if item[1] != victim]
    return [row for _, _, row in found]
