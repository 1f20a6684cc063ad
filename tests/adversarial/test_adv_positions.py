"""Adversarial positions-API answers, L3 (sell only what is surely held) and notional caps.

The Data API lags and is distrusted (DESIGN section 1): it may raise ``held`` but lowers it only when no buy
is pending and no fill is recent. These tests feed it lagging, missing and contradictory rows, and sell
against shares whose purchase may still FAIL. ``xfail(strict=True)`` tests are bugs (docs/review-limits.md).
"""

from __future__ import annotations

import attrs
import pytest
from adv_helpers import (
    CONFIG,
    LIMIT,
    MARKET,
    NO,
    YES,
    ZERO,
    D,
    buy,
    buy_allowed,
    maker_trade,
    oid,
    order_ev,
    ready,
    reconcile,
    row,
    sell,
    worst,
)

from aqbot.core.engine import Core
from aqbot.core.events import PositionRow, PositionsSnapshot, TradeStatus
from aqbot.core.exposure import Limits
from aqbot.core.halts import HaltReason
from aqbot.core.types import Side

S = TradeStatus


def _filled(core: Core, n: int, size: str = "10", at: float = 1.0, status: S = S.CONFIRMED) -> None:
    o = buy(core, n, size, now=at)
    core.on_trade_event(maker_trade(f"t{n}", [(o, size)], status), at)
    core.on_order_event(order_ev(o, size, "MATCHED", size=size), at)


def _api(core: Core, at: float, size: str | None, token: str = YES, avg: str = "0.5") -> None:
    rows = () if size is None else (PositionRow(token, D(size), D(avg)),)
    core.on_positions(PositionsSnapshot(at, rows), at)


def test_api_cannot_lower_held_while_a_buy_is_pending() -> None:
    core = ready()
    _filled(core, 1, "6")
    buy(core, 2, "4", now=2.0)
    _api(core, 500.0, "1")
    assert core.token_exposure(YES).held == D(6)
    assert worst(core) == LIMIT


def test_api_cannot_lower_held_within_the_protection_window() -> None:
    core = ready()
    _filled(core, 1, "6", at=100.0)
    _api(core, 159.0, "1")
    assert core.token_exposure(YES).held == D(6)


@pytest.mark.parametrize("size", [None, "0"])
def test_missing_or_zero_row_never_means_flat(size: str | None) -> None:
    """Neither lowers ``held``. A zero row is a reading that no recent move explains, so it latches
    ``POSITION_MISMATCH``; a missing row proves nothing (neither flat nor a missed fill) and does not."""
    core = ready()
    _filled(core, 1, "6")
    for at in (500.0, 600.0, 700.0):
        _api(core, at, size)
    assert core.token_exposure(YES).held == D(6)
    assert (HaltReason.POSITION_MISMATCH in core.can_quote(YES, 700.0).reasons) is (size == "0")


def test_api_cannot_lower_held_while_the_buy_may_still_fail() -> None:
    core = ready()
    _filled(core, 1, "6", status=S.MINED)
    _api(core, 500.0, "0.5")
    assert core.token_exposure(YES).held == D(6)


def test_api_raise_explained_by_open_buys_is_not_double_counted() -> None:
    core = ready()
    buy(core, 1, now=1.0)
    _api(core, 500.0, "10")  # the order filled, the user channel has not said so yet
    assert core.token_exposure(YES).held == ZERO
    core.on_order_event(order_ev(oid(1), "10", "MATCHED"), 501.0)
    assert worst(core) == LIMIT


def test_api_raise_beyond_the_open_buys_is_accepted_and_latches_the_breach() -> None:
    core = ready()
    buy(core, 1, "4", now=1.0)
    _api(core, 500.0, "9")  # 9 > held 0 + open 4: shares aqbot never saw
    assert core.token_exposure(YES).held == D(9)
    assert HaltReason.LIMIT_BREACH in core.can_quote(YES, 500.0).reasons


def test_sell_against_a_buy_that_may_still_fail_is_refused() -> None:
    core = ready()
    _filled(core, 1, "10", status=S.MATCHED)
    assert not core.place(oid(2), YES, Side.SELL, D("0.6"), D(1), 2.0).ok
    core.on_trade_event(maker_trade("t1", [(oid(1), "10")], S.FAILED), 3.0)
    assert core.token_exposure(YES).held == ZERO
    assert not core.place(oid(3), YES, Side.SELL, D("0.6"), D(1), 3.0).ok
    assert buy_allowed(core, 4, LIMIT, 3.0)


def test_sell_allowed_once_confirmed_and_never_beyond_held() -> None:
    core = ready()
    _filled(core, 1, "10", status=S.MATCHED)
    core.on_trade_event(maker_trade("t1", [(oid(1), "10")], S.CONFIRMED), 2.0)
    sell(core, 2, "6", now=2.0)
    assert not core.place(oid(3), YES, Side.SELL, D("0.6"), D(5), 2.0).ok
    assert core.place(oid(4), YES, Side.SELL, D("0.6"), D(4), 2.0).ok


def test_sell_fill_that_may_revert_counts_in_worst() -> None:
    """A SELL fill not yet CONFIRMED may FAIL and give the shares back: worst keeps them."""
    core = ready()
    _filled(core, 1, "10")
    s = sell(core, 2, "10", now=2.0)
    core.on_trade_event(maker_trade("ts", [(s, "10")], S.MATCHED, side=Side.SELL), 3.0)
    assert core.token_exposure(YES).held == ZERO
    assert worst(core) == LIMIT
    assert not buy_allowed(core, 3, D(1), 3.0)
    core.on_trade_event(maker_trade("ts", [(s, "10")], S.FAILED, side=Side.SELL), 4.0)
    assert core.token_exposure(YES).held == LIMIT


def test_market_and_global_notional_caps_count_both_tokens() -> None:
    limits = Limits(D(100), max_market_notional=D(10), max_global_notional=D(12))
    core = ready(attrs.evolve(CONFIG, limits=limits))
    buy(core, 1, "10", price="0.6", now=1.0)  # 6
    assert not buy_allowed(core, 2, D(10), 1.0, token=NO)  # 6 + 5 > 10 (market)
    assert core.place(oid(3), NO, Side.BUY, D("0.4"), D(10), 1.0).ok  # 6 + 4 = 10
    core.on_trade_event(maker_trade("t1", [(oid(1), "10")], price="0.6"), 2.0)
    assert core.exposure.market_notional(MARKET.condition_id) == D(10)  # held at cost + open at price
    assert not core.place(oid(4), NO, Side.BUY, D("0.01"), D(5), 2.0).ok


# --- bugs ---------------------------------------------------------------------------------------------


# B3 (docs/review-limits.md): fixed in e2526c0, kept as a regression test.
def test_api_cannot_lower_held_while_sells_are_open() -> None:
    """held 10, SELL 10 resting. The exchange fills 5 of the sell; aqbot misses the events (no gap seen).

    60 s later the API says 5 (the truth) and the core lowers held to 5. The next reconciliation then finds
    the 5 sold on the sell order and takes them out again: held 0 while the exchange credits 5. The quoter
    may now BUY 10: the exchange position can reach 15 > 10. A lower API value is *explained* by the open
    sells (as a higher one is by open buys); the fix is the mirror of the raise rule.
    """
    core = ready()
    _filled(core, 1, "10")
    s = sell(core, 2, "10", now=2.0)
    _api(core, 100.0, "5")
    reconcile(core, 101.0, rows=(row(s, "5", side=Side.SELL),))
    core.on_trade_event(maker_trade("ts", [(s, "5")], S.CONFIRMED, side=Side.SELL), 102.0)
    assert core.token_exposure(YES).held == D(5)  # before the fix: 0
    assert not buy_allowed(core, 3, D(10), 103.0)


# B6 (docs/review-limits.md): fixed in e2526c0, kept as a regression test.
def test_api_raise_without_avg_price_still_counts_notional() -> None:
    """The Data API row has no avgPrice (edge maps it to 0): 100 shares join ``held`` at zero cost."""
    limits = Limits(D(1000), max_market_notional=D(60))
    core = ready(attrs.evolve(CONFIG, limits=limits))
    _api(core, 500.0, "100", avg="0")
    assert core.token_exposure(YES).held == D(100)
    assert not buy_allowed(core, 1, D(100), 501.0)  # before the fix: 0 + 50 <= 60 passed
