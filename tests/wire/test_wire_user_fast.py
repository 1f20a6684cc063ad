"""The typed user-channel fast paths (:mod:`aqbot.wire.userfast`, :func:`aqbot.io.edge.user_frame_events`)
change nothing observable.

Differential: for every text, :func:`aqbot.wire.decode_user_frame` (fast path first) gives exactly what the
reference path (``codec._decode_frame`` with the default converter) gives: the same models with the same
Decimal digits, or the same :class:`WireError` (message, path, excerpt). The fused decoder
(:func:`edge.user_frame_events`, and the runtime's :func:`edge.user_frame_decoder`) gives what
``edge.user_events`` makes of the reference models and the newest message timestamp of those models (what
the WS lag gauge reads), or the same error. And the fast path on its own never accepts a frame the
reference rejects, nor returns anything but the reference's models. The inputs are random valid frames,
the same with one mutation (missing, retyped, extra, duplicated or renamed keys, numbers for numeric
strings, unknown event types, unicode, text-level damage), lists of events and hand-made edges.
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any
from unittest import mock

import attrs
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from wire_samples import FOK_KILLED, FUNDER, ORDER_EVENT, OWNER, TRADE_EVENT, TRADE_ISO_TIMES
from wire_strategies import json_values, strategy_for

import aqbot.wire as w
from aqbot.io import edge
from aqbot.wire import codec, scalars
from aqbot.wire.types import MS_THRESHOLD
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


def _reference_frame(text: str, me: edge.Identity) -> tuple[object, object]:
    """What the runtime's user channel decoded before the fused path: ``edge.user_events`` of the reference
    models, and the newest message timestamp the WS lag gauge read from those models."""
    models = _reference(text)
    return edge.user_events(models, me), edge.newest_timestamp_ms(models)


def _fused_frame(decode: Any, text: str, me: edge.Identity) -> tuple[object, object]:
    frame = decode(text, me)
    assert type(frame) is edge.UserFrame
    return list(frame), frame.newest_ms


SAMPLE_ME = edge.Identity(api_key=OWNER, maker_address=FUNDER.upper())
NOBODY = edge.Identity(api_key="nobody", maker_address="0xnobody")


def _identities(models: object) -> list[edge.Identity]:
    """aqbot's identity as the samples' owner, as nobody, and as each maker entry's key or (upper-cased)
    address, so the fused path's ownership filter is exercised both ways."""
    out = [SAMPLE_ME, NOBODY]
    for model in models if isinstance(models, list) else ():
        for m in model.maker_orders if isinstance(model, w.Trade) else ():
            out += [edge.Identity(m.owner, "0xnobody"), edge.Identity("nobody", m.maker_address.upper())]
    return out[:6]


def check_same(text: str) -> bool:
    """Assert both fast paths agree with the reference on ``text``; return whether the wire one took it.

    Wire models: :func:`aqbot.wire.decode_user_frame` against ``codec._decode_frame``. Core events:
    :func:`edge.user_frame_events` against ``edge.user_events`` of the reference models, for several
    identities.
    """
    reference = _outcome(_reference, text)
    assert _outcome(w.decode_user_frame, text) == reference
    try:
        models: object = _reference(text)
    except w.WireError:
        models = None
    for me in _identities(models):
        want = _outcome(lambda t, me=me: _reference_frame(t, me), text)
        assert _outcome(lambda t, me=me: _fused_frame(edge.user_frame_events, t, me), text) == want
        decoder = edge.user_frame_decoder(me)
        assert _outcome(lambda t, d=decoder, me=me: _fused_frame(lambda raw, _: d(raw), t, me), text) == want
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
EDGE_VALUES: list[str] = [
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
    # 13 characters: the ms timestamp shortcut of aqbot.io.edge_user takes 13 ASCII digits only
    '"+170387520050"',
    '" 170387520050"',
    '"1_70387520050"',
    '"٣٧٠٣٨٧٥٢٠٠٥٠٠"',
    '"2024-01-01T00"',
    '"1000000000000"',
    '"9999999999999"',
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
"""JSON value texts that sit on the edges of what some field accepts."""
junk = st.one_of(json_values.map(json.dumps), floats, st.sampled_from(EDGE_VALUES))


_MARKER = "\u0000marker\u0000"


def _at(body: dict[str, Any], path: tuple[str | int, ...], value_text: str | None) -> str:
    """``body`` as JSON with the key or index at ``path`` set to the raw JSON text ``value_text`` (kept
    verbatim: floats, big ints and escapes must reach the parser as written), or deleted when ``None``."""
    root: Any = copy.deepcopy(body)
    parent = root
    for step in path[:-1]:
        parent = parent[step]
    if value_text is None:
        del parent[path[-1]]
        return json.dumps(root, ensure_ascii=False)
    parent[path[-1]] = _MARKER
    return json.dumps(root, ensure_ascii=False).replace(json.dumps(_MARKER, ensure_ascii=False), value_text)


def _with(body: dict[str, Any], key: str, value_text: str) -> str:
    return _at(body, (key,), value_text)


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


@pytest.mark.parametrize("index", range(len(SAMPLES)))
def test_every_key_of_the_samples_deleted_or_retyped_agrees(index: int) -> None:
    """Exhaustive: every top-level and maker-entry key deleted, and set to every edge value; plus an extra
    key holding every edge value, at both levels."""
    body = json.loads(SAMPLES[index])
    paths: list[tuple[str | int, ...]] = [(key,) for key in [*body, "extra"]]
    for i, entry in enumerate(body.get("maker_orders") or []):
        paths += [("maker_orders", i, key) for key in [*entry, "extra"]]
    for path in paths:
        for value in [None, *EDGE_VALUES, "1e999", "1E-50", "0.5"]:
            if value is None and path[-1] == "extra":
                continue
            check_same(_at(body, path, value))


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


def test_cold_and_warm_memos_agree() -> None:
    """The fused route reads the Decimal and seconds memos of :mod:`aqbot.wire.scalars` before converting:
    the same results with the memos empty (every value converted by the functions) and filled."""
    texts = [*SAMPLES, *EDGES[10:], "[" + ",".join(SAMPLES) + "]"]
    for _ in range(2):
        scalars._DEC_CACHE.clear()
        scalars._UNIX_S_CACHE.clear()
        with mock.patch.object(edge, "_reference_frame", side_effect=AssertionError("fell back")):
            for text in SAMPLES:  # cold: taken by the typed route all the same
                edge.user_frame_decoder(SAMPLE_ME)(text)
        scalars._DEC_CACHE.clear()
        scalars._UNIX_S_CACHE.clear()
        for text in texts:
            check_same(text)
        for text in texts:  # warm
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


def _old_to_unix_s(v: object) -> int:
    """``to_unix_s`` before its digit-string shortcut took up to 10 digits (it took exactly 10)."""
    if type(v) is str and len(v) == 10 and v.isdigit() and v.isascii():
        return int(v)
    n = scalars._in_range(scalars._int_or_iso(v, iso_scale=1))
    return n // 1000 if n >= MS_THRESHOLD else n


@given(st.text(alphabet="0123456789", max_size=14) | st.text(alphabet="0123456789²٣ -T:Z", max_size=12))
@example("0")
@example("0000000000")
@example("9999999999")
@example("99999999999")
def test_seconds_shortcut_is_unchanged(text: str) -> None:
    def outcome(fn: Any) -> tuple[str, object]:
        try:
            return ("ok", fn(text))
        except ValueError:
            return ("error", None)

    assert outcome(scalars.to_unix_s) == outcome(_old_to_unix_s)
    if text:
        assert outcome(scalars.to_opt_unix_s) == outcome(_old_to_unix_s)
    # The memo (filled by the calls above) only ever holds what the functions return.
    assert scalars.cached_unix_s(text) in (None, outcome(_old_to_unix_s)[1])
    assert outcome(scalars.to_unix_s) == outcome(_old_to_unix_s)


def test_the_decimal_memo_stays_small_under_long_numeric_strings() -> None:
    """Frames whose price is a 100 000-digit decimal still decode as the reference does, but the memo's
    size stays bounded independently of the input (a few dozen characters per entry at most)."""
    scalars._DEC_CACHE.clear()
    decode = edge.user_frame_decoder(SAMPLE_ME)
    for i in range(20):
        price = "1." + "0" * 100_000 + str(i)
        text = ORDER_EVENT.replace('"price":"0.5"', f'"price":"{price}"')
        assert decode(text)[0].price == Decimal(price)
        assert decode_user_fast(text) is not None
    assert sum(map(len, scalars._DEC_CACHE)) <= 64 * scalars._DEC_CACHE_MAX
