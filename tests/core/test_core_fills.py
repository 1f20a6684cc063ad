"""Fills: ownership, dedupe by (trade id, order id), status orders, FAILED reversal (also after restore)."""

from __future__ import annotations

import itertools
import json

import pytest
from core_helpers import (
    CONFIG,
    FUNDER,
    MARKET,
    NO,
    OWNER,
    YES,
    D,
    kinds,
    live_buy,
    maker_trade,
    oid,
    order_event,
    ready_core,
)
from hypothesis import given
from hypothesis import strategies as st

from aqbot.core.events import MakerFill, OrderEventType, TradeEvent, TradeStatus
from aqbot.core.facts import FillReversed, GapOpened
from aqbot.core.fills import FillBook, own_fills, own_fills_of
from aqbot.core.halts import HaltReason, Scope
from aqbot.core.lifecycle import OrderState
from aqbot.core.snapshot import restore, snapshot
from aqbot.core.types import Side

S = TradeStatus


def test_own_fills_taker_and_maker_entries() -> None:
    mine = {oid(1), oid(2)}
    trade = TradeEvent(
        "t", S.MATCHED, oid(3), YES, Side.BUY, D(7), D("0.4"), "TAKER",
        (
            MakerFill(oid(1), D(2), D("0.4"), YES, "other", "0x0"),  # ours by order id
            MakerFill(oid(8), D(3), D("0.4"), YES, OWNER, "0x0"),  # ours by owner
            MakerFill(oid(9), D(1), D("0.6"), NO, "other", FUNDER.upper().replace("0X", "0x")),  # by funder
            MakerFill(oid(10), D(1), D("0.4"), YES, "other", "0x0"),  # someone else's
        ),
    )  # fmt: skip

    def is_ours(order_id: str, entry: MakerFill | None) -> bool:
        if order_id in mine:
            return True
        return entry is not None and (entry.owner == OWNER or entry.maker_address.lower() == FUNDER)

    fills = own_fills(trade, is_ours)
    assert [(f.order_id, f.amount, f.role) for f in fills] == [
        (oid(3), D(7), "taker"),
        (oid(1), D(2), "maker"),
        (oid(8), D(3), "maker"),
        (oid(9), D(1), "maker"),
    ]
    assert fills[3].token == NO  # cross-asset entry keeps its own token and price
    assert fills[3].price == D("0.6")


_IDS = st.sampled_from([oid(1), oid(2), oid(3), oid(4)])
_ADDRESSES = st.sampled_from(["", "0x0", FUNDER, FUNDER.upper().replace("0X", "0x")])
_ENTRY = st.builds(
    MakerFill,
    _IDS,
    st.sampled_from([D(1), D("2.5")]),
    st.sampled_from([D("0.4"), D("0.6")]),
    st.sampled_from([YES, NO]),
    st.sampled_from(["", "other", OWNER]),
    _ADDRESSES,
    st.sampled_from([None, Side.BUY, Side.SELL]),
)
_TRADE = st.builds(
    TradeEvent,
    st.just("t"),
    st.sampled_from(TradeStatus),
    _IDS,
    st.sampled_from([YES, NO]),
    st.sampled_from(Side),
    st.just(D(3)),
    st.just(D("0.5")),
    st.sampled_from(["TAKER", "taker", "MAKER", ""]),
    st.lists(_ENTRY, max_size=4).map(tuple),
)


@given(
    trade=_TRADE,
    known=st.sets(_IDS),
    owner=st.sampled_from(["", OWNER]),
    funder=st.sampled_from(["", FUNDER, FUNDER.upper()]),
)
def test_own_fills_of_equals_own_fills_with_the_engine_rule(
    trade: TradeEvent, known: set[str], owner: str, funder: str
) -> None:
    """The engine's inline ownership rule (``own_fills_of``) against ``own_fills`` with the rule as a
    callable (the engine's former ``Core._is_ours``)."""

    def is_ours(order_id: str, entry: MakerFill | None) -> bool:
        if order_id in known:
            return True
        if entry is None:
            return False
        if owner and entry.owner == owner:
            return True
        return bool(funder) and entry.maker_address.lower() == funder.lower()

    expected = own_fills(trade, is_ours)
    got = own_fills_of(trade, known, owner, funder.lower())
    assert got == expected
    assert [repr(f) for f in got] == [repr(f) for f in expected]


def test_several_maker_entries_in_one_trade_are_separate_fills() -> None:
    core = ready_core()
    live_buy(core, 1, size="4")
    live_buy(core, 2, size="4", price="0.49")
    core.on_trade_event(maker_trade("t1", [(oid(1), "4"), (oid(2), "2")]), 2.0)
    e = core.token_exposure(YES)
    assert (e.held, e.open_buy) == (D(6), D(2))
    assert len(core.tracker.fills.records) == 2


def test_cross_asset_match_credits_the_makers_token() -> None:
    core = ready_core()
    live_buy(core, 1, size="5", token=NO)
    makers = (MakerFill(oid(1), D(5), D("0.45"), NO, OWNER, FUNDER, Side.BUY),)
    trade = TradeEvent("t1", S.MATCHED, "0xtaker", YES, Side.BUY, D(5), D("0.55"), "MAKER", makers)
    core.on_trade_event(trade, 2.0)
    assert core.token_exposure(NO).held == D(5)
    assert core.token_exposure(YES).held == D(0)


def test_taker_fill() -> None:
    core = ready_core()
    live_buy(core, 1, size="5")
    trade = TradeEvent("t1", S.MATCHED, oid(1), YES, Side.BUY, D(5), D("0.5"), "TAKER")
    core.on_trade_event(trade, 2.0)
    assert core.token_exposure(YES).held == D(5)


def test_trade_in_another_token_than_the_order_is_a_defect() -> None:
    core = ready_core()
    live_buy(core, 1, size="5")
    out = core.on_trade_event(maker_trade("t1", [(oid(1), "2")], token=NO), 2.0)
    assert "Defect" in kinds(out)
    assert core.token_exposure(YES).held == D(0)


def test_trade_for_an_unknown_order_of_ours_opens_a_gap() -> None:
    core = ready_core()
    out = core.on_trade_event(maker_trade("t1", [(oid(5), "2")]), 2.0)
    assert any(isinstance(f, GapOpened) for f in out.facts)


def test_amount_conflict_is_a_defect() -> None:
    core = ready_core()
    live_buy(core, 1)
    core.on_trade_event(maker_trade("t1", [(oid(1), "2")]), 2.0)
    out = core.on_trade_event(maker_trade("t1", [(oid(1), "3")], S.MINED), 2.1)
    assert "Defect" in kinds(out)
    assert core.token_exposure(YES).held == D(2)


def test_trade_for_rejected_order_is_a_defect() -> None:
    from aqbot.core.events import PlacementAnswer

    core = ready_core()
    core.place(oid(1), YES, Side.BUY, D("0.5"), D(4), 1.0)
    core.on_placement_answer(PlacementAnswer(oid(1), False, "", "", "no"), 1.1)
    assert "Defect" in kinds(core.on_trade_event(maker_trade("t1", [(oid(1), "2")]), 2.0))


SEQUENCES = [
    [S.MATCHED, S.MINED, S.CONFIRMED],
    [S.MATCHED, S.RETRYING, S.MINED, S.CONFIRMED],
    [S.MATCHED, S.RETRYING, S.FAILED],
    [S.MATCHED, S.FAILED],
]


def _variants() -> list[tuple[S, ...]]:
    out: set[tuple[S, ...]] = set()
    for seq in SEQUENCES:
        for perm in itertools.permutations(seq):
            out.add(perm)
            out.add((*perm, perm[0]))  # plus a duplicate
    return sorted(out, key=lambda p: [s.value for s in p])


@pytest.mark.parametrize("statuses", _variants(), ids=lambda p: "-".join(s.value for s in p))
def test_any_order_of_statuses_applies_once_and_failed_reverses_once(statuses: tuple[S, ...]) -> None:
    core = ready_core()
    live_buy(core, 1, size="10")
    for i, status in enumerate(statuses):
        core.on_trade_event(maker_trade("t1", [(oid(1), "4")], status), 2.0 + i)
    e = core.token_exposure(YES)
    failed = S.FAILED in statuses
    assert e.held == (D(0) if failed else D(4))
    # The order may still fill: a reversed fill goes back into the reservation (worst never drops).
    assert e.open_buy == (D(10) if failed else D(6))
    confirmed_first = S.CONFIRMED in statuses and (not failed)
    assert e.unsettled_buy == (D(0) if (failed or confirmed_first) else D(4))


def test_order_event_first_then_trade_counts_once() -> None:
    core = ready_core()
    live_buy(core, 1)
    core.on_order_event(order_event(oid(1), "4", "CANCELED", OrderEventType.CANCELLATION), 2.0)
    assert core.token_exposure(YES).held == D(4)
    core.on_trade_event(maker_trade("t1", [(oid(1), "4")]), 2.1)  # the late trade (PROTOCOL 10.5)
    assert core.token_exposure(YES).held == D(4)
    assert core.order(oid(1)).state is OrderState.CANCELED  # type: ignore[union-attr]
    out = core.on_trade_event(maker_trade("t1", [(oid(1), "4")], S.FAILED), 2.2)
    assert any(isinstance(f, FillReversed) for f in out.facts)
    e = core.token_exposure(YES)
    assert (e.held, e.open_buy, e.unsettled_buy) == (D(0), D(0), D(0))


def test_sell_fill_not_final_counts_in_worst_until_confirmed() -> None:
    core = ready_core()
    live_buy(core, 1, size="5")
    core.on_trade_event(maker_trade("t1", [(oid(1), "5")], S.CONFIRMED), 2.0)
    assert core.place(oid(2), YES, Side.SELL, D("0.6"), D(3), 3.0).ok
    core.on_trade_event(maker_trade("t2", [(oid(2), "3")], S.MATCHED, price="0.6", side=Side.SELL), 4.0)
    e = core.token_exposure(YES)
    assert (e.held, e.unsettled_sell, e.worst) == (D(2), D(3), D(5))  # the sell may still FAIL
    core.on_trade_event(maker_trade("t2", [(oid(2), "3")], S.CONFIRMED, price="0.6", side=Side.SELL), 5.0)
    assert core.token_exposure(YES).worst == D(2)


def test_unconfirmed_buys_are_not_sellable() -> None:
    core = ready_core()
    live_buy(core, 1, size="5")
    core.on_trade_event(maker_trade("t1", [(oid(1), "5")]), 2.0)
    refused = core.place(oid(2), YES, Side.SELL, D("0.6"), D(1), 3.0)
    assert refused.refused is not None
    assert refused.refused.startswith("L3")


def test_failed_after_restore_still_reverses() -> None:
    core = ready_core()
    live_buy(core, 1, size="10")
    core.on_trade_event(maker_trade("t1", [(oid(1), "4")]), 2.0)
    data = json.loads(json.dumps(snapshot(core)))
    restored, _ = restore(CONFIG, [MARKET], data, 3.0)
    assert restored.token_exposure(YES).held == D(4)
    restored.on_trade_event(maker_trade("t1", [(oid(1), "4")], S.FAILED), 4.0)
    assert restored.token_exposure(YES).held == D(0)
    restored.on_trade_event(maker_trade("t1", [(oid(1), "4")], S.FAILED), 4.1)  # duplicate
    assert restored.token_exposure(YES).held == D(0)


def test_fillbook_statuses_after_failed_are_ignored() -> None:
    book = FillBook()
    assert book.observe("t", oid(1), D(2), D("0.5"), S.FAILED).reverse == D(2)
    for status in S:
        obs = book.observe("t", oid(1), D(2), D("0.5"), status)
        assert (obs.added, obs.reverse) == (D(0), D(0))
    assert book.trade_sum(oid(1)) == D(2)
    assert book.failed_amount(oid(1)) == D(2)


def test_fillbook_confirmed_then_failed() -> None:
    book = FillBook()
    book.observe("t", oid(1), D(2), D("0.5"), S.CONFIRMED)
    assert book.confirmed_amount(oid(1)) == D(2)
    assert not book.observe("t", oid(1), D(2), D("0.5"), S.MINED).status_changed  # stale after final
    obs = book.observe("t", oid(1), D(2), D("0.5"), S.FAILED)
    assert obs.failed_after_confirmed
    assert obs.conflict is not None
    assert obs.reverse == D(0)  # the book changes nothing: the caller decides
    assert book.confirmed_amount(oid(1)) == D(2)
    record = book.record("t", oid(1))
    assert record is not None
    book.fail(record)
    assert (book.confirmed_amount(oid(1)), book.failed_amount(oid(1))) == (D(0), D(2))


def test_failed_after_confirmed_is_a_defect_keeps_a_buy_and_returns_a_sell() -> None:
    core = ready_core()
    live_buy(core, 1, size="5")
    core.on_trade_event(maker_trade("t1", [(oid(1), "5")], S.CONFIRMED), 2.0)
    out = core.on_trade_event(maker_trade("t1", [(oid(1), "5")], S.FAILED), 3.0)
    assert "Defect" in kinds(out)
    assert core.token_exposure(YES).held == D(5)  # a BUY's shares stay counted (conservative for L1)
    core.clear_halt(HaltReason.DEFECT, Scope.token(YES), 3.5)
    assert core.place(oid(2), YES, Side.SELL, D("0.6"), D(2), 4.0).ok
    core.on_trade_event(maker_trade("t2", [(oid(2), "2")], S.CONFIRMED, price="0.6", side=Side.SELL), 5.0)
    assert core.token_exposure(YES).held == D(3)
    core.on_trade_event(maker_trade("t2", [(oid(2), "2")], S.FAILED, price="0.6", side=Side.SELL), 6.0)
    assert core.token_exposure(YES).held == D(5)  # a SELL's shares come back (worst must not drop)
