"""The simulator's exchange engine: the public facade the server layer and the runners use.

Synchronous and deterministic: no I/O, no clock (every call takes ``now_ms``), randomness only from streams
seeded by ``seed``. Amounts are integer base units inside; every reply and event is a JSON-able dict in the
exact wire shape of PROTOCOL.md (string numerics). See ``docs/sim-engine.md`` for the full API.

Typical use by a server::

    engine = Engine(seed=7, markets=[...], accounts=[...], fault_config=profile("mild"), start_ms=t0)
    reply = engine.place_order(OrderRequest(order=body["order"], order_id=h, owner=key, ...), now_ms)
    for ev in engine.drain_events(): ...   # MarketEvent / UserEvent, in order
    engine.advance(now_ms)                  # settlement, expiries, dead-man switch, exchange modes
"""

from __future__ import annotations

import heapq
import logging
import random

import attrs

from aqbot.sim.book import MarketState, SimOrder
from aqbot.sim.entry import OrderEntry
from aqbot.sim.events import MarketEvent, Reply, error
from aqbot.sim.faults import FaultConfig, FaultPlan, profile
from aqbot.sim.market import AccountConfig, MarketConfig, random_uuid
from aqbot.sim.positions import mid_price, positions
from aqbot.sim.queries import QueryMixin
from aqbot.sim.retention import RetentionConfig
from aqbot.sim.settlement import SettlementConfig
from aqbot.sim.tape import TAPE_VERSION, Tape
from aqbot.sim.units import ONE, fmt_units, parse_units
from aqbot.sim.views import tick_size_event

logger = logging.getLogger(__name__)

HEARTBEAT_TIMEOUT_MS = 10_000
RACER_PUSD = 10**9 * ONE


@attrs.define(eq=False, slots=True)
class HeartbeatState:
    """One owner's dead-man switch: the id the next heartbeat must carry and when the last one counted."""

    expected: str
    last_ms: int
    lapsed: bool = False


def _account_header(cfg: AccountConfig) -> dict[str, object]:
    return {
        "owner": cfg.owner,
        "address": cfg.address.lower(),
        "signer": cfg.signer.lower(),
        "pusd": fmt_units(cfg.pusd),
        "tokens": {t: fmt_units(v) for t, v in sorted(cfg.tokens.items())},
    }


class Engine(QueryMixin, OrderEntry):
    """The exchange. See the module docstring and ``docs/sim-engine.md``.

    Args:
        seed: the run's seed; the same seed and the same calls give byte-identical tapes.
        markets: the markets.
        accounts: the initial accounts (more can be added with :meth:`add_account`).
        fault_config: the fault knobs (default: profile ``none``).
        tape: where the ground-truth tape goes (default: a fresh in-memory :class:`Tape`).
        settlement: settlement delays.
        start_ms: the simulated start time (ms since the epoch).
        retention: how long terminal orders, final trades and position history stay in memory.
    """

    def __init__(
        self,
        *,
        seed: int,
        markets: list[MarketConfig],
        accounts: list[AccountConfig] | None = None,
        fault_config: FaultConfig | None = None,
        tape: Tape | None = None,
        settlement: SettlementConfig | None = None,
        start_ms: int = 1_767_225_600_000,
        retention: RetentionConfig | None = None,
    ) -> None:
        tape = tape if tape is not None else Tape()
        config = fault_config if fault_config is not None else profile("none")
        super().__init__(
            seed=seed,
            markets=list(markets),
            faults=FaultPlan(config, seed, tape),
            tape=tape,
            settlement=settlement if settlement is not None else SettlementConfig(),
            start_ms=start_ms,
            retention=retention if retention is not None else RetentionConfig(),
        )
        self.heartbeats: dict[str, HeartbeatState] = {}
        self._expiries: list[tuple[int, int, str]] = []
        self._delayed: list[tuple[int, int, str]] = []
        self._expiry_seq = 0
        racer = AccountConfig(
            owner=self.racer_owner, address="0x" + "ac" * 20, signer="0x" + "ac" * 20, pusd=RACER_PUSD
        )
        initial = list(accounts or [])
        tape.write(
            start_ms,
            "header",
            version=TAPE_VERSION,
            seed=seed,
            fault_profile=config.name,
            faults=attrs.asdict(config),
            settlement=attrs.asdict(self.settlement.config),
            accounts=[_account_header(a) for a in [racer, *initial]],
            markets=[attrs.asdict(m) for m in markets],
        )
        self.fault_exempt.add(self.racer_owner)
        self._add_account(racer)
        for cfg in initial:
            self._add_account(cfg)
        rng = self.faults.engine_random()
        c = config
        self._next_restart_ms = start_ms + _exp_ms(rng, c.restart_per_hour)
        self._next_cancel_only_ms = start_ms + _exp_ms(rng, c.cancel_only_per_hour)

    # ---- accounts ---------------------------------------------------------------------------------------

    def add_account(self, cfg: AccountConfig) -> None:
        """Add an account after construction (recorded on the tape as ``account_added``)."""
        self._add_account(cfg)
        self.tape.write(self.now_ms, "account_added", account=_account_header(cfg))

    # ---- time -------------------------------------------------------------------------------------------

    def advance(self, now_ms: int) -> None:
        """Bring the engine to ``now_ms`` (never backwards): modes, settlement, expiries, heartbeats.

        Timed transitions are applied one at a time in time order (ties: modes, settlement, expiries, the
        dead-man switch), each at its own simulated time, so the tape's ``t`` never decreases.
        """
        if now_ms < self.now_ms:
            return
        while True:
            due, kind = self._next_due()
            if due > now_ms:
                break
            self.now_ms = max(self.now_ms, due)
            self._run_due(kind, self.now_ms)
        self.now_ms = now_ms
        self._forget(now_ms)

    def _next_due(self) -> tuple[int, str]:
        best = (self._next_restart_ms, "restart")
        best = min(best, (self._next_cancel_only_ms, "cancel_only"))
        settle = self.settlement.peek()
        if settle is not None:
            best = min(best, (settle, "settle"))
        if self._expiries:
            best = min(best, (self._expiries[0][0], "expiry"))
        if self._delayed:
            best = min(best, (self._delayed[0][0], "delayed"))
        for owner, hb in self.heartbeats.items():
            if self.live.get(owner):
                best = min(best, (hb.last_ms + HEARTBEAT_TIMEOUT_MS + 1, "heartbeat"))
        return best

    def _run_due(self, kind: str, t: int) -> None:
        c = self.faults.config
        rng = self.faults.engine_random()
        if kind == "restart":
            self.trigger_restart(t)
            self._next_restart_ms = (
                t + c.restart_ms + c.post_only_window_ms + _exp_ms(rng, c.restart_per_hour)
            )
        elif kind == "cancel_only":
            self.trigger_cancel_only(t, c.cancel_only_ms)
            self._next_cancel_only_ms = t + c.cancel_only_ms + _exp_ms(rng, c.cancel_only_per_hour)
        elif kind == "settle":
            for _, tid, status in self.settlement.due(t):
                self._settle_status(self.trades[tid], status, t)
        elif kind == "delayed":
            while self._delayed and self._delayed[0][0] <= t:
                _, _, oid = heapq.heappop(self._delayed)
                order = self.orders.get(oid)
                if order is not None and order.status == "DELAYED":
                    order.status = "LIVE"
                    self.execute(self.markets[order.market], order, t)
        elif kind == "expiry":
            while self._expiries and self._expiries[0][0] <= t:
                _, _, oid = heapq.heappop(self._expiries)
                order = self.orders.get(oid)  # None: it ended and was forgotten before its expiry
                if order is not None and order.status == "LIVE":
                    self.cancel_order_now(order, t, "expired")
                    self._flush_book(self.markets[order.market], t)
        else:
            for owner, hb in self.heartbeats.items():
                if t > hb.last_ms + HEARTBEAT_TIMEOUT_MS and self.live.get(owner):
                    if not hb.lapsed:
                        hb.lapsed = True
                        self.tape.write(t, "heartbeat_timeout", owner=owner, last_ms=hb.last_ms)
                    self._cancel_owner(owner, t, "heartbeat")

    def _cancel_owner(self, owner: str, now_ms: int, reason: str) -> None:
        touched: dict[str, MarketState] = {}
        for order in list(self.live.get(owner, {}).values()):
            if order.status in ("LIVE", "DELAYED"):
                self.cancel_order_now(order, now_ms, reason)
                touched[order.market] = self.markets[order.market]
        for ms in touched.values():
            self._flush_book(ms, now_ms)

    def trigger_restart(self, at_ms: int) -> None:
        """Start a matching-engine restart at ``at_ms``: 425 on order endpoints, then the post-only window."""
        c = self.faults.config
        self.restart_until_ms = at_ms + c.restart_ms
        self.post_only_until_ms = self.restart_until_ms + c.post_only_window_ms
        detail: dict[str, object] = {
            "until_ms": self.restart_until_ms,
            "post_only_until_ms": self.post_only_until_ms,
        }
        self.tape.fault(at_ms, "restart_425", detail)

    def trigger_cancel_only(self, at_ms: int, duration_ms: int) -> None:
        """Put the exchange in 503 cancel-only mode from ``at_ms`` for ``duration_ms``."""
        self.cancel_only_until_ms = at_ms + duration_ms
        self.tape.fault(at_ms, "cancel_only_503", {"until_ms": self.cancel_only_until_ms})

    def _schedule_delayed(self, order: SimOrder, due_ms: int) -> None:
        self._expiry_seq += 1
        heapq.heappush(self._delayed, (due_ms, self._expiry_seq, order.order_id))

    def _schedule_expiry(self, order: SimOrder) -> None:
        self._expiry_seq += 1
        due = (order.expiration_s - 60) * 1000
        heapq.heappush(self._expiries, (due, self._expiry_seq, order.order_id))

    # ---- heartbeats -------------------------------------------------------------------------------------

    def heartbeat(self, owner: str, heartbeat_id: str, now_ms: int) -> Reply:
        """``POST /v1/heartbeats``: ``{"heartbeat_id": new}``, or 400 Invalid Heartbeat ID + expected id."""
        self.advance(now_ms)
        now_ms = self.now_ms
        hb = self.heartbeats.get(owner)
        expected = hb.expected if hb is not None else ""
        if heartbeat_id != expected:
            self.tape.write(now_ms, "heartbeat_rejected", owner=owner, sent=heartbeat_id, expected=expected)
            return error(400, "Invalid Heartbeat ID", heartbeat_id=expected)
        new_id = random_uuid(self.rng)
        lost = self.faults.engine_roll(
            self.faults.config.heartbeat_loss_p, now_ms, "heartbeat_lost", {"owner": owner}
        )
        if hb is None:
            hb = HeartbeatState(expected=new_id, last_ms=now_ms)
            self.heartbeats[owner] = hb
        else:
            hb.expected = new_id
            if not lost:
                hb.last_ms = now_ms
                hb.lapsed = False
        self.tape.write(now_ms, "heartbeat", owner=owner, heartbeat_id=new_id, counted=not lost)
        return Reply(200, {"heartbeat_id": new_id})

    # ---- admin ------------------------------------------------------------------------------------------

    def set_tick_size(self, condition_id: str, tick_size: str, now_ms: int) -> None:
        """Change a market's tick (emits ``tick_size_change`` for both tokens; resting orders stay)."""
        self.advance(now_ms)
        ms = self.markets[condition_id]
        old = ms.tick_u
        ms.tick_u = parse_units(tick_size)
        if old == ms.tick_u:
            return
        self.tape.write(
            self.now_ms, "tick_size_change", market=condition_id, old=fmt_units(old), new=tick_size
        )
        for token in (ms.cfg.yes_token, ms.cfg.no_token):
            payload = tick_size_event(ms, token, old, self.now_ms)
            self._events.append(MarketEvent(self.now_ms, condition_id, (token,), payload))

    def set_accepting_orders(self, condition_id: str, accepting: bool) -> None:
        """Open or close a market for new orders."""
        self.markets[condition_id].accepting = accepting

    # ---- Data API ---------------------------------------------------------------------------------------

    def positions(
        self, user: str, now_ms: int, market: list[str] | None = None, size_threshold: str = "1"
    ) -> list[dict[str, object]]:
        """Data API ``GET /positions`` rows for ``user`` (funder address), lagged and fault-injected."""
        self.advance(now_ms)
        return positions(
            self.accounts,
            self.markets,
            self.faults,
            user=user,
            now_ms=self.now_ms,
            market=market,
            size_threshold_u=parse_units(size_threshold),
        )

    def midpoint_u(self, token: str) -> int:
        """Midpoint of ``token`` in base units (for flow and reports)."""
        return mid_price(self.token_market[token], token)


def _exp_ms(rng: random.Random, per_hour: float) -> int:
    """An exponential waiting time in ms for a Poisson rate ``per_hour`` (a huge value when the rate is 0)."""
    if per_hour <= 0.0:
        return 10**15
    return max(1, int(rng.expovariate(per_hour) * 3_600_000))
