"""Hand-written structure hooks for the hot WebSocket classes (user ``order``/``trade``, market ``book``,
``price_change``, ``last_trade_price``, ``best_bid_ask``).

They accept exactly what the generated cattrs hooks accept (tests check both agree) but skip the per-field
dispatch and error bookkeeping. On any failure they just raise; the codec then re-runs the generated hooks to
report the precise path. Required fields are read with ``o[key]`` (``KeyError`` when missing), optional ones
with ``o.get(key)``; extra keys are ignored.
"""

from __future__ import annotations

import logging
from typing import Any

import cattrs

from aqbot.core.types import OrderType, Side
from aqbot.wire.events import BestBidAsk, LastTradePrice, OrderEvent, PriceChange, PriceChangeEvent
from aqbot.wire.market import BookSummary, PriceLevel
from aqbot.wire.orders import MakerOrder, Trade
from aqbot.wire.scalars import (
    to_decimal,
    to_decimal_or_zero,
    to_opt_decimal,
    to_opt_unix_ms,
    to_opt_unix_s,
    to_str_tuple,
    to_unix_ms,
    to_unix_s,
)
from aqbot.wire.types import OrderEventType, TraderSide, TradeStatus

logger = logging.getLogger(__name__)

_SIDE = {s.value: s for s in Side}
_ORDER_TYPE = {t.value: t for t in OrderType}
_EVENT_TYPE = {t.value: t for t in OrderEventType}
_TRADER_SIDE = {t.value: t for t in TraderSide}
_TRADE_STATUS = {t.value: t for t in TradeStatus}
_TRADE_STATUS_PREFIXED = {"TRADE_STATUS_" + t.value: t for t in TradeStatus}


def _check_str(*values: object) -> None:
    for v in values:
        if type(v) is not str:
            raise TypeError("expected a string")


def _check_opt_str(*values: object) -> None:
    for v in values:
        if v is not None and type(v) is not str:
            raise TypeError("expected a string or null")


def _opt_side(v: object) -> Side | None:
    return None if v is None else _SIDE[v]  # type: ignore[index]


def _opt_int(v: object) -> int | None:
    if v is None or type(v) is int:
        return v
    raise TypeError("expected an integer")


def _opt_str_tuple(v: object) -> tuple[str, ...] | None:
    return None if v is None else to_str_tuple(v)


def opt_order_type(v: object) -> OrderType | None:
    """``None``/``""`` -> ``None``, else the :class:`OrderType` of that exact value (``KeyError`` if none)."""
    if v is None or v == "":
        return None
    return _ORDER_TYPE[v]  # type: ignore[index]


def _trade_status(v: object) -> TradeStatus:
    st = _TRADE_STATUS.get(v) if type(v) is str else None
    return st if st is not None else _TRADE_STATUS_PREFIXED[v]  # type: ignore[index]


def _list(v: object) -> list[Any]:
    if type(v) is not list:
        raise TypeError("expected an array")
    return v


def structure_order_event(o: Any, _: object = None) -> OrderEvent:
    g = o.get
    ident, market, asset_id, status = o["id"], o["market"], o["asset_id"], o["status"]
    if (
        type(ident) is not str
        or type(market) is not str
        or type(asset_id) is not str
        or type(status) is not str
    ):
        raise TypeError("expected a string")
    owner, order_owner, outcome, maker_address = (
        g("owner"),
        g("order_owner"),
        g("outcome"),
        g("maker_address"),
    )
    _check_opt_str(owner, order_owner, outcome, maker_address)
    return OrderEvent(
        type=_EVENT_TYPE[o["type"]],
        id=ident,
        owner=owner,
        order_owner=order_owner,
        market=market,
        asset_id=asset_id,
        side=_SIDE[o["side"]],
        price=to_decimal(o["price"]),
        original_size=to_decimal(o["original_size"]),
        size_matched=to_decimal_or_zero(o["size_matched"]),
        associate_trades=_opt_str_tuple(g("associate_trades")),
        outcome=outcome,
        order_type=opt_order_type(g("order_type")),
        status=status,
        created_at=to_opt_unix_s(g("created_at")),
        expiration=to_opt_unix_s(g("expiration")),
        maker_address=maker_address,
        timestamp=to_opt_unix_ms(g("timestamp")),
    )


def structure_maker_order(o: Any, _: object = None) -> MakerOrder:
    g = o.get
    order_id, owner, maker_address, asset_id = o["order_id"], o["owner"], o["maker_address"], o["asset_id"]
    outcome = g("outcome")
    if (
        type(order_id) is not str
        or type(owner) is not str
        or type(maker_address) is not str
        or type(asset_id) is not str
        or (outcome is not None and type(outcome) is not str)
    ):
        raise TypeError("expected a string")
    return MakerOrder(
        order_id=order_id,
        owner=owner,
        maker_address=maker_address,
        matched_amount=to_decimal(o["matched_amount"]),
        price=to_decimal(o["price"]),
        asset_id=asset_id,
        outcome=outcome,
        side=_opt_side(g("side")),
        fee_rate_bps=to_opt_decimal(g("fee_rate_bps")),
        outcome_index=_opt_int(g("outcome_index")),
    )


def structure_trade(o: Any, _: object = None) -> Trade:
    g = o.get
    ident, taker_order_id, market, asset_id = o["id"], o["taker_order_id"], o["market"], o["asset_id"]
    if (
        type(ident) is not str
        or type(taker_order_id) is not str
        or type(market) is not str
        or type(asset_id) is not str
    ):
        raise TypeError("expected a string")
    outcome, owner, trade_owner, maker_address = (
        g("outcome"),
        g("owner"),
        g("trade_owner"),
        g("maker_address"),
    )
    tx_hash, nano, err_msg = g("transaction_hash"), g("match_time_nano"), g("err_msg")
    _check_opt_str(outcome, owner, trade_owner, maker_address, tx_hash, nano, err_msg)
    makers = g("maker_orders")
    return Trade(
        id=ident,
        taker_order_id=taker_order_id,
        market=market,
        asset_id=asset_id,
        side=_SIDE[o["side"]],
        size=to_decimal(o["size"]),
        price=to_decimal(o["price"]),
        fee_rate_bps=to_opt_decimal(g("fee_rate_bps")),
        status=_trade_status(o["status"]),
        match_time=to_unix_s(o["match_time"]),
        last_update=to_opt_unix_s(g("last_update")),
        timestamp=to_opt_unix_ms(g("timestamp")),
        outcome=outcome,
        owner=owner,
        trade_owner=trade_owner,
        maker_address=maker_address,
        bucket_index=_opt_int(g("bucket_index")),
        transaction_hash=tx_hash,
        trader_side=_TRADER_SIDE[o["trader_side"]],
        maker_orders=() if makers is None else tuple([structure_maker_order(m) for m in _list(makers)]),
        match_time_nano=nano,
        err_msg=err_msg,
    )


def _levels(v: object) -> tuple[PriceLevel, ...]:
    if v is None:
        return ()
    return tuple([PriceLevel(price=to_decimal(lv["price"]), size=to_decimal(lv["size"])) for lv in _list(v)])


def structure_book(o: Any, _: object = None) -> BookSummary:
    g = o.get
    market, asset_id, hash_ = o["market"], o["asset_id"], g("hash")
    _check_str(market, asset_id)
    _check_opt_str(hash_)
    neg_risk = g("neg_risk")
    if neg_risk is not None and type(neg_risk) is not bool:
        raise TypeError("expected a boolean")
    return BookSummary(
        market=market,
        asset_id=asset_id,
        timestamp=to_unix_ms(o["timestamp"]),
        hash=hash_,
        bids=_levels(g("bids")),
        asks=_levels(g("asks")),
        min_order_size=to_opt_decimal(g("min_order_size")),
        tick_size=to_opt_decimal(g("tick_size")),
        neg_risk=neg_risk,
        last_trade_price=to_opt_decimal(g("last_trade_price")),
    )


def _price_change(o: Any) -> PriceChange:
    g = o.get
    asset_id, hash_ = o["asset_id"], g("hash")
    _check_str(asset_id)
    _check_opt_str(hash_)
    return PriceChange(
        asset_id=asset_id,
        price=to_decimal(o["price"]),
        size=to_decimal(o["size"]),
        side=_SIDE[o["side"]],
        hash=hash_,
        best_bid=to_opt_decimal(g("best_bid")),
        best_ask=to_opt_decimal(g("best_ask")),
    )


def structure_price_change_event(o: Any, _: object = None) -> PriceChangeEvent:
    market = o["market"]
    _check_str(market)
    return PriceChangeEvent(
        market=market,
        price_changes=tuple([_price_change(c) for c in _list(o["price_changes"])]),
        timestamp=to_unix_ms(o["timestamp"]),
    )


def structure_last_trade_price(o: Any, _: object = None) -> LastTradePrice:
    g = o.get
    asset_id, market, tx_hash = o["asset_id"], o["market"], g("transaction_hash")
    _check_str(asset_id, market)
    _check_opt_str(tx_hash)
    return LastTradePrice(
        asset_id=asset_id,
        market=market,
        price=to_decimal(o["price"]),
        side=_opt_side(g("side")),
        size=to_opt_decimal(g("size")),
        fee_rate_bps=to_opt_decimal(g("fee_rate_bps")),
        timestamp=to_unix_ms(o["timestamp"]),
        transaction_hash=tx_hash,
    )


def structure_best_bid_ask(o: Any, _: object = None) -> BestBidAsk:
    g = o.get
    asset_id, market = o["asset_id"], o["market"]
    _check_str(asset_id, market)
    return BestBidAsk(
        asset_id=asset_id,
        market=market,
        best_bid=to_opt_decimal(g("best_bid")),
        best_ask=to_opt_decimal(g("best_ask")),
        spread=to_opt_decimal(g("spread")),
        timestamp=to_unix_ms(o["timestamp"]),
    )


FAST_HOOKS: dict[type, Any] = {
    OrderEvent: structure_order_event,
    Trade: structure_trade,
    MakerOrder: structure_maker_order,
    BookSummary: structure_book,
    PriceChangeEvent: structure_price_change_event,
    LastTradePrice: structure_last_trade_price,
    BestBidAsk: structure_best_bid_ask,
}
"""Class -> hand-written structure hook (installed by ``make_converter(fast=True)``)."""


def register_fast_hooks(conv: cattrs.Converter) -> None:
    """Install :data:`FAST_HOOKS` on ``conv`` (overrides the generated hooks for those classes)."""
    for cls, hook in FAST_HOOKS.items():
        conv.register_structure_hook(cls, hook)
