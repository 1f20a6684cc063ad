"""Fault profiles: every engine-side fault fires (counted on the tape), transport deciders are seeded."""

from __future__ import annotations

import collections

import attrs

from aqbot.sim.faults import PROFILES, FaultConfig, FaultPlan, profile
from aqbot.sim.tape import Tape
from aqbot.sim.testkit import run_scenario

ENGINE_FAULTS = {
    "settle_failed",
    "settle_retrying",
    "stale_balance",
    "cancel_race",
    "cancel_before_trade",
    "heartbeat_lost",
    "positions_stale",
    "positions_missing",
    "positions_zero",
    "restart_425",
    "cancel_only_503",
}


def test_profiles_exist_and_are_ordered_by_severity() -> None:
    assert set(PROFILES) == {"none", "mild", "chaos"}
    none, mild, chaos = profile("none"), profile("mild"), profile("chaos")
    for field in attrs.fields(FaultConfig):
        if field.name.endswith("_p"):
            assert getattr(none, field.name) == 0.0
            assert getattr(mild, field.name) <= getattr(chaos, field.name)


def test_every_engine_fault_fires_under_boosted_chaos() -> None:
    boosted = attrs.evolve(
        profile("chaos"), restart_per_hour=6.0, cancel_only_per_hour=6.0, heartbeat_loss_p=0.2
    )
    engine, _ = run_scenario(3, boosted, 20 * 60_000, n_markets=2)
    fired = {name for name, n in engine.tape.fault_counts.items() if n > 0}
    assert fired >= ENGINE_FAULTS, ENGINE_FAULTS - fired
    assert engine.tape.counts["heartbeat_timeout"] >= 1
    statuses = collections.Counter(t.status for t in engine.trades.values())
    assert statuses["FAILED"] > 0
    assert statuses["CONFIRMED"] > 0


def test_profile_none_injects_nothing() -> None:
    engine, _ = run_scenario(3, profile("none"), 5 * 60_000, n_markets=2)
    assert engine.tape.counts["fault"] == 0
    assert {t.status for t in engine.trades.values()} <= {"MATCHED", "MINED", "CONFIRMED"}
    assert len(engine.trades) > 0


def test_transport_deciders_fire_and_are_recorded() -> None:
    tape = Tape()
    plan = FaultPlan(profile("chaos"), seed=1, tape=tape)
    ws = collections.Counter(plan.ws_action("user", "k", i).kind for i in range(20_000))
    rest = collections.Counter(plan.rest_action("POST", "/order", i).kind for i in range(20_000))
    assert set(ws) == {"deliver", "drop", "duplicate", "reorder", "delay", "disconnect", "freeze"}
    assert set(rest) == {"ok", "latency", "error5xx", "throttle", "timeout_applied", "timeout_not_applied"}
    assert ws["drop"] == tape.fault_counts["ws_drop"]
    assert rest["throttle"] == tape.fault_counts["rest_429"]
    throttle = next(
        a for a in (plan.rest_action("DELETE", "/orders", i) for i in range(10_000)) if a.kind == "throttle"
    )
    assert throttle.status == 429
    assert throttle.retry_after_s > 0
    quiet = FaultPlan(profile("none"), seed=1, tape=Tape())
    assert {quiet.ws_action("market", "a", i).kind for i in range(2000)} == {"deliver"}
    assert {quiet.rest_action("GET", "/book", i).kind for i in range(2000)} == {"ok"}


def test_transport_decisions_are_seeded() -> None:
    def kinds(seed: int) -> list[str]:
        plan = FaultPlan(profile("chaos"), seed=seed)
        return [plan.ws_action("market", "a", i).kind for i in range(3000)]

    assert kinds(4) == kinds(4)
    assert kinds(4) != kinds(5)
