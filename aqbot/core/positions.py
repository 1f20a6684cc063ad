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
* a missing or zero row never means flat.

What counts toward ``POSITION_MISMATCH`` is narrower than "``held`` was left alone": the halt is there to
catch fills aqbot never saw, not the API's lag behind fills aqbot already applied. A sync that leaves a
difference is

* **explained** (counts nothing, resets nothing) when its row is missing (a missing row proves neither a
  flat position nor a missed fill), or when the API's size is one a lagging API may show: inside
  ``[held - rises - unsettled_buy, held + falls + unsettled_sell]``, ``rises``/``falls`` the sums of
  ``held``'s upward/downward moves since ``snapshot.started_at - protection_window``
  (:meth:`PositionPolicy.observe` records them from each call's fill, reversal and position facts). The
  API lacks some of the recent moves, in whatever order the chain settled them, so such a value is what
  aqbot's own accounting predicts;
* **divergent** otherwise (a zero row included: it is a reading, not an absence): ``mismatch_syncs``
  divergent syncs without an agreeing or accepted sync between them give a ``DIVERGENT`` decision, and the
  engine latches ``POSITION_MISMATCH`` on the token until a sync agrees or is accepted.

The latch clears only on agreement or acceptance, never on an explained sync: once latched, the token's
quotes are cancelled, its fills stop, the window closes, and every later sync either agrees, is accepted,
or is a real divergence that keeps it latched.

Every decision is returned by :meth:`PositionPolicy.decide`; :meth:`PositionPolicy.apply` (called by the
engine for every positions snapshot) applies it and records it as a
:class:`~aqbot.core.facts.PositionDecision` fact.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal

import attrs

from aqbot.core.events import PositionsSnapshot
from aqbot.core.exposure import Exposure
from aqbot.core.facts import (
    Fact,
    FillApplied,
    FillReversed,
    Outcome,
    PositionDecision,
    PositionDecisionKind,
)
from aqbot.core.halts import HaltReason, Scope
from aqbot.core.types import TokenId

logger = logging.getLogger(__name__)

ZERO = Decimal(0)
K = PositionDecisionKind
_HELD_FACTS = (FillApplied, FillReversed)  # (a tuple: isinstance checks one faster than a union type)
_MOVING = frozenset({FillApplied, FillReversed, PositionDecision})  # the facts that may move held

#: (applied at, rise, fall) of one core call that moved a token's ``held`` (both >= 0)
Move = tuple[float, Decimal, Decimal]


@attrs.frozen
class Verdict:
    kind: PositionDecisionKind
    new_held: Decimal | None  # None: leave held alone
    divergent_syncs: int


def held_moves(facts: Iterable[Fact]) -> dict[TokenId, tuple[Decimal, Decimal]]:
    """Per token, how far ``facts`` (one call's) moved ``held`` up and down: the sums of the positive and
    of the negative moves (as a positive number) of its fills, reversals and accepted position decisions.

    Sums, not the path's extremes: the API shows whatever the chain had settled, and the chain may have
    settled the fills in another order than aqbot applied them (one reconciliation applies many at once;
    the user channel reorders and drops), so any subset of the recent moves may still be missing."""
    moves: dict[TokenId, tuple[Decimal, Decimal]] = {}
    for fact in facts:
        if fact.__class__ not in _MOVING:  # (most facts: as PnlBook.book's test)
            continue
        if isinstance(fact, _HELD_FACTS):
            token, delta = fact.token, fact.delta
        elif isinstance(fact, PositionDecision) and fact.held_after != fact.held_before:
            token, delta = fact.token, fact.held_after - fact.held_before
        else:
            continue
        up, down = moves.get(token, (ZERO, ZERO))
        moves[token] = (up + delta, down) if delta > ZERO else (up, down - delta)
    return moves


@attrs.define
class PositionPolicy:
    protection_window: float = 60.0
    mismatch_syncs: int = 3
    divergent: dict[TokenId, int] = attrs.Factory(dict)
    # held's recent moves per token (in the snapshot: a restart keeps explaining a lagging API with them)
    moves: dict[TokenId, deque[Move]] = attrs.Factory(dict)

    def observe(self, facts: Iterable[Fact], now: float) -> None:
        """Remember how one core call moved ``held`` (its facts), for the lag test of later syncs."""
        keep = now - 2 * self.protection_window  # (a snapshot is applied a little after it started)
        for token, (up, down) in held_moves(facts).items():
            trail = self.moves.get(token)
            if trail is None:  # (setdefault would build a deque on every call)
                trail = self.moves[token] = deque()
            trail.append((now, up, down))
            while trail[0][0] < keep:
                trail.popleft()

    def lag_range(self, token: TokenId, held: Decimal, since: float) -> tuple[Decimal, Decimal]:
        """The sizes a lagging API may show for ``token`` when ``held`` moved only as recorded since
        ``since``: from ``held`` less every recent rise to ``held`` plus every recent fall."""
        up = down = ZERO
        for at, rise, fall in reversed(self.moves.get(token, ())):
            if at < since:
                break
            up, down = up + rise, down + fall
        return held - up, held + down

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
        lag_range: tuple[Decimal, Decimal] | None = None,
    ) -> Verdict:
        """Decide what one positions row (``api``; ``None`` when absent) does to ``held``.

        ``unsettled_buy`` / ``unsettled_sell``: fills aqbot counted that may still FAIL. While some
        exist, the API may already show their reversal; moving ``held`` to it and then applying the
        FAILED event would count the reversal twice, so ``held`` is left alone in that direction.
        ``lag_range``: the least and greatest size a lagging API may show (default: :meth:`lag_range` over
        the protection window before ``now``, the snapshot's start); a difference inside it (widened by
        the unsettled fills) does not count toward ``POSITION_MISMATCH``.
        """
        if api is None:
            if held == ZERO:
                return self._settle(token, K.AGREE, None)
            return self._explained(token, K.SKIPPED_NO_ROW)  # never flat, never proof of a missed fill
        if api == held:
            return self._settle(token, K.AGREE, None)
        kind, new_held = self._rule(
            api, held, open_buy, last_fill_at, now, unsettled_buy, unsettled_sell, open_sell
        )
        if new_held is not None:
            return self._settle(token, kind, new_held)
        lo, hi = self.lag_range(token, held, now - self.protection_window) if lag_range is None else lag_range
        if lo - unsettled_buy <= api <= hi + unsettled_sell:
            return self._explained(token, kind)
        return self._diverge(token, kind)

    def _rule(
        self,
        api: Decimal,
        held: Decimal,
        open_buy: Decimal,
        last_fill_at: float | None,
        now: float,
        unsettled_buy: Decimal,
        unsettled_sell: Decimal,
        open_sell: Decimal,
    ) -> tuple[PositionDecisionKind, Decimal | None]:
        """What ``api != held`` may do to ``held`` (DESIGN section 1's rules, unchanged)."""
        recent = last_fill_at is not None and now - last_fill_at < self.protection_window
        if api > held:
            if open_buy > ZERO and api <= held + open_buy:
                return K.SKIPPED_EXPLAINED_BY_OPEN_BUYS, None
            if recent:
                return K.SKIPPED_RECENT_FILL, None
            if unsettled_sell > ZERO:
                return K.SKIPPED_UNSETTLED_FILLS, None
            return K.ACCEPTED_RAISE, api
        if api == ZERO:
            return K.SKIPPED_NO_ROW, None
        if open_buy > ZERO:
            return K.SKIPPED_PENDING_BUYS, None
        if open_sell > ZERO:  # a lower value may be a sell fill aqbot has not seen yet: it would count twice
            return K.SKIPPED_PENDING_SELLS, None
        if recent:
            return K.SKIPPED_RECENT_FILL, None
        if unsettled_buy > ZERO:
            return K.SKIPPED_UNSETTLED_FILLS, None
        return K.ACCEPTED_LOWER, api

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
        (``halt``, the engine's) on a divergent decision or cleared (``unhalt``) when one settles.

        The lag test also sees the moves of this call that :meth:`observe` has not recorded yet (a
        reconciliation applies the orders snapshot's fills before its positions)."""
        rows = {r.token: r for r in snapshot.rows}
        at = snapshot.started_at
        pending = held_moves(out.facts)
        for token in sorted(exposure.market_of):
            e = exposure.token(token)
            row = rows.get(token)
            before = e.held
            lo, hi = self.lag_range(token, before, at - self.protection_window)
            up, down = pending.get(token, (ZERO, ZERO))
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
                lag_range=(lo - up, hi + down),
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

    def _explained(self, token: TokenId, kind: PositionDecisionKind) -> Verdict:
        """A difference the API's lag (or a missing row) explains: the count (and any latch) stays."""
        return Verdict(kind, None, self.divergent.get(token, 0))

    def _diverge(self, token: TokenId, kind: PositionDecisionKind) -> Verdict:
        count = self.divergent.get(token, 0) + 1
        self.divergent[token] = count
        if count >= self.mismatch_syncs:
            logger.warning("position divergence on %s for %d syncs", token, count)
            return Verdict(K.DIVERGENT, None, count)
        return Verdict(kind, None, count)
