"""The typed user-channel fast path (:mod:`aqbot.wire.userfast`) changes nothing observable.

Differential: for every text, :func:`aqbot.wire.decode_user_frame` (fast path first) gives exactly what the
reference path (``codec._decode_frame`` with the default converter) gives: the same models with the same
Decimal digits, or the same :class:`WireError` (message, path, excerpt). And the fast path on its own never
accepts a frame the reference rejects, nor returns anything but the reference's models. The inputs are
random valid frames, the same with one mutation (missing, retyped, extra, duplicated or renamed keys, numbers
for numeric strings, unknown event types, unicode, text-level damage), lists of events and hand-made edges.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from wire_samples import FOK_KILLED, ORDER_EVENT, TRADE_EVENT, TRADE_ISO_TIMES
from wire_strategies import json_values, strategy_for

import aqbot.wire as w
from aqbot.wire import codec
from aqbot.wire.userfast import decode_user_fast

SAMPLES = [ORDER_EVENT, TRADE_EVENT, FOK_KILLED, TRADE_ISO_TIMES]


def _canon(value: object) -> object:
    """A comparable form that keeps what ``==`` forgets: Decimal digits, exact types, nesting."""
    if attrs.has(type(value)):
        return (
            type(value).__name__,
            [(f.name, _canon(getattr(value, f.name))) for f in attrs.fields(type(value))],
        )
    if isinstance(value, Decimal):
        return ("Decimal", str(value))
    if isinstance(value, list | tuple):
        return (type(value).__name__, [_canon(v) for v in value])
    if isinstance(value, dict):
        return ("dict", [(k, _canon(v)) for k, v in value.items()])
    return (type(value).__name__, value)


def _outcome(fn: Any, text: str) -> tuple[str, object]:
    try:
        return ("ok", _canon(fn(text)))
    except w.WireError as exc:
        return ("error", (str(exc), exc.path, exc.raw))


def _reference(text: str) -> list[Any]:
    return codec._decode_frame(text, codec.default_converter(), "user")


def check_same(text: str) -> bool:
    """Assert the fast path agrees with the reference on ``text``; return whether it accepted it."""
    reference = _outcome(_reference, text)
    assert _outcome(w.decode_user_frame, text) == reference
    fast = decode_user_fast(text)
    if fast is None:
        return False
    assert reference == ("ok", _canon(fast))
    return True


# --- generated frames ------------------------------------------------------------------------------------

user_models = st.one_of(strategy_for(w.OrderEvent), strategy_for(w.Trade))


def _body(model: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(w.encode_user_frame(model))
    return body


frames = st.one_of(
    user_models.map(w.encode_user_frame),
    st.lists(user_models, max_size=3).map(w.encode_user_frame),
)


@given(frames)
@example(ORDER_EVENT)
@example(TRADE_EVENT)
def test_valid_frames_take_the_fast_path_with_equal_models(text: str) -> None:
    """Every frame ``encode_user_frame`` writes is in the fast path's subset (so the other properties below
    compare two different decoders, not the reference with itself). Lone surrogates (random text can hold
    them) are the one exception: msgspec refuses them, so the reference decides."""
    assert check_same(text) or any("\ud800" <= c <= "\udfff" for c in text)


@pytest.mark.parametrize("text", SAMPLES)
def test_samples_agree(text: str) -> None:
    check_same(text)


def test_the_realistic_samples_are_taken() -> None:
    """PROTOCOL-shaped order and trade events (incl. empty ``size_matched``/``created_at``, ISO times)."""
    assert all(decode_user_fast(text) is not None for text in SAMPLES)
    assert decode_user_fast("[" + ",".join(SAMPLES) + "]") is not None


floats = st.sampled_from(
    ["1.5", "0.0", "-0.0", "1e999", "1E-50", "1e40", "0.10", "1" * 50 + ".0", "NaN", "-Infinity"]
)
junk = st.one_of(
    json_values.map(json.dumps),
    floats,
    st.sampled_from(
        [
            '""',
            '"0"',
            '"0.5"',
            '"-1"',
            '" 1"',
            '"1_000"',
            '"١٢"',
            '"NaN"',
            '"1e99"',
            '"TRADE_STATUS_CONFIRMED"',
            '"MATCHED"',
            '"buy"',
            '"BUY"',
            '"GTD"',
            '"TAKER"',
            '"PLACEMENT"',
            '"2024-01-01T00:01:00Z"',
            '"2024-01-01T00:01:00"',
            '"1703875200500"',
            '"17038752005"',
            '"0017038752005"',
            '"\\ud800"',
            '"\\u00e9\\u4e2d"',
            '"\U0001f600"',
            "true",
            "null",
            "[]",
            '["a",1]',
            "{}",
            "17038752005",
            "-5",
            "9" * 30,
            "9" * 4301,
        ]
    ),
)
"""JSON value texts that sit on the edges of what some field accepts."""


def _with(body: dict[str, Any], key: str, value_text: str) -> str:
    """``body`` as JSON with ``key`` set to the raw JSON text ``value_text`` (kept verbatim: floats, big
    ints and escapes must reach the parser as written)."""
    marker = "\u0000marker\u0000"
    text = json.dumps({**body, key: marker}, ensure_ascii=False)
    return text.replace(json.dumps(marker, ensure_ascii=False), value_text)


def _mutate(body: dict[str, Any], data: st.DataObject) -> str:
    keys = sorted(body)
    action = data.draw(
        st.sampled_from(["keep", "delete", "replace", "extra", "tag", "duplicate", "maker", "maker_extra"])
    )
    if action == "delete":
        del body[data.draw(st.sampled_from(keys))]
    elif action == "replace":
        return _with(body, data.draw(st.sampled_from(keys)), data.draw(junk))
    elif action == "extra":
        return _with(body, data.draw(st.text(max_size=8).filter(lambda k: k not in body)), data.draw(junk))
    elif action == "tag":
        body["event_type"] = data.draw(st.sampled_from(["order", "trade", "book", "ORDER", "", "x"]))
    elif action == "duplicate":
        key = data.draw(st.sampled_from(keys))
        text = json.dumps(body)
        return text[:-1] + f",{json.dumps(key)}:{data.draw(junk)}}}"
    elif action in ("maker", "maker_extra") and body.get("maker_orders"):
        entry = body["maker_orders"][0]
        key = data.draw(st.sampled_from(sorted(entry)))
        if action == "maker_extra":
            key = data.draw(st.text(max_size=8).filter(lambda k: k not in entry))
        entry[key] = json.loads(data.draw(json_values.map(json.dumps)))
    return json.dumps(body)


@given(user_models.map(_body), st.data())
def test_mutated_frames_agree(body: dict[str, Any], data: st.DataObject) -> None:
    check_same(_mutate(body, data))


@given(st.sampled_from(SAMPLES).map(json.loads), st.data())
def test_mutated_samples_agree(body: dict[str, Any], data: st.DataObject) -> None:
    check_same(_mutate(body, data))


@given(st.lists(st.sampled_from(SAMPLES).map(json.loads), min_size=1, max_size=3), st.data())
def test_mutated_lists_agree(bodies: list[dict[str, Any]], data: st.DataObject) -> None:
    """One element of an array frame mutated (or a non-object element), the others intact."""
    i = data.draw(st.integers(0, len(bodies) - 1))
    texts = [json.dumps(b) for b in bodies]
    texts[i] = _mutate(bodies[i], data) if data.draw(st.booleans()) else data.draw(junk)
    check_same("[" + ",".join(texts) + "]")


@given(st.sampled_from(SAMPLES), st.integers(min_value=0, max_value=3000), st.text(max_size=3))
def test_text_damage_agrees(text: str, at: int, insert: str) -> None:
    at = min(at, len(text))
    check_same(text[:at] + insert + text[at:])


EDGES = [
    "",
    "PONG",
    " PONG ",
    "[]",
    "{}",
    "[{}]",
    "null",
    '"order"',
    "[" * 100_000,
    '[{"event_type":"order"}]',
    ORDER_EVENT.replace('"event_type":"order"', '"event_type":"order","event_type":"order"'),
    ORDER_EVENT.replace('"event_type":"order"', '"event_type":"order","event_type":"trade"'),
    ORDER_EVENT.replace('"event_type":"order"', '"event_type":"trade","event_type":"order"'),
    ORDER_EVENT.replace('"event_type":"order"', '"event_type":"new_thing"'),
    ORDER_EVENT.replace('"price":"0.5"', '"price":0.5'),
    ORDER_EVENT.replace('"price":"0.5"', '"price":5'),
    ORDER_EVENT.replace('"price":"0.5"', '"price":"0.50","price":"0.5"'),
    ORDER_EVENT.replace('"expiration":"0"', '"expiration":0'),
    ORDER_EVENT.replace('"expiration":"0"', '"expiration":"0000000000"'),
    ORDER_EVENT.replace('"timestamp":"1703875200500"', '"timestamp":"1703875200"'),
    ORDER_EVENT.replace('"timestamp":"1703875200500"', '"timestamp":1703875200500'),
    ORDER_EVENT.replace('"timestamp":"1703875200500"', '"timestamp":""'),
    ORDER_EVENT.replace('"order_type":"GTC"', '"order_type":""'),
    ORDER_EVENT.replace('"order_type":"GTC"', '"order_type":"gtc"'),
    ORDER_EVENT.replace(
        '"associate_trades":["28c4d2eb-bbea-40e7-a9f0-b2fdb56b2c2e"]', '"associate_trades":null'
    ),
    ORDER_EVENT.replace('"status":"LIVE"', '"status":"\\ud800"'),
    ORDER_EVENT.replace('"status":"LIVE"', '"status":"\\u00e9"'),
    ORDER_EVENT.replace('"side":"BUY"', '"side":"Buy"'),
    ORDER_EVENT.replace("{", '{"x":1e999,', 1),
    ORDER_EVENT.replace("{", '{"x":1E-50,', 1),
    ORDER_EVENT.replace("{", '{"x":[[[[[[[[]]]]]]]],', 1),
    "\ufeff" + ORDER_EVENT,
    " " + ORDER_EVENT,
    ORDER_EVENT + " \n",
    ORDER_EVENT + "x",
    "[" + ORDER_EVENT + "," + '{"event_type":"price_change"}' + "]",
    "[" + ORDER_EVENT + ",PONG]",
    TRADE_EVENT.replace('"status":"MATCHED"', '"status":"TRADE_STATUS_MATCHED"'),
    TRADE_EVENT.replace('"type":"TRADE"', '"type":1e999'),
    TRADE_EVENT.replace('"type":"TRADE"', '"type":1E-50'),
    TRADE_EVENT.replace('"type":"TRADE"', '"type":0.5'),
    TRADE_EVENT.replace('"type":"TRADE"', '"type":{"a":1}'),
    TRADE_EVENT.replace('"bucket_index":0', '"bucket_index":true'),
    TRADE_EVENT.replace('"bucket_index":0', '"bucket_index":0.0'),
    TRADE_EVENT.replace('"bucket_index":0', '"bucket_index":' + "9" * 4300),
    TRADE_EVENT.replace('"bucket_index":0', '"bucket_index":' + "9" * 4301),
    TRADE_EVENT.replace('"outcome_index":0', '"outcome_index":0,"zz":1e999'),
    TRADE_EVENT.replace('"outcome_index":0', '"outcome_index":-0'),
    TRADE_EVENT.replace('"match_time":"1672290701"', '"match_time":"1672290701000"'),
    TRADE_EVENT.replace('"match_time":"1672290701"', '"match_time":null'),
    TRADE_EVENT.replace('"maker_orders":[', '"maker_orders":null,"x":['),
    TRADE_EVENT.replace('"fee_rate_bps":"0"', '"fee_rate_bps":"1e41"'),
    TRADE_EVENT.replace('"size":"10"', '"size":"1e41"'),
    TRADE_EVENT.replace('"size":"10"', '"size":"0e99"'),
]


@pytest.mark.parametrize("text", EDGES, ids=range(len(EDGES)))
def test_edges_agree(text: str) -> None:
    check_same(text)


def test_declined_frames_are_decided_by_the_reference() -> None:
    """Evidence that the fast path declines (rather than accepts) what only the reference may judge."""
    declined = [
        ORDER_EVENT.replace("{", '{"x":1e999,', 1),  # the reference rejects: a float beyond the bound
        ORDER_EVENT.replace("{", '{"x":1,', 1),  # the reference accepts: an unknown key
        TRADE_EVENT.replace('"status":"MATCHED"', '"status":"TRADE_STATUS_MATCHED"'),
        ORDER_EVENT.replace('"price":"0.5"', '"price":0.5'),
        ORDER_EVENT.replace('"event_type":"order"', '"event_type":"new_thing"'),
    ]
    assert [decode_user_fast(text) for text in declined] == [None] * len(declined)
    with pytest.raises(w.WireError, match="invalid JSON"):
        w.decode_user_frame(declined[0])
    assert type(w.decode_user_frame(declined[1])[0]) is w.OrderEvent
    assert w.decode_user_frame(declined[2])[0].status is w.TradeStatus.MATCHED


def test_fast_models_are_ordinary_frozen_models() -> None:
    """The dict-built models compare, hash, repr and refuse mutation like constructor-built ones."""
    fast = decode_user_fast("[" + ORDER_EVENT + "," + TRADE_EVENT + "]")
    assert fast is not None
    for model in fast:
        rebuilt = attrs.evolve(model)
        assert model == rebuilt
        assert hash(model) == hash(rebuilt)
        assert repr(model) == repr(rebuilt)
        assert set(vars(model)) == {f.name for f in attrs.fields(type(model))}
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            model.id = "x"  # type: ignore[misc]
