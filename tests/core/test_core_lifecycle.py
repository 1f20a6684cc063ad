"""Every (state, trigger) cell of the order lifecycle table, against an independent copy of the spec."""

from __future__ import annotations

import pytest

from aqbot.core.lifecycle import TABLE, TERMINAL, IllegalTransition, OrderState, Trigger, is_legal, transition
from aqbot.errors import InvariantViolation

# Columns, in order.
COLUMNS = [
    Trigger.ACCEPT,
    Trigger.REJECT,
    Trigger.SUBMIT_UNKNOWN,
    Trigger.CANCEL_SEND,
    Trigger.CANCEL_ACK,
    Trigger.CANCEL_NOT_FOUND,
    Trigger.EXCH_OPEN,
    Trigger.FILL,
    Trigger.EXCH_FILLED,
    Trigger.EXCH_CANCELED,
    Trigger.EXCH_EXPIRED,
    Trigger.REVIVE,
    Trigger.EXCH_ABSENT,
]
ABBREV = {
    "PS": OrderState.PENDING_SUBMIT,
    "LV": OrderState.LIVE,
    "CR": OrderState.CANCEL_REQUESTED,
    "UN": OrderState.UNKNOWN,
    "FI": OrderState.FILLED,
    "CA": OrderState.CANCELED,
    "EX": OrderState.EXPIRED,
    "RE": OrderState.REJECTED,
    "--": None,
}
# The specification, written out by hand (DESIGN section 2 plus the late-news rules); "--" = illegal.
SPEC = """
PS: LV RE UN CR CR UN LV LV FI CA EX -- UN
LV: LV -- LV CR CR UN LV LV FI CA EX -- UN
CR: CR RE CR CR CR UN CR CR FI CA EX -- UN
UN: LV RE UN UN CR UN LV UN FI CA EX -- UN
FI: FI -- FI -- FI FI FI FI FI -- -- UN FI
CA: CA -- CA -- CA CA CA CA -- CA -- UN CA
EX: EX -- EX -- EX EX EX EX -- -- EX UN EX
RE: -- RE RE -- -- RE -- -- -- -- -- UN RE
"""


def _spec() -> dict[tuple[OrderState, Trigger], OrderState | None]:
    cells: dict[tuple[OrderState, Trigger], OrderState | None] = {}
    for line in SPEC.strip().splitlines():
        head, rest = line.split(":")
        for trigger, cell in zip(COLUMNS, rest.split(), strict=True):
            cells[(ABBREV[head], trigger)] = ABBREV[cell]
    return cells


CELLS = sorted(_spec().items(), key=lambda kv: (kv[0][0].value, kv[0][1].value))


def test_spec_covers_every_cell() -> None:
    assert len(CELLS) == len(OrderState) * len(Trigger)
    assert set(COLUMNS) == set(Trigger)


@pytest.mark.parametrize(("cell", "expected"), CELLS, ids=[f"{s.value}-{t.value}" for (s, t), _ in CELLS])
def test_cell(cell: tuple[OrderState, Trigger], expected: OrderState | None) -> None:
    state, trigger = cell
    if expected is None:
        assert not is_legal(state, trigger)
        with pytest.raises(IllegalTransition) as exc:
            transition(state, trigger)
        assert isinstance(exc.value, InvariantViolation)
        assert (exc.value.state, exc.value.trigger) == (state, trigger)
    else:
        assert is_legal(state, trigger)
        assert transition(state, trigger) is expected


def test_table_has_no_extra_cells() -> None:
    legal = {cell for cell, target in _spec().items() if target is not None}
    assert set(TABLE) == legal


UNCONFIRMED = [
    Trigger.SUBMIT_UNKNOWN,
    Trigger.CANCEL_SEND,
    Trigger.CANCEL_ACK,
    Trigger.CANCEL_NOT_FOUND,
    Trigger.EXCH_ABSENT,  # one snapshot's absence with the fill maybe not listed yet (review D1)
]


@pytest.mark.parametrize("trigger", UNCONFIRMED)
def test_unconfirmed_news_never_ends_an_order(trigger: Trigger) -> None:
    for state in OrderState:
        if not state.terminal and is_legal(state, trigger):
            assert not transition(state, trigger).terminal


def test_terminal_states_reopen_only_by_revive() -> None:
    for (state, trigger), target in TABLE.items():
        if state in TERMINAL:
            assert target is (OrderState.UNKNOWN if trigger is Trigger.REVIVE else state)


def test_unknown_leaves_only_on_evidence() -> None:
    leaving = {t for (s, t), target in TABLE.items() if s is OrderState.UNKNOWN and target is not s}
    assert leaving == {
        Trigger.ACCEPT,
        Trigger.REJECT,
        Trigger.CANCEL_ACK,
        Trigger.EXCH_OPEN,
        Trigger.EXCH_FILLED,
        Trigger.EXCH_CANCELED,
        Trigger.EXCH_EXPIRED,
    }
