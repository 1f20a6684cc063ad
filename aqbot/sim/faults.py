"""Seeded fault injection: the named profiles and the decider the engine and the server layer consult.

:class:`FaultConfig` holds one knob per fault (probabilities per decision, rates per simulated hour,
durations in ms). :data:`PROFILES` names three: ``none``, ``mild`` and ``chaos``. :class:`FaultPlan` draws
every decision from its own ``random.Random`` streams (one for engine-side faults, one for transport faults,
so the order in which the server asks never changes what the engine does) and records each injected fault
on the tape.

Engine-side faults (applied by :class:`aqbot.sim.engine.Engine` itself): settlement RETRYING/FAILED, exchange
modes (425 restart, post-only window, 503 cancel-only), stale balance cache, cancels racing fills,
CANCELLATION-before-trade ordering, heartbeat loss, Data API lag/stale/missing/zero rows.
Transport faults (asked by the server layer): :meth:`FaultPlan.ws_action` and :meth:`FaultPlan.rest_action`.
"""

from __future__ import annotations

import logging
import random

import attrs

from aqbot.sim.tape import Tape

logger = logging.getLogger(__name__)


@attrs.frozen
class FaultConfig:
    """Per-fault knobs. Probabilities are per decision; ``*_per_hour`` are Poisson rates in simulated time."""

    name: str = "none"
    # --- WebSocket (server layer asks ws_action per outgoing message) ---
    ws_drop_p: float = 0.0
    ws_duplicate_p: float = 0.0
    ws_reorder_p: float = 0.0
    ws_reorder_window_ms: int = 200
    ws_delay_p: float = 0.0
    ws_delay_max_ms: int = 2_000
    ws_disconnect_p: float = 0.0
    ws_freeze_p: float = 0.0
    ws_freeze_ms: int = 60_000
    # --- REST (server layer asks rest_action per request) ---
    rest_latency_p: float = 0.0
    rest_latency_max_ms: int = 500
    rest_5xx_p: float = 0.0
    rest_429_p: float = 0.0
    rest_retry_after_s: int = 2
    rest_timeout_applied_p: float = 0.0
    rest_timeout_not_applied_p: float = 0.0
    # --- exchange modes (engine) ---
    restart_per_hour: float = 0.0
    restart_ms: int = 90_000
    post_only_window_ms: int = 120_000
    cancel_only_per_hour: float = 0.0
    cancel_only_ms: int = 30_000
    # --- settlement and balances (engine) ---
    settle_fail_p: float = 0.0
    settle_retry_p: float = 0.0
    stale_balance_p: float = 0.0
    # --- order-flow races (engine) ---
    cancel_race_p: float = 0.0
    cancel_before_trade_p: float = 0.0
    # --- heartbeats (engine) ---
    heartbeat_loss_p: float = 0.0
    # --- Data API positions (engine) ---
    positions_lag_ms: int = 2_000
    positions_stale_p: float = 0.0
    positions_stale_extra_ms: int = 30_000
    positions_missing_p: float = 0.0
    positions_zero_p: float = 0.0


PROFILES: dict[str, FaultConfig] = {
    "none": FaultConfig(name="none", positions_lag_ms=0),
    "mild": FaultConfig(
        name="mild",
        ws_drop_p=0.002,
        ws_duplicate_p=0.002,
        ws_reorder_p=0.002,
        ws_delay_p=0.01,
        ws_delay_max_ms=500,
        ws_disconnect_p=0.0002,
        rest_latency_p=0.1,
        rest_latency_max_ms=200,
        rest_5xx_p=0.002,
        rest_429_p=0.002,
        rest_timeout_applied_p=0.001,
        rest_timeout_not_applied_p=0.001,
        settle_fail_p=0.01,
        settle_retry_p=0.02,
        stale_balance_p=0.02,
        cancel_race_p=0.02,
        cancel_before_trade_p=0.05,
        heartbeat_loss_p=0.001,
        positions_lag_ms=5_000,
        positions_stale_p=0.02,
        positions_missing_p=0.01,
        positions_zero_p=0.005,
    ),
    "chaos": FaultConfig(
        name="chaos",
        ws_drop_p=0.02,
        ws_duplicate_p=0.02,
        ws_reorder_p=0.02,
        ws_delay_p=0.05,
        ws_delay_max_ms=3_000,
        ws_disconnect_p=0.002,
        ws_freeze_p=0.001,
        rest_latency_p=0.3,
        rest_latency_max_ms=1_500,
        rest_5xx_p=0.02,
        rest_429_p=0.02,
        rest_timeout_applied_p=0.01,
        rest_timeout_not_applied_p=0.01,
        restart_per_hour=1.0,
        cancel_only_per_hour=1.0,
        settle_fail_p=0.1,
        settle_retry_p=0.1,
        stale_balance_p=0.1,
        cancel_race_p=0.1,
        cancel_before_trade_p=0.3,
        heartbeat_loss_p=0.01,
        positions_lag_ms=20_000,
        positions_stale_p=0.1,
        positions_missing_p=0.05,
        positions_zero_p=0.02,
    ),
}


def profile(name: str) -> FaultConfig:
    """The named profile (``none``, ``mild``, ``chaos``).

    Raises:
        KeyError: unknown profile name.
    """
    return PROFILES[name]


@attrs.frozen
class WsAction:
    """What to do with one outgoing WS message.

    ``kind`` is one of ``deliver``, ``drop``, ``duplicate``, ``delay`` (hold it ``delay_ms``), ``reorder``
    (hold it ``delay_ms`` so later messages overtake it), ``disconnect`` (close the socket after this
    message, which is lost) and ``freeze`` (send no data on this socket for ``delay_ms``, still answer PING).
    """

    kind: str
    delay_ms: int = 0


@attrs.frozen
class RestAction:
    """What to do with one REST request.

    ``kind`` is one of ``ok``, ``latency`` (answer after ``latency_ms``), ``error5xx`` (answer ``status``
    500/502/503 without applying), ``throttle`` (429 with ``retry_after_s``; not applied),
    ``timeout_applied`` (apply the request, then drop the answer: the client sees a timeout) and
    ``timeout_not_applied`` (drop the request).
    """

    kind: str
    latency_ms: int = 0
    status: int = 200
    retry_after_s: int = 0


DELIVER = WsAction("deliver")
OK = RestAction("ok")


class FaultPlan:
    """Seeded decider for every fault. Records each injected fault on ``tape``.

    Args:
        config: the knobs.
        seed: the run's seed (the plan derives its own streams from it).
        tape: where injected faults are recorded (None: not recorded).
    """

    def __init__(self, config: FaultConfig, seed: int, tape: Tape | None = None) -> None:
        self.config = config
        self.tape = tape
        self._seed = seed
        self._streams: dict[str, random.Random] = {}
        self._ws_rng = random.Random(f"faults-ws-{seed}")
        self._rest_rng = random.Random(f"faults-rest-{seed}")

    def _record(self, now_ms: int, name: str, detail: dict[str, object]) -> None:
        if self.tape is not None:
            self.tape.fault(now_ms, name, detail)

    def engine_random(self, category: str = "modes") -> random.Random:
        """The engine-side stream of one fault ``category`` (``settle``, ``cancel``, ``positions``,
        ``heartbeat``, ``stale``, ``modes``). Separate streams keep categories independent: how often a
        client polls positions never changes which trades fail."""
        rng = self._streams.get(category)
        if rng is None:
            rng = random.Random(f"faults-{category}-{self._seed}")
            self._streams[category] = rng
        return rng

    def engine_roll(self, p: float, now_ms: int, name: str, detail: dict[str, object] | None = None) -> bool:
        """One engine-side Bernoulli draw on the stream of ``name``'s category (the part before the first
        ``_``); records fault ``name`` when it fires."""
        if p <= 0.0:
            return False
        fired = self.engine_random(name.split("_", 1)[0]).random() < p
        if fired:
            self._record(now_ms, name, detail or {})
        return fired

    def ws_action(self, channel: str, key: str, now_ms: int) -> WsAction:
        """Decide the fate of one outgoing WS message on ``channel`` (``market``/``user``) for ``key``
        (an asset id or an owner)."""
        c = self.config
        r = self._ws_rng.random()
        detail: dict[str, object] = {"channel": channel, "key": key}
        acc = c.ws_drop_p
        if r < acc:
            self._record(now_ms, "ws_drop", detail)
            return WsAction("drop")
        acc += c.ws_duplicate_p
        if r < acc:
            self._record(now_ms, "ws_duplicate", detail)
            return WsAction("duplicate")
        acc += c.ws_reorder_p
        if r < acc:
            d = self._ws_rng.randint(1, max(1, c.ws_reorder_window_ms))
            self._record(now_ms, "ws_reorder", {**detail, "delay_ms": d})
            return WsAction("reorder", d)
        acc += c.ws_delay_p
        if r < acc:
            d = self._ws_rng.randint(1, max(1, c.ws_delay_max_ms))
            self._record(now_ms, "ws_delay", {**detail, "delay_ms": d})
            return WsAction("delay", d)
        acc += c.ws_disconnect_p
        if r < acc:
            self._record(now_ms, "ws_disconnect", detail)
            return WsAction("disconnect")
        acc += c.ws_freeze_p
        if r < acc:
            self._record(now_ms, "ws_freeze", {**detail, "delay_ms": c.ws_freeze_ms})
            return WsAction("freeze", c.ws_freeze_ms)
        return DELIVER

    def rest_action(self, method: str, path: str, now_ms: int) -> RestAction:
        """Decide the fate of one REST request ``method path`` (path without query)."""
        c = self.config
        r = self._rest_rng.random()
        detail: dict[str, object] = {"method": method, "path": path}
        acc = c.rest_5xx_p
        if r < acc:
            status = self._rest_rng.choice((500, 502, 503))
            self._record(now_ms, "rest_5xx", {**detail, "status": status})
            return RestAction("error5xx", status=status)
        acc += c.rest_429_p
        if r < acc:
            self._record(now_ms, "rest_429", {**detail, "retry_after_s": c.rest_retry_after_s})
            return RestAction("throttle", status=429, retry_after_s=c.rest_retry_after_s)
        acc += c.rest_timeout_applied_p
        if r < acc:
            self._record(now_ms, "rest_timeout_applied", detail)
            return RestAction("timeout_applied")
        acc += c.rest_timeout_not_applied_p
        if r < acc:
            self._record(now_ms, "rest_timeout_not_applied", detail)
            return RestAction("timeout_not_applied")
        acc += c.rest_latency_p
        if r < acc:
            d = self._rest_rng.randint(1, max(1, c.rest_latency_max_ms))
            self._record(now_ms, "rest_latency", {**detail, "latency_ms": d})
            return RestAction("latency", latency_ms=d)
        return OK
