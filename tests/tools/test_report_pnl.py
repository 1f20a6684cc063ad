"""The report's PnL is the core's: the same averaging, crossing and FAILED-fill rules (aqbot.core.pnl)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from aqbot.core.pnl import PnlBook
from aqbot.tools.report_model import ReportModel, _pnl

D = Decimal
TOKEN = "tok"


def _row(kind: str, delta: str, price: str) -> dict[str, Any]:
    return {"kind": kind, "token": TOKEN, "delta": D(delta), "price": D(price)}


def _report(rows: list[dict[str, Any]]) -> ReportModel:
    model = ReportModel(path="x", axis="mono")
    model.fills = rows
    _pnl(model, [])
    return model


def test_buy_sell_reversal_and_a_crossing() -> None:
    rows = [
        _row("applied", "10", "0.40"),
        _row("applied", "-4", "0.50"),  # realises 4 * 0.10
        _row("reversed", "-2", "0.40"),  # a BUY of 2 at 0.40 FAILED: its cost and shares go, no PnL
        _row("applied", "-6", "0.45"),  # sells 4 held, then opens -2 at 0.45
    ]
    pnl = _report(rows).tokens[TOKEN].pnl
    book = PnlBook()
    book.fill(TOKEN, D(10), D("0.40"))
    book.fill(TOKEN, D(-4), D("0.50"))
    book.reverse(TOKEN, D(2), D("0.40"))
    book.fill(TOKEN, D(-6), D("0.45"))
    core = book.tokens[TOKEN]
    assert (pnl.position, pnl.cost, pnl.realised) == (core.position, core.cost, core.realized)
    assert pnl.position == D(-2)
    assert pnl.realised == D("0.40") + D(4) * (D("0.45") - D("0.40"))
    assert (pnl.bought, pnl.sold) == (D(8), D(10))
    assert pnl.mark == D("0.45")


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["applied", "reversed"]),
            st.integers(-20, 20).filter(bool),
            st.integers(1, 99),
        ),
        max_size=25,
    )
)
def test_report_pnl_equals_the_cores_book(fills: list[tuple[str, int, int]]) -> None:
    """Whatever the sequence, the report books exactly what the core's PnlBook books."""
    rows = [_row(kind, str(qty), f"0.{cents:02d}") for kind, qty, cents in fills]
    book = PnlBook()
    for kind, qty, cents in fills:
        price = D(f"0.{cents:02d}")
        if kind == "applied":
            book.fill(TOKEN, D(qty), price)
        else:
            book.reverse(TOKEN, D(-qty), price)
    model = _report(rows)
    if not fills:
        assert TOKEN not in model.tokens
        return
    pnl = model.tokens[TOKEN].pnl
    core = book.token(TOKEN)
    assert (pnl.position, pnl.cost, pnl.realised) == (core.position, core.cost, core.realized)
