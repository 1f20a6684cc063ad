"""The dead-man switch: a chained ``POST /v1/heartbeats`` every few seconds (PROTOCOL 1.6).

Once started, the exchange cancels every order of aqbot if no heartbeat arrives within 10 s. That is
aqbot's last line of defence when it dies (kill -9, network loss): resting BUYs stop filling.

The ids form a chain: the first call sends ``""``, each later call the id the previous answer returned.
A wrong id answers 400 with the id the server expects; the task resyncs from it and resends at once.

Failure policy. Any failed beat (transport error, 5xx, 425/503, rate limit) is reported to the listener
at once (an alert); once no beat has succeeded for ``lapse_after`` seconds (the exchange's 10 s, minus a
margin), the listener is told the chain has *lapsed*: the exchange may have cancelled everything, so the
app halts quoting and wakes the reconciler, which learns what the exchange really did. The first
successful beat after a lapse reports recovery.
"""

from __future__ import annotations

import logging
from typing import NoReturn, Protocol

import attrs
import trio

from aqbot.errors import ExchangeError, TransportError

log = logging.getLogger(__name__)

# Seconds between beats (the SDK example's 5 s; the exchange cancels after 10 s of silence).
HEARTBEAT_INTERVAL = 5.0
# Without a successful beat for this long, assume the exchange's switch fired (10 s minus a margin).
HEARTBEAT_LAPSE = 9.0
# Resync attempts in a row after "Invalid Heartbeat ID" before counting the beat as failed.
MAX_RESYNCS = 2


@attrs.frozen
class HeartbeatAnswer:
    """One answer: ``accepted`` with the next id, or rejected with the id the server expects."""

    accepted: bool
    heartbeat_id: str


class HeartbeatPoster(Protocol):
    """Sends one heartbeat (``ClobApi.post_heartbeat``)."""

    async def post_heartbeat(self, heartbeat_id: str) -> HeartbeatAnswer:
        """POST the id; a 400 "Invalid Heartbeat ID" is returned as ``accepted=False``."""
        ...


class HeartbeatListener(Protocol):
    """What the app does with the heartbeat's health (sync calls)."""

    def heartbeat_ok(self, now: float) -> None: ...

    def heartbeat_failed(self, reason: str, now: float) -> None: ...

    def heartbeat_lapsed(self, now: float, last_ok: float | None) -> None: ...


@attrs.define
class HeartbeatStats:
    """Counters for the dashboard."""

    beats: int = 0
    failures: int = 0
    resyncs: int = 0
    last_ok: float | None = None
    lapsed: bool = False


async def run_heartbeat(
    poster: HeartbeatPoster,
    listener: HeartbeatListener,
    stats: HeartbeatStats,
    *,
    interval: float = HEARTBEAT_INTERVAL,
    lapse_after: float = HEARTBEAT_LAPSE,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> NoReturn:
    """Beat every ``interval`` seconds, drift-free, forever. Runs until cancelled.

    ``task_status.started()`` is called after the first beat attempt (successful or not), so the caller
    knows the switch is armed before it places orders.

    Error handling: TransportError and ExchangeError are reported and retried on the next tick; anything
    else propagates.
    """
    heartbeat_id = ""
    started = False
    first_attempt = trio.current_time()
    deadline = first_attempt
    while True:
        heartbeat_id = await _beat_once(poster, listener, stats, heartbeat_id)
        now = trio.current_time()
        reference = stats.last_ok if stats.last_ok is not None else first_attempt
        if stats.last_ok != now and now - reference >= lapse_after and not stats.lapsed:
            stats.lapsed = True
            log.error("heartbeat chain lapsed (last ok %s): exchange may have cancelled all", stats.last_ok)
            listener.heartbeat_lapsed(now, stats.last_ok)
        if not started:
            started = True
            task_status.started()
        deadline += interval
        await trio.sleep_until(max(deadline, trio.current_time()))


async def _beat_once(
    poster: HeartbeatPoster, listener: HeartbeatListener, stats: HeartbeatStats, heartbeat_id: str
) -> str:
    """One beat, with up to MAX_RESYNCS immediate resends after an id mismatch. Returns the next id."""
    for _ in range(MAX_RESYNCS + 1):
        try:
            answer = await poster.post_heartbeat(heartbeat_id)
        except (TransportError, ExchangeError) as exc:
            stats.failures += 1
            log.warning("heartbeat failed: %s", exc)
            listener.heartbeat_failed(f"{type(exc).__name__}: {exc}", trio.current_time())
            return heartbeat_id
        if answer.accepted:
            now = trio.current_time()
            stats.beats += 1
            stats.last_ok = now
            if stats.lapsed:
                stats.lapsed = False
                log.warning("heartbeat chain recovered")
            listener.heartbeat_ok(now)
            return answer.heartbeat_id
        stats.resyncs += 1
        log.warning("heartbeat id rejected; resyncing to the id the server expects")
        heartbeat_id = answer.heartbeat_id
    stats.failures += 1
    listener.heartbeat_failed("heartbeat id rejected repeatedly", trio.current_time())
    return heartbeat_id
