"""Quoting strategy: from books, fair value and inventory to the quotes that should rest (sans-IO).

A :class:`Strategy` is anything with ``desired_quotes(market, now) -> list[DesiredQuote]``. The default,
:class:`SkewedMidStrategy` (a thin wrapper over :func:`quote_market`), works in *YES price terms*:

1. **Inputs usable?** Both token books present, valid, fresher than ``max_book_age`` and, seen through
   both books (:func:`~aqbot.core.book.effective_top`), not crossed. A fair value: the caller's, else the
   effective mid. Otherwise: desire nothing.
2. **Reservation price** ``r = fair - clamp(skew_per_share * (held_yes - held_no), +-max_skew)``: long YES
   lowers both quotes (buy less eagerly, sell more eagerly); long NO raises them.
3. **Level 0** ``bid = floor_tick(r - half_spread)``, ``ask = ceil_tick(r + half_spread)``. With rewards
   (``rewards_max_spread`` v cents) the quotes are pulled strictly inside ``(m - v, m + v)`` around the
   rewards mid ``m`` (the size-cutoff mid of the YES book), but never past ``r`` (no paying above fair for
   rewards). Then post-only: ``bid < effective best ask`` and ``ask > effective best bid``, and
   ``ask > bid``. Level ``i`` sits ``i * level_step_ticks`` ticks further out; with rewards a deeper
   level outside the band is dropped. Prices outside ``[tick, 1 - tick]`` are dropped.
4. **Instrument per side.** The bid (long YES) is a SELL NO at ``1 - bid`` while NO shares are held to
   sell (at least ``min_order_size``), else a BUY YES at ``bid``. The ask (short YES) is a SELL YES at
   ``ask`` while YES shares are held, else a BUY NO at ``1 - ask``. A SELL never exceeds the shares held
   (minus other open sells); a BUY never exceeds the BUY budget; any size below ``min_order_size`` is
   not quoted. Size = ``size``, raised to ``rewards_min_size`` when rewards are targeted, capped by
   budget, rounded down to 0.01 share. ``quote_both_tokens=False`` uses YES instruments only.

BUY YES at ``p`` and SELL NO at ``1 - p`` are the same economic trade on Polymarket's unified book, and
the tick grid is symmetric (1 is a multiple of every tick), so rounding a bid down in YES terms rounds a
SELL NO up in NO terms: every rule above holds in each token's own terms.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from typing import Protocol

import attrs

from aqbot.core.book import OrderBook
from aqbot.core.book_view import effective_top
from aqbot.core.quotes import DesiredQuote, RestingQuote
from aqbot.core.types import MarketSpec, Side, TokenId
from aqbot.errors import ConfigError

__all__ = [
    "Inventory",
    "MarketInputs",
    "SkewedMidStrategy",
    "Strategy",
    "StrategyConfig",
    "ceil_to_tick",
    "floor_to_tick",
    "inventory_from",
    "market_tick",
    "quote_market",
]

logger = logging.getLogger(__name__)

_ZERO = Decimal(0)
_ONE = Decimal(1)
_CENT = Decimal("0.01")
SIZE_STEP = Decimal("0.01")
"""Order sizes have 2 decimals of shares (PROTOCOL 3.4)."""


def floor_to_tick(price: Decimal, tick: Decimal) -> Decimal:
    """The largest grid price ``<= price``."""
    return ((price / tick).to_integral_value(rounding=ROUND_FLOOR) * tick).quantize(tick)


def ceil_to_tick(price: Decimal, tick: Decimal) -> Decimal:
    """The smallest grid price ``>= price``."""
    return ((price / tick).to_integral_value(rounding=ROUND_CEILING) * tick).quantize(tick)


def _below(price: Decimal, tick: Decimal) -> Decimal:
    """The largest grid price strictly below ``price``."""
    return ceil_to_tick(price, tick) - tick


def _above(price: Decimal, tick: Decimal) -> Decimal:
    """The smallest grid price strictly above ``price``."""
    return floor_to_tick(price, tick) + tick


def _positive_dec(_inst: object, attribute: attrs.Attribute[Decimal], value: Decimal) -> None:
    if not value.is_finite() or value <= _ZERO:
        raise ConfigError(attribute.name, f"must be > 0, got {value}")


def _non_negative_dec(_inst: object, attribute: attrs.Attribute[Decimal], value: Decimal) -> None:
    if not value.is_finite() or value < _ZERO:
        raise ConfigError(attribute.name, f"must be >= 0, got {value}")


def _positive_int(_inst: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ConfigError(attribute.name, f"must be >= 1, got {value}")


def _optional_positive_int(_inst: object, attribute: attrs.Attribute[int | None], value: int | None) -> None:
    if value is not None and value < 1:
        raise ConfigError(attribute.name, f"must be >= 1, got {value}")


def _positive_float(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value > 0:
        raise ConfigError(attribute.name, f"must be > 0, got {value}")


@attrs.frozen
class StrategyConfig:
    """Knobs of the default strategy (prices in pUSD per share, sizes in shares).

    Attributes:
        half_spread: distance from the reservation price to each level-0 quote, in price units
            (0.02 = 2 cents). Ignored when ``half_spread_ticks`` is set.
        half_spread_ticks: the same distance in ticks of the market (overrides ``half_spread``).
        size: shares per quote.
        max_levels: quotes per side (level ``i`` is ``i * level_step_ticks`` ticks behind level 0).
        level_step_ticks: spacing of the levels, in ticks.
        skew_per_share: price shift per share of net YES inventory (``held_yes - held_no``).
        max_skew: cap on the absolute shift.
        max_book_age: seconds without a book update after which the books are stale (desire nothing).
        quote_both_tokens: express a side on the complement token (BUY NO instead of SELL YES when no
            YES is held, SELL NO instead of BUY YES when NO is held). False: YES instruments only.
        target_rewards: keep quotes inside the rewards max spread and at least the rewards min size.
        use_microprice: without a caller fair value, quote around the effective microprice instead of the
            effective mid.
    """

    half_spread: Decimal = attrs.field(default=Decimal("0.02"), validator=_positive_dec)
    half_spread_ticks: int | None = attrs.field(default=None, validator=_optional_positive_int)
    size: Decimal = attrs.field(default=Decimal(10), validator=_positive_dec)
    max_levels: int = attrs.field(default=1, validator=_positive_int)
    level_step_ticks: int = attrs.field(default=1, validator=_positive_int)
    skew_per_share: Decimal = attrs.field(default=Decimal(0), validator=_non_negative_dec)
    max_skew: Decimal = attrs.field(default=Decimal("0.05"), validator=_non_negative_dec)
    max_book_age: float = attrs.field(default=30.0, validator=_positive_float)
    quote_both_tokens: bool = True
    target_rewards: bool = True
    use_microprice: bool = False


@attrs.frozen
class Inventory:
    """What the strategy may commit on one token.

    Attributes:
        held: shares owned (the exposure tracker's ``held``).
        buy_capacity: BUY shares the limit still allows now, ``max_position - worst`` (may be <= 0).
        sell_capacity: shares held and not already offered by open SELLs; ``None`` means ``held``.
        resting_buy: remaining size of this quoter's own resting BUYs on the token (the diff may replace
            them, so they count toward the budget of the desired set).
        resting_sell: the same for its resting SELLs.
    """

    held: Decimal = _ZERO
    buy_capacity: Decimal = _ZERO
    sell_capacity: Decimal | None = None
    resting_buy: Decimal = _ZERO
    resting_sell: Decimal = _ZERO

    @property
    def buy_budget(self) -> Decimal:
        """Total BUY size the desired quotes on this token may add up to."""
        return max(self.buy_capacity, _ZERO) + self.resting_buy

    @property
    def sell_budget(self) -> Decimal:
        """Total SELL size the desired quotes on this token may add up to (never more than held)."""
        free = self.held if self.sell_capacity is None else self.sell_capacity
        return max(min(self.held, max(free, _ZERO) + self.resting_sell), _ZERO)


def inventory_from(
    token: TokenId,
    held: Decimal,
    buy_capacity: Decimal,
    resting: Iterable[RestingQuote],
    sell_capacity: Decimal | None = None,
) -> Inventory:
    """An :class:`Inventory` whose ``resting_buy``/``resting_sell`` are summed from the quoter's own live
    quotes on ``token`` (pass only the quotes the diff may replace: not those with a cancel in flight)."""
    mine = [r for r in resting if r.token == token]
    return Inventory(
        held=held,
        buy_capacity=buy_capacity,
        sell_capacity=sell_capacity,
        resting_buy=sum((r.size for r in mine if r.side is Side.BUY), _ZERO),
        resting_sell=sum((r.size for r in mine if r.side is Side.SELL), _ZERO),
    )


@attrs.frozen
class MarketInputs:
    """Everything the strategy sees of one market.

    ``books`` maps token id -> book (both tokens are needed); ``inventory`` maps token id -> Inventory
    (a missing token means nothing held and no capacity). ``fair_value`` is the YES fair price, or
    ``None`` to quote around the books' effective mid.
    """

    spec: MarketSpec
    books: Mapping[TokenId, OrderBook]
    inventory: Mapping[TokenId, Inventory] = attrs.field(factory=dict)
    fair_value: Decimal | None = None


class Strategy(Protocol):
    """A pluggable quoting strategy: a pure function of its inputs."""

    def desired_quotes(self, market: MarketInputs, now: float) -> list[DesiredQuote]:
        """The quotes that should rest on ``market`` (empty to rest nothing)."""
        ...


@attrs.frozen
class SkewedMidStrategy:
    """The default strategy (see the module docstring); ``config`` holds its knobs."""

    config: StrategyConfig = attrs.field(factory=StrategyConfig)

    def desired_quotes(self, market: MarketInputs, now: float) -> list[DesiredQuote]:
        return quote_market(market, self.config, now)


def market_tick(spec: MarketSpec, *books: OrderBook) -> Decimal:
    """The coarsest tick among the spec's and the books' (a coarser grid point is on every finer one)."""
    ticks = [spec.tick_size, *(b.tick_size for b in books if b.tick_size is not None)]
    return max(ticks)


@attrs.define
class _Budgets:
    buy: dict[TokenId, Decimal]
    sell: dict[TokenId, Decimal]
    min_size: Decimal

    def take(self, token: TokenId, side: Side, want: Decimal) -> Decimal | None:
        pool = self.buy if side is Side.BUY else self.sell
        size = min(want, pool[token]).quantize(SIZE_STEP, rounding=ROUND_DOWN)
        if size < self.min_size or size <= _ZERO:
            return None
        pool[token] -= size
        return size


def _level_prices(
    market: MarketInputs,
    config: StrategyConfig,
    tick: Decimal,
    r: Decimal,
    bid_cap: Decimal,
    ask_floor: Decimal,
) -> list[tuple[Decimal | None, Decimal | None]]:
    """(bid, ask) per level in YES terms; ``None`` where a level is dropped."""
    spec = market.spec
    hs = config.half_spread if config.half_spread_ticks is None else tick * config.half_spread_ticks
    bid = floor_to_tick(r - hs, tick)
    ask = ceil_to_tick(r + hs, tick)
    band: tuple[Decimal, Decimal] | None = None
    if config.target_rewards and spec.rewards_max_spread is not None and spec.rewards_max_spread > _ZERO:
        yes_book = market.books[spec.yes_token]
        m = yes_book.cutoff_mid(spec.rewards_min_size or spec.min_order_size) or yes_book.mid()
        if m is not None:
            v = spec.rewards_max_spread * _CENT
            band = (_above(m - v, tick), _below(m + v, tick))
            # Lowering a bid or raising an ask is always allowed; the opposite only up to r.
            bid = min(bid, band[1])
            ask = max(ask, band[0])
            if bid < band[0] <= r:
                bid = band[0]
            if ask > band[1] >= r:
                ask = band[1]
    bid = min(bid, bid_cap)
    ask = max(ask, ask_floor)
    if ask <= bid:
        ask = bid + tick
    step = tick * config.level_step_ticks
    out: list[tuple[Decimal | None, Decimal | None]] = []
    for i in range(config.max_levels):
        b: Decimal | None = bid - step * i
        a: Decimal | None = ask + step * i
        if b is not None and (b < tick or b > _ONE - tick or (i > 0 and band is not None and b < band[0])):
            b = None
        if a is not None and (a < tick or a > _ONE - tick or (i > 0 and band is not None and a > band[1])):
            a = None
        out.append((b, a))
    return out


def quote_market(market: MarketInputs, config: StrategyConfig, now: float) -> list[DesiredQuote]:
    """The default strategy's desired quotes for one market (see the module docstring).

    Args:
        market: books, inventory and fair value of the market.
        config: the strategy knobs.
        now: the caller's monotonic time in seconds (for book staleness).

    Returns:
        Desired post-only GTC quotes, level 0 first, bid before ask within a level. Empty when the books
        are missing, invalid, stale or crossed, or no fair value can be formed.
    """
    spec = market.spec
    yes, no = spec.yes_token, spec.no_token
    yes_book, no_book = market.books.get(yes), market.books.get(no)
    if yes_book is None or no_book is None:
        return []
    if yes_book.is_stale(now, config.max_book_age) or no_book.is_stale(now, config.max_book_age):
        return []
    top = effective_top(yes_book, no_book)
    if top is None or top.crossed:
        return []
    fair = market.fair_value
    if fair is None:
        fair = top.microprice if config.use_microprice else top.mid
    if fair is None or not (_ZERO < fair < _ONE):
        return []
    tick = market_tick(spec, yes_book, no_book)
    inv = {t: market.inventory.get(t, Inventory()) for t in (yes, no)}
    skew = min(config.skew_per_share * (inv[yes].held - inv[no].held), config.max_skew)
    skew = max(skew, -config.max_skew)
    r = fair - skew
    # Post-only: a bid must stay below the effective best ask, an ask above the effective best bid.
    bid_cap = _ONE if top.ask is None else _below(top.ask.price, tick)
    ask_floor = _ZERO if top.bid is None else _above(top.bid.price, tick)
    want = config.size
    if config.target_rewards and spec.rewards_min_size is not None:
        want = max(want, spec.rewards_min_size)
    budgets = _Budgets(
        buy={t: inv[t].buy_budget for t in (yes, no)},
        sell={t: inv[t].sell_budget for t in (yes, no)},
        min_size=spec.min_order_size,
    )
    quotes: list[DesiredQuote] = []
    for bid, ask in _level_prices(market, config, tick, r, bid_cap, ask_floor):
        if bid is not None:
            q = _pick(budgets, want, yes, bid, no, config.quote_both_tokens, long_yes=True)
            if q is not None:
                quotes.append(q)
        if ask is not None:
            q = _pick(budgets, want, yes, ask, no, config.quote_both_tokens, long_yes=False)
            if q is not None:
                quotes.append(q)
    logger.debug("market %s: r=%s tick=%s -> %d quote(s)", spec.condition_id, r, tick, len(quotes))
    return quotes


def _pick(
    budgets: _Budgets,
    want: Decimal,
    yes: TokenId,
    price: Decimal,
    no: TokenId,
    both: bool,
    *,
    long_yes: bool,
) -> DesiredQuote | None:
    """Express one side at YES price ``price``: sell the held token if possible, else buy."""
    if long_yes:
        choices = [(no, Side.SELL, _ONE - price), (yes, Side.BUY, price)]
    else:
        choices = [(yes, Side.SELL, price), (no, Side.BUY, _ONE - price)]
    for token, side, p in choices:
        if not both and token != yes:
            continue
        size = budgets.take(token, side, want)
        if size is not None:
            return DesiredQuote(token=token, side=side, price=p, size=size)
    return None
