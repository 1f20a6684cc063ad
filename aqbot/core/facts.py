"""Outputs of the core: recordable facts (ledger rows) and commands (things the runtime must do).

Every :class:`~aqbot.core.engine.Core` method returns an :class:`Outcome`. The runtime appends every fact to
the ledger in order and executes every command. Facts are plain frozen attrs records (no serialization
logic here: the ledger's converter unstructures them; ``kind`` is the class name). They are dict classes with
:func:`_dict_init`'s ``__init__``, not attrs' (same signature, same result): one or two facts are built per
user-channel event.
"""

from __future__ import annotations

import enum
import logging
import typing
from collections.abc import Callable
from decimal import Decimal

import attrs

from aqbot.core.events import Channel, TradeStatus
from aqbot.core.halts import HaltReason, Scope
from aqbot.core.initgen import compile_init
from aqbot.core.lifecycle import OrderState, Trigger
from aqbot.core.types import OrderId, Side, TokenId

logger = logging.getLogger(__name__)


# --- facts ------------------------------------------------------------------------------------------


@attrs.frozen(slots=False)  # (see _dict_init)
class OrderTransitioned:
    order_id: OrderId
    token: TokenId
    old: OrderState
    new: OrderState
    trigger: Trigger
    source: str


@attrs.frozen(slots=False)  # (see _dict_init)
class ReservationChanged:
    """A reservation was created, shrunk by a fill, or released. ``delta`` < 0 is a release."""

    order_id: OrderId
    token: TokenId
    side: Side
    delta: Decimal
    remaining: Decimal
    cause: str


@attrs.frozen(slots=False)  # (see _dict_init)
class ReserveRefused:
    token: TokenId
    side: Side
    price: Decimal
    size: Decimal
    reason: str


@attrs.frozen(slots=False)  # (see _dict_init)
class FillApplied:
    """``held`` moved by ``delta`` (signed, shares) because the order's matched grew; ``source`` says who
    reported it first (``order_event``, ``trade``, ``rest``)."""

    order_id: OrderId
    token: TokenId
    side: Side
    delta: Decimal
    matched: Decimal
    source: str
    trade_id: str = ""


@attrs.frozen(slots=False)  # (see _dict_init)
class TradeRecorded:
    """A (trade id, order id) fill key seen for the first time, or a status change of a known one."""

    trade_id: str
    order_id: OrderId
    amount: Decimal
    price: Decimal
    status: TradeStatus


@attrs.frozen(slots=False)  # (see _dict_init)
class FillReversed:
    """A FAILED trade: ``held`` moved back by ``delta`` (signed)."""

    trade_id: str
    order_id: OrderId
    token: TokenId
    delta: Decimal


class PositionDecisionKind(enum.Enum):
    AGREE = "agree"
    ACCEPTED_RAISE = "accepted-raise"
    ACCEPTED_LOWER = "accepted-lower"
    SKIPPED_RECENT_FILL = "skipped-recent-fill"
    SKIPPED_PENDING_BUYS = "skipped-pending-buys"
    SKIPPED_PENDING_SELLS = "skipped-pending-sells"
    SKIPPED_NO_ROW = "skipped-no-row"
    SKIPPED_EXPLAINED_BY_OPEN_BUYS = "skipped-explained-by-open-buys"
    SKIPPED_UNSETTLED_FILLS = "skipped-unsettled-fills"
    DIVERGENT = "divergent"


@attrs.frozen(slots=False)  # (see _dict_init)
class PositionDecision:
    token: TokenId
    kind: PositionDecisionKind
    api_size: Decimal | None
    held_before: Decimal
    held_after: Decimal
    divergent_syncs: int


@attrs.frozen(slots=False)  # (see _dict_init)
class HaltRaised:
    reason: HaltReason
    scope: Scope
    detail: str


@attrs.frozen(slots=False)  # (see _dict_init)
class HaltCleared:
    reason: HaltReason
    scope: Scope


@attrs.frozen(slots=False)  # (see _dict_init)
class GapOpened:
    gap_id: int
    channel: Channel
    started: float
    reason: str


@attrs.frozen(slots=False)  # (see _dict_init)
class GapClosed:
    gap_id: int
    ended: float


@attrs.frozen(slots=False)  # (see _dict_init)
class GapResolved:
    gap_id: int
    recon_id: int


@attrs.frozen(slots=False)  # (see _dict_init)
class ReconciliationStarted:
    recon_id: int
    started: float


@attrs.frozen(slots=False)  # (see _dict_init)
class ReconciliationFinished:
    recon_id: int
    ok: bool
    failed_attempts: int
    detail: str = ""


@attrs.frozen(slots=False)  # (see _dict_init)
class OrderAdopted:
    """An order of aqbot that the core did not know (seen on an event or a snapshot): now tracked."""

    order_id: OrderId
    token: TokenId
    side: Side
    remaining: Decimal
    source: str


@attrs.frozen(slots=False)  # (see _dict_init)
class Defect:
    """A bug or a contradiction; the token is halted (``HaltReason.DEFECT``)."""

    token: TokenId
    order_id: OrderId
    detail: str
    history: tuple[str, ...] = ()


Fact = (
    OrderTransitioned
    | ReservationChanged
    | ReserveRefused
    | FillApplied
    | TradeRecorded
    | FillReversed
    | PositionDecision
    | HaltRaised
    | HaltCleared
    | GapOpened
    | GapClosed
    | GapResolved
    | ReconciliationStarted
    | ReconciliationFinished
    | OrderAdopted
    | Defect
)


# --- commands ---------------------------------------------------------------------------------------


@attrs.frozen(slots=False)  # (see _dict_init)
class CancelOrder:
    """Send a cancel for this order (the core already moved it to CANCEL_REQUESTED or kept it UNKNOWN)."""

    order_id: OrderId
    reason: str


@attrs.frozen(slots=False)  # (see _dict_init)
class Reconcile:
    """Start a reconciliation now (the runtime calls ``Core.begin_reconciliation``)."""

    reason: str


Command = CancelOrder | Reconcile


def _dict_init(cls: type) -> Callable[..., None]:
    """An ``__init__`` for the frozen attrs record ``cls`` (a dict class, ``slots=False``) that stores the
    fields straight into the instance's ``__dict__``, as attrs' own does for such a class, without first
    binding ``object.__setattr__`` (which it does not use).

    Why not attrs' slotted records: their ``__init__`` calls ``object.__setattr__`` per field (a bound
    method-wrapper that checks the call and looks the slot up each time), about half again as costly as
    this one per fact, and one or two facts are built per user-channel event. Same parameters, defaults
    and result; the class stays frozen (its ``__setattr__`` and ``__delattr__`` are attrs'), and
    ``attrs.fields``, ``__eq__``, ``__hash__`` and ``__repr__`` are attrs' (tests/core/test_core_facts.py
    pins equal records and reprs against attrs' own ``__init__``)."""
    body = "".join(f"    _inst_dict[{a.name!r}] = {a.name}\n" for a in attrs.fields(cls))
    return compile_init(cls, f"    _inst_dict = self.__dict__\n{body}", {})


for _cls in (*typing.get_args(Fact), *typing.get_args(Command)):
    setattr(_cls, "__init__", _dict_init(_cls))  # noqa: B010 (mypy: a method cannot be assigned)


@attrs.define(init=False)
class Outcome:
    """What one core call produced, in order."""

    facts: list[Fact]
    commands: list[Command]

    def __init__(self, facts: list[Fact] | None = None, commands: list[Command] | None = None) -> None:
        # (attrs' own __init__ with two list factories costs a third more: one is built per core call)
        self.facts = [] if facts is None else facts
        self.commands = [] if commands is None else commands

    def fact(self, fact: Fact) -> None:
        self.facts.append(fact)

    def command(self, command: Command) -> None:
        self.commands.append(command)

    def extend(self, other: Outcome) -> None:
        self.facts.extend(other.facts)
        self.commands.extend(other.commands)
