"""Halts latch per scope and clear on their own condition; gaps resolve only by a newer reconciliation."""

from __future__ import annotations

import attrs
import pytest
from core_helpers import CONFIG, MARKET, NO, YES, D, kinds, live_buy, oid, ready_core

from aqbot.core.engine import Core
from aqbot.core.events import Channel, OrdersSnapshot
from aqbot.core.facts import CancelOrder, GapResolved, HaltCleared, HaltRaised, Reconcile
from aqbot.core.gaps import GapTracker
from aqbot.core.halts import HaltReason, Halts, Scope
from aqbot.core.lifecycle import OrderState
from aqbot.core.types import Side

H = HaltReason


def test_scopes_cover() -> None:
    assert Scope.global_().covers("t", "m")
    assert Scope.market("m").covers("t", "m")
    assert not Scope.market("m").covers("t", "x")
    assert Scope.token("t").covers("t", "m")
    assert not Scope.token("t").covers("u", "m")


def test_halts_latch_once_and_clear_once() -> None:
    halts = Halts()
    assert halts.raise_(H.MANUAL, Scope.token("t"), 1.0, "op")
    assert not halts.raise_(H.MANUAL, Scope.token("t"), 2.0, "op again")
    assert halts.raise_(H.MANUAL, Scope.global_(), 2.0, "op")
    assert [r.reason for r in halts.covering("t", "m")] == [H.MANUAL, H.MANUAL]
    assert halts.scopes_of(H.MANUAL) == [Scope.token("t"), Scope.global_()]
    assert halts.clear(H.MANUAL, Scope.token("t"))
    assert not halts.clear(H.MANUAL, Scope.token("t"))


def test_core_owned_halts_cannot_be_set_or_cleared_by_the_runtime() -> None:
    core = ready_core()
    for reason in (H.USER_WS_DOWN, H.WS_GAP_UNRESOLVED, H.POSITION_MISMATCH, H.LIMIT_BREACH, H.DAILY_LOSS):
        with pytest.raises(ValueError, match="core only"):
            core.set_halt(reason, Scope.global_(), 1.0)
        with pytest.raises(ValueError, match="core only"):
            core.clear_halt(reason, Scope.global_(), 1.0)


@pytest.mark.parametrize(
    "reason",
    [
        H.MARKET_DATA_STALE,
        H.EXCHANGE_UNAVAILABLE,
        H.ORDER_ERROR_RATE,
        H.LEDGER_FAILURE,
        H.MANUAL,
    ],
)
def test_runtime_halt_cancels_quotes_blocks_buys_and_resumes(reason: HaltReason) -> None:
    core = ready_core()
    live_buy(core, 1)
    out = core.set_halt(reason, Scope.token(YES), 2.0, "why")
    assert kinds(out) == ["HaltRaised", "OrderTransitioned", "CancelOrder"]
    assert core.order(oid(1)).state is OrderState.CANCEL_REQUESTED  # type: ignore[union-attr]
    assert core.can_quote(YES, 2.0).reasons == (reason,)
    assert core.can_quote(NO, 2.0).allowed
    assert not core.can_quote(MARKET.condition_id, 2.0).allowed  # a market is blocked if any token is
    assert core.set_halt(reason, Scope.token(YES), 2.1).facts == []  # already latched
    out = core.clear_halt(reason, Scope.token(YES), 3.0)
    assert any(isinstance(f, HaltCleared) for f in out.facts)
    assert core.can_quote(YES, 3.0).allowed
    assert core.token_exposure(YES).open_buy > 0  # nothing was released by the halt


def test_user_channel_down_halts_until_up_and_reconciled() -> None:
    core = ready_core()
    live_buy(core, 1)
    out = core.on_channel_down(Channel.USER, 5.0, "closed 1006")
    assert {H.USER_WS_DOWN, H.RECONCILE_PENDING} == set(core.can_quote(YES, 5.0).reasons)
    assert [c.order_id for c in out.commands if isinstance(c, CancelOrder)] == [oid(1)]
    core.on_channel_down(Channel.USER, 5.5, "again")  # one gap per outage
    assert len(core.gaps.gaps) == 1
    out = core.on_channel_up(Channel.USER, 6.0)
    assert any(isinstance(c, Reconcile) for c in out.commands)
    assert core.can_quote(YES, 6.0).reasons == (H.RECONCILE_PENDING,)
    recon, _ = core.begin_reconciliation(6.0)  # same instant, but after the channel came back
    out = core.on_reconciliation(recon, OrdersSnapshot(6.0), None, 6.5)
    assert any(isinstance(f, GapResolved) for f in out.facts)
    assert core.can_quote(YES, 6.5).allowed


def test_reconciliation_started_before_the_gap_ended_does_not_resolve_it() -> None:
    core = ready_core()
    core.on_channel_down(Channel.USER, 5.0, "closed")
    recon, _ = core.begin_reconciliation(5.5)
    core.on_channel_up(Channel.USER, 6.0)
    core.on_reconciliation(recon, OrdersSnapshot(5.5), None, 7.0)
    assert not core.can_quote(YES, 7.0).allowed
    assert core.next_reconcile_at(7.0) == 7.0  # due at once


def test_reconciliation_in_flight_while_gap_opens() -> None:
    core = ready_core()
    recon, _ = core.begin_reconciliation(5.0)
    assert core.next_reconcile_at(5.0) is None
    core.on_channel_gap(Channel.USER, 5.1, "decode failure")
    core.on_reconciliation(recon, OrdersSnapshot(5.0), None, 5.2)
    assert core.can_quote(YES, 5.2).reasons == (H.RECONCILE_PENDING,)


def test_three_failures_latch_ws_gap_unresolved_and_recovery_is_spaced() -> None:
    core = ready_core()
    core.on_channel_gap(Channel.USER, 10.0, "decode failure")
    for i in range(3):
        assert core.next_reconcile_at(10.0 + i) == 10.0 + i  # due at once while attempts remain
        recon, _ = core.begin_reconciliation(10.0 + i)
        out = core.on_reconciliation_failed(recon, 10.5 + i, "503")
    assert any(isinstance(f, HaltRaised) and f.reason is H.WS_GAP_UNRESOLVED for f in out.facts)
    assert core.can_quote(YES, 13.0).reasons == (H.WS_GAP_UNRESOLVED,)
    assert core.next_reconcile_at(13.0) == 12.5 + 30.0
    recon, _ = core.begin_reconciliation(42.5)
    out = core.on_reconciliation(recon, OrdersSnapshot(42.5), None, 43.0)
    assert any(isinstance(f, HaltCleared) and f.reason is H.WS_GAP_UNRESOLVED for f in out.facts)
    assert core.can_quote(YES, 43.0).allowed
    assert core.next_reconcile_at(43.0) == 43.0 + 60.0  # periodic


def test_incomplete_snapshot_counts_as_a_failed_attempt() -> None:
    core = ready_core()
    core.on_channel_gap(Channel.USER, 10.0, "x")
    recon, _ = core.begin_reconciliation(11.0)
    out = core.on_reconciliation(recon, OrdersSnapshot(11.0, complete=False), None, 11.5)
    assert core.gaps.failures == 1
    assert "GapResolved" not in kinds(out)


def test_halt_on_ws_gaps_false_lets_quoting_continue_through_gaps() -> None:
    core = ready_core(attrs.evolve(CONFIG, halt_on_ws_gaps=False))
    core.on_channel_gap(Channel.USER, 10.0, "x")
    assert core.can_quote(YES, 10.0).allowed


def test_market_channel_down_is_market_data_stale() -> None:
    core = ready_core()
    core.on_channel_down(Channel.MARKET, 1.0, "silent freeze")
    assert core.can_quote(YES, 1.0).reasons == (H.MARKET_DATA_STALE,)
    core.on_channel_up(Channel.MARKET, 2.0)
    assert core.can_quote(YES, 2.0).allowed


def test_startup_is_gated_until_first_reconciliation() -> None:
    core = Core(CONFIG, [MARKET], 0.0)
    assert kinds(core.initial_outcome) == ["GapOpened"]
    assert core.can_quote(YES, 0.0).reasons == (H.RECONCILE_PENDING,)
    assert core.next_reconcile_at(0.0) == 0.0  # periodic: never completed
    assert not core.place(oid(1), YES, Side.BUY, D(1), D(1), 0.0).ok


def test_gap_tracker_open_gaps_wait_for_the_channel() -> None:
    tracker = GapTracker()
    tracker.open(Channel.USER, 1.0, "down")
    assert tracker.next_due(2.0) == 2.0  # periodic (never completed), nothing resolvable yet
    tracker.last_completed_at = 1.5
    assert tracker.next_due(2.0) == 61.5
    assert tracker.channel_open_gap(Channel.USER) is not None
    assert tracker.channel_open_gap(Channel.MARKET) is None
