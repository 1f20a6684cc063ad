"""The cattrs converter factory: wire names, JSON forms and strict scalar hooks, configured at the edge.

The models stay plain (STYLE P6/A13); everything about the wire lives in the tables below:

* ``_RENAMES``: Python field name -> JSON key (camelCase, compact ``/clob-markets`` keys).
* ``_NUMBER_FIELDS``: Decimal/timestamp fields that are JSON *numbers* (default: strings, as the CLOB sends).
* ``_EMPTY_IS_ZERO``: Decimal fields where ``""`` means ``0`` (``size_matched``, ``makingAmount``).
* ``_KEEP_NULL``: optional fields encoded as ``null`` when ``None`` (others are omitted when ``None``).

:func:`make_converter` builds a fresh converter each call (cheap; STYLE P6). With ``fast=True`` the hot
user/market-channel classes get the hand-written hooks of :mod:`aqbot.wire.fast`; the codec re-runs a failed
fast decode through a ``fast=False`` converter to report a precise error path.
"""

from __future__ import annotations

import enum
import logging
import typing
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import attrs
import cattrs
import cattrs.cols
from cattrs.gen import make_dict_structure_fn, override

from aqbot.core.types import OrderType
from aqbot.wire import scalars as sc
from aqbot.wire.account import ApiCreds, BalanceAllowance, ErrorBody, Position, ServerTime
from aqbot.wire.events import MarketSubscribe, OrderEvent, UserSubscribe
from aqbot.wire.market import ClobMarketInfo, ClobRewards, ClobToken, FeeDetails, FeeRate, TickSize
from aqbot.wire.orders import CancelOrderRequest, OpenOrder, PostOrderRequest, PostOrderResponse, SignedOrder
from aqbot.wire.types import Secret, TradeStatus, UnixMs, UnixS
from aqbot.wire.unstructure import ordered_unstructure_fn

logger = logging.getLogger(__name__)

_RENAMES: dict[type, dict[str, str]] = {
    SignedOrder: {
        "token_id": "tokenId",
        "maker_amount": "makerAmount",
        "taker_amount": "takerAmount",
        "signature_type": "signatureType",
    },
    PostOrderRequest: {"order_type": "orderType", "defer_exec": "deferExec", "post_only": "postOnly"},
    PostOrderResponse: {
        "error_msg": "errorMsg",
        "order_id": "orderID",
        "making_amount": "makingAmount",
        "taking_amount": "takingAmount",
        "transactions_hashes": "transactionsHashes",
        "trade_ids": "tradeIDs",
    },
    CancelOrderRequest: {"order_id": "orderID"},
    ApiCreds: {"api_key": "apiKey"},
    ClobToken: {"token_id": "t", "outcome": "o"},
    FeeDetails: {"rate": "r", "exponent": "e", "taker_only": "to"},
    ClobRewards: {
        "min_size": "mi",
        "max_spread": "ma",
        "enabled": "e",
        "skip_min_order_age": "smoa",
        "min_order_age_seconds": "moas",
    },
    ClobMarketInfo: {
        "condition_id": "c",
        "tokens": "t",
        "min_tick_size": "mts",
        "neg_risk": "nr",
        "fee_details": "fd",
        "maker_base_fee": "mbf",
        "taker_base_fee": "tbf",
        "rewards": "r",
        "accepting_orders": "ao",
        "min_order_size": "mos",
        "seconds_delay": "sd",
        "game_start_time": "gst",
        "clear_book_on_start": "cbos",
        "accepting_orders_timestamp": "aot",
        "rfq_enabled": "rfqe",
        "taker_order_delay_enabled": "itode",
        "blockaid_check_enabled": "ibce",
    },
}


def wire_key(cls: Any, name: str) -> str:
    """The JSON key of field ``name`` of ``cls`` (for error paths)."""
    return _RENAMES.get(typing.get_origin(cls) or cls, {}).get(name, name)


def _decimal_fields(cls: type) -> frozenset[str]:
    return frozenset(n for n, t in typing.get_type_hints(cls).items() if t in (Decimal, Decimal | None))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


_RENAMES[Position] = {f.name: _camel(f.name) for f in attrs.fields(Position) if "_" in f.name}

_NUMBER_FIELDS: dict[type, frozenset[str]] = {
    TickSize: frozenset({"minimum_tick_size"}),
    FeeRate: frozenset({"base_fee"}),
    FeeDetails: frozenset({"rate", "exponent"}),
    ClobRewards: frozenset({"min_size", "max_spread"}),
    ClobMarketInfo: frozenset({"min_tick_size", "maker_base_fee", "taker_base_fee", "min_order_size"}),
    ErrorBody: frozenset({"retry_after_seconds"}),
    OpenOrder: frozenset({"created_at"}),
    ServerTime: frozenset({"unix_s"}),
    Position: frozenset(
        n for n, t in typing.get_type_hints(Position).items() if t in (Decimal, Decimal | None)
    ),
}

_EMPTY_IS_ZERO: dict[type, frozenset[str]] = {
    PostOrderResponse: frozenset({"making_amount", "taking_amount"}),
    OpenOrder: frozenset({"size_matched"}),
    OrderEvent: frozenset({"size_matched"}),
}

_KEEP_NULL: dict[type, frozenset[str]] = {
    ClobMarketInfo: frozenset({"rewards"}),
    OpenOrder: frozenset({"associate_trades"}),
    OrderEvent: frozenset({"associate_trades"}),
}

_STRING_INT_FIELDS: dict[type, frozenset[str]] = {
    SignedOrder: frozenset({"maker_amount", "taker_amount"}),
    BalanceAllowance: frozenset({"balance", "allowance"}),
}
# Mappings whose values are integers sent as decimal strings (spender -> allowance in base units).
_STRING_INT_MAPS: dict[type, frozenset[str]] = {BalanceAllowance: frozenset({"allowances"})}

# Objects with a constant discriminator key: (key, value, inserted after this key or first when None).
_CONSTANT_KEYS: dict[type, tuple[str, str, str | None]] = {
    MarketSubscribe: ("type", "market", None),
    UserSubscribe: ("type", "user", "auth"),
}

_TRADE_STATUS_PREFIX = "TRADE_STATUS_"


def _structure_trade_status(v: object, _: object) -> TradeStatus:
    text = sc.to_str(v)
    if text.startswith(_TRADE_STATUS_PREFIX):
        text = text[len(_TRADE_STATUS_PREFIX) :]
    return TradeStatus(text)


def _structure_opt_order_type(v: object, _: object) -> OrderType | None:
    if v is None or v == "":
        return None
    return OrderType(sc.to_str(v))


def _structure_str_tuple(v: object, _: object) -> tuple[str, ...]:
    return sc.to_str_tuple(v)


def _structure_opt_str_tuple(v: object, _: object) -> tuple[str, ...] | None:
    return None if v is None else sc.to_str_tuple(v)


def _structure_mapping(v: object, _: object) -> Mapping[str, object]:
    if type(v) is not dict:
        raise TypeError("expected an object")
    return v


def _register_scalars(conv: cattrs.Converter) -> None:
    """Strict scalar hooks first (cattrs' defaults coerce, e.g. ``str(None)``), then composite ones."""
    conv.register_structure_hook(str, lambda v, _: sc.to_str(v))
    conv.register_structure_hook(bool, lambda v, _: sc.to_bool(v))
    conv.register_structure_hook(int, lambda v, _: sc.to_int(v))
    conv.register_structure_hook(Decimal, lambda v, _: sc.to_decimal(v))
    conv.register_structure_hook(Decimal | None, lambda v, _: sc.to_opt_decimal(v))
    conv.register_unstructure_hook(Decimal, sc.dec_text)
    conv.register_structure_hook(UnixS, lambda v, _: sc.to_unix_s(v))
    conv.register_structure_hook(UnixMs, lambda v, _: sc.to_unix_ms(v))
    conv.register_structure_hook(UnixS | None, lambda v, _: sc.to_opt_unix_s(v))
    conv.register_structure_hook(UnixMs | None, lambda v, _: sc.to_opt_unix_ms(v))
    conv.register_unstructure_hook(UnixS, str)
    conv.register_unstructure_hook(UnixMs, str)
    conv.register_structure_hook(TradeStatus, _structure_trade_status)
    conv.register_structure_hook(OrderType | None, _structure_opt_order_type)
    conv.register_structure_hook_func(lambda t: t == tuple[str, ...], _structure_str_tuple)
    conv.register_structure_hook(tuple[str, ...] | None, _structure_opt_str_tuple)
    conv.register_structure_hook_func(lambda t: t == Mapping[str, object], _structure_mapping)
    conv.register_unstructure_hook_func(lambda t: t == Mapping[str, object], lambda v: v)
    conv.register_structure_hook(Secret, lambda v, _: Secret(sc.to_str(v)))
    conv.register_unstructure_hook(Secret, lambda s: s.reveal())
    conv.register_structure_hook(ServerTime, lambda v, _: ServerTime(unix_s=sc.to_unix_s(sc.to_int(v))))
    conv.register_unstructure_hook_func(
        lambda t: isinstance(t, type) and issubclass(t, enum.Enum), _enum_value
    )
    conv.register_unstructure_hook(ServerTime, lambda t: int(t.unix_s))


def _enum_value(e: enum.Enum) -> Any:
    return e.value


def _is_optional(tp: object) -> bool:
    return type(None) in typing.get_args(tp)


def _field_overrides(conv: cattrs.Converter, cls: type, *, structuring: bool) -> dict[str, Any]:
    renames = _RENAMES.get(cls, {})
    numbers = _NUMBER_FIELDS.get(cls, frozenset())
    zeros = _EMPTY_IS_ZERO.get(cls, frozenset())
    nulls = _KEEP_NULL.get(cls, frozenset())
    string_ints = _STRING_INT_FIELDS.get(cls, frozenset())
    hints = typing.get_type_hints(cls)
    out: dict[str, Any] = {}
    for f in attrs.fields(cls):
        tp = hints[f.name]
        kw: dict[str, Any] = {}
        if f.name in renames:
            kw["rename"] = renames[f.name]
        if f.default is None and f.name not in nulls:
            kw["omit_if_default"] = True
        if f.name in zeros:
            kw["struct_hook"] = lambda v, _: sc.to_decimal_or_zero(v)
        if f.name in string_ints:
            kw["struct_hook"] = _opt_int_text if f.default is None else (lambda v, _: sc.to_int_text(v))
            kw["unstruct_hook"] = str
        if f.name in _STRING_INT_MAPS.get(cls, frozenset()):
            kw["struct_hook"] = _int_text_map
            kw["unstruct_hook"] = _int_text_map_out
        if f.name in numbers:
            if tp in (UnixS, UnixS | None):
                kw["unstruct_hook"] = int
            elif tp in (Decimal, Decimal | None):
                kw["unstruct_hook"] = _identity
        if f.default == () and structuring:
            kw["struct_hook"] = _null_is_empty(conv, tp)
        if cls is ClobMarketInfo and f.name == "tokens" and structuring:
            kw["struct_hook"] = _tokens_hook(conv)
        if kw:
            out[f.name] = override(**kw)
    return out


def _opt_int_text(v: object, _: object) -> int | None:
    return None if v is None else sc.to_int_text(v)


def _int_text_map(v: object, _: object) -> dict[str, int] | None:
    if v is None:
        return None
    if type(v) is not dict:
        raise TypeError("expected an object")
    return {sc.to_str(k): sc.to_int_text(x) for k, x in v.items()}


def _int_text_map_out(v: dict[str, int] | None) -> dict[str, str] | None:
    return None if v is None else {k: str(x) for k, x in v.items()}


def _null_is_empty(conv: cattrs.Converter, tp: Any) -> Callable[[object, object], tuple[Any, ...]]:
    """Array fields that default to ``()`` also accept JSON ``null`` as empty."""

    def hook(v: object, _: object) -> tuple[Any, ...]:
        if v is None:
            return ()
        result: tuple[Any, ...] = conv.structure(v, tp)
        return result

    return hook


def _identity(v: Decimal) -> Decimal:
    """JSON-number Decimals stay Decimal until :func:`aqbot.wire.codec.encode_json` prints them."""
    return v


def _tokens_hook(conv: cattrs.Converter) -> Callable[[object, object], tuple[ClobToken, ...]]:
    def hook(v: object, _: object) -> tuple[ClobToken, ...]:
        if type(v) is not list:
            raise TypeError("expected an array")
        tokens: tuple[ClobToken, ...] = conv.structure([x for x in v if x is not None], tuple[ClobToken, ...])
        return tokens

    return hook


def _attrs_structure_factory(conv: cattrs.Converter) -> Callable[[Any], Any]:
    def factory(cl: Any) -> Any:
        origin = typing.get_origin(cl) or cl
        return make_dict_structure_fn(cl, conv, **_field_overrides(conv, origin, structuring=True))

    return factory


def _attrs_unstructure_factory(conv: cattrs.Converter) -> Callable[[Any], Any]:
    def factory(cl: Any) -> Any:
        origin = typing.get_origin(cl) or cl
        return ordered_unstructure_fn(
            conv,
            cl,
            overrides=_field_overrides(conv, origin, structuring=False),
            keep_null=_KEEP_NULL.get(origin, frozenset()),
            constant=_CONSTANT_KEYS.get(origin),
        )

    return factory


def _strict_sequence_factory(conv: cattrs.Converter) -> Callable[[Any], Any]:
    """Arrays must be JSON arrays: cattrs' default would iterate a string or an object's keys."""

    def factory(cl: Any) -> Any:
        if typing.get_origin(cl) is tuple:
            inner = cattrs.cols.homogenous_tuple_structure_factory(cl, conv)
        else:
            inner = cattrs.cols.list_structure_factory(cl, conv)

        def hook(v: object, t: object) -> Any:
            if type(v) is not list:
                raise TypeError("expected an array")
            return inner(v, t)

        return hook

    return factory


def _strict_mapping_factory(conv: cattrs.Converter) -> Callable[[Any], Any]:
    def factory(cl: Any) -> Any:
        inner = cattrs.cols.mapping_structure_factory(cl, conv)

        def hook(v: object, t: object) -> Any:
            if type(v) is not dict:
                raise TypeError("expected an object")
            return inner(v, t)

        return hook

    return factory


def make_converter(*, fast: bool = True) -> cattrs.Converter:
    """A new converter for every aqbot wire model.

    Args:
        fast: install the hand-written hooks for the hot WebSocket classes (same results, ~2x faster).

    Returns:
        A ``cattrs.Converter`` with ``detailed_validation`` on (errors carry paths).
    """
    conv = cattrs.Converter(detailed_validation=True)
    # Later registrations win in cattrs: generic factories first, specific scalar hooks after them.
    conv.register_structure_hook_factory(cattrs.cols.is_sequence, _strict_sequence_factory(conv))
    conv.register_structure_hook_factory(cattrs.cols.is_mapping, _strict_mapping_factory(conv))
    conv.register_structure_hook_factory(attrs.has, _attrs_structure_factory(conv))
    conv.register_unstructure_hook_factory(attrs.has, _attrs_unstructure_factory(conv))
    _register_scalars(conv)
    if fast:
        from aqbot.wire.fast import register_fast_hooks

        register_fast_hooks(conv)
    return conv
