"""The dashboard's memory: recent events and fills, derived by diffing one :class:`BotState` to the next.

``BotState`` is a picture of *now*; a dashboard also wants *what happened*. :class:`DashboardTracker`
keeps the previous picture and, at every frame, turns the differences into :class:`EventLine` rows (a
bounded deque) and fill totals:

* halts appearing and clearing; whether quoting is allowed (and why not) changing;
* channels connecting and dropping, gap counters, open gaps opening and resolving, heartbeat lapses,
  ledger failures, failed reconciliations, rejected and UNKNOWN placements;
* orders placed and gone (coalesced into one running line, by final state);
* fills. Method: every order that rests in a frame is remembered with the core's ``counted`` (the
  matched size already credited to ``held``, read through the core's public ``order()`` query). A
  rise of ``counted`` is a fill of that size at the order's price (aqbot's orders are post-only makers,
  so they fill at their own price); an order that leaves the resting set is looked up once more, so its
  last fill is not lost. PnL is not derived here: the dashboard shows the core's PnL book
  (``BotState.pnl`` and the per-token figures, :mod:`aqbot.core.pnl`). A change of ``held`` that no
  order explains (a position-API adjustment, a FAILED reversal, an order placed and done between two
  frames) is shown as a ``held`` event instead of being guessed into a fill.

Memory is bounded: the orders remembered are the ones resting now, and the events deque has a maxlen.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable, Mapping
from decimal import Decimal

import attrs

from aqbot.app_state import BotState, QuoteState
from aqbot.ui import fmt
from aqbot.ui.model import DashboardExtras, EventLine, FillTotals, IoStats

log = logging.getLogger(__name__)

ZERO = Decimal(0)
# Events remembered (the dashboard shows the last few).
MAX_EVENTS = 200


@attrs.frozen
class OrderView:
    """What the tracker needs of one order: its state and how much of it was credited to ``held``."""

    state: str
    counted: Decimal


# order id -> its view, or None when the core does not know it.
OrderProbe = Callable[[str], "OrderView | None"]


@attrs.frozen
class _Seen:
    token: str
    market: str
    side: str
    price: Decimal
    counted: Decimal


def _seen(quote: QuoteState, markets: Mapping[str, str], view: OrderView | None) -> _Seen:
    counted = ZERO if view is None else view.counted
    return _Seen(quote.token, markets.get(quote.token, ""), quote.side, quote.price, counted)


@attrs.define
class _OrdersRun:
    """The running "orders" event line: counts since the last other event."""

    since: float
    placed: int = 0
    gone: dict[str, int] = attrs.Factory(dict)

    def text(self, now: float) -> str:
        parts = [f"+{self.placed} placed"] + [f"-{n} {s.lower()}" for s, n in sorted(self.gone.items())]
        return f"{', '.join(parts)} (over {fmt.duration(now - self.since)})"


@attrs.define
class DashboardTracker:
    """Feed it every frame's state (:meth:`observe`), read :meth:`extras` to draw."""

    mode: str = "paper"
    labels: dict[str, str] = attrs.Factory(dict)
    max_events: int = MAX_EVENTS
    started_at: float | None = None
    fills: FillTotals = attrs.Factory(FillTotals)
    token_fills: dict[str, FillTotals] = attrs.Factory(dict)
    events: collections.deque[EventLine] = attrs.field(init=False)
    _prev: BotState | None = attrs.field(default=None, init=False)
    _orders: dict[str, _Seen] = attrs.field(factory=dict, init=False)
    _run: _OrdersRun | None = attrs.field(default=None, init=False)

    def __attrs_post_init__(self) -> None:
        self.events = collections.deque(maxlen=self.max_events)

    def extras(self, *, io: IoStats | None = None, frame_ms: float | None = None) -> DashboardExtras:
        """An immutable copy of what the tracker knows, for :func:`~aqbot.ui.render.render_dashboard`."""
        return DashboardExtras(
            mode=self.mode,
            started_at=self.started_at,
            labels=dict(self.labels),
            events=tuple(self.events),
            fills=self.fills,
            token_fills=dict(self.token_fills),
            io=io,
            frame_ms=frame_ms,
        )

    def add(self, at: float, kind: str, text: str) -> None:
        """Append an event (ends the running "orders" line)."""
        self.events.append(EventLine(at, kind, text))
        self._run = None

    def observe(self, state: BotState, probe: OrderProbe) -> None:
        """Diff ``state`` against the previous one (see the module docstring)."""
        prev = self._prev
        if prev is None:
            self.started_at = state.now
            markets = {t.token: t.market for t in state.tokens}
            for quote in state.quotes:
                self._orders[quote.order_id] = _seen(quote, markets, probe(quote.order_id))
            _, why = fmt.quoting_summary(state)
            self.add(state.now, "info", f"started: {len(state.quoting_allowed)} markets, "
                     f"{len(state.quotes)} resting orders, quoting {why}")  # fmt: skip
        else:
            self._halts(prev, state)
            self._health(prev, state)
            self._orders_and_fills(prev, state, probe)
        self._prev = state

    def _halts(self, prev: BotState, state: BotState) -> None:
        before = {(h.reason, h.scope): h for h in prev.halts}
        after = {(h.reason, h.scope): h for h in state.halts}
        for key, halt in after.items():
            if key not in before:
                scope = fmt.scope_text(halt.scope, state, self.labels)
                self.add(state.now, "halt", f"{halt.reason} ({scope}): {halt.detail}")
        for key, halt in before.items():
            if key not in after:
                lasted = fmt.duration(state.now - halt.since)
                scope = fmt.scope_text(halt.scope, prev, self.labels)
                self.add(state.now, "resume", f"{halt.reason} ({scope}) cleared after {lasted}")
        _, why_was = fmt.quoting_summary(prev)
        now_ok, why = fmt.quoting_summary(state)
        if why != why_was:
            self.add(state.now, "resume" if now_ok else "halt", f"quoting {why}")

    def _health(self, prev: BotState, state: BotState) -> None:
        a, b, now = prev.health, state.health, state.now
        for name, was, is_ in (("user", a.user_connected, b.user_connected),
                               ("market", a.market_connected, b.market_connected)):  # fmt: skip
            if was != is_:
                self.add(now, "ws", f"{name} channel {'connected' if is_ else 'DOWN'}")
        for name, n0, n1 in (("user", a.user_gaps, b.user_gaps), ("market", a.market_gaps, b.market_gaps)):
            if n1 > n0:
                self.add(now, "gap", f"{name} channel gap (total {n1})")
        if state.open_gaps != prev.open_gaps:
            what = "opened" if state.open_gaps > prev.open_gaps else "resolved"
            self.add(now, "gap", f"gap {what}: {state.open_gaps} open")
        if b.heartbeat_lapsed != a.heartbeat_lapsed:
            self.add(now, "health", "heartbeat LAPSED" if b.heartbeat_lapsed else "heartbeat ok again")
        if b.ledger_failing != a.ledger_failing:
            self.add(now, "health", "ledger FAILING" if b.ledger_failing else "ledger ok again")
        if b.reconcile_failures > a.reconcile_failures:
            self.add(now, "health", f"reconciliation failed ({b.reconcile_failures} in a row)")
        if b.rejected > a.rejected:
            self.add(now, "health", f"{b.rejected - a.rejected} placement(s) rejected (total {b.rejected})")
        if b.unknown > a.unknown:
            self.add(now, "health", f"{b.unknown - a.unknown} placement(s) UNKNOWN (total {b.unknown})")

    def _orders_and_fills(self, prev: BotState, state: BotState, probe: OrderProbe) -> None:
        credited: dict[str, Decimal] = collections.defaultdict(Decimal)
        placed = 0
        gone: dict[str, int] = collections.defaultdict(int)
        current: dict[str, _Seen] = {}
        markets = {t.token: t.market for t in state.tokens}
        for quote in state.quotes:
            seen = _seen(quote, markets, probe(quote.order_id))
            old = self._orders.get(quote.order_id)
            if old is None:
                placed += 1
            self._fill(prev, state, seen, seen.counted - (ZERO if old is None else old.counted), credited)
            current[quote.order_id] = seen
        for order_id, old in self._orders.items():
            if order_id in current:
                continue
            view = probe(order_id)
            gone["gone" if view is None else view.state] += 1
            if view is not None:
                self._fill(prev, state, old, view.counted - old.counted, credited)
        self._orders = current
        self._unexplained(prev, state, credited)
        if placed or gone:
            self._orders_event(state.now, placed, gone)

    def _fill(
        self, prev: BotState, state: BotState, seen: _Seen, qty: Decimal, credited: dict[str, Decimal]
    ) -> None:
        if qty <= 0:
            return
        credited[seen.token] += qty if seen.side == "BUY" else -qty
        self.fills = self.fills.add(seen.side, qty, seen.price)
        self.token_fills[seen.token] = self.token_fills.get(seen.token, FillTotals()).add(
            seen.side, qty, seen.price
        )
        label = self.labels.get(seen.token, fmt.short(seen.token))
        self.add(state.now, "fill", f"{seen.side} {label} {fmt.short(seen.market)} "
                 f"{fmt.dec(qty)} @ {fmt.price(seen.price)}")  # fmt: skip

    def _unexplained(self, prev: BotState, state: BotState, credited: Mapping[str, Decimal]) -> None:
        before = {t.token: t.held for t in prev.tokens}
        for token in state.tokens:
            delta = token.held - before.get(token.token, ZERO) - credited.get(token.token, ZERO)
            if delta != 0:
                label = self.labels.get(token.token, fmt.short(token.token))
                sign = "+" if delta > 0 else "-"
                what = f"{label} {fmt.short(token.market)} held {sign}{fmt.dec(abs(delta))}"
                why = "not from a resting order seen (position sync, reversal, or between frames)"
                self.add(state.now, "held", f"{what} {why}")

    def _orders_event(self, now: float, placed: int, gone: Mapping[str, int]) -> None:
        run = self._run
        if run is None or not self.events or self.events[-1].kind != "orders":
            run = _OrdersRun(now)
        else:
            self.events.pop()
        run.placed += placed
        for state, n in gone.items():
            run.gone[state] = run.gone.get(state, 0) + n
        self.events.append(EventLine(now, "orders", run.text(now)))
        self._run = run
