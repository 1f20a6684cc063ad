"""The user channel's consumer: every event applied to the core at once, inside the reader.

:class:`UserFeed` is the user channel's :class:`~aqbot.io.ws.ChannelListener`. Each frame is recorded
raw in the ledger (``ws.user.raw``, with its local sequence number: the replay and audit evidence), then
converted at the edge and applied synchronously through the :class:`~aqbot.io.hub.Hub`. The runtime's
reader decodes straight to core events (:func:`aqbot.io.edge.user_frame_decoder`: an
:class:`~aqbot.io.edge.UserFrame`), applied as they are; decoded wire models
(:func:`aqbot.wire.decode_user_frame`) are converted by :func:`aqbot.io.edge.user_events` first. Nothing is
queued, so nothing can be lost, reordered or delayed behind a slow consumer (see :mod:`aqbot.io.ws`).

Gaps: a disconnect or a stale connection is ``Core.on_channel_down`` (USER_WS_DOWN and an open gap);
the next subscribe is ``Core.on_channel_up`` (the gap ends; the core commands a reconciliation). A
decode failure is reported by the reader as a point gap (down then up at the same instant).

The subscribe frame carries the raw API credentials (PROTOCOL 2.3): it is built here from
:class:`aqbot.wire.UserSubscribe` and never logged (:class:`~aqbot.io.ws.ChannelSpec` keeps it out of
its ``repr``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import attrs

from aqbot.core.events import Channel, OrderEvent
from aqbot.io import edge
from aqbot.io.hub import Hub
from aqbot.wire.account import ApiCreds
from aqbot.wire.codec import encode_client_frame
from aqbot.wire.events import MarketSubscribe, UserSubscribe
from aqbot.wire.types import Secret

log = logging.getLogger(__name__)

_UserFrame = edge.UserFrame  # (bound once: read per frame)


def user_subscribe_frame(api_key: str, secret: str, passphrase: str, markets: Sequence[str]) -> str:
    """The user channel's first frame (holds the credentials: never log it)."""
    creds = ApiCreds(api_key=api_key, secret=Secret(secret), passphrase=Secret(passphrase))
    return encode_client_frame(UserSubscribe(auth=creds, markets=tuple(markets)))


def market_subscribe_frame(tokens: Sequence[str]) -> str:
    """The market channel's first frame."""
    return encode_client_frame(MarketSubscribe(assets_ids=tuple(tokens), custom_feature_enabled=True))


@attrs.define
class UserFeed:
    """Applies user-channel events to the core (see the module docstring)."""

    hub: Hub
    me: edge.Identity
    events_applied: int = 0

    def connected(self, channel: str, now: float) -> None:
        self.hub.apply(self.hub.core.on_channel_up(Channel.USER, now), now)

    def alive(self, channel: str, now: float) -> None:
        pass

    def gap(self, channel: str, reason: str, now: float) -> None:
        self.hub.apply(self.hub.core.on_channel_down(Channel.USER, now, reason), now)

    def deliver(self, channel: str, seq: int, now: float, raw: str, events: Sequence[object]) -> None:
        """Record ``raw``, then apply the frame's events: a :class:`edge.UserFrame` (the runtime's decode,
        :func:`edge.user_frame_decoder`) as it is, decoded wire models through :func:`edge.user_events`."""
        hub = self.hub
        # One wall-clock reading per frame labels its raw row and every fact it causes; their mono_time is
        # the reader's ``now`` (the instant the core gets), not a clock reading per row.
        wall = time.time()  # a label, never for scheduling
        hub.sink.record_frame("ws.user.raw", seq, raw, now, wall)
        core = hub.core
        apply = hub.apply
        for event in events if type(events) is _UserFrame else edge.user_events(events, self.me):
            if isinstance(event, OrderEvent):
                apply(core.on_order_event(event, now), now, wall)
            else:
                apply(core.on_trade_event(event, now), now, wall)
            self.events_applied += 1
