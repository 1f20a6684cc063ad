"""The positions-API policy (DESIGN section 1, "Positions API").

The Data API lags aqbot's own fill accounting, so it is evidence of a lower rank:

* it may **raise** ``held`` when no open BUY of the token could explain the excess and no fill of the token
  was applied in the last ``protection_window`` seconds. With open BUYs, an excess up to
  ``held + open_buy`` is already counted in ``worst`` (raising ``held`` for it would count the same shares
  twice, once as held and once as reservation, and break L1 for nothing). Within the window, a higher
  API value is most likely the lag of a fill aqbot already applied (a sell, or a FAILED reversal), and
  raising would over-count the same way. Fills aqbot never saw do not move ``last_fill_at``, so the
  backstop still catches them;
* it may **lower** ``held`` only when the token has no open BUYs, no open SELLs (a lower value may be a
  sell fill not seen yet, which would then be taken out twice) and no fill (or reversal) in the last
  ``protection_window`` seconds;
* neither happens in the direction where a fill aqbot counted may still FAIL (MATCHED, MINED, RETRYING):
  the API may already show the reversal, and the FAILED event would then count it a second time;
* a missing or zero row never means flat;
* every sync that leaves a difference counts as divergent; ``mismatch_syncs`` divergent syncs in a row give
  a ``DIVERGENT`` decision, and the engine latches ``POSITION_MISMATCH`` on the token until a sync agrees
  or is accepted.

Every decision is returned by :meth:`PositionPolicy.decide`; :meth:`PositionPolicy.apply` (called by the
engine for every positions snapshot) applies it and records it as a
:class:`~aqbot.core.facts.PositionDecision` fact.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from decimal import Decimal

import attrs

from aqbot.core.events import PositionsSnapshot
from aqbot.core.exposure import Exposure
from aqbot.core.facts import Outcome, PositionDecision, PositionDecisionKind
from aqbot.core.halts import HaltReason, Scope
from aqbot.core.types import TokenId

logger = logging.getLogger(__name__)

ZERO = Decimal(0)
K = PositionDecisionKind


@attrs.frozen
class Verdict:
    kind: PositionDecisionKind
    new_held: Decimal | None  # None: leave held alone
    divergent_syncs: int


@attrs.define
class PositionPolicy:
    protection_window: float = 60.0
    mismatch_syncs: int = 3
    divergent: dict[TokenId, int] = attrs.Factory(dict)

    def decide(
        self,
        token: TokenId,
        api: Decimal | None,
        held: Decimal,
        open_buy: Decimal,
        last_fill_at: float | None,
        now: float,
        *,
        unsettled_buy: Decimal = ZERO,
        unsettled_sell: Decimal = ZERO,
        open_sell: Decimal = ZERO,
    ) -> Verdict:
        """Decide what one positions row (``api``; ``None`` when absent) does to ``held``.

        ``unsettled_buy`` / ``unsettled_sell``: fills aqbot counted that may still FAIL. While some
        exist, the API may already show their reversal; moving ``held`` to it and then applying the
        FAILED event would count the reversal twice, so ``held`` is left alone in that direction.
        """
        if api is None:
            api = ZERO
        if api == held:
            return self._settle(token, K.AGREE, None)
        recent = last_fill_at is not None and now - last_fill_at < self.protection_window
        if api > held:
            if open_buy > ZERO and api <= held + open_buy:
                return self._diverge(token, K.SKIPPED_EXPLAINED_BY_OPEN_BUYS)
            if recent:
                return self._diverge(token, K.SKIPPED_RECENT_FILL)
            if unsettled_sell > ZERO:
                return self._diverge(token, K.SKIPPED_UNSETTLED_FILLS)
            return self._settle(token, K.ACCEPTED_RAISE, api)
        if api == ZERO:
            return self._diverge(token, K.SKIPPED_NO_ROW)
        if open_buy > ZERO:
            return self._diverge(token, K.SKIPPED_PENDING_BUYS)
        if open_sell > ZERO:  # a lower value may be a sell fill aqbot has not seen yet: it would count twice
            return self._diverge(token, K.SKIPPED_PENDING_SELLS)
        if recent:
            return self._diverge(token, K.SKIPPED_RECENT_FILL)
        if unsettled_buy > ZERO:
            return self._diverge(token, K.SKIPPED_UNSETTLED_FILLS)
        return self._settle(token, K.ACCEPTED_LOWER, api)

    def apply(
        self,
        snapshot: PositionsSnapshot,
        exposure: Exposure,
        last_fill_at: Mapping[TokenId, float],
        out: Outcome,
        halt: Callable[[HaltReason, Scope, float, str, Outcome], None],
        unhalt: Callable[[HaltReason, Scope, Outcome], None],
    ) -> None:
        """Decide every configured token (sorted) from ``snapshot`` and apply the verdicts to ``exposure``:
        a :class:`PositionDecision` fact each, then ``POSITION_MISMATCH`` on the token latched
        (``halt``, the engine's) on a divergent decision or cleared (``unhalt``) when one settles."""
        rows = {r.token: r for r in snapshot.rows}
        at = snapshot.started_at
        for token in sorted(exposure.market_of):
            e = exposure.token(token)
            row = rows.get(token)
            before = e.held
            verdict = self.decide(
                token,
                None if row is None else row.size,
                e.held,
                e.open_buy,
                last_fill_at.get(token),
                at,
                unsettled_buy=e.unsettled_buy,
                unsettled_sell=e.unsettled_sell,
                open_sell=e.open_sell,
            )
            if verdict.new_held is not None:
                # Shares of unknown cost are costed at 1 pUSD (the most an outcome share can cost), so a
                # row without avgPrice cannot slip under the notional caps.
                price = row.avg_price if row is not None and row.avg_price > ZERO else Decimal(1)
                exposure.set_held(token, verdict.new_held, price)
            api_size = None if row is None else row.size
            out.fact(PositionDecision(token, verdict.kind, api_size, before, e.held, verdict.divergent_syncs))
            scope = Scope.token(token)
            if verdict.kind is PositionDecisionKind.DIVERGENT:
                halt(HaltReason.POSITION_MISMATCH, scope, at, f"api {row} vs held {e.held}", out)
            elif verdict.divergent_syncs == 0:
                unhalt(HaltReason.POSITION_MISMATCH, scope, out)

    def _settle(self, token: TokenId, kind: PositionDecisionKind, new_held: Decimal | None) -> Verdict:
        self.divergent.pop(token, None)
        return Verdict(kind, new_held, 0)

    def _diverge(self, token: TokenId, kind: PositionDecisionKind) -> Verdict:
        count = self.divergent.get(token, 0) + 1
        self.divergent[token] = count
        if count >= self.mismatch_syncs:
            logger.warning("position divergence on %s for %d syncs", token, count)
            return Verdict(K.DIVERGENT, None, count)
        return Verdict(kind, None, count)
