"""The runtime's PnL marks (the best bid net of aqbot's own resting BUYs) and PnL gauges."""

from __future__ import annotations

from decimal import Decimal

import attrs

from aqbot.app_state import BotState, Health, PnlState, conservative_mark, marks_of, update_metrics
from aqbot.core.book import BookSnapshot, Level, OrderBook, build_book
from aqbot.core.config import CoreConfig
from aqbot.core.engine import Core
from aqbot.core.events import Channel, OrdersSnapshot
from aqbot.core.exposure import Limits
from aqbot.core.types import MarketSpec, Side
from aqbot.io.metrics import MetricsRegistry, make_aqbot_metrics

D = Decimal
SPEC = MarketSpec("0x" + "1" * 64, "111", "222", D("0.01"))


def book(token: str, *bids: tuple[str, str]) -> OrderBook:
    levels = tuple(Level(D(p), D(s)) for p, s in bids)
    return build_book(BookSnapshot(token, levels, (Level(D("0.90"), D(5)),)), 0.0)


def test_own_bids_are_taken_out_of_the_mark() -> None:
    b = book("111", ("0.48", "10"), ("0.47", "3"), ("0.40", "100"))
    assert conservative_mark(b, {}) == D("0.48")
    assert conservative_mark(b, {D("0.48"): D(10)}) == D("0.47")  # aqbot alone at 0.48
    assert conservative_mark(b, {D("0.48"): D(4)}) == D("0.48")  # someone else bids there too
    assert conservative_mark(b, {D("0.48"): D(10), D("0.47"): D(3), D("0.40"): D(100)}) is None
    assert conservative_mark(OrderBook("111"), {}) is None  # an invalid book has no mark


def test_marks_of_uses_the_cores_open_buys_and_skips_tokens_without_a_bid() -> None:
    core = Core(CoreConfig(Limits(D(50))), [SPEC], 0.0)
    core.on_channel_up(Channel.USER, 0.0)
    rid, _ = core.begin_reconciliation(0.0)
    core.on_reconciliation(rid, OrdersSnapshot(0.0), None, 0.0)
    assert core.place("0xo1", "111", Side.BUY, D("0.48"), D(10), 1.0).ok
    books = {"111": book("111", ("0.48", "10"), ("0.40", "100")), "222": book("222")}
    assert marks_of(core, books) == {"111": D("0.40")}


def test_pnl_gauges_follow_the_state() -> None:
    metrics = make_aqbot_metrics(MetricsRegistry())
    health = Health(True, True, 0, 0, None, False, None, 0, None, 0, False, 0, 0, 0)
    state = BotState(1.0, (), (), (), 0, {}, health, PnlState(D("0.5"), D("-2"), D("-1.5"), None, D(50)))
    update_metrics(metrics, state)
    assert metrics.pnl_pusd.values == {("realized",): D("0.5"), ("unrealized",): D(-2), ("total",): D("-1.5")}
    update_metrics(metrics, attrs.evolve(state, pnl=attrs.evolve(state.pnl, daily=D("-3"))))
    assert metrics.pnl_pusd.values[("daily",)] == D(-3)
