"""What the dashboard draws besides :class:`~aqbot.app_state.BotState`: plain, immutable values.

:class:`DashboardExtras` carries what ``BotState`` does not (yet) hold: the run's mode and start, the
outcome label of each token, the recent events, the fills seen (PnL comes from ``BotState.pnl``), and the
public I/O counters of :class:`~aqbot.app_state.BotHandle` (frames, heartbeat failures, last errors). It is
built by :class:`aqbot.ui.tracker.DashboardTracker`, which polls the handle;
:func:`aqbot.ui.render.render_dashboard` reads it and nothing else, so tests build both by hand.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal

import attrs

log = logging.getLogger(__name__)

ZERO = Decimal(0)


@attrs.frozen
class EventLine:
    """One line of the recent-events panel.

    Attributes:
        at: Trio time of the frame that noticed it.
        kind: ``halt``, ``resume``, ``fill``, ``orders``, ``gap``, ``ws``, ``health``, ``held`` or ``info``.
        text: what happened, one line.
    """

    at: float
    kind: str
    text: str


@attrs.frozen
class FillTotals:
    """Fills observed since the dashboard started (shares and pUSD). PnL is the core's (``BotState.pnl``)."""

    count: int = 0
    bought: Decimal = ZERO
    sold: Decimal = ZERO
    buy_value: Decimal = ZERO
    sell_value: Decimal = ZERO

    def add(self, side: str, qty: Decimal, price: Decimal) -> FillTotals:
        """These totals plus one fill."""
        if side == "BUY":
            return attrs.evolve(
                self, count=self.count + 1, bought=self.bought + qty, buy_value=self.buy_value + qty * price
            )
        return attrs.evolve(
            self,
            count=self.count + 1,
            sold=self.sold + qty,
            sell_value=self.sell_value + qty * price,
        )


@attrs.frozen
class ChannelIo:
    """A WebSocket channel's public counters (``BotHandle.stats.user`` / ``.market``)."""

    frames: int = 0
    connects: int = 0
    decode_errors: int = 0
    last_frame_at: float | None = None


@attrs.frozen
class IoStats:
    """Public counters of the handle that ``BotState.health`` does not carry."""

    user: ChannelIo = ChannelIo()
    market: ChannelIo = ChannelIo()
    heartbeat_beats: int = 0
    heartbeat_failures: int = 0
    reconcile_runs: int = 0
    reconcile_last_error: str = ""
    positions_syncs: int = 0
    positions_failures: int = 0
    positions_last_error: str = ""


@attrs.frozen
class DashboardExtras:
    """Everything the dashboard shows that is not in ``BotState`` (see the module docstring).

    Attributes:
        mode: ``paper`` or ``live`` (the header's badge).
        started_at: Trio time of the first frame (uptime is ``state.now - started_at``).
        labels: token id -> outcome label (``YES`` / ``NO``).
        events: the most recent events, oldest first.
        fills: totals over every token.
        token_fills: totals per token.
        io: the handle's I/O counters.
        frame_ms: how long the previous frame took to build and draw.
    """

    mode: str = "paper"
    started_at: float | None = None
    labels: Mapping[str, str] = attrs.field(factory=dict)
    events: tuple[EventLine, ...] = ()
    fills: FillTotals = FillTotals()
    token_fills: Mapping[str, FillTotals] = attrs.field(factory=dict)
    io: IoStats | None = None
    frame_ms: float | None = None
