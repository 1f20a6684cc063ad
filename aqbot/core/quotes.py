"""Desired quotes versus resting quotes: which orders to cancel and which to place (sans-IO).

The strategy says what *should* rest (:class:`DesiredQuote`); the order tracker knows what *does* rest
(:class:`RestingQuote`). :func:`diff_quotes` turns the two into a :class:`QuoteDiff` that changes as little
as possible, because every cancel/replace loses queue position and liquidity-reward samples:

1. Per (token, side), a resting quote *may be kept* for a desired one when its price is within
   ``requote_ticks - 1`` ticks (with the default ``requote_ticks = 1``: the same price) and its remaining
   size is within ``size_tolerance`` (a fraction of the desired size). The diff keeps as many as possible
   (a maximum matching), each desired quote preferring the nearest price, then the nearest size, then the
   smallest order id.
2. Every resting quote not kept is cancelled (this includes duplicates and extras).
3. Every desired quote not matched is placed, in the order the strategy listed them (best levels first),
   up to ``max_places`` per call, and only while it fits the *free* capacity the caller passes in. A
   cancel sent in this same call frees nothing yet: a reservation is released only by the exchange's
   confirmation, so a replacement that needs the cancelled order's capacity is *deferred* and comes back
   on a later call, once the cancel is confirmed.

Output is deterministic: cancels sorted by (token, side, price, order id); places and deferred quotes in
the desired order. Cancels come first: the caller sends them before the places.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from decimal import Decimal

import attrs

from aqbot.core.types import OrderId, OrderType, Side, TokenId
from aqbot.errors import ConfigError

__all__ = ["DesiredQuote", "DiffConfig", "QuoteDiff", "RestingQuote", "diff_quotes"]

logger = logging.getLogger(__name__)

_ZERO = Decimal(0)


@attrs.frozen
class DesiredQuote:
    """An order the strategy wants resting: post-only GTC by default."""

    token: TokenId
    side: Side
    price: Decimal
    size: Decimal
    order_type: OrderType = OrderType.GTC
    post_only: bool = True


@attrs.frozen
class RestingQuote:
    """One of aqbot's own live orders, as the order tracker sees it; ``size`` is the remaining size."""

    order_id: OrderId
    token: TokenId
    side: Side
    price: Decimal
    size: Decimal


def _non_negative_int(_inst: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 0:
        raise ConfigError(attribute.name, f"must be >= 0, got {value}")


def _positive_int(_inst: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ConfigError(attribute.name, f"must be >= 1, got {value}")


def _fraction(_inst: object, attribute: attrs.Attribute[Decimal], value: Decimal) -> None:
    if not value.is_finite() or value < _ZERO:
        raise ConfigError(attribute.name, f"must be a finite fraction >= 0, got {value}")


@attrs.frozen
class DiffConfig:
    """How eager to requote.

    Attributes:
        requote_ticks: a resting quote is replaced once its price is this many ticks (or more) away from
            the desired price. 1 (the default) keeps only exact-price quotes; 2 tolerates one tick.
        size_tolerance: a resting quote is kept while ``|resting - desired| <= size_tolerance * desired``
            (0.1 = 10 %). Partial fills shrink the remaining size; beyond this the quote is refreshed.
        max_places: at most this many places per call (the exchange's batch limit is 15).
    """

    requote_ticks: int = attrs.field(default=1, validator=_positive_int)
    size_tolerance: Decimal = attrs.field(default=Decimal("0.1"), validator=_fraction)
    max_places: int = attrs.field(default=15, validator=_non_negative_int)


@attrs.frozen
class QuoteDiff:
    """What to do: send ``cancels`` first, then ``places``.

    ``kept`` pairs each resting quote left alone with the desired quote it stands for; ``deferred`` are
    desired quotes not placed this call (over ``max_places`` or over the free capacity).
    """

    cancels: tuple[RestingQuote, ...] = ()
    places: tuple[DesiredQuote, ...] = ()
    kept: tuple[tuple[RestingQuote, DesiredQuote], ...] = ()
    deferred: tuple[DesiredQuote, ...] = ()

    @property
    def cancel_ids(self) -> tuple[OrderId, ...]:
        return tuple(r.order_id for r in self.cancels)

    @property
    def has_actions(self) -> bool:
        """True when there is something to send."""
        return bool(self.cancels or self.places)


def _size_ok(resting: RestingQuote, desired: DesiredQuote, tolerance: Decimal) -> bool:
    return abs(resting.size - desired.size) <= tolerance * desired.size


def _match_group(
    resting: list[RestingQuote], desired: list[tuple[int, DesiredQuote]], max_gap: Decimal, tolerance: Decimal
) -> tuple[dict[int, RestingQuote], list[RestingQuote]]:
    """Match one (token, side) group. Returns {desired index: kept resting} and the unmatched resting.

    A maximum bipartite matching (Kuhn's augmenting paths) over the "could be kept" edges, each desired
    quote trying its candidates nearest first. Maximum, not greedy: a greedy pass can give a resting quote
    to the wrong desired one and then churn a quote that could have stayed; with a maximum matching,
    diffing the result of a diff again yields no actions.
    """
    pool = sorted(resting, key=lambda r: r.order_id)
    candidates: dict[int, list[int]] = {}
    for index, want in desired:
        scored = [
            ((abs(r.price - want.price), abs(r.size - want.size), r.order_id), j)
            for j, r in enumerate(pool)
            if abs(r.price - want.price) < max_gap and _size_ok(r, want, tolerance)
        ]
        candidates[index] = [j for _, j in sorted(scored)]
    owner: dict[int, int] = {}  # resting position -> desired index

    def augment(index: int, seen: set[int]) -> bool:
        for j in candidates[index]:
            if j in seen:
                continue
            seen.add(j)
            if j not in owner or augment(owner[j], seen):
                owner[j] = index
                return True
        return False

    for index, _ in desired:
        augment(index, set())
    kept = {index: pool[j] for j, index in owner.items()}
    return kept, [r for j, r in enumerate(pool) if j not in owner]


def diff_quotes(
    resting: Iterable[RestingQuote],
    desired: Iterable[DesiredQuote],
    *,
    tick: Decimal,
    config: DiffConfig | None = None,
    buy_capacity: Mapping[TokenId, Decimal] | None = None,
    sell_capacity: Mapping[TokenId, Decimal] | None = None,
) -> QuoteDiff:
    """Compute the cancels and places that turn ``resting`` into ``desired`` with the least churn.

    Args:
        resting: aqbot's live quotes (any order).
        desired: the strategy's quotes, best levels first.
        tick: the market's tick size (for the requote threshold).
        config: thresholds; defaults to :class:`DiffConfig()`.
        buy_capacity: per token, how many more BUY shares may be sent *now* (``max_position - worst``).
            ``None`` means the caller enforces it elsewhere; a token missing from the mapping has none.
        sell_capacity: per token, how many more SELL shares may be sent now (``held - open sells``);
            same conventions.

    Returns:
        The :class:`QuoteDiff`.
    """
    cfg = config if config is not None else DiffConfig()
    max_gap = tick * cfg.requote_ticks
    want = list(desired)
    groups_r: dict[tuple[TokenId, Side], list[RestingQuote]] = {}
    for r in resting:
        groups_r.setdefault((r.token, r.side), []).append(r)
    groups_d: dict[tuple[TokenId, Side], list[tuple[int, DesiredQuote]]] = {}
    for i, d in enumerate(want):
        groups_d.setdefault((d.token, d.side), []).append((i, d))

    kept: dict[int, RestingQuote] = {}
    cancels: list[RestingQuote] = []
    for key in sorted(set(groups_r) | set(groups_d), key=lambda k: (k[0], k[1].value)):
        k, extra = _match_group(groups_r.get(key, []), groups_d.get(key, []), max_gap, cfg.size_tolerance)
        kept.update(k)
        cancels.extend(extra)
    cancels.sort(key=lambda r: (r.token, r.side.value, r.price, r.order_id))

    places: list[DesiredQuote] = []
    deferred: list[DesiredQuote] = []
    used: dict[tuple[TokenId, Side], Decimal] = {}
    for i, d in enumerate(want):
        if i in kept:
            continue
        limits = buy_capacity if d.side is Side.BUY else sell_capacity
        spent = used.get((d.token, d.side), _ZERO)
        fits = limits is None or spent + d.size <= limits.get(d.token, _ZERO)
        if not fits or len(places) >= cfg.max_places:
            deferred.append(d)
            continue
        used[(d.token, d.side)] = spent + d.size
        places.append(d)
    if deferred:
        logger.debug("quote diff deferred %d place(s)", len(deferred))
    return QuoteDiff(
        cancels=tuple(cancels),
        places=tuple(places),
        kept=tuple((kept[i], want[i]) for i in sorted(kept)),
        deferred=tuple(deferred),
    )
