"""Hypothesis properties: any model instance survives encode -> decode unchanged (and the JSON text is a fixed
point), and the hand-written fast hooks accept and reject exactly what the generated cattrs hooks do."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wire_strategies import json_values, strategy_for

import aqbot.wire as w
from aqbot.wire.fast import FAST_HOOKS

REST_TYPES: list[Any] = [
    w.SignedOrder,
    w.PostOrderRequest,
    list[w.PostOrderRequest],
    w.PostOrderResponse,
    w.CancelOrderRequest,
    w.CancelMarketRequest,
    w.CancelResponse,
    w.OpenOrder,
    w.Trade,
    w.Page[w.OpenOrder],
    w.Page[w.Trade],
    w.BookSummary,
    w.TickSize,
    w.NegRisk,
    w.FeeRate,
    w.ClobMarketInfo,
    w.ServerTime,
    w.ServerVersion,
    w.HeartbeatRequest,
    w.HeartbeatResponse,
    w.HeartbeatError,
    w.ErrorBody,
    w.ApiCreds,
    w.BalanceAllowance,
    list[w.Position],
]
MARKET_TYPES = [*w.MARKET_EVENT_TAGS, w.UnknownEvent]
USER_TYPES = [*w.USER_EVENT_TAGS, w.UnknownEvent]
CLIENT_TYPES = [w.MarketSubscribe, w.UserSubscribe, w.SubscriptionUpdate]


@pytest.mark.parametrize("tp", REST_TYPES, ids=repr)
def test_rest_round_trip(tp: Any) -> None:
    """decode_rest(encode_json(x), T) == x, and re-encoding gives the same text."""

    @given(strategy_for(tp))
    def check(obj: Any) -> None:
        text = w.encode_json(obj)
        back = w.decode_rest(text, tp)
        assert back == obj
        assert w.encode_json(back) == text

    check()


@pytest.mark.parametrize("tp", MARKET_TYPES, ids=lambda t: t.__name__)
def test_market_event_round_trip(tp: Any) -> None:
    """Market events survive a frame round trip, singly and inside arrays."""

    @given(st.lists(strategy_for(tp), min_size=1, max_size=3))
    def check(events: list[Any]) -> None:
        single = w.encode_market_frame(events[0])
        assert w.decode_market_frame(single) == events[:1]
        frame = w.encode_market_frame(events)
        back = w.decode_market_frame(frame)
        assert back == events
        assert w.encode_market_frame(back) == frame

    check()


@pytest.mark.parametrize("tp", USER_TYPES, ids=lambda t: t.__name__)
def test_user_event_round_trip(tp: Any) -> None:
    """User events survive a frame round trip, singly and inside arrays."""

    @given(st.lists(strategy_for(tp), min_size=1, max_size=3))
    def check(events: list[Any]) -> None:
        frame = w.encode_user_frame(events)
        back = w.decode_user_frame(frame)
        assert back == events
        assert w.encode_user_frame(back) == frame
        assert w.decode_user_frame(w.encode_user_frame(events[0])) == events[:1]

    check()


@pytest.mark.parametrize("tp", CLIENT_TYPES, ids=lambda t: t.__name__)
def test_client_frame_round_trip(tp: Any) -> None:
    """Subscribe frames survive a round trip."""

    @given(strategy_for(tp))
    def check(frame: Any) -> None:
        text = w.encode_client_frame(frame)
        assert w.decode_client_frame(text) == frame

    check()


@given(st.decimals(allow_nan=False, allow_infinity=False, places=6, min_value=-(10**9), max_value=10**9))
def test_decimal_text_is_preserved(d: Decimal) -> None:
    """A plain decimal string keeps its exact text through decode and encode ("100.0000" stays so)."""
    text_value = format(d, "f")
    level = w.decode_rest({"price": text_value, "size": "1"}, w.PriceLevel)
    assert level.price == d
    assert json.loads(w.encode_json(level))["price"] == text_value


HOT_EVENTS = {
    cls: (w.decode_user_frame, w.encode_user_frame)
    if chan is w.USER_EVENT_TAGS
    else (w.decode_market_frame, w.encode_market_frame)
    for chan in (w.MARKET_EVENT_TAGS, w.USER_EVENT_TAGS)
    for cls in chan
    if cls in FAST_HOOKS
}
FAST = w.make_converter(fast=True)
GENERATED = w.make_converter(fast=False)


def _mutations(cls: Any) -> st.SearchStrategy[str]:
    """JSON text of an event of ``cls`` with one key deleted, replaced by junk, or left alone."""
    encode = HOT_EVENTS[cls][1]

    def mutate(obj: Any, data: st.DataObject) -> str:
        body: dict[str, Any] = json.loads(encode(obj))
        keys = [k for k in body if k != "event_type"]
        action = data.draw(st.sampled_from(["keep", "delete", "replace", "nested"]))
        if action == "delete" and keys:
            del body[data.draw(st.sampled_from(keys))]
        elif action == "replace" and keys:
            body[data.draw(st.sampled_from(keys))] = data.draw(json_values)
        elif action == "nested":
            for v in body.values():
                if isinstance(v, list) and v and isinstance(v[0], dict):
                    entry = v[0]
                    entry[data.draw(st.sampled_from(sorted(entry) or ["x"]))] = data.draw(json_values)
                    break
        return json.dumps(body)

    return st.builds(lambda obj, data: mutate(obj, data), strategy_for(cls), st.data())


def _outcome(decode: Any, text: str, conv: Any) -> tuple[str, Any]:
    try:
        return ("ok", decode(text, converter=conv))
    except w.WireError as exc:
        return ("error", (str(exc), exc.path))


@pytest.mark.parametrize("cls", list(HOT_EVENTS), ids=lambda c: c.__name__)
def test_fast_hooks_agree_with_generated_hooks(cls: Any) -> None:
    """On valid and mutated input, the fast converter gives the generated converter's result or error."""
    decode = HOT_EVENTS[cls][0]

    @given(_mutations(cls))
    def check(text: str) -> None:
        assert _outcome(decode, text, FAST) == _outcome(decode, text, GENERATED)

    check()
