"""Latched halts (DESIGN section 3).

A halt is a ``(HaltReason, Scope)`` pair. It latches when raised and clears only when its own condition is
gone: the core clears the reasons it owns (:data:`CORE_OWNED`) itself; the runtime clears the others through
``Core.clear_halt`` when it has observed their condition go away. While any halt covers a token (globally,
on its market, or on the token itself), no order may be placed on it and its resting orders are cancelled.

``RECONCILE_PENDING`` is not latched: it is the gate reason reported while a gap is unresolved and the
reconciliation attempts have not yet run out (after that, ``WS_GAP_UNRESOLVED`` latches and alerts).
"""

from __future__ import annotations

import enum
import logging

import attrs

from aqbot.core.types import ConditionId, TokenId

logger = logging.getLogger(__name__)


class HaltReason(enum.Enum):
    WS_GAP_UNRESOLVED = "WS_GAP_UNRESOLVED"
    USER_WS_DOWN = "USER_WS_DOWN"
    MARKET_DATA_STALE = "MARKET_DATA_STALE"
    POSITION_MISMATCH = "POSITION_MISMATCH"
    EXCHANGE_UNAVAILABLE = "EXCHANGE_UNAVAILABLE"
    ORDER_ERROR_RATE = "ORDER_ERROR_RATE"
    LEDGER_FAILURE = "LEDGER_FAILURE"
    LIMIT_BREACH = "LIMIT_BREACH"
    DAILY_LOSS = "DAILY_LOSS"
    MANUAL = "MANUAL"
    DEFECT = "DEFECT"
    RECONCILE_PENDING = "RECONCILE_PENDING"


CORE_OWNED = frozenset(
    {
        HaltReason.WS_GAP_UNRESOLVED,
        HaltReason.USER_WS_DOWN,
        HaltReason.POSITION_MISMATCH,
        HaltReason.LIMIT_BREACH,
        HaltReason.DAILY_LOSS,
        HaltReason.RECONCILE_PENDING,
    }
)
"""Reasons that only the core raises and clears (their condition is core state). ``DAILY_LOSS`` is
raised from the PnL book (:mod:`aqbot.core.pnl`) and cleared only when the next UTC day begins."""


class ScopeKind(enum.Enum):
    GLOBAL = "global"
    MARKET = "market"
    TOKEN = "token"


@attrs.frozen(order=True)
class Scope:
    kind: ScopeKind
    key: str = ""

    @classmethod
    def global_(cls) -> Scope:
        return cls(ScopeKind.GLOBAL)

    @classmethod
    def market(cls, condition_id: ConditionId) -> Scope:
        return cls(ScopeKind.MARKET, condition_id)

    @classmethod
    def token(cls, token: TokenId) -> Scope:
        return cls(ScopeKind.TOKEN, token)

    def covers(self, token: TokenId, market: ConditionId) -> bool:
        if self.kind is ScopeKind.GLOBAL:
            return True
        if self.kind is ScopeKind.MARKET:
            return self.key == market
        return self.key == token


@attrs.define
class HaltRecord:
    reason: HaltReason
    scope: Scope
    since: float
    detail: str


@attrs.define
class Halts:
    """The set of latched halts."""

    active: list[HaltRecord] = attrs.Factory(list)

    def find(self, reason: HaltReason, scope: Scope) -> HaltRecord | None:
        for record in self.active:
            if record.reason is reason and record.scope == scope:
                return record
        return None

    def raise_(self, reason: HaltReason, scope: Scope, now: float, detail: str) -> bool:
        """Latch; returns False when that exact halt was already latched."""
        if self.find(reason, scope) is not None:
            return False
        logger.warning("halt %s on %s:%s: %s", reason.value, scope.kind.value, scope.key, detail)
        self.active.append(HaltRecord(reason, scope, now, detail))
        return True

    def clear(self, reason: HaltReason, scope: Scope) -> bool:
        """Unlatch; returns False when it was not latched."""
        record = self.find(reason, scope)
        if record is None:
            return False
        logger.warning("halt cleared %s on %s:%s", reason.value, scope.kind.value, scope.key)
        self.active.remove(record)
        return True

    def covering(self, token: TokenId, market: ConditionId) -> list[HaltRecord]:
        return [r for r in self.active if r.scope.covers(token, market)]

    def scopes_of(self, reason: HaltReason) -> list[Scope]:
        return [r.scope for r in self.active if r.reason is reason]
