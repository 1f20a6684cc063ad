"""Transport-fault control for paper runs: scripted fault schedules, the crash blackout and the calm end.

:class:`PaperTransport` wraps the simulator's own seeded :class:`~aqbot.sim.faults.FaultPlan` (installed with
:meth:`aqbot.sim.runner.SimHandle.set_transport_faults`) and can

* apply a :class:`FaultSchedule`: explicit faults on chosen messages ("the 3rd user-channel message after
  t=40 s is dropped", "the 2nd REST request after t=95 s is applied but its answer lost"), the material of
  Hypothesis-generated campaigns (each fired entry is recorded on the tape as a ``fault`` record);
* black the bot out during a simulated crash (every REST request is lost before it is applied, so the dying
  process's last-resort cancel never lands, as with ``kill -9``);
* go calm for the final reconciliation (no transport faults; engine-side faults keep running).

A schedule round-trips through JSON (:meth:`FaultSchedule.to_json` / :meth:`FaultSchedule.from_json`), so
the one-line replay command of a failing run can carry it (``aqbot paper --schedule '<json>'``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

import attrs

from aqbot.sim.faults import OK, RestAction, WsAction
from aqbot.sim.server import TransportFaults
from aqbot.sim.tape import Tape

log = logging.getLogger(__name__)

# Targets a schedule entry may hit, and the actions each accepts.
WS_TARGETS = ("user", "market")
WS_KINDS = ("drop", "duplicate", "reorder", "delay", "disconnect")
REST_KINDS = ("error5xx", "throttle", "timeout_applied", "timeout_not_applied", "latency")
TARGETS = (*WS_TARGETS, "rest")
DELIVER = WsAction("deliver")
BLACKOUT = RestAction("timeout_not_applied")


@attrs.frozen
class ScheduledFault:
    """Hit the ``nth`` (0-based) message of ``target`` decided at or after ``at`` simulated seconds.

    ``target`` is ``user``/``market`` (outgoing WS messages of that channel) or ``rest`` (requests).
    ``delay_ms`` is the hold of ``reorder``/``delay`` and the latency of ``latency``.
    """

    at: float
    target: str
    nth: int
    kind: str
    delay_ms: int = 500

    def __attrs_post_init__(self) -> None:
        kinds = REST_KINDS if self.target == "rest" else WS_KINDS
        if self.target not in TARGETS or self.kind not in kinds or self.nth < 0 or self.at < 0:
            raise ValueError(f"invalid scheduled fault {self!r}")

    def to_json(self) -> dict[str, object]:
        return attrs.asdict(self)


@attrs.frozen
class FaultSchedule:
    """Scripted transport faults and in-process crash times (simulated seconds after the start)."""

    faults: tuple[ScheduledFault, ...] = ()
    crashes: tuple[float, ...] = ()

    def to_json(self) -> str:
        body = {"faults": [f.to_json() for f in self.faults], "crashes": list(self.crashes)}
        return json.dumps(body, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> FaultSchedule:
        """Parse :meth:`to_json` output.

        Raises:
            ValueError: not a schedule.
        """
        try:
            data = json.loads(text)
            faults = tuple(
                ScheduledFault(
                    float(f["at"]),
                    str(f["target"]),
                    int(f["nth"]),
                    str(f["kind"]),
                    int(f.get("delay_ms", 500)),
                )
                for f in data.get("faults", [])
            )
            crashes = tuple(sorted(float(c) for c in data.get("crashes", [])))
        except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a fault schedule: {exc}") from None
        if any(c < 0 for c in crashes):
            raise ValueError("crash times must be >= 0")
        return cls(faults, crashes)


@attrs.define
class _Armed:
    fault: ScheduledFault
    seen: int = 0
    fired: bool = False


@attrs.define
class PaperTransport:
    """The transport-fault decider of a paper run (see the module docstring).

    Args:
        inner: the simulator's own decider (its seeded plan).
        tape: where fired schedule entries are recorded.
        start_ms: simulated ms of the run's start (schedule times are relative to it).
        schedule: scripted faults.
    """

    inner: TransportFaults
    tape: Tape
    start_ms: int
    schedule: Sequence[ScheduledFault] = ()
    blackout: bool = False
    calm: bool = False
    fired: int = 0
    _armed: list[_Armed] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._armed = [_Armed(f) for f in sorted(self.schedule, key=lambda f: (f.at, f.target, f.nth))]

    def _scripted(self, target: str, now_ms: int) -> ScheduledFault | None:
        elapsed = (now_ms - self.start_ms) / 1000
        hit: ScheduledFault | None = None
        for armed in self._armed:
            f = armed.fault
            if armed.fired or f.target != target or elapsed < f.at:
                continue
            if armed.seen == f.nth and hit is None:
                armed.fired = True
                hit = f
            armed.seen += 1
        if hit is not None:
            self.fired += 1
            self.tape.fault(now_ms, f"scheduled_{hit.target}_{hit.kind}", {"at": hit.at, "nth": hit.nth})
        return hit

    def ws_action(self, channel: str, key: str, now_ms: int) -> WsAction:
        if self.calm:
            return DELIVER
        hit = self._scripted(channel, now_ms)
        if hit is not None:
            return WsAction(hit.kind, hit.delay_ms if hit.kind in ("reorder", "delay") else 0)
        return self.inner.ws_action(channel, key, now_ms)

    def rest_action(self, method: str, path: str, now_ms: int) -> RestAction:
        if self.blackout:
            return BLACKOUT
        if self.calm:
            return OK
        hit = self._scripted("rest", now_ms)
        if hit is not None:
            return _rest(hit)
        return self.inner.rest_action(method, path, now_ms)


def _rest(hit: ScheduledFault) -> RestAction:
    if hit.kind == "error5xx":
        return RestAction("error5xx", status=503)
    if hit.kind == "throttle":
        return RestAction("throttle", status=429, retry_after_s=1)
    if hit.kind == "latency":
        return RestAction("latency", latency_ms=hit.delay_ms)
    return RestAction(hit.kind)
