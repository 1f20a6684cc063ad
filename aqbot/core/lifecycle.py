"""The order lifecycle: local states, triggers, and the ONE transition table (DESIGN section 2).

Every state change of every order goes through :func:`transition`. A (state, trigger) pair that is not in
:data:`TABLE` is a bug (ours or the exchange's) and raises :class:`IllegalTransition`; the caller records it
as a defect and halts the token. Nothing "fixes" state silently.

Reading the table:

* ``PENDING_SUBMIT``: reserved, the POST is in flight; the id (the EIP-712 hash) is already known, so
  exchange events that beat the POST answer apply to it.
* ``LIVE``: the exchange said it rests (placement answer, order event, or a REST snapshot).
* ``CANCEL_REQUESTED``: a cancel was sent or acknowledged; it may still fill.
* ``UNKNOWN``: any ambiguity (submit timeout, "order not found", absent from one REST snapshot with fewer
  fills in ``/data/trades`` than its size, ...). Keeps its reservation; only an exchange-confirmed fact
  (terminal order event, definitive placement answer, absence confirmed by a second REST snapshot past
  grace) leaves it towards a terminal state.
* terminal ``FILLED | CANCELED | REJECTED | EXPIRED``: the reservation is gone. Late duplicates of the facts
  that led there (an answer after the events, a trade after the terminal order event) are legal no-ops; a
  second, different terminal outcome is illegal. ``REVIVE`` (terminal -> UNKNOWN) is the one way back: the
  tracker uses it, together with a Defect, when the exchange contradicts the terminal state with evidence
  of life, so that the order is reserved (and cancelled) again rather than left unaccounted.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType

from aqbot.core.events import OrderEvent, OrderEventType
from aqbot.core.types import OrderType
from aqbot.errors import InvariantViolation

logger = logging.getLogger(__name__)


class OrderState(enum.Enum):
    PENDING_SUBMIT = "PENDING_SUBMIT"
    LIVE = "LIVE"
    CANCEL_REQUESTED = "CANCEL_REQUESTED"
    UNKNOWN = "UNKNOWN"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"

    # Whether the state ends the order: a plain attribute of each member (set below), read on every event.
    terminal: bool
    # Identity hashing (members are singletons compared by identity): Enum's own ``__hash__`` is a Python
    # function, called for every table lookup and set membership test on the hot path.
    __hash__ = object.__hash__


TERMINAL = frozenset({OrderState.FILLED, OrderState.CANCELED, OrderState.REJECTED, OrderState.EXPIRED})
for _state in OrderState:
    _state.terminal = _state in TERMINAL


class Trigger(enum.Enum):
    """What happened to an order (the lifecycle's alphabet)."""

    ACCEPT = "ACCEPT"  # placement answer: success, id, status live/matched/delayed
    REJECT = "REJECT"  # placement answer: definitively not resting (success false, empty id, 4xx)
    SUBMIT_UNKNOWN = "SUBMIT_UNKNOWN"  # transport failure / timeout on the POST
    CANCEL_SEND = "CANCEL_SEND"  # aqbot sends a cancel
    CANCEL_ACK = "CANCEL_ACK"  # the id is in a DELETE answer's ``canceled`` list (NOT terminal)
    CANCEL_NOT_FOUND = "CANCEL_NOT_FOUND"  # the id is in ``not_canceled`` (any reason; NOT terminal)
    EXCH_OPEN = "EXCH_OPEN"  # an order event or a REST snapshot shows the order open
    FILL = "FILL"  # a fill (trade or size_matched) that does not end the order
    EXCH_FILLED = "EXCH_FILLED"  # confirmed terminal, fully matched
    EXCH_CANCELED = (
        "EXCH_CANCELED"  # confirmed terminal, not fully matched (CANCELED*, INVALID, MATCHED<size)
    )
    EXCH_EXPIRED = "EXCH_EXPIRED"  # confirmed terminal, GTD expiry (arrives as a CANCELLATION)
    # a complete REST snapshot past grace no longer lists the order, but /data/trades does not show it
    # filled: it may have filled with the trade not listed yet (review D1). NOT terminal: a second
    # snapshot, begun after this one was applied, has to confirm the absence.
    EXCH_ABSENT = "EXCH_ABSENT"
    REVIVE = "REVIVE"  # the exchange contradicts a terminal state (always reported as a Defect too)

    __hash__ = object.__hash__  # as OrderState's: the table lookup hashes a (state, trigger) pair


class IllegalTransition(InvariantViolation):
    """A (state, trigger) pair outside the table: a bug or an exchange contradiction. Halts the token."""

    def __init__(self, state: OrderState, trigger: Trigger) -> None:
        super().__init__(f"illegal transition: {state.value} on {trigger.value}")
        self.state = state
        self.trigger = trigger


_S = OrderState
_T = Trigger

_NON_TERMINAL_ROWS: dict[OrderState, dict[Trigger, OrderState]] = {
    _S.PENDING_SUBMIT: {
        _T.ACCEPT: _S.LIVE,
        _T.REJECT: _S.REJECTED,
        _T.SUBMIT_UNKNOWN: _S.UNKNOWN,
        _T.CANCEL_SEND: _S.CANCEL_REQUESTED,
        _T.CANCEL_ACK: _S.CANCEL_REQUESTED,
        _T.CANCEL_NOT_FOUND: _S.UNKNOWN,
        _T.EXCH_OPEN: _S.LIVE,
        _T.FILL: _S.LIVE,
        _T.EXCH_ABSENT: _S.UNKNOWN,
    },
    _S.LIVE: {
        _T.ACCEPT: _S.LIVE,
        # REJECT: the exchange already showed the order alive; a rejection now is a contradiction.
        _T.SUBMIT_UNKNOWN: _S.LIVE,
        _T.CANCEL_SEND: _S.CANCEL_REQUESTED,
        _T.CANCEL_ACK: _S.CANCEL_REQUESTED,
        _T.CANCEL_NOT_FOUND: _S.UNKNOWN,
        _T.EXCH_OPEN: _S.LIVE,
        _T.FILL: _S.LIVE,
        _T.EXCH_ABSENT: _S.UNKNOWN,
    },
    _S.CANCEL_REQUESTED: {
        _T.ACCEPT: _S.CANCEL_REQUESTED,
        _T.REJECT: _S.REJECTED,  # cancel sent while the POST was in flight, then the POST was refused
        _T.SUBMIT_UNKNOWN: _S.CANCEL_REQUESTED,
        _T.CANCEL_SEND: _S.CANCEL_REQUESTED,
        _T.CANCEL_ACK: _S.CANCEL_REQUESTED,
        _T.CANCEL_NOT_FOUND: _S.UNKNOWN,
        _T.EXCH_OPEN: _S.CANCEL_REQUESTED,
        _T.FILL: _S.CANCEL_REQUESTED,
        _T.EXCH_ABSENT: _S.UNKNOWN,
    },
    _S.UNKNOWN: {
        _T.ACCEPT: _S.LIVE,
        _T.REJECT: _S.REJECTED,
        _T.SUBMIT_UNKNOWN: _S.UNKNOWN,
        _T.CANCEL_SEND: _S.UNKNOWN,  # still unknown: the cancel proves nothing
        _T.CANCEL_ACK: _S.CANCEL_REQUESTED,
        _T.CANCEL_NOT_FOUND: _S.UNKNOWN,
        _T.EXCH_OPEN: _S.LIVE,
        _T.FILL: _S.UNKNOWN,
        _T.EXCH_ABSENT: _S.UNKNOWN,
    },
}
for _row in _NON_TERMINAL_ROWS.values():
    _row[_T.EXCH_FILLED] = _S.FILLED
    _row[_T.EXCH_CANCELED] = _S.CANCELED
    _row[_T.EXCH_EXPIRED] = _S.EXPIRED

# Late, harmless news about an order that already ended: it stays where it is.
_LATE_NOOPS = (
    _T.ACCEPT, _T.SUBMIT_UNKNOWN, _T.CANCEL_ACK, _T.CANCEL_NOT_FOUND, _T.EXCH_OPEN, _T.FILL, _T.EXCH_ABSENT,
)  # fmt: skip
_TERMINAL_ROWS: dict[OrderState, dict[Trigger, OrderState]] = {
    _S.FILLED: {**dict.fromkeys(_LATE_NOOPS, _S.FILLED), _T.EXCH_FILLED: _S.FILLED},
    _S.CANCELED: {**dict.fromkeys(_LATE_NOOPS, _S.CANCELED), _T.EXCH_CANCELED: _S.CANCELED},
    _S.EXPIRED: {**dict.fromkeys(_LATE_NOOPS, _S.EXPIRED), _T.EXCH_EXPIRED: _S.EXPIRED},
    # A REJECTED order released everything on a definitive answer: any sign of life on the exchange
    # (open, fill, terminal event) contradicts it. Only a duplicate answer or cancel answer is harmless.
    _S.REJECTED: {
        _T.REJECT: _S.REJECTED,
        _T.SUBMIT_UNKNOWN: _S.REJECTED,
        _T.CANCEL_NOT_FOUND: _S.REJECTED,
        _T.EXCH_ABSENT: _S.REJECTED,  # not listed: consistent with the rejection
    },
}

# Contradiction: the exchange shows life (a fill of a REJECTED order, a row in a REST snapshot begun after
# the order ended) in an order whose reservation is gone. The tracker reports a Defect (the token halts),
# and the order goes back to UNKNOWN, reserved again and cancelled, until a confirmed fact ends it again:
# wrong bookkeeping must err on the side of the limit.
for _state, _row in _TERMINAL_ROWS.items():
    _row[_T.REVIVE] = _S.UNKNOWN

_TABLE: dict[tuple[OrderState, Trigger], OrderState] = {
    (state, trigger): target
    for rows in (_NON_TERMINAL_ROWS, _TERMINAL_ROWS)
    for state, row in rows.items()
    for trigger, target in row.items()
}
TABLE: Mapping[tuple[OrderState, Trigger], OrderState] = MappingProxyType(_TABLE)
"""(state, trigger) -> next state. Pairs not present are illegal."""

next_state = _TABLE.get
"""``next_state((state, trigger))``: the state after ``trigger``, or ``None`` when the pair is illegal (the
table's own ``dict.get``, for the tracker's hot path; :func:`transition` is the raising, logging form)."""


def is_legal(state: OrderState, trigger: Trigger) -> bool:
    """Whether ``trigger`` may happen to an order in ``state``."""
    return (state, trigger) in TABLE


def transition(state: OrderState, trigger: Trigger) -> OrderState:
    """The state after ``trigger``.

    Raises:
        IllegalTransition: the pair is not in :data:`TABLE`.
    """
    try:
        return TABLE[(state, trigger)]
    except KeyError:
        logger.error("illegal transition %s on %s", state.value, trigger.value)
        raise IllegalTransition(state, trigger) from None


# Bound once for classify (every order event): an Enum member read off its class costs ~70 ns in 3.11.
_CANCELLATION, _GTD = OrderEventType.CANCELLATION, OrderType.GTD
_EXCH_OPEN, _EXCH_FILLED, _EXCH_CANCELED, _EXCH_EXPIRED = (
    Trigger.EXCH_OPEN, Trigger.EXCH_FILLED, Trigger.EXCH_CANCELED, Trigger.EXCH_EXPIRED,
)  # fmt: skip


def classify(event: OrderEvent, original_size: Decimal, order_type: OrderType, expiration: float) -> Trigger:
    """The trigger an ``order`` event means (PROTOCOL 5.1, 10.6).

    MATCHED is a full fill only when ``size_matched`` reaches the size (partial-then-cancelled orders and
    rounding residues are also reported MATCHED); CANCELED, CANCELED_<reason>, INVALID, UNMATCHED and any
    CANCELLATION end the order, as an expiry when a GTD order's expiration has passed; the rest is open.
    """
    status = event.status
    if status == "LIVE" and event.type is not _CANCELLATION:
        return _EXCH_OPEN  # (the usual event, a PLACEMENT: what the lines below answer for it)
    status = status.upper()
    if status == "MATCHED":
        return _EXCH_FILLED if event.size_matched >= original_size else _EXCH_CANCELED
    ends = status.startswith("CANCELED") or status in {"INVALID", "UNMATCHED"}
    if ends or event.type is _CANCELLATION:
        expired = order_type is _GTD and 0 < expiration <= event.timestamp
        return _EXCH_EXPIRED if expired else _EXCH_CANCELED
    return _EXCH_OPEN
