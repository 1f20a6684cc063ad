"""The positions-API policy, alone and through the Core."""

from __future__ import annotations

from decimal import Decimal

import pytest
from core_helpers import NO, YES, D, live_buy, maker_trade, oid, ready_core

from aqbot.core.events import PositionRow, PositionsSnapshot, TradeStatus
from aqbot.core.facts import PositionDecision, PositionDecisionKind
from aqbot.core.halts import HaltReason
from aqbot.core.positions import PositionPolicy
from aqbot.core.types import Side

K = PositionDecisionKind


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
    decisions = _sync(core, {YES: "3"}, 10.0)
    assert decisions[NO].kind is K.AGREE  # every token gets a recorded decision
    assert decisions[YES].kind is K.SKIPPED_RECENT_FILL
    _sync(core, {YES: "3"}, 20.0)
    decisions = _sync(core, {YES: "3"}, 30.0)
    assert decisions[YES].kind is K.DIVERGENT
    gate = core.can_quote(YES, 30.0)
    assert HaltReason.POSITION_MISMATCH in gate.reasons
    assert core.can_quote(NO, 30.0).allowed  # token scope
    decisions = _sync(core, {YES: "3"}, 100.0)  # past the window, no open buys: lower is accepted
    assert decisions[YES].kind is K.ACCEPTED_LOWER
    assert core.token_exposure(YES).held == D(3)
    assert core.token_exposure(YES).adjusted == D(-2)
    assert core.can_quote(YES, 100.0).allowed


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
