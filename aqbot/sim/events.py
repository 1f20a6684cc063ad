"""What the engine hands to the server layer: events for the WS channels and replies for REST calls."""

from __future__ import annotations

import logging

import attrs

logger = logging.getLogger(__name__)


@attrs.frozen
class MarketEvent:
    """A market-channel payload.

    Attributes:
        t: simulated ms when it happened.
        market: the condition id.
        asset_ids: the assets it concerns: deliver it to subscribers of ANY of them (a ``price_change``
            carries entries for both tokens; ``last_trade_price`` and ``tick_size_change`` one).
        payload: the JSON-able message (``event_type`` inside).
    """

    t: int
    market: str
    asset_ids: tuple[str, ...]
    payload: dict[str, object]


@attrs.frozen
class UserEvent:
    """A user-channel payload for one owner (API key): ``order`` or ``trade`` (PROTOCOL 5.1/5.2)."""

    t: int
    owner: str
    market: str
    payload: dict[str, object]


Event = MarketEvent | UserEvent


@attrs.frozen
class Reply:
    """An HTTP answer: ``status`` and a JSON-able ``body`` (``{"error": ...}`` on 4xx/5xx).

    ``retry_after_s`` is set on answers that carry a retry hint (the server adds the header).
    """

    status: int
    body: object
    retry_after_s: int | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def error(status: int, message: str, **extra: object) -> Reply:
    """A ``{"error": message, **extra}`` reply."""
    body: dict[str, object] = {"error": message}
    body.update(extra)
    return Reply(status, body)


def batch_leg(reply: Reply) -> dict[str, object]:
    """One ``POST /orders`` leg from a single-order reply (a 4xx becomes ``success: false``)."""
    if reply.ok and isinstance(reply.body, dict):
        return dict(reply.body)
    message = ""
    if isinstance(reply.body, dict):
        message = str(reply.body.get("error", ""))
    return {
        "success": False,
        "errorMsg": message,
        "orderID": "",
        "status": "",
        "makingAmount": "",
        "takingAmount": "",
        "tradeIDs": [],
    }
