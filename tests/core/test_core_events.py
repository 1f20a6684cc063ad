"""The hot core events' own ``__init__`` (:func:`aqbot.core.events._dict_literal_init`) against attrs' own."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest
from init_checks import attrs_reference, check_generated_init, check_init_against_attrs

from aqbot.core import events as ce
from aqbot.core.types import OrderType, Side

CLASSES = [ce.OrderEvent, ce.TradeEvent, ce.MakerFill]  # (ce.HOT_EVENTS, spelled out)


def test_every_hot_event_has_the_dict_literal_init() -> None:
    assert tuple(CLASSES) == ce.HOT_EVENTS
    for cls in CLASSES:
        check_generated_init(cls, ce.__name__, ("_set",))


def test_the_fields_and_defaults_are_unchanged() -> None:
    """What attrs records for each class (names, order, defaults, eq/hash) is what it was when slotted."""
    want = {
        ce.OrderEvent: (
            ("order_id", "token", "side", "price", "original_size", "size_matched", "status"),
            {
                "type": ce.OrderEventType.UPDATE,
                "order_type": OrderType.GTC,
                "expiration": 0.0,
                "timestamp": 0.0,
            },
        ),
        ce.MakerFill: (
            ("order_id", "matched_amount", "price", "token"),
            {"owner": "", "maker_address": "", "side": None},
        ),
        ce.TradeEvent: (
            ("trade_id", "status", "taker_order_id", "token", "side", "size", "price"),
            {"trader_side": "MAKER", "maker_orders": (), "match_time": 0.0},
        ),
    }
    for cls, (required, defaults) in want.items():
        fields = attrs.fields(cls)
        assert tuple(a.name for a in fields) == required + tuple(defaults), cls
        assert {a.name: a.default for a in fields if a.default is not attrs.NOTHING} == defaults, cls
        assert all(a.init and a.eq and a.hash is None and not a.kw_only for a in fields), cls


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_dict_literal_init_builds_what_attrs_init_builds(cls: type) -> None:
    check_init_against_attrs(cls)


def test_a_trade_with_its_fills_compares_and_hashes_as_before() -> None:
    """Nested records (a trade's ``maker_orders``) compare and hash by value, like attrs' slotted ones."""
    fill = ce.MakerFill("0xa", Decimal("1.5"), Decimal("0.5"), "t", "o", "0xm", Side.BUY)
    ref_fill = attrs_reference(ce.MakerFill)("0xa", Decimal("1.5"), Decimal("0.5"), "t", "o", "0xm", Side.BUY)
    args = ("id", ce.TradeStatus.MATCHED, "0xb", "t", Side.SELL, Decimal(2), Decimal("0.5"), "MAKER")
    trade = ce.TradeEvent(*args, (fill,), 1.0)
    ref_trade = attrs_reference(ce.TradeEvent)(*args, (ref_fill,), 1.0)
    assert repr(trade) == repr(ref_trade)
    again = ce.TradeEvent(*args, (attrs.evolve(fill),), 1.0)
    assert again == trade
    assert hash(again) == hash(trade)
    assert ce.TradeEvent(*args, (attrs.evolve(fill, side=None),), 1.0) != trade
