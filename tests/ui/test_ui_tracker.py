"""DashboardTracker: events and fills derived from successive BotState pictures."""

from __future__ import annotations

import attrs
from ui_states import LABELS, M1, N1, Y1, D, halted, health, healthy, quote, token

from aqbot.app_state import BotState, HaltState
from aqbot.ui.tracker import DashboardTracker, OrderView


class Probe:
    """The core's ``order()`` as a dict: order id -> (state, counted)."""

    def __init__(self) -> None:
        self.views: dict[str, OrderView] = {}

    def set(self, order_id: str, state: str, counted: str) -> None:
        self.views[order_id] = OrderView(state, D(counted))

    def __call__(self, order_id: str) -> OrderView | None:
        return self.views.get(order_id)


def one_market(now: float, *, held: str = "0", quotes: tuple[object, ...] = ()) -> BotState:
    tokens = (token(Y1, M1, held=held), token(N1, M1))
    return BotState(now, tokens, quotes, (), 0, {M1: True}, health())  # type: ignore[arg-type]


def texts(tracker: DashboardTracker) -> list[str]:
    return [f"{e.kind}: {e.text}" for e in tracker.events]


def test_first_frame_is_the_baseline() -> None:
    tracker = DashboardTracker(labels=LABELS)
    probe = Probe()
    for q in healthy().quotes:
        probe.set(q.order_id, q.state, "3")  # partly filled before the dashboard started: not a new fill
    tracker.observe(healthy(), probe)
    assert tracker.started_at == 1000.0
    assert texts(tracker) == ["info: started: 2 markets, 5 resting orders, quoting yes"]
    assert tracker.fills.count == 0
    tracker.observe(healthy(1000.5), probe)
    assert texts(tracker) == ["info: started: 2 markets, 5 resting orders, quoting yes"]


def test_partial_fill_then_final_fill_of_a_vanished_order() -> None:
    tracker = DashboardTracker(labels=LABELS)
    probe = Probe()
    buy = quote("0xb1", Y1, "BUY", "0.47", "10")
    probe.set("0xb1", "LIVE", "0")
    tracker.observe(one_market(10.0, quotes=(buy,)), probe)
    # 4 fill: remaining 6, counted 4, held 4
    probe.set("0xb1", "LIVE", "4")
    tracker.observe(one_market(10.5, held="4", quotes=(attrs.evolve(buy, remaining=D(6)),)), probe)
    # the rest fills and the order leaves the resting set
    probe.set("0xb1", "FILLED", "10")
    tracker.observe(one_market(11.0, held="10"), probe)
    assert texts(tracker)[1:] == [
        "fill: BUY YES 0xaaaa…1111 4 @ 0.47",
        "fill: BUY YES 0xaaaa…1111 6 @ 0.47",
        "orders: +0 placed, -1 filled (over 0s)",
    ]
    assert tracker.fills.count == 2
    assert tracker.fills.bought == D(10)
    assert tracker.fills.buy_value == D("4.70")
    assert tracker.token_fills[Y1].bought == D(10)


def test_sell_fill_is_counted_at_its_price() -> None:
    tracker = DashboardTracker(labels=LABELS)
    probe = Probe()
    sell = quote("0xs1", Y1, "SELL", "0.55", "10")
    probe.set("0xs1", "LIVE", "0")
    # 10 held at a cost of 4.50 (average 0.45)
    tracker.observe(one_market(0.0, held="10", quotes=(sell,)), probe)
    probe.set("0xs1", "LIVE", "4")
    tracker.observe(one_market(0.5, held="6", quotes=(attrs.evolve(sell, remaining=D(6)),)), probe)
    assert tracker.fills.sold == D(4)
    assert tracker.fills.sell_value == D("2.20")
    assert texts(tracker)[-1] == "fill: SELL YES 0xaaaa…1111 4 @ 0.55"


def test_new_order_already_partly_filled_counts_its_fill_and_placement() -> None:
    tracker = DashboardTracker(labels=LABELS)
    probe = Probe()
    tracker.observe(one_market(0.0), probe)
    probe.set("0xn", "LIVE", "2")
    tracker.observe(one_market(0.5, held="2", quotes=(quote("0xn", Y1, "BUY", "0.5", "8"),)), probe)
    assert texts(tracker)[1:] == ["fill: BUY YES 0xaaaa…1111 2 @ 0.5", "orders: +1 placed (over 0s)"]


def test_held_changes_no_order_explains_are_shown_not_guessed() -> None:
    tracker = DashboardTracker(labels=LABELS)
    probe = Probe()
    tracker.observe(one_market(0.0, held="5"), probe)
    tracker.observe(one_market(0.5, held="3"), probe)
    assert texts(tracker)[1:] == [
        "held: YES 0xaaaa…1111 held -2 not from a resting order seen (position sync, reversal, or between "
        "frames)"
    ]
    assert tracker.fills.count == 0


def test_placements_and_cancels_coalesce_into_one_running_line() -> None:
    tracker = DashboardTracker(labels=LABELS)
    probe = Probe()
    tracker.observe(one_market(0.0), probe)
    for i in range(3):
        probe.set(f"0x{i}", "LIVE", "0")
        if i:
            probe.set(f"0x{i - 1}", "CANCELED", "0")
        tracker.observe(one_market(1.0 + i, quotes=(quote(f"0x{i}", Y1, "BUY", "0.4", "5"),)), probe)
    assert texts(tracker)[1:] == ["orders: +3 placed, -2 canceled (over 2s)"]
    halt = HaltState("MANUAL", "global:", 4.0, "operator")
    probe.set("0x2", "CANCELED", "0")
    tracker.observe(attrs.evolve(one_market(4.0, quotes=()), halts=(halt,)), probe)
    probe.set("0x5", "LIVE", "0")
    tracker.observe(one_market(5.0, quotes=(quote("0x5", Y1, "BUY", "0.4", "5"),)), probe)
    assert texts(tracker)[1:] == [
        "orders: +3 placed, -2 canceled (over 2s)",
        "halt: MANUAL (global): operator",
        "orders: +0 placed, -1 canceled (over 0s)",
        "resume: MANUAL (global) cleared after 1s",
        "orders: +1 placed (over 0s)",
    ]


def test_halts_gates_channels_gaps_and_health_transitions() -> None:
    tracker = DashboardTracker(labels=LABELS)
    probe = Probe()
    tracker.observe(healthy(990.0), probe)
    tracker.observe(halted(1000.0), probe)
    down = texts(tracker)[1:]
    assert "halt: USER_WS_DOWN (global): user channel down: connection closed" in down
    assert "halt: MARKET_DATA_STALE (market 0xbbbb…2222): no book update for 120s" in down
    assert "halt: quoting no: MARKET_DATA_STALE,RECONCILE_PENDING,USER_WS_DOWN" in down
    assert "ws: user channel DOWN" in down
    assert "gap: user channel gap (total 2)" in down
    assert "gap: gap opened: 1 open" in down
    worse = attrs.evolve(
        halted(1001.0),
        health=health(user_connected=False, user_gaps=2, heartbeat_lapsed=True, ledger_failing=True,
                      reconcile_failures=1, rejected=3, unknown=2),
    )  # fmt: skip
    tracker.observe(worse, probe)
    assert texts(tracker)[len(down) + 1 :] == [
        "health: heartbeat LAPSED",
        "health: ledger FAILING",
        "health: reconciliation failed (1 in a row)",
        "health: 2 placement(s) rejected (total 3)",
        "health: 2 placement(s) UNKNOWN (total 2)",
    ]
    tracker.observe(healthy(1030.0), probe)
    back = texts(tracker)
    for line in (
        "resume: USER_WS_DOWN (global) cleared after 41s",
        "resume: MARKET_DATA_STALE (market 0xbbbb…2222) cleared after 32s",
        "resume: quoting yes",
        "ws: user channel connected",
        "gap: gap resolved: 0 open",
        "health: heartbeat ok again",
        "health: ledger ok again",
    ):
        assert line in back
    # counters that go down (healthy() has rejected=1, unknown=0) are not events
    assert sum(1 for line in back if "placement(s)" in line) == 2


def test_events_are_bounded() -> None:
    tracker = DashboardTracker(labels=LABELS, max_events=5)
    probe = Probe()
    tracker.observe(one_market(0.0), probe)
    for i in range(20):
        halt = HaltState("MANUAL", "global:", float(i), f"n{i}")
        tracker.observe(attrs.evolve(one_market(float(i) + 0.5), halts=(halt,)), probe)
        tracker.observe(one_market(float(i) + 0.75), probe)
    assert len(tracker.events) == 5
    assert tracker.events[-1].text == "MANUAL (global) cleared after 0s"


def test_extras_are_an_immutable_copy() -> None:
    tracker = DashboardTracker(mode="live", labels=LABELS)
    tracker.observe(one_market(3.0), Probe())
    ex = tracker.extras(frame_ms=1.5)
    tracker.add(4.0, "info", "later")
    assert ex.mode == "live"
    assert ex.started_at == 3.0
    assert ex.frame_ms == 1.5
    assert [e.text for e in ex.events] == ["started: 1 markets, 0 resting orders, quoting yes"]
