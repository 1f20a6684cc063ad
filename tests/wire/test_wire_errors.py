"""Decoding fails with exactly one error type, :class:`WireError`, whose path names the offending field."""

from __future__ import annotations

import pytest
from wire_samples import CANONICAL_REST, MARKET_EVENTS, USER_EVENTS

from aqbot.wire import (
    ApiCreds,
    ClobMarketInfo,
    Page,
    Position,
    PostOrderResponse,
    Trade,
    WireError,
    decode_market_frame,
    decode_rest,
    decode_user_frame,
    make_converter,
)

ORDER = USER_EVENTS["order"]
TRADE = USER_EVENTS["trade"]


@pytest.fixture(params=[True, False], ids=["fast", "generated"])
def conv_kw(request: pytest.FixtureRequest) -> dict[str, object]:
    """Both converters must report the same errors."""
    return {"converter": make_converter(fast=request.param)}


def _user_error(text: str | bytes, conv_kw: dict[str, object]) -> WireError:
    with pytest.raises(WireError) as info:
        decode_user_frame(text, **conv_kw)  # type: ignore[arg-type]
    return info.value


def test_errors_are_chained_from_the_original_exception(conv_kw: dict[str, object]) -> None:
    """The library exception is kept as ``__cause__`` for debugging (never raised itself)."""
    assert isinstance(_user_error("{", conv_kw).__cause__, ValueError)
    assert _user_error(ORDER.replace('"price":"0.5",', ""), conv_kw).__cause__ is not None


def test_missing_required_field(conv_kw: dict[str, object]) -> None:
    """A missing required field names the field."""
    err = _user_error(ORDER.replace('"price":"0.5",', ""), conv_kw)
    assert err.path == "$.price"
    assert "required field missing" in str(err)


def test_wrong_type(conv_kw: dict[str, object]) -> None:
    """A JSON type that cannot be the field's type is refused (ids must be strings, sides known)."""
    assert _user_error(ORDER.replace('"side":"BUY"', '"side":5'), conv_kw).path == "$.side"
    assert _user_error(ORDER.replace('"market":"0x', '"market":7,"x":"'), conv_kw).path == "$.market"
    assert _user_error(ORDER.replace('"original_size":"100.0"', '"original_size":true'), conv_kw).path == (
        "$.original_size"
    )
    assert _user_error(
        ORDER.replace('"associate_trades":[', '"associate_trades":"x","y":['), conv_kw
    ).path == ("$.associate_trades")


def test_nested_path_inside_array_frame(conv_kw: dict[str, object]) -> None:
    """The path walks into the frame index and nested arrays."""
    bad_trade = TRADE.replace('"matched_amount":"4"', '"matched_amount":"four"')
    err = _user_error("[" + ORDER + "," + bad_trade + "]", conv_kw)
    assert err.path == "$[1].maker_orders[1].matched_amount"
    assert err.raw.startswith("[{")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        TRADE[: len(TRADE) // 2],
        '{"event_type":"order",}',
        "PONG PONG",
        "\ufeff" + ORDER,
        "[" * 100_000,
    ],
    ids=["empty", "brace", "truncated", "trailing-comma", "unknown-text", "bom", "deep"],
)
def test_bad_json(text: str, conv_kw: dict[str, object]) -> None:
    """Malformed or truncated JSON is a WireError at ``$`` (never JSONDecodeError/RecursionError)."""
    assert _user_error(text, conv_kw).path == "$"


def test_invalid_utf8_bytes(conv_kw: dict[str, object]) -> None:
    """Undecodable bytes are a WireError."""
    _user_error(b'{"event_type":"order","id":"\xff\xfe"}', conv_kw)


@pytest.mark.parametrize("frame", ["42", '"order"', "null", "true", "[1]", "[null]", '[["x"]]'])
def test_frames_that_are_not_events(frame: str, conv_kw: dict[str, object]) -> None:
    """A frame must be an object or an array of objects."""
    _user_error(frame, conv_kw)


def test_missing_or_bad_event_type(conv_kw: dict[str, object]) -> None:
    """event_type is required and must be a string."""
    assert _user_error('{"id":"x"}', conv_kw).path == "$.event_type"
    assert _user_error('[{"event_type":1}]', conv_kw).path == "$[0].event_type"


@pytest.mark.parametrize(
    "value", ['"NaN"', '"Infinity"', '"-inf"', '"1e999999"', '"1E-99999"', '"0x10"', '"1.2.3"', "NaN"]
)
def test_non_finite_or_absurd_decimals(value: str, conv_kw: dict[str, object]) -> None:
    """NaN, infinities, huge exponents and junk are refused wherever a Decimal is expected."""
    err = _user_error(ORDER.replace('"0.5"', value, 1), conv_kw)
    assert err.path in ("$.price", "$")


def test_bad_timestamps(conv_kw: dict[str, object]) -> None:
    """Timestamps must be integers, digit strings or zoned ISO-8601 strings."""
    assert _user_error(TRADE.replace('"match_time":"1672290701"', '"match_time":"soon"'), conv_kw).path == (
        "$.match_time"
    )
    assert _user_error(
        TRADE.replace('"match_time":"1672290701"', '"match_time":"2024-01-01T00:00:00"'), conv_kw
    ).path == ("$.match_time")
    assert (
        _user_error(TRADE.replace('"match_time":"1672290701"', '"match_time":1.5'), conv_kw).path
        == "$.match_time"
    )


def test_market_frame_errors(conv_kw: dict[str, object]) -> None:
    """Market frames report the failing entry inside price_changes."""
    bad = MARKET_EVENTS["price_change"].replace('"side":"SELL"', '"side":"SIDEWAYS"')
    with pytest.raises(WireError) as info:
        decode_market_frame(bad, **conv_kw)  # type: ignore[arg-type]
    assert info.value.path == "$.price_changes[1].side"
    with pytest.raises(WireError) as info:
        decode_market_frame(MARKET_EVENTS["book"].replace('"bids":[', '"bids":{"a":1},"x":['), **conv_kw)  # type: ignore[arg-type]
    assert info.value.path == "$.bids"


def test_rest_errors_have_paths() -> None:
    """REST decoding reports paths through pages, and several errors are summarized in one message."""
    bad = CANONICAL_REST["trades_page"][1].replace('"price":"0.5000"', '"price":[]', 1)
    with pytest.raises(WireError) as info:
        decode_rest(bad, Page[Trade])
    assert info.value.path == "$.data[0].price"
    with pytest.raises(WireError) as info:
        decode_rest('{"errorMsg":5,"orderID":6}', PostOrderResponse)
    assert "more" in str(info.value)
    with pytest.raises(WireError):
        decode_rest("[]", PostOrderResponse)
    with pytest.raises(WireError):
        decode_rest('{"data":"abc","next_cursor":"LTE="}', Page[Trade])


def test_credential_errors_carry_no_excerpt() -> None:
    """Failing to decode API credentials never copies the payload (it holds the secret)."""
    secret = "c2VjcmV0LXZhbHVlLWZvci10ZXN0cy1vbmx5LTAwMDI="
    for text in (
        '{"apiKey":"k","secret":"' + secret + '","passphrase":7}',
        '{"apiKey":"k","secret":"' + secret,
    ):
        with pytest.raises(WireError) as info:
            decode_rest(text, ApiCreds)
        assert info.value.raw == ""
        assert secret not in str(info.value)


@pytest.mark.parametrize(
    "raw", ["[" * 200_000, b'{"a":' * 100_000, '[{"event_type":"x","v":' + "[" * 3000 + "]" * 3000 + "}]"]
)
def test_deep_nesting_is_refused_even_with_a_raised_recursion_limit(raw: str | bytes) -> None:
    """py_ecc raises the recursion limit to 100000 at import; deep JSON must still fail cleanly, not crash."""
    import sys

    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 100_000))
    try:
        with pytest.raises(WireError) as info:
            decode_market_frame(raw)
    finally:
        sys.setrecursionlimit(old)
    assert "deeper" in str(info.value)


def test_paths_use_the_json_keys() -> None:
    """Renamed fields are reported by their JSON key (camelCase, compact /clob-markets keys)."""
    cases = [
        ('{"success":true,"makingAmount":"x"}', PostOrderResponse, "$.makingAmount"),
        ('{"c":"0x1","t":[{"t":"1","o":"Yes"},{"t":"2","o":5}],"mts":0.01}', ClobMarketInfo, "$.t[1].o"),
        ('{"c":"0x1","t":[],"mts":0.01,"fd":{"r":"x","to":true}}', ClobMarketInfo, "$.fd.r"),
        (
            '[{"proxyWallet":"0x1","asset":"2","conditionId":"0x3","size":1,"avgPrice":[]}]',
            list[Position],
            "$[0].avgPrice",
        ),
    ]
    for text, cls, path in cases:
        with pytest.raises(WireError) as info:
            decode_rest(text, cls)
        assert info.value.path == path
