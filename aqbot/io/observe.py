"""Observation points of the runtime that feed metrics and storm alerts without touching the hot paths'
logic.

* :class:`ObservedListener` wraps a WebSocket :class:`~aqbot.io.ws.ChannelListener` (market or user): it
  sets ``aqbot_ws_lag_seconds`` from the exchange timestamps of each frame and reports every gap to a
  reconnect-storm detector, then delegates unchanged.
* :class:`FactObserver` is the hub's ``on_facts`` hook: it counts fills per token and side and the core's
  limit refusals, and alerts on a limit-refusal storm.

WS lag. Every market event and the user channel's order/trade messages carry ``timestamp`` (the wire layer
normalises it to milliseconds: market events are ms strings, user order events come in ms or seconds,
PROTOCOL 4.3 and 5.1). The user channel decodes straight to core events, which drop it: its frames arrive
as :class:`aqbot.io.edge.UserFrame`, which keeps the newest one (``newest_ms``). The lag of a frame is the
local wall clock, corrected by the server-time offset measured with ``GET /time``, minus the newest
timestamp in the frame. ``/time`` answers whole seconds, so an offset under one second is within its
resolution and is not applied (an NTP-synced host is closer to the exchange than that measurement). A user
event stamped in seconds reads up to one second high.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar, cast

import attrs

from aqbot.core import facts as cf
from aqbot.io.alerts import StormDetector
from aqbot.io.edge import UserFrame, newest_timestamp_ms
from aqbot.io.metrics import AqbotMetrics, Gauge, LabelValues
from aqbot.io.ws import ChannelListener

log = logging.getLogger(__name__)

T = TypeVar("T")


@attrs.frozen
class StormThresholds:
    """When a count within a window becomes a storm alert (``[alerts]`` in the config).

    ``reconnect_gaps`` gaps on one channel within ``reconnect_window`` seconds is a reconnect storm;
    ``refusals`` limit refusals within ``refusal_window`` seconds is a refusal storm (the quoter sizes
    BUYs to the headroom, so a refusal means the strategy and the limits disagree, e.g. a notional cap).
    """

    reconnect_gaps: int = 5
    reconnect_window: float = 300.0
    refusals: int = 20
    refusal_window: float = 60.0

    def reconnect(self) -> StormDetector:
        return StormDetector(self.reconnect_gaps, self.reconnect_window)

    def refusal(self) -> StormDetector:
        return StormDetector(self.refusals, self.refusal_window)


DEFAULT_STORMS = StormThresholds()
# Refusal reasons of the limits (aqbot.core.exposure: L1 position, L3 sellable, notional caps); the gate
# ("halted: ...") and id or size checks are not limit refusals.
LIMIT_REASONS = ("L1:", "L3:", "market notional", "global notional")

Alert = Callable[[str, str], None]


@attrs.frozen
class ServerClock:
    """Exchange time as the bot can best tell: ``wall_clock()`` plus the ``/time`` offset when it is at
    least one second (the resolution of ``/time``; see the module docstring)."""

    wall_clock: Callable[[], float]
    offset: Callable[[], float]

    def __call__(self) -> float:
        measured = self.offset()
        return self.wall_clock() + (measured if abs(measured) >= 1.0 else 0.0)


def server_clock(wall_clock: Callable[[], float], offset: Callable[[], float]) -> ServerClock:
    """The :class:`ServerClock` of ``wall_clock`` and ``offset`` (a callable)."""
    return ServerClock(wall_clock, offset)


# The lag is rounded to the millisecond like round(lag, 3), with float arithmetic instead of the call (see
# ObservedListener.deliver). round() gives the double nearest to R / 1000, R the exact product lag * 1000
# rounded half to even. y = lag * 1000 is that product correctly rounded, and rounding is monotonic, so y's
# fraction (y - floor(y), exact or rounded monotonically too) is below, at or above one half exactly when
# the product's is below, at or maybe either side of it: R is floor(y) below, floor(y) + 1 above, and
# r / 1000.0 is then the nearest double, as round() returns. At a half, at R == 0 (round() keeps the sign
# of a negative lag in -0.0), beyond the limit, NaN and infinities: round() itself.
# tests/io/test_observe.py checks it against round(lag, 3) bit for bit on random and near-half lags.
_ROUND_LIMIT = 2.0**52  # ms; every double beyond is an integer


@attrs.define
class ObservedListener(Generic[T]):
    """A :class:`~aqbot.io.ws.ChannelListener` around ``inner`` that measures lag and counts gaps.

    ``server_now`` (read at construction) is usually a :class:`ServerClock`, whose two parts are then
    called directly: one offset and one wall-clock reading per timestamped frame, none for the others."""

    inner: ChannelListener[T]
    lag: Gauge
    server_now: Callable[[], float]
    alert: Alert = lambda key, text: None
    storm: StormDetector = attrs.Factory(DEFAULT_STORMS.reconnect)
    _wall: Callable[[], float] = attrs.field(init=False, repr=False)
    _offset: Callable[[], float] | None = attrs.field(init=False, repr=False)
    _channel: str | None = attrs.field(default=None, init=False, repr=False)  # the last channel, its series
    _series: LabelValues = attrs.field(default=(), init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        clock = self.server_now
        if type(clock) is ServerClock:
            self._wall, self._offset = clock.wall_clock, clock.offset
        else:  # any other clock is read as it is
            self._wall, self._offset = clock, None

    def connected(self, channel: str, now: float) -> None:
        self.inner.connected(channel, now)

    def alive(self, channel: str, now: float) -> None:
        self.inner.alive(channel, now)

    def gap(self, channel: str, reason: str, now: float) -> None:
        count = self.storm.note(now)
        if count is not None:
            self.alert(
                f"reconnect-storm:{channel}",
                f"{channel} channel: {count} gaps within {self.storm.window:g}s (last: {reason})",
            )
        self.inner.gap(channel, reason, now)

    def deliver(self, channel: str, seq: int, now: float, raw: str, events: Sequence[T]) -> None:
        # A user frame decoded by the fused path (core events) carries its newest timestamp itself.
        newest = events.newest_ms if type(events) is UserFrame else newest_timestamp_ms(events)
        if newest is not None:
            if channel != self._channel:  # Gauge.set checks the labels every call: once per channel is enough
                self._channel, self._series = channel, self.lag.series(channel=channel)
            offset = self._offset
            if offset is None:
                lag = self._wall() - newest / 1000.0
            else:  # ServerClock.__call__ inlined (same calls, same order, same sums; NaN is never applied)
                measured = offset()
                lag = (
                    self._wall()
                    + (measured if measured >= 1.0 or measured <= -1.0 else 0.0)
                    - newest / 1000.0
                )
            # round(lag, 3) without the call (see _ROUND_LIMIT); r == 0 leaves it to round().
            y = lag * 1000.0
            r = 0.0
            if -_ROUND_LIMIT < y < _ROUND_LIMIT:
                r = y // 1.0
                fraction = y - r
                if fraction > 0.5:
                    r += 1.0
                elif fraction == 0.5:
                    r = 0.0
            self.lag.values[self._series] = r / 1000.0 if r else round(lag, 3)
        self.inner.deliver(channel, seq, now, raw, events)


_OTHER, _FILL, _REFUSAL = 0, 1, 2


def _role(cls: type) -> int:
    """What :class:`FactObserver` does with a fact of class ``cls``."""
    if issubclass(cls, cf.FillApplied):
        return _FILL
    if issubclass(cls, cf.ReserveRefused):
        return _REFUSAL
    return _OTHER


@attrs.define
class FactObserver:
    """The hub's ``on_facts`` hook: fill and refusal counters, and the limit-refusal storm alert.

    It runs for every outcome with facts (more than once per user-channel frame), and most facts are
    neither fills nor refusals, so each fact's class is looked up in a memo of what to do with it
    (``isinstance`` on the first fact of a class), and a fill's counter series are found by their
    ``(token, side)`` (the labels checked once per series, :meth:`~aqbot.io.metrics.Counter.series`):
    in the ingest bench's loop, 1.3 us less per frame than ``isinstance`` and labelled ``inc`` per fact
    (docs/io.md).
    """

    metrics: AqbotMetrics
    alert: Alert = lambda key, text: None
    storm: StormDetector = attrs.Factory(DEFAULT_STORMS.refusal)
    _roles: dict[type, int] = attrs.field(factory=dict, init=False, repr=False)
    _fill_series: dict[tuple[str, str], tuple[LabelValues, LabelValues]] = attrs.field(
        factory=dict, init=False, repr=False
    )

    def __call__(self, facts: Sequence[cf.Fact], now: float) -> None:
        roles = self._roles
        for fact in facts:
            role = roles.get(fact.__class__)
            if role is None:
                role = roles[fact.__class__] = _role(fact.__class__)
            if role == _FILL:
                self._fill(cast(cf.FillApplied, fact))
            elif role == _REFUSAL:
                refused = cast(cf.ReserveRefused, fact)
                if refused.reason.startswith(LIMIT_REASONS):
                    self._refused(refused, now)

    def _fill(self, fact: cf.FillApplied) -> None:
        """``fills_total.inc(token=, side=)`` and ``filled_shares_total.inc(abs(delta), ...)``, by key."""
        metrics = self.metrics
        side = fact.side.value
        series = self._fill_series.get((fact.token, side))
        if series is None:
            series = self._fill_series[fact.token, side] = (
                metrics.fills_total.series(token=fact.token, side=side),
                metrics.filled_shares_total.series(token=fact.token, side=side),
            )
        fills, shares = metrics.fills_total.values, metrics.filled_shares_total.values
        fills[series[0]] = fills.get(series[0], 0) + 1
        shares[series[1]] = shares.get(series[1], 0) + abs(fact.delta)  # type: ignore[operator]

    def _refused(self, fact: cf.ReserveRefused, now: float) -> None:
        self.metrics.limit_refusals_total.inc(token=fact.token)
        count = self.storm.note(now)
        if count is not None:
            self.alert(
                "limit-refusals",
                f"{count} placements refused by the limits within {self.storm.window:g}s "
                f"(last: {fact.side.value} {fact.size} {fact.token[:12]}: {fact.reason})",
            )
