"""The positions-API policy, alone and through the Core."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from core_helpers import CONFIG, MARKET, NO, YES, D, live_buy, maker_trade, oid, ready_core
from hypothesis import given
from hypothesis import strategies as st

from aqbot.core.events import OrdersSnapshot, PlacementAnswer, PositionRow, PositionsSnapshot, TradeStatus
from aqbot.core.facts import FillApplied, FillReversed, PositionDecision, PositionDecisionKind
from aqbot.core.halts import HaltReason
from aqbot.core.positions import PositionPolicy
from aqbot.core.snapshot import restore, snapshot
from aqbot.core.types import Side

K = PositionDecisionKind
S = TradeStatus


@pytest.mark.parametrize(
    ("api", "held", "open_buy", "last_fill", "unsettled", "kind", "new"),
    [
        ("5", "5", "0", None, ("0", "0"), K.AGREE, None),
        (None, "0", "0", None, ("0", "0"), K.AGREE, None),
        ("7", "5", "0", None, ("0", "0"), K.ACCEPTED_RAISE, "7"),
        ("7", "5", "2", None, ("0", "0"), K.SKIPPED_EXPLAINED_BY_OPEN_BUYS, None),
        ("8", "5", "2", None, ("0", "0"), K.ACCEPTED_RAISE, "8"),  # beyond worst: unexplained
        ("7", "5", "0", 50.0, ("0", "0"), K.SKIPPED_RECENT_FILL, None),
        ("7", "5", "0", None, ("0", "1"), K.SKIPPED_UNSETTLED_FILLS, None),
        ("3", "5", "0", None, ("0", "0"), K.ACCEPTED_LOWER, "3"),
        ("3", "5", "1", None, ("0", "0"), K.SKIPPED_PENDING_BUYS, None),
        ("3", "5", "-1", None, ("0", "0"), K.SKIPPED_PENDING_SELLS, None),  # -1: one open SELL
        ("3", "5", "0", 50.0, ("0", "0"), K.SKIPPED_RECENT_FILL, None),
        ("3", "5", "0", None, ("1", "0"), K.SKIPPED_UNSETTLED_FILLS, None),
        ("0", "5", "0", None, ("0", "0"), K.SKIPPED_NO_ROW, None),  # zero never means flat
        (None, "5", "0", None, ("0", "0"), K.SKIPPED_NO_ROW, None),  # nor does a missing row
    ],
)
def test_decisions(
    api: str | None, held: str, open_buy: str, last_fill: float | None, unsettled: tuple[str, str],
    kind: PositionDecisionKind, new: str | None,
) -> None:  # fmt: skip
    policy = PositionPolicy(protection_window=60.0, mismatch_syncs=3)
    buys, sells = max(D(open_buy), D(0)), max(-D(open_buy), D(0))
    verdict = policy.decide(
        "t", None if api is None else D(api), D(held), buys, last_fill, 100.0,
        unsettled_buy=D(unsettled[0]), unsettled_sell=D(unsettled[1]), open_sell=sells,
    )  # fmt: skip
    assert verdict.kind is kind
    assert verdict.new_held == (None if new is None else D(new))


def test_divergence_counts_and_resets() -> None:
    policy = PositionPolicy(mismatch_syncs=3)
    args: tuple[Decimal, Decimal, float | None, float] = (D(5), D(1), None, 0.0)
    assert policy.decide("t", D(3), *args).divergent_syncs == 1
    assert policy.decide("t", D(3), *args).divergent_syncs == 2
    verdict = policy.decide("t", D(3), *args)
    assert (verdict.kind, verdict.divergent_syncs) == (K.DIVERGENT, 3)
    assert policy.decide("t", D(5), *args).kind is K.AGREE
    assert policy.divergent == {}


def _sync(core: object, rows: dict[str, str], at: float) -> dict[str, PositionDecision]:
    snap = PositionsSnapshot(at, tuple(PositionRow(t, D(s), D("0.5")) for t, s in rows.items()))
    out = core.on_positions(snap, at)  # type: ignore[attr-defined]
    return {f.token: f for f in out.facts if isinstance(f, PositionDecision)}


def test_core_records_every_decision_and_halts_on_persistent_divergence() -> None:
    core = ready_core()
    live_buy(core, 1, size="5")
    core.on_trade_event(maker_trade("t1", [(oid(1), "5")], TradeStatus.CONFIRMED), 2.0)
    decisions = _sync(core, {YES: "8"}, 10.0)  # 3 more than aqbot ever held: not the API's lag
    assert decisions[NO].kind is K.AGREE  # every token gets a recorded decision
    assert (decisions[YES].kind, decisions[YES].divergent_syncs) == (K.SKIPPED_RECENT_FILL, 1)
    _sync(core, {YES: "8"}, 20.0)
    decisions = _sync(core, {YES: "8"}, 30.0)
    assert decisions[YES].kind is K.DIVERGENT
    gate = core.can_quote(YES, 30.0)
    assert HaltReason.POSITION_MISMATCH in gate.reasons
    assert core.can_quote(NO, 30.0).allowed  # token scope
    decisions = _sync(core, {YES: "8"}, 100.0)  # past the window, no open buys: the raise is accepted
    assert decisions[YES].kind is K.ACCEPTED_RAISE
    assert core.token_exposure(YES).held == D(8)
    assert core.token_exposure(YES).adjusted == D(3)
    assert core.can_quote(YES, 100.0).allowed


# --- what counts toward POSITION_MISMATCH: real divergences, not the API's lag nor missing rows ---------


def _held(core: object, n: int, size: str, at: float, side: Side = Side.BUY, status: S = S.CONFIRMED) -> None:
    """A fill of ``size`` applied at ``at`` (a BUY placed and filled; a SELL against held shares)."""
    o = oid(n)
    assert core.place(o, YES, side, D("0.5"), D(size), at).ok  # type: ignore[attr-defined]
    core.on_placement_answer(PlacementAnswer(o, True, o, "live"), at)  # type: ignore[attr-defined]
    core.on_trade_event(maker_trade(f"t{n}", [(o, size)], status, side=side), at)  # type: ignore[attr-defined]


def _mismatch(core: object, at: float) -> bool:
    return HaltReason.POSITION_MISMATCH in core.can_quote(YES, at).reasons  # type: ignore[attr-defined]


def test_missing_row_neither_counts_nor_means_flat() -> None:
    core = ready_core()
    _held(core, 1, "6", 1.0)
    for at in (500.0, 515.0, 530.0, 545.0, 560.0):  # long past the window: nothing explains a difference
        decision = _sync(core, {}, at)[YES]
        assert (decision.kind, decision.divergent_syncs) == (K.SKIPPED_NO_ROW, 0)
    assert core.token_exposure(YES).held == D(6)
    assert not _mismatch(core, 560.0)


def test_missing_row_does_not_reset_a_real_divergence() -> None:
    core = ready_core()
    _held(core, 1, "6", 1.0)
    assert core.place(oid(2), YES, Side.SELL, D("0.6"), D(3), 400.0).ok  # blocks lowering held
    syncs = ((500.0, {YES: "3"}), (515.0, {}), (530.0, {YES: "3"}), (545.0, {}), (560.0, {YES: "3"}))
    decisions = [_sync(core, rows, at)[YES] for at, rows in syncs]
    assert [d.divergent_syncs for d in decisions] == [1, 1, 2, 2, 3]
    assert decisions[-1].kind is K.DIVERGENT
    assert _mismatch(core, 560.0)


def test_lag_behind_a_recent_buy_does_not_count() -> None:
    core = ready_core()
    _held(core, 1, "4", 1.0)
    _held(core, 2, "5", 100.0)  # held 9; the API still shows 4 (the buy is not on its books yet)
    for at in (105.0, 115.0, 125.0, 135.0, 145.0):
        decision = _sync(core, {YES: "4"}, at)[YES]
        assert (decision.kind, decision.divergent_syncs) == (K.SKIPPED_RECENT_FILL, 0)
    assert not _mismatch(core, 145.0)
    assert core.token_exposure(YES).held == D(9)  # never lowered inside the window
    assert _sync(core, {YES: "9"}, 160.0)[YES].kind is K.AGREE


def test_lag_behind_a_recent_sell_does_not_count() -> None:
    core = ready_core()
    _held(core, 1, "10", 1.0)
    _held(core, 2, "4", 100.0, Side.SELL)  # held 6; the API still shows 10
    for at in (105.0, 115.0, 125.0, 135.0):
        decision = _sync(core, {YES: "10"}, at)[YES]
        assert (decision.kind, decision.divergent_syncs) == (K.SKIPPED_RECENT_FILL, 0)
    assert not _mismatch(core, 135.0)
    assert core.token_exposure(YES).held == D(6)  # never raised back inside the window


def test_unsettled_fill_explains_a_lower_api_past_the_window() -> None:
    core = ready_core()
    _held(core, 1, "4", 1.0)
    _held(core, 2, "5", 2.0, status=S.MATCHED)  # held 9, 5 of them not mined yet (RETRYING, say)
    for at in (500.0, 515.0, 530.0, 545.0):
        decision = _sync(core, {YES: "4"}, at)[YES]
        assert (decision.kind, decision.divergent_syncs) == (K.SKIPPED_UNSETTLED_FILLS, 0)
    assert not _mismatch(core, 545.0)


def test_missed_buy_fill_still_latches_while_fills_are_recent() -> None:
    core = ready_core()
    _held(core, 1, "4", 1.0)
    _held(core, 2, "2", 100.0)  # held 6, a recent fill blocks the raise
    decisions = [_sync(core, {YES: "9"}, at)[YES] for at in (105.0, 115.0, 125.0)]  # 3 shares aqbot never saw
    assert [d.divergent_syncs for d in decisions] == [1, 2, 3]
    assert decisions[-1].kind is K.DIVERGENT
    assert _mismatch(core, 125.0)
    assert core.token_exposure(YES).held == D(6)  # raising is still not allowed inside the window
    decision = _sync(core, {YES: "4"}, 130.0)[YES]  # a stale row, explained by the lag: the latch stays
    assert (decision.kind, decision.divergent_syncs) == (K.SKIPPED_RECENT_FILL, 3)
    assert _mismatch(core, 130.0)
    assert _sync(core, {YES: "9"}, 170.0)[YES].kind is K.ACCEPTED_RAISE  # past the window: raised, cleared
    assert not _mismatch(core, 170.0)


def test_missed_sell_fill_still_latches_and_clears_once_the_sell_is_seen() -> None:
    core = ready_core()
    _held(core, 1, "10", 1.0)
    o = oid(2)
    assert core.place(o, YES, Side.SELL, D("0.6"), D(4), 400.0).ok
    core.on_placement_answer(PlacementAnswer(o, True, o, "live"), 400.0)
    decisions = [_sync(core, {YES: "6"}, at)[YES] for at in (500.0, 515.0, 530.0)]  # the sell filled, unseen
    assert [d.kind for d in decisions] == [K.SKIPPED_PENDING_SELLS, K.SKIPPED_PENDING_SELLS, K.DIVERGENT]
    assert _mismatch(core, 530.0)
    core.on_trade_event(maker_trade("t2", [(o, "4")], S.CONFIRMED, price="0.6", side=Side.SELL), 531.0)
    assert _sync(core, {YES: "6"}, 545.0)[YES].kind is K.AGREE
    assert not _mismatch(core, 545.0)


def test_zero_row_outside_the_lag_counts() -> None:
    core = ready_core()
    _held(core, 1, "6", 1.0)
    decisions = [_sync(core, {YES: "0"}, at)[YES] for at in (500.0, 515.0, 530.0)]
    assert [d.kind for d in decisions] == [K.SKIPPED_NO_ROW, K.SKIPPED_NO_ROW, K.DIVERGENT]
    assert core.token_exposure(YES).held == D(6)  # zero never means flat


def test_zero_row_inside_the_lag_does_not_count() -> None:
    core = ready_core()
    _held(core, 1, "6", 100.0)  # the first buy: a lagging API has no shares yet
    for at in (105.0, 115.0, 125.0):
        assert _sync(core, {YES: "0"}, at)[YES].divergent_syncs == 0


def test_lag_range_sums_moves_in_any_order() -> None:
    """One call applied a sell then a buy; the chain may have settled the buy first (shown alone)."""
    policy = PositionPolicy(protection_window=60.0)
    facts = [
        FillApplied(oid(1), "t", Side.SELL, D("-4.23"), D("4.23"), "rest"),
        FillApplied(oid(2), "t", Side.BUY, D(5), D(5), "rest"),
        FillReversed("x", oid(3), "t", D(-1)),
    ]
    policy.observe(facts, 100.0)
    assert policy.lag_range("t", D("9.239"), 40.0) == (D("4.239"), D("14.469"))
    assert policy.lag_range("t", D("9.239"), 101.0) == (D("9.239"), D("9.239"))  # outside the window
    verdict = policy.decide("t", D("13.469"), D("9.239"), D(5), 100.0, 110.0)
    assert (verdict.kind, verdict.divergent_syncs) == (K.SKIPPED_EXPLAINED_BY_OPEN_BUYS, 0)
    verdict = policy.decide("t", D("14.47"), D("9.239"), D(0), 100.0, 110.0)  # beyond every move
    assert (verdict.kind, verdict.divergent_syncs) == (K.SKIPPED_RECENT_FILL, 1)


def test_observe_forgets_moves_older_than_twice_the_window() -> None:
    policy = PositionPolicy(protection_window=60.0)
    policy.observe([FillApplied(oid(1), "t", Side.BUY, D(1), D(1), "trade")], 0.0)
    policy.observe([FillApplied(oid(2), "t", Side.BUY, D(1), D(2), "trade")], 121.0)
    assert [at for at, _, _ in policy.moves["t"]] == [121.0]


def test_core_raise_beyond_worst_can_breach() -> None:
    core = ready_core()
    decisions = _sync(core, {YES: "12"}, 10.0)
    assert decisions[YES].kind is K.ACCEPTED_RAISE
    assert HaltReason.LIMIT_BREACH in core.can_quote(NO, 10.0).reasons


def test_raise_without_avg_price_is_costed_at_one() -> None:
    import attrs
    from core_helpers import CONFIG

    from aqbot.core.exposure import Limits

    core = ready_core(attrs.evolve(CONFIG, limits=Limits(D(1000), max_market_notional=D(60))))
    snap = PositionsSnapshot(500.0, (PositionRow(YES, D(100)),))
    core.on_positions(snap, 500.0)
    assert core.token_exposure(YES).cost == D(100)
    assert not core.place(oid(1), YES, Side.BUY, D("0.5"), D(1), 501.0).ok


def test_fills_of_the_same_reconciliation_explain_its_positions_lag() -> None:
    """A reconciliation applies the REST trades first (the user channel missed them), then positions that
    do not show them yet: the lag test sees this call's fills before :meth:`observe` records them."""
    core = ready_core()
    _held(core, 1, "4", 1.0)
    o = oid(2)
    assert core.place(o, YES, Side.BUY, D("0.5"), D(5), 500.0).ok
    core.on_placement_answer(PlacementAnswer(o, True, o, "live"), 500.0)
    recon_id, _ = core.begin_reconciliation(600.0)
    trade = maker_trade("t2", [(o, "5")], S.CONFIRMED)
    positions = PositionsSnapshot(600.0, (PositionRow(YES, D(4), D("0.5")),))
    out = core.on_reconciliation(recon_id, OrdersSnapshot(600.0, (), (trade,)), positions, 600.0)
    decision = next(f for f in out.facts if isinstance(f, PositionDecision) and f.token == YES)
    assert (decision.held_after, decision.divergent_syncs) == (D(9), 0)


@given(
    moves=st.lists(st.integers(-20, 20).filter(bool), min_size=1, max_size=8),
    unseen=st.lists(st.booleans(), min_size=8, max_size=8),
    outside=st.sampled_from([None, "below", "above"]),
)
def test_any_subset_of_the_window_moves_is_explained_and_nothing_beyond(
    moves: list[int], unseen: list[bool], outside: str | None
) -> None:
    """The API may lack any subset of the window's moves (in any settlement order): never counted, never
    moves ``held``; one share beyond every rise or every fall counts."""
    policy = PositionPolicy(protection_window=60.0, mismatch_syncs=3)
    held = D(200)
    for i, move in enumerate(moves):
        side = Side.BUY if move > 0 else Side.SELL
        policy.observe([FillApplied(oid(i), "t", side, D(move), D(abs(move)), "trade")], 100.0 + i)
        held += move
    if outside is None:
        api = held - sum((D(m) for m, u in zip(moves, unseen, strict=False) if u), start=D(0))
    elif outside == "below":
        api = held - sum(D(m) for m in moves if m > 0) - 1
    else:
        api = held - sum(D(m) for m in moves if m < 0) + 1
    verdict = policy.decide("t", api, held, D(0), 100.0 + len(moves), 150.0)
    assert verdict.new_held is None  # a fill inside the window: held never moves either way
    assert verdict.divergent_syncs == (0 if outside is None else 1)


# --- across a restart: held's recent moves are in the snapshot -------------------------------------------


def _restarted(core: object, *, moves: bool = True) -> object:
    """``core`` saved and restored as the ledger does (JSON), optionally from a snapshot without the moves
    (one written before they were saved)."""
    state = json.loads(json.dumps(snapshot(core)))  # type: ignore[arg-type]
    if not moves:
        del state["position_moves"]
    restored, _ = restore(CONFIG, [MARKET], state, 110.0)
    return restored


def test_a_restart_keeps_explaining_the_api_lag_behind_recent_fills() -> None:
    core = ready_core()
    _held(core, 1, "4", 1.0)
    _held(core, 2, "5", 100.0)  # held 9; the API still shows 4 at the restart (110)
    restored = _restarted(core)
    assert restored.positions.moves == core.positions.moves  # type: ignore[attr-defined]
    for at in (115.0, 125.0, 135.0, 145.0):
        decision = _sync(restored, {YES: "4"}, at)[YES]
        assert (decision.kind, decision.divergent_syncs) == (K.SKIPPED_RECENT_FILL, 0)
    assert not _mismatch(restored, 145.0)
    # A snapshot without the moves (older aqbot): the same lag counts, and three syncs latch the token.
    older = _restarted(core, moves=False)
    decisions = [_sync(older, {YES: "4"}, at)[YES] for at in (115.0, 125.0, 135.0)]
    assert [d.divergent_syncs for d in decisions] == [1, 2, 3]
    assert _mismatch(older, 135.0)
