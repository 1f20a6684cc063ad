"""Fill accounting: which parts of a trade are aqbot's, and each fill applied once (DESIGN section 1).

A fill is keyed by ``(trade id, order id)``: one taker order hitting several of aqbot's resting orders gives
one trade id with several maker entries, each its own fill. The same key is re-sent for every status change
(MATCHED, MINED, CONFIRMED, RETRYING, FAILED, in any order, possibly duplicated): the first sighting records
the amount (it counts towards the order's ``matched``), FAILED reverses it exactly once, RETRYING keeps it,
and anything after FAILED is ignored (FAILED is permanent). CONFIRMED amounts are summed per order, so the
engine knows how much of what it counted is still *unsettled* (may yet FAIL). The record set is part of the
snapshot, so a FAILED that arrives after a restart still reverses.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Container
from decimal import Decimal
from typing import NamedTuple

import attrs

from aqbot.core.events import MakerFill, TradeEvent, TradeStatus
from aqbot.core.types import OrderId, Side, TokenId

logger = logging.getLogger(__name__)

ZERO = Decimal(0)
# Bound once: reading an Enum member off its class goes through EnumType.__getattr__ (~70 ns in 3.11).
_FAILED, _CONFIRMED = TradeStatus.FAILED, TradeStatus.CONFIRMED
# A named tuple built from a tuple of all its fields: ``OwnFill._make`` without its Python frame and its
# length check (every caller here passes every field).
_new_tuple = tuple.__new__


class OwnFill(NamedTuple):
    """One of aqbot's fills inside a trade (a named tuple: built for every own fill of every trade, and
    a tuple is built several times faster than a frozen attrs record)."""

    order_id: OrderId
    amount: Decimal
    price: Decimal
    token: TokenId
    role: str  # "taker" or "maker"
    side: Side  # the side of aqbot's order (given, or inferred per PROTOCOL 5.2)


def own_fills(trade: TradeEvent, is_ours: Callable[[OrderId, MakerFill | None], bool]) -> list[OwnFill]:
    """aqbot's fills in ``trade``.

    ``is_ours(order_id, entry)`` decides ownership (the engine checks known order ids, the API key and the
    funder address). Taker: the top-level size at the top-level price. Maker: every ``maker_orders[]`` entry
    that is ours, at the entry's price and in the entry's token (cross-asset YES/NO matches included).
    """
    fills: list[OwnFill] = []
    if trade.trader_side.upper() == "TAKER" or is_ours(trade.taker_order_id, None):
        fills.append(OwnFill(trade.taker_order_id, trade.size, trade.price, trade.token, "taker", trade.side))
    for entry in trade.maker_orders:
        if is_ours(entry.order_id, entry):
            side = entry.side
            if side is None:  # same token: the maker is on the other side; cross-asset: the same side
                side = trade.side.opposite if entry.token == trade.token else trade.side
            fills.append(
                OwnFill(entry.order_id, entry.matched_amount, entry.price, entry.token, "maker", side)
            )
    return fills


def own_fills_of(trade: TradeEvent, orders: Container[OrderId], owner: str, funder: str) -> list[OwnFill]:
    """:func:`own_fills` with the engine's ownership rule inline (it runs on every trade event): an order
    id in ``orders`` is ours, and so is a maker entry whose ``owner`` is ``owner`` (the API key) or whose
    ``maker_address``, lowercased, is ``funder`` (already lowercase); empty ``owner``/``funder`` match
    nothing. Same fills, same order (a differential test pins it)."""
    fills: list[OwnFill] = []
    trader_side = trade.trader_side  # (upper() only when it is not already one of the two spellings)
    if (
        trader_side == "TAKER"
        or (trader_side != "MAKER" and trader_side.upper() == "TAKER")
        or trade.taker_order_id in orders
    ):
        taker = (trade.taker_order_id, trade.size, trade.price, trade.token, "taker", trade.side)
        fills.append(_new_tuple(OwnFill, taker))
    for entry in trade.maker_orders:
        if (
            entry.order_id in orders
            or (owner and entry.owner == owner)
            or (funder and entry.maker_address.lower() == funder)
        ):
            side = entry.side
            if side is None:  # same token: the maker is on the other side; cross-asset: the same side
                side = trade.side.opposite if entry.token == trade.token else trade.side
            fill = (entry.order_id, entry.matched_amount, entry.price, entry.token, "maker", side)
            fills.append(_new_tuple(OwnFill, fill))
    return fills


def fill_key(trade_id: str, order_id: OrderId) -> str:
    return f"{trade_id}|{order_id}"


@attrs.define
class FillRecord:
    trade_id: str
    order_id: OrderId
    amount: Decimal
    price: Decimal
    status: TradeStatus
    reversed: bool = False
    confirmed: bool = False


class Observation(NamedTuple):
    """What one sighting of a fill key changed.

    ``added``: amount newly counted towards the order's trade sum (first sighting). ``reverse``: amount to
    take back out of ``held`` (the first FAILED). ``conflict``: a contradiction to report as a defect.
    (A named tuple, as :class:`OwnFill`: one is built for every new fill, several times faster than a
    frozen attrs record.)
    """

    new: bool
    added: Decimal = ZERO
    reverse: Decimal = ZERO
    status_changed: bool = False
    conflict: str | None = None
    failed_after_confirmed: bool = False


# The answers that carry no amount, shared (they are frozen): most sightings are status re-sends.
_UNCHANGED = Observation(new=False)
_STATUS_CHANGED = Observation(new=False, status_changed=True)


@attrs.define
class FillBook:
    """Every fill key ever seen, with its latest status."""

    records: dict[str, FillRecord] = attrs.Factory(dict)
    trade_sums: dict[OrderId, Decimal] = attrs.Factory(dict)
    failed_sums: dict[OrderId, Decimal] = attrs.Factory(dict)
    confirmed_sums: dict[OrderId, Decimal] = attrs.Factory(dict)

    def trade_sum(self, order_id: OrderId) -> Decimal:
        """Sum of ``matched_amount`` over every fill of the order (FAILED ones included: the exchange
        consumed that size of the order)."""
        return self.trade_sums.get(order_id, ZERO)

    def observe(
        self, trade_id: str, order_id: OrderId, amount: Decimal, price: Decimal, status: TradeStatus
    ) -> Observation:
        key = f"{trade_id}|{order_id}"  # fill_key(trade_id, order_id)
        record = self.records.get(key)
        if record is None:
            record = FillRecord(trade_id, order_id, amount, price, status, status is _FAILED)
            self.records[key] = record
            self.trade_sums[order_id] = self.trade_sums.get(order_id, ZERO) + amount
            reverse = amount if record.reversed else ZERO
            if reverse:
                self.failed_sums[order_id] = self.failed_amount(order_id) + reverse
            if status is _CONFIRMED:  # (what _confirm acts on)
                self._confirm(record)
            # Observation(True, amount, reverse, True): new, added, reverse, status_changed (cheaper)
            return _new_tuple(Observation, (True, amount, reverse, True, None, False))
        if record.amount != amount:
            return Observation(
                new=False, conflict=f"fill {key}: amount {amount} differs from recorded {record.amount}"
            )
        if record.reversed:
            return _UNCHANGED  # FAILED is permanent: later statuses are stale or reordered
        if status is _FAILED and record.confirmed:
            # A trade ends CONFIRMED or FAILED, never both: the caller reports it and decides.
            conflict = f"fill {key}: FAILED after CONFIRMED"
            return Observation(new=False, conflict=conflict, failed_after_confirmed=True)
        if status is _FAILED:
            self.fail(record)
            return Observation(new=False, reverse=amount, status_changed=True)
        if record.confirmed:
            return _UNCHANGED  # CONFIRMED is final: a later MATCHED/MINED is a stale re-send
        changed = status is not record.status
        record.status = status
        if status is _CONFIRMED:  # (not confirmed yet: checked above) self._confirm(record), inline
            record.confirmed = True  # (the record's own id and amount, as _confirm: equal is not identical)
            owner, sums = record.order_id, self.confirmed_sums
            sums[owner] = sums.get(owner, ZERO) + record.amount
        return _STATUS_CHANGED if changed else _UNCHANGED

    def fail(self, record: FillRecord) -> None:
        """Mark a fill FAILED (reversed), also one that was CONFIRMED."""
        record.reversed = True
        record.status = TradeStatus.FAILED
        self.failed_sums[record.order_id] = self.failed_amount(record.order_id) + record.amount
        if record.confirmed:
            record.confirmed = False
            self.confirmed_sums[record.order_id] = self.confirmed_amount(record.order_id) - record.amount

    def record(self, trade_id: str, order_id: OrderId) -> FillRecord | None:
        return self.records.get(fill_key(trade_id, order_id))

    def _confirm(self, record: FillRecord) -> None:
        if record.status is _CONFIRMED and not record.confirmed:
            record.confirmed = True
            self.confirmed_sums[record.order_id] = self.confirmed_amount(record.order_id) + record.amount

    def confirmed_amount(self, order_id: OrderId) -> Decimal:
        """Sum of the fills of the order that reached CONFIRMED (final on chain)."""
        return self.confirmed_sums.get(order_id, ZERO)

    def failed_amount(self, order_id: OrderId) -> Decimal:
        """Sum of the reversed (FAILED) fills of the order."""
        return self.failed_sums.get(order_id, ZERO)

    def all_final(self, order_id: OrderId) -> bool:
        """Whether every fill of the order is CONFIRMED or FAILED."""
        return all(r.confirmed or r.reversed for r in self.records.values() if r.order_id == order_id)

    def trade_ids(self, order_id: OrderId) -> list[str]:
        """The trade ids of the order's fills, sorted."""
        return sorted(r.trade_id for r in self.records.values() if r.order_id == order_id)

    def forget(self, order_id: OrderId) -> None:
        """Drop every record of the order (after it was pruned)."""
        for key in [k for k, r in self.records.items() if r.order_id == order_id]:
            del self.records[key]
        for sums in (self.trade_sums, self.failed_sums, self.confirmed_sums):
            sums.pop(order_id, None)
