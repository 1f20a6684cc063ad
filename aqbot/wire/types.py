"""Small value types shared by the wire models: timestamps with explicit units, enums, secrets, statuses.

Timestamps are plain ``int`` NewTypes whose *name* carries the unit (:data:`UnixS` seconds, :data:`UnixMs`
milliseconds). Their JSON form (string or number) is a property of the field, decided by the converter.

:class:`Secret` is :class:`aqbot.secrets.Secret` (re-exported): credentials never show in a repr.

Order status is deliberately a ``str`` (the exchange appends free-form reasons: ``CANCELED_<reason>``); the
helpers here classify it. Trade status, trader side and order-event type are closed enums.
"""

from __future__ import annotations

import enum
import logging
from typing import NewType

import attrs

from aqbot.secrets import Secret

logger = logging.getLogger(__name__)

__all__ = [
    "CONTROL_TEXTS",
    "MS_THRESHOLD",
    "SECONDS_MIN",
    "TIMESTAMP_MAX",
    "ControlFrame",
    "OrderEventType",
    "Secret",
    "TradeStatus",
    "TraderSide",
    "UnixMs",
    "UnixS",
    "normalize_order_status",
    "order_status_cancel_reason",
    "order_status_is_canceled",
    "order_status_is_terminal",
]

UnixS = NewType("UnixS", int)
"""Unix time in whole seconds."""

UnixMs = NewType("UnixMs", int)
"""Unix time in milliseconds."""

MS_THRESHOLD = 100_000_000_000
"""Integers at or above this are milliseconds (10**11 ms is 1973-03-03; 10**11 s is year 5138). A seconds
field holding such a value is floored to seconds; see :data:`SECONDS_MIN` for the other direction."""

TIMESTAMP_MAX = 100_000_000_000_000
"""Timestamps at or above this (ms: year 5138) are refused, as are negative ones."""

SECONDS_MIN = 1_000_000_000
"""A milliseconds field holding a value in ``[SECONDS_MIN, MS_THRESHOLD)`` (2001-09-09 .. 5138 as seconds)
got seconds and is scaled to ms (PROTOCOL 5.1: the order event ``timestamp`` comes in both units). Smaller
values are kept as milliseconds, so the normalization is idempotent and small simulated clocks survive."""


class TradeStatus(enum.Enum):
    """Settlement lifecycle of a trade (PROTOCOL 5.2). MATCHED is *not* final; FAILED reverses the fill."""

    MATCHED = "MATCHED"
    MINED = "MINED"
    CONFIRMED = "CONFIRMED"
    RETRYING = "RETRYING"
    FAILED = "FAILED"

    @property
    def is_final(self) -> bool:
        """CONFIRMED or FAILED: no later status change will come."""
        return self is TradeStatus.CONFIRMED or self is TradeStatus.FAILED


class TraderSide(enum.Enum):
    """Which side of a trade the *subscriber* is on."""

    TAKER = "TAKER"
    MAKER = "MAKER"


class OrderEventType(enum.Enum):
    """The ``type`` of a user-channel ``order`` event."""

    PLACEMENT = "PLACEMENT"
    UPDATE = "UPDATE"
    CANCELLATION = "CANCELLATION"


# Order status strings (str-valued on purpose; see the module docstring).
STATUS_LIVE = "LIVE"
STATUS_MATCHED = "MATCHED"
STATUS_CANCELED = "CANCELED"
STATUS_CANCELED_MARKET_RESOLVED = "CANCELED_MARKET_RESOLVED"
STATUS_INVALID = "INVALID"
STATUS_DELAYED = "DELAYED"
STATUS_UNMATCHED = "UNMATCHED"

_TERMINAL_STATUSES = frozenset({STATUS_MATCHED, STATUS_CANCELED, STATUS_INVALID, STATUS_UNMATCHED})
_STATUS_PREFIX = "ORDER_STATUS_"


def normalize_order_status(status: str) -> str:
    """Upper-case ``status`` and strip the ``ORDER_STATUS_`` prefix some API-reference pages show.

    Reason texts after ``CANCELED_`` keep their case.
    """
    if status.startswith(_STATUS_PREFIX):
        status = status[len(_STATUS_PREFIX) :]
    head, sep, reason = status.partition("_")
    if head.upper() == STATUS_CANCELED and sep:
        return STATUS_CANCELED + "_" + reason
    return status.upper()


def order_status_is_canceled(status: str) -> bool:
    """``CANCELED`` or ``CANCELED_<reason>`` (including ``CANCELED_MARKET_RESOLVED``)."""
    s = normalize_order_status(status)
    return s == STATUS_CANCELED or s.startswith(STATUS_CANCELED + "_")


def order_status_is_terminal(status: str) -> bool:
    """True when the order will never rest or fill again: MATCHED, any CANCELED*, INVALID, UNMATCHED.

    LIVE and DELAYED are not terminal. Note MATCHED can also mean "partially filled, then cancelled"
    (PROTOCOL 5.1): the filled amount is ``size_matched``, never ``original_size``.
    """
    s = normalize_order_status(status)
    return s in _TERMINAL_STATUSES or s.startswith(STATUS_CANCELED + "_")


def order_status_cancel_reason(status: str) -> str | None:
    """The reason of a cancelled status: ``"MARKET_RESOLVED"`` for ``CANCELED_MARKET_RESOLVED``, the free
    text after ``CANCELED_``, ``""`` for a bare ``CANCELED``, ``None`` when the status is not a cancel."""
    s = normalize_order_status(status)
    if s == STATUS_CANCELED:
        return ""
    if s.startswith(STATUS_CANCELED + "_"):
        return s[len(STATUS_CANCELED) + 1 :]
    return None


@attrs.frozen(kw_only=True, slots=True)
class ControlFrame:
    """A non-JSON text frame (``PONG``, ``PING``, ``NO NEW ASSETS``)."""

    text: str

    @property
    def is_pong(self) -> bool:
        return self.text == "PONG"


CONTROL_TEXTS = frozenset({"PONG", "PING", "NO NEW ASSETS"})
"""The text frames that are not JSON and are not errors."""
