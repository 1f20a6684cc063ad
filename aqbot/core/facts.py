"""Outputs of the core: recordable facts (ledger rows) and commands (things the runtime must do).

Every :class:`~aqbot.core.engine.Core` method returns an :class:`Outcome`. The runtime appends every fact to
the ledger in order and executes every command. Facts are plain frozen attrs records (no serialization
logic here: the ledger's converter unstructures them; ``kind`` is the class name). Their ``__init__`` is
:func:`_slot_init`'s, not attrs' (same signature, same result): one or two facts are built per user-channel
event.
"""

from __future__ import annotations

import enum
import logging
import types
import typing
from collections.abc import Callable
from decimal import Decimal

import attrs

from aqbot.core.events import Channel, TradeStatus
from aqbot.core.halts import HaltReason, Scope
from aqbot.core.lifecycle import OrderState, Trigger
from aqbot.core.types import OrderId, Side, TokenId

logger = logging.getLogger(__name__)


# --- facts ------------------------------------------------------------------------------------------


@attrs.frozen
class OrderTransitioned:
    order_id: OrderId
    token: TokenId
    old: OrderState
    new: OrderState
    trigger: Trigger
    source: str


@attrs.frozen
class ReservationChanged:
    """A reservation was created, shrunk by a fill, or released. ``delta`` < 0 is a release."""

    order_id: OrderId
    token: TokenId
    side: Side
    delta: Decimal
    remaining: Decimal
    cause: str


@attrs.frozen
class ReserveRefused:
    token: TokenId
    side: Side
    price: Decimal
    size: Decimal
    reason: str


@attrs.frozen
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


@attrs.frozen
class TradeRecorded:
    """A (trade id, order id) fill key seen for the first time, or a status change of a known one."""

    trade_id: str
    order_id: OrderId
    amount: Decimal
    price: Decimal
    status: TradeStatus


@attrs.frozen
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


@attrs.frozen
class PositionDecision:
    token: TokenId
    kind: PositionDecisionKind
    api_size: Decimal | None
    held_before: Decimal
    held_after: Decimal
    divergent_syncs: int


@attrs.frozen
class HaltRaised:
    reason: HaltReason
    scope: Scope
    detail: str


@attrs.frozen
class HaltCleared:
    reason: HaltReason
    scope: Scope


@attrs.frozen
class GapOpened:
    gap_id: int
    channel: Channel
    started: float
    reason: str


@attrs.frozen
class GapClosed:
    gap_id: int
    ended: float


@attrs.frozen
class GapResolved:
    gap_id: int
    recon_id: int


@attrs.frozen
class ReconciliationStarted:
    recon_id: int
    started: float


@attrs.frozen
class ReconciliationFinished:
    recon_id: int
    ok: bool
    failed_attempts: int
    detail: str = ""


@attrs.frozen
class OrderAdopted:
    """An order of aqbot that the core did not know (seen on an event or a snapshot): now tracked."""

    order_id: OrderId
    token: TokenId
    side: Side
    remaining: Decimal
    source: str


@attrs.frozen
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


@attrs.frozen
class CancelOrder:
    """Send a cancel for this order (the core already moved it to CANCEL_REQUESTED or kept it UNKNOWN)."""

    order_id: OrderId
    reason: str


@attrs.frozen
class Reconcile:
    """Start a reconciliation now (the runtime calls ``Core.begin_reconciliation``)."""

    reason: str


Command = CancelOrder | Reconcile


def _slot_init(cls: type) -> Callable[..., None]:
    """An ``__init__`` for the frozen attrs record ``cls`` that stores each field through its slot's
    descriptor: attrs' own calls ``object.__setattr__`` per field (a bound method-wrapper that checks the
    call and looks the slot up again each time), ~25% more per fact. Same parameters, defaults and
    result; the class stays frozen (its ``__setattr__`` is attrs'), and ``attrs.fields``, ``__eq__``,
    ``__hash__`` and ``__repr__`` are attrs' (a test pins equal records and reprs against attrs' init)."""
    names = [a.name for a in attrs.fields(cls)]
    scope: dict[str, object] = {f"_set_{n}": cls.__dict__[n].__set__ for n in names}
    params = []
    for a in attrs.fields(cls):
        if a.default is attrs.NOTHING:
            params.append(a.name)
        else:  # (every default here is an immutable value, never a factory)
            scope[f"_default_{a.name}"] = a.default
            params.append(f"{a.name}=_default_{a.name}")
    body = "".join(f"    _set_{n}(self, {n})\n" for n in names)
    exec(f"def __init__(self, {', '.join(params)}):\n{body}", scope)  # (as attrs builds its own)
    init = scope["__init__"]
    assert isinstance(init, types.FunctionType)
    init.__qualname__, init.__module__ = f"{cls.__qualname__}.__init__", cls.__module__
    return init


for _cls in (*typing.get_args(Fact), *typing.get_args(Command)):
    setattr(_cls, "__init__", _slot_init(_cls))  # noqa: B010 (mypy: a method cannot be assigned)


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
