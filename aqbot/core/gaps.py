"""Gaps and the reconciliations that resolve them (DESIGN section 3).

A gap ``(channel, started, ended, reason)`` is an interval in which aqbot may have missed user-channel
events. It is **resolved** only by a reconciliation that *started after the gap ended* and completed. An
open gap (``ended is None``, e.g. the channel is still down) cannot be resolved yet. "After" is decided on
a logical clock (``seq``) that ticks at every gap end and reconciliation start, so two inputs with the same
``now`` are still ordered as the runtime made the calls.

Reconciliation scheduling: while a gap is unresolved and no reconciliation is in flight, the next attempt is
due at once, until ``attempts`` reconciliations in a row have failed; from then on the latch
``WS_GAP_UNRESOLVED`` holds and an attempt is due every ``recovery_interval`` seconds. Independently, one is
due every ``periodic_interval`` seconds after the last completed one.
"""

from __future__ import annotations

import logging

import attrs

from aqbot.core.events import Channel

logger = logging.getLogger(__name__)


@attrs.define
class Gap:
    gap_id: int
    channel: Channel
    started: float
    reason: str
    ended: float | None = None
    ended_seq: int = 0  # the tracker's logical clock when the gap ended


@attrs.define
class GapTracker:
    attempts: int = 3
    recovery_interval: float = 30.0
    periodic_interval: float = 60.0
    gaps: dict[int, Gap] = attrs.Factory(dict)  # unresolved gaps only
    in_flight: dict[int, float] = attrs.Factory(dict)  # recon id -> started (local time)
    in_flight_seq: dict[int, int] = attrs.Factory(dict)  # recon id -> logical clock at its start
    seq: int = 0  # logical clock: orders gap ends and reconciliation starts even at equal ``now``
    next_gap_id: int = 1
    next_recon_id: int = 1
    failures: int = 0  # failed reconciliations in a row
    last_failure_at: float | None = None
    last_completed_at: float | None = None

    @property
    def latched(self) -> bool:
        return bool(self.gaps) and self.failures >= self.attempts

    def open(self, channel: Channel, now: float, reason: str, *, ended: float | None = None) -> Gap:
        gap = Gap(self.next_gap_id, channel, now, reason, ended)
        self.next_gap_id += 1
        if ended is not None:
            self.seq += 1
            gap.ended_seq = self.seq
        self.gaps[gap.gap_id] = gap
        logger.warning("gap %d on %s from %.3f: %s", gap.gap_id, channel.value, now, reason)
        return gap

    def close(self, channel: Channel, now: float) -> list[Gap]:
        """The channel is back: every open gap on it ends now."""
        closed = [g for g in self.gaps.values() if g.channel is channel and g.ended is None]
        for gap in closed:
            self.seq += 1
            gap.ended, gap.ended_seq = now, self.seq
        return closed

    def channel_open_gap(self, channel: Channel) -> Gap | None:
        for gap in self.gaps.values():
            if gap.channel is channel and gap.ended is None:
                return gap
        return None

    def begin(self, now: float) -> int:
        recon_id = self.next_recon_id
        self.next_recon_id += 1
        self.in_flight[recon_id] = now
        self.seq += 1
        self.in_flight_seq[recon_id] = self.seq
        return recon_id

    def started_at(self, recon_id: int) -> float | None:
        return self.in_flight.get(recon_id)

    def begun_seq(self, recon_id: int) -> int:
        """The logical clock at the start of an in-flight reconciliation."""
        return self.in_flight_seq[recon_id]

    def complete(self, recon_id: int, now: float) -> list[Gap]:
        """A reconciliation finished: returns the gaps it resolves (ended before it started)."""
        self.in_flight.pop(recon_id)
        started = self.in_flight_seq.pop(recon_id)
        resolved = [g for g in self.gaps.values() if g.ended is not None and g.ended_seq < started]
        for gap in resolved:
            del self.gaps[gap.gap_id]
        self.last_completed_at = now
        if not self.gaps:
            self.failures = 0
        return resolved

    def fail(self, recon_id: int, now: float) -> int:
        """A reconciliation failed; returns the number of failures in a row."""
        self.in_flight.pop(recon_id, None)
        self.in_flight_seq.pop(recon_id, None)
        self.failures += 1
        self.last_failure_at = now
        return self.failures

    def next_due(self, now: float) -> float | None:
        """When the next reconciliation should start (``None``: one is in flight)."""
        if self.in_flight:
            return None
        periodic = now if self.last_completed_at is None else self.last_completed_at + self.periodic_interval
        if all(g.ended is None for g in self.gaps.values()):
            return periodic  # nothing resolvable yet: the channel is still down
        if self.failures < self.attempts or self.last_failure_at is None:
            return now
        return min(periodic, self.last_failure_at + self.recovery_interval)
