"""The numbers of the compliance report, computed from the ledger's events alone.

* **Exposure over time** per token: the fact replay of :mod:`aqbot.tools.ledger_state` gives ``held``,
  ``open_buy`` (the reserved remaining of every BUY that might still fill) and ``worst = held + open_buy``
  after every event that changed them.
* **Limit** per token, first found of: ``--max-position`` / ``--config`` (the caller passes them in),
  a ``startup`` event whose payload has ``limits.max_position`` (and ``limits.per_token``), the cap quoted
  by the core's own L1 refusals (``reserve.refused``: ``... > max_position 10``). Without one the
  worst/limit ratio is reported as unknown.
* **PnL** per token by average cost over the fills (``fill.applied``/``fill.reversed``, signed, priced by
  the matching ``fill.trade`` or else the order's limit price from ``command.place``), booked by the
  core's own :class:`aqbot.core.pnl.PnlBook` (a buy adds ``qty * price`` to the cost, a sell realises
  ``qty * (price - average cost)``, a position crossing zero opens the other side at the fill's price, a
  FAILED fill is taken back as the core does). ``bought``/``sold`` count the shares of the fills still
  standing. The mark is the last price
  aqbot traded or quoted in that token (a proxy: the ledger holds no market data), and
  ``unrealised = position * (mark - average cost)``. Fees are not deducted (makers pay none on Polymarket;
  taker fees are not in the ledger). Positions-API corrections of ``held`` are not trades and are not in
  the PnL position.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import attrs

from aqbot.core.pnl import PnlBook
from aqbot.io.ledger_events import LedgerEvent
from aqbot.tools.ledger_state import RESTART_JUMP, ZERO, LedgerState, dec
from aqbot.tools.ledger_views import fill_rows, gap_rows, halt_rows, unknown_rows

log = logging.getLogger(__name__)

_L1_CAP = re.compile(r"max_position (\d+(?:\.\d+)?)")


@attrs.define
class Sample:
    """The exposure of one token after one core step (``t`` is set once the time axis is chosen)."""

    mono: float
    wall: float
    held: Decimal
    open_buy: Decimal
    open_sell: Decimal
    t: float = 0.0

    @property
    def worst(self) -> Decimal:
        return self.held + self.open_buy


@attrs.define
class Pnl:
    """One token's PnL in the report: position, cost and realised as the core's ``PnlBook`` books the
    ledger's fills (:func:`_pnl`), the last traded or quoted price as the mark, shares bought and sold."""

    position: Decimal = ZERO
    cost: Decimal = ZERO
    realised: Decimal = ZERO
    mark: Decimal | None = None
    bought: Decimal = ZERO
    sold: Decimal = ZERO

    @property
    def average(self) -> Decimal | None:
        return self.cost / self.position if self.position else None

    @property
    def unrealised(self) -> Decimal | None:
        if self.mark is None or not self.position:
            return ZERO if not self.position else None
        return self.position * self.mark - self.cost


@attrs.define
class TokenReport:
    token: str
    samples: list[Sample] = attrs.Factory(list)
    limit: Decimal | None = None
    limit_source: str = "unknown"
    max_worst: Decimal = ZERO
    max_worst_t: float | None = None
    max_held: Decimal = ZERO
    fills: int = 0
    pnl: Pnl = attrs.Factory(Pnl)

    @property
    def max_ratio(self) -> Decimal | None:
        return None if not self.limit else self.max_worst / self.limit

    @property
    def breached(self) -> bool:
        return self.limit is not None and self.max_worst > self.limit


@attrs.define
class ReportModel:
    """Everything the HTML shows."""

    path: str
    axis: str
    start_wall: float | None = None
    end_wall: float | None = None
    start_t: float = 0.0
    end_t: float = 0.0
    event_count: int = 0
    tokens: dict[str, TokenReport] = attrs.Factory(dict)
    halts: list[dict[str, Any]] = attrs.Factory(list)
    gaps: list[dict[str, Any]] = attrs.Factory(list)
    fills: list[dict[str, Any]] = attrs.Factory(list)
    unknown: list[dict[str, Any]] = attrs.Factory(list)
    halt_counts: Counter[str] = attrs.Factory(Counter)
    restarts: list[int] = attrs.Factory(list)
    replay_problems: list[str] = attrs.Factory(list)
    snapshots_checked: int = 0

    def time_of(self, mono: float | None, wall: float | None) -> float | None:
        """An event time on the report's axis (seconds since the run started)."""
        value = mono if self.axis == "mono" else wall
        return None if value is None else value - self.start_t

    @property
    def gaps_unresolved(self) -> int:
        return sum(1 for g in self.gaps if g["resolved_seq"] is None)


# Event types the views need (raw messages and snapshots are streamed through the replay only).
VIEW_TYPES = frozenset(
    {
        "command.place",
        "order.state",
        "reservation",
        "order.adopted",
        "fill.applied",
        "fill.reversed",
        "fill.trade",
        "halt",
        "resume",
        "gap.open",
        "gap.close",
        "gap.resolve",
        "reserve.refused",
        "startup",
    }
)


@attrs.define
class _Clock:
    """What the axis choice needs, gathered in the one pass over the events."""

    first: LedgerEvent | None = None
    last: LedgerEvent | None = None
    one_process: bool = True

    def see(self, event: LedgerEvent) -> None:
        if self.last is not None:
            step = event.mono_time - self.last.mono_time
            self.one_process &= 0 <= step <= RESTART_JUMP and event.type != "startup"
        self.first = self.first or event
        self.last = event

    def axis(self, requested: str) -> str:
        """``mono`` or ``wall``. ``auto`` picks the monotonic clock for a single process whose wall clock did
        not advance with it (a simulated run under a mock clock), else wall time."""
        if requested != "auto":
            return requested
        if self.first is None or self.last is None or self.first is self.last:
            return "wall"
        mono_span = self.last.mono_time - self.first.mono_time
        wall_span = self.last.wall_time - self.first.wall_time
        return "mono" if self.one_process and wall_span < 0.5 * mono_span else "wall"


def _limits_from_events(events: Iterable[LedgerEvent]) -> tuple[Decimal | None, dict[str, Decimal], str]:
    default: Decimal | None = None
    per_token: dict[str, Decimal] = {}
    source = ""
    for event in events:
        if event.type == "startup":
            limits = event.payload.get("limits")
            if isinstance(limits, Mapping):
                default = dec(limits.get("max_position"), default or ZERO) or default
                tokens = limits.get("per_token")
                if isinstance(tokens, Mapping):
                    per_token.update({str(k): dec(v) for k, v in tokens.items()})
                source = "startup event"
        elif event.type == "reserve.refused" and str(event.payload.get("reason", "")).startswith("L1"):
            match = _L1_CAP.search(str(event.payload.get("reason", "")))
            token = str(event.payload.get("token") or event.token or "")
            if match and token and token not in per_token:
                per_token[token] = Decimal(match.group(1))
                source = source or "L1 refusal"
    return default, per_token, source


def build_model(
    path: str,
    events: Iterable[LedgerEvent],
    *,
    axis: str = "auto",
    max_position: Decimal | None = None,
    token_limits: Mapping[str, Decimal] | None = None,
) -> ReportModel:
    """Compute the report from ``events`` (every event of the ledger, in ``seq`` order), in one pass.

    Only the events the views need are kept in memory; raw messages and snapshots are streamed through
    the replay.
    """
    model = ReportModel(path, "wall")
    clock = _Clock()
    state = LedgerState()
    kept: list[LedgerEvent] = []
    pending: tuple[str, set[str], LedgerEvent] | None = None  # a fill whose reservation shrink follows it
    for event in events:
        model.event_count += 1
        clock.see(event)
        if event.type in VIEW_TYPES:
            kept.append(event)
        changed = state.apply(event)
        if pending is not None:
            order_id, tokens, at = pending
            if event.type == "reservation" and _order_of(event) == order_id and _fill_resize(event):
                changed |= tokens  # same core step: sample once, after the resize
            else:
                _sample(model, state, tokens, at)
            pending = None
        if event.type in ("fill.applied", "fill.reversed"):
            pending = (_order_of(event), changed, event)
            continue
        _sample(model, state, changed, event)
    if pending is not None:
        _sample(model, state, pending[1], pending[2])
    _place_on_axis(model, clock, axis)
    model.restarts, model.snapshots_checked = state.restarts, state.snapshots_checked
    model.replay_problems = list(state.problems)
    _apply_limits(model, kept, max_position, token_limits or {})
    model.halts, model.gaps = halt_rows(kept), gap_rows(kept)
    model.fills, model.unknown = fill_rows(kept), unknown_rows(kept)
    model.halt_counts = Counter(h["reason"] for h in model.halts)
    _pnl(model, kept)
    return model


def _place_on_axis(model: ReportModel, clock: _Clock, requested: str) -> None:
    """Choose the axis, then give every sample its time and every token its maxima."""
    model.axis = clock.axis(requested)
    if clock.first is None or clock.last is None:
        return
    model.start_wall, model.end_wall = clock.first.wall_time, clock.last.wall_time
    model.start_t = clock.first.mono_time if model.axis == "mono" else clock.first.wall_time
    model.end_t = max(0.0, model.time_of(clock.last.mono_time, clock.last.wall_time) or 0.0)
    for report in model.tokens.values():
        for sample in report.samples:
            sample.t = model.time_of(sample.mono, sample.wall) or 0.0
            model.end_t = max(model.end_t, sample.t)
            if report.max_worst_t is None or sample.worst > report.max_worst:
                report.max_worst, report.max_worst_t = sample.worst, sample.t
            report.max_held = max(report.max_held, sample.held)


def _order_of(event: LedgerEvent) -> str:
    return str(event.payload.get("order_id") or event.order_id or "")


def _fill_resize(event: LedgerEvent) -> bool:
    cause = str(event.payload.get("cause", ""))
    return cause.startswith(("fill", "released:"))


def _sample(model: ReportModel, state: LedgerState, tokens: set[str], at: LedgerEvent) -> None:
    """Record the exposure of ``tokens`` after event ``at`` (the core's state between two of its calls)."""
    for token in tokens:
        if not token:
            continue
        book = state.book(token)
        report = model.tokens.setdefault(token, TokenReport(token))
        report.samples.append(Sample(at.mono_time, at.wall_time, book.held, book.open_buy, book.open_sell))


def _apply_limits(
    model: ReportModel,
    events: list[LedgerEvent],
    max_position: Decimal | None,
    token_limits: Mapping[str, Decimal],
) -> None:
    default, per_token, source = _limits_from_events(events)
    for token, report in model.tokens.items():
        if token in token_limits:
            report.limit, report.limit_source = token_limits[token], "configuration (per market)"
        elif max_position is not None:
            report.limit, report.limit_source = max_position, "configuration"
        elif token in per_token:
            report.limit, report.limit_source = per_token[token], source or "ledger"
        elif default is not None:
            report.limit, report.limit_source = default, source


def _pnl(model: ReportModel, events: list[LedgerEvent]) -> None:
    """Book the fills with the core's own averaging (:class:`aqbot.core.pnl.PnlBook`), at the report's
    prices (the trade's price when the ledger has it, else the order's limit)."""
    marks: dict[str, Decimal] = {}
    for event in events:
        if event.type == "command.place":
            token = str(event.payload.get("token") or event.token or "")
            marks[token] = dec(event.payload.get("price"), marks.get(token, ZERO))
    book = PnlBook()
    for fill in model.fills:
        report = model.tokens.setdefault(fill["token"], TokenReport(fill["token"]))
        pnl = report.pnl
        price, qty = fill["price"], fill["delta"]
        report.fills += 1 if fill["kind"] == "applied" else 0
        if price is None:
            continue
        if fill["kind"] == "applied":
            book.fill(fill["token"], qty, price)
            pnl.bought += max(qty, ZERO)
            pnl.sold += max(-qty, ZERO)
        else:  # a FAILED fill taken back: ``delta`` is the change of held (minus the fill's shares)
            book.reverse(fill["token"], -qty, price)
            pnl.bought += min(qty, ZERO)
            pnl.sold -= max(qty, ZERO)
        pnl.mark = price
    for token, report in model.tokens.items():
        booked = book.tokens.get(token)
        if booked is not None:
            report.pnl.position, report.pnl.cost, report.pnl.realised = (
                booked.position,
                booked.cost,
                booked.realized,
            )
        if token in marks and report.pnl.mark is None:
            report.pnl.mark = marks[token]
