"""Configuration and small result types of the core facade."""

from __future__ import annotations

import logging
from decimal import Decimal

import attrs

from aqbot.core.exposure import Limits
from aqbot.core.facts import Outcome
from aqbot.core.halts import HaltReason

logger = logging.getLogger(__name__)


@attrs.frozen
class CoreConfig:
    """Risk limits and the timing constants of the limit contract (DESIGN sections 1 and 3)."""

    limits: Limits
    owner: str = ""  # aqbot's API key: maker entries with this owner are ours
    funder: str = ""  # aqbot's funder address: maker entries with this maker_address are ours
    grace: float = 5.0
    protection_window: float = 60.0
    position_mismatch_syncs: int = 3
    halt_on_ws_gaps: bool = True
    ws_gap_reconcile_attempts: int = 3
    ws_gap_recovery_interval: float = 30.0
    reconcile_interval: float = 60.0
    prune_after: float = 600.0  # forget terminal, fully settled orders this long after they ended
    # ... and ignore late news about them for this long: well beyond the reconciler's trade re-read window
    # (20 min: its watermark follows the clock and survives restarts in the ledger)
    prune_horizon: float = 7_200.0
    daily_loss_limit: Decimal | None = None  # pUSD; DAILY_LOSS when the UTC day's PnL <= -limit (None: off)


@attrs.frozen
class Gate:
    """The answer of :meth:`Core.can_quote`: allowed, or the reasons it is not."""

    allowed: bool
    reasons: tuple[HaltReason, ...]


@attrs.frozen
class PlaceResult:
    """``refused`` is ``None`` when the order was reserved and may be sent."""

    refused: str | None
    outcome: Outcome

    @property
    def ok(self) -> bool:
        return self.refused is None
