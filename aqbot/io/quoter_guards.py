"""Timed runtime halts of the quoters: EXCHANGE_UNAVAILABLE and ORDER_ERROR_RATE.

Both are conditions the runtime can only observe by trying: an exchange that answers 425/503 (or a
post-only-window refusal), and a share of placements that come back rejected or ambiguous. Each latches a
global halt (so the core's sweep cancels the resting quotes) and clears it after a *hold* that doubles
while the condition keeps recurring (30 s -> 300 s for the exchange, 60 s -> 600 s for the error rate).
The first attempt after the hold either works (the streak resets) or re-latches at once.

:func:`run_timed_halts` is the one task that clears expired holds.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Sequence
from typing import NoReturn

import attrs
import trio

from aqbot.core.halts import HaltReason
from aqbot.io.hub import Hub

log = logging.getLogger(__name__)

# Placement outcomes remembered by the error-rate guard, and how many are needed before it may trip.
ERROR_WINDOW = 20
ERROR_MIN_SAMPLES = 10


def _doubled(hold: float, hold_max: float, streak: int) -> float:
    """``hold`` doubled per repeat of a streak, capped at ``hold_max`` (the exponent is bounded: ``hold *
    2 ** 1024`` raises OverflowError, and a refusal that never stops makes that long a streak in days)."""
    return min(hold_max, hold * 2.0 ** min(streak - 1, 1000))


@attrs.define
class TimedHalt:
    """A runtime halt latched by :meth:`trip` and cleared by :func:`run_timed_halts` after its hold."""

    reason: HaltReason
    hold: float
    hold_max: float
    until: float | None = None
    streak: int = 0

    def trip(self, hub: Hub, detail: str) -> None:
        self.streak += 1
        self.until = trio.current_time() + _doubled(self.hold, self.hold_max, self.streak)
        hub.set_halt(self.reason, detail)

    def reset(self) -> None:
        self.streak = 0

    def resume(self, hub: Hub) -> bool:
        """Time a halt of this reason that the ledger replay restored latched (a restart): the previous
        process's timer died with it, so without this it would never clear. It clears one base hold
        after it was raised, on the restored clock (the replay maps the snapshot's instant to the
        restart, so the downtime does not count towards the hold): a restart neither skips the rest of
        the cool-down nor makes it permanent."""
        raised = [r.since for r in hub.core.halts.active if r.reason is self.reason]
        if not raised:
            return False
        now = trio.current_time()
        self.streak = max(self.streak, 1)
        self.until = max(now, min(raised) + self.hold)
        log.info("%s restored from the ledger: clears in %.1f s", self.reason.value, self.until - now)
        return True


@attrs.define
class ExchangeGuard(TimedHalt):
    """EXCHANGE_UNAVAILABLE on a 425/503/post-only-window refusal."""

    reason: HaltReason = HaltReason.EXCHANGE_UNAVAILABLE
    hold: float = 30.0
    hold_max: float = 300.0

    def refused(self, hub: Hub, detail: str) -> None:
        self.trip(hub, detail)

    def accepted(self) -> None:
        self.reset()


@attrs.define
class ErrorRateGuard(TimedHalt):
    """ORDER_ERROR_RATE when more than ``max_rate`` of the last :data:`ERROR_WINDOW` placements were
    rejected or left UNKNOWN (at least :data:`ERROR_MIN_SAMPLES` of them)."""

    reason: HaltReason = HaltReason.ORDER_ERROR_RATE
    hold: float = 60.0
    hold_max: float = 600.0
    max_rate: float = 0.5
    outcomes: collections.deque[bool] = attrs.Factory(lambda: collections.deque(maxlen=ERROR_WINDOW))

    def record(self, hub: Hub, *, errors: int, total: int) -> None:
        """Add one batch's outcomes; trip when the window's error share is over ``max_rate``."""
        self.outcomes.extend([True] * errors + [False] * (total - errors))
        if len(self.outcomes) < ERROR_MIN_SAMPLES:
            return
        share = sum(self.outcomes) / len(self.outcomes)
        if share > self.max_rate:
            self.outcomes.clear()
            self.trip(hub, f"{share:.0%} of the last placements rejected or unknown")
        elif errors == 0:
            self.reset()


# The exchange's refusal of an order the account cannot fund (PROTOCOL: "not enough balance / allowance").
BALANCE_REFUSAL = "not enough balance"


@attrs.define
class SellBackoff:
    """Per-token pause of new SELLs after the exchange refused one for balance.

    Shares bought are credited to the exchange balance only after settlement, so a SELL of shares the
    core counts as held (a MATCHED trade) can be refused with "not enough balance / allowance" for a
    while. Retrying on every requote only piles up rejections (and trips ORDER_ERROR_RATE for every
    market); instead the token's SELLs pause for ``hold`` seconds, doubling per consecutive refusal up
    to ``hold_max``; an accepted SELL resets the token. BUYs are never affected (and never gain room:
    this only withholds SELLs).
    """

    hold: float = 5.0
    hold_max: float = 120.0
    until: dict[str, float] = attrs.Factory(dict)
    streak: dict[str, int] = attrs.Factory(dict)

    def refused(self, token: str, now: float) -> None:
        streak = self.streak[token] = self.streak.get(token, 0) + 1
        self.until[token] = now + _doubled(self.hold, self.hold_max, streak)
        log.info("SELLs of %s paused %.0f s: balance refused", token[:12], self.until[token] - now)

    def accepted(self, token: str) -> None:
        self.streak.pop(token, None)
        self.until.pop(token, None)

    def blocked(self, token: str, now: float) -> bool:
        until = self.until.get(token)
        return until is not None and now < until


async def run_timed_halts(
    halts: Sequence[TimedHalt], hub: Hub, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> NoReturn:
    """Clear each halt once its hold has passed. Runs until cancelled."""
    task_status.started()
    seen = hub.version
    while True:
        now = trio.current_time()
        for halt in halts:
            if halt.until is not None and now >= halt.until:
                halt.until = None
                hub.clear_halt(halt.reason)
        pending = [h.until for h in halts if h.until is not None]
        with trio.move_on_at(min(pending) if pending else float("inf")):
            seen = await hub.wait_changed(seen)
