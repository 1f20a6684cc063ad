"""REST models: captured-shape samples round-trip exactly, and the official SDK's JSON decodes and re-encodes
to the same bytes (what the L2 HMAC signs)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from py_clob_client_v2.order_utils.model.order_data_v2 import SignedOrderV2, order_to_json_v2
from py_clob_client_v2.order_utils.model.side import Side as SdkSide
from wire_helpers import parse, resolve, strict_equal
from wire_samples import CANONICAL_REST, CID, EMPTY_AMOUNTS_RESPONSE, NO, OID, OID2, YES

from aqbot.core.types import OrderType, Side
from aqbot.wire import (
    END_CURSOR,
    INITIAL_CURSOR,
    BalanceAllowance,
    BookSummary,
    CancelMarketRequest,
    CancelOrderRequest,
    CancelResponse,
    ClobMarketInfo,
    HeartbeatRequest,
    OpenOrder,
    Page,
    Position,
    PostOrderRequest,
    PostOrderResponse,
    ServerTime,
    TickSize,
    Trade,
    TradeStatus,
    UnixS,
    WireError,
    decode_cursor,
    decode_rest,
    encode_cursor,
    encode_json,
)


def sdk_dumps(obj: object) -> str:
    """How py_clob_client_v2 serializes a body before signing and sending it."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize("name", sorted(CANONICAL_REST))
def test_canonical_rest_sample_round_trips_byte_for_byte(name: str) -> None:
    """decode -> encode reproduces the sample exactly (keys, order, JSON types, numeric text)."""
    cls_name, text = CANONICAL_REST[name]
    obj = decode_rest(text, resolve(cls_name))
    encoded = encode_json(obj)
    assert strict_equal(parse(encoded), parse(text))
    assert encoded == text


def _sdk_order(*, side: SdkSide = SdkSide.BUY) -> SignedOrderV2:
    return SignedOrderV2(
        salt="479118137",
        maker="0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        signer="0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        tokenId=YES,
        makerAmount="11782400",
        takerAmount="21040000",
        side=side,
        signatureType=1,
        timestamp="1735689600123",
        metadata="0x" + "0" * 64,
        builder="0x" + "12" * 32,
        expiration="1735693260",
        signature="0x" + "9f" * 65,
    )


@pytest.mark.parametrize(
    ("post_only", "defer_exec", "order_type"), [(False, False, "GTC"), (True, True, "GTD")]
)
def test_sdk_post_order_body_is_reproduced(post_only: bool, defer_exec: bool, order_type: str) -> None:
    """The SDK's ``order_to_json_v2`` body decodes and re-encodes to the SDK's exact serialized bytes."""
    body = order_to_json_v2(_sdk_order(), "owner-api-key", order_type, post_only, defer_exec)
    sdk_text = sdk_dumps(body)
    req = decode_rest(sdk_text, PostOrderRequest)
    assert req.order.salt == 479118137
    assert req.order.maker_amount == 11782400
    assert req.order.side is Side.BUY
    assert req.order.expiration == 1735693260
    assert req.order_type is OrderType(order_type)
    assert (req.post_only, req.defer_exec) == (post_only, defer_exec)
    assert encode_json(req) == sdk_text


def test_sdk_batch_body_is_reproduced() -> None:
    """``POST /orders`` is a bare JSON array of the same objects."""
    bodies = [
        order_to_json_v2(_sdk_order(side=s), "owner-api-key", "GTC", True, False)
        for s in (SdkSide.BUY, SdkSide.SELL)
    ]
    sdk_text = sdk_dumps(bodies)
    reqs = decode_rest(sdk_text, list[PostOrderRequest])
    assert [r.order.side for r in reqs] == [Side.BUY, Side.SELL]
    assert encode_json(reqs) == sdk_text


def test_cancel_and_heartbeat_bodies_match_sdk_serialization() -> None:
    """Small bodies serialize exactly as the SDK does before signing."""
    assert encode_json(CancelOrderRequest(order_id=OID)) == sdk_dumps({"orderID": OID})
    assert encode_json([OID, OID2]) == sdk_dumps([OID, OID2])
    assert encode_json(CancelMarketRequest(asset_id=YES)) == sdk_dumps({"asset_id": YES})
    assert encode_json(CancelMarketRequest()) == "{}"
    assert encode_json(HeartbeatRequest()) == sdk_dumps({"heartbeat_id": ""})


def test_post_order_response_empty_strings_and_acceptance() -> None:
    """Empty amounts mean 0; acceptance follows the pysdk rule, and an empty orderID is a rejection."""
    ok = decode_rest(EMPTY_AMOUNTS_RESPONSE, PostOrderResponse)
    assert ok.making_amount == Decimal(0)
    assert ok.transactions_hashes == ()
    assert ok.is_accepted
    leg = decode_rest(
        '{"success":true,"errorMsg":"invalid post-only order: order crosses book","orderID":""}',
        PostOrderResponse,
    )
    assert leg.status == ""
    assert not leg.is_accepted
    assert not decode_rest(
        '{"success":true,"errorMsg":"","orderID":"0x1","status":"unmatched"}', PostOrderResponse
    ).is_accepted


def test_cancel_response_exposes_reasons() -> None:
    """``not_canceled`` maps ids to the reason text."""
    resp = decode_rest(CANONICAL_REST["cancel_response"][1], CancelResponse)
    assert resp.canceled == (OID,)
    assert resp.not_canceled == {OID2: "already canceled or matched"}
    assert decode_rest('{"canceled":[],"not_canceled":{}}', CancelResponse) == CancelResponse()


def test_open_orders_page_and_cursor() -> None:
    """Pages expose their rows and the cursor; numbers and JSON-number created_at decode exactly."""
    page = decode_rest(CANONICAL_REST["open_orders_page"][1], Page[OpenOrder])
    (order,) = page.data
    assert order.original_size == Decimal("200.0000")
    assert str(order.original_size) == "200.0000"
    assert order.created_at == 1703875200
    assert not order.is_terminal
    assert decode_cursor(page.next_cursor) == 100
    assert not page.is_last


def test_open_order_tolerates_null_expiration_ms_created_at_and_missing_optionals() -> None:
    """Shapes seen in captures: ``expiration: null``, ``created_at`` in ms, no ``limit``/``count``."""
    text = (
        '{"data":[{"associate_trades":null,"id":"0xbb","status":"LIVE","market":"'
        + CID
        + '","original_size":"150",'
        '"size_matched":"50.0000","asset_id":"' + NO + '","side":"SELL","price":"0.4000","expiration":null,'
        '"order_type":"GTD","created_at":1703875200002,"extra_field":{"x":1}}],"next_cursor":"LTE="}'
    )
    page = decode_rest(text, Page[OpenOrder])
    order = page.data[0]
    assert order.associate_trades is None
    assert order.expiration is None
    assert order.created_at == 1703875200
    assert order.side is Side.SELL
    assert page.is_last
    assert page.limit is None


def test_trades_page_iso_times_and_maker_side() -> None:
    """REST trades: ISO ``match_time`` becomes Unix seconds; maker sides come from the entry or inference."""
    page = decode_rest(CANONICAL_REST["trades_page"][1], Page[Trade])
    trade = page.data[0]
    assert trade.status is TradeStatus.CONFIRMED
    assert trade.status.is_final
    assert trade.maker_side(trade.maker_orders[0]) is Side.SELL
    iso = CANONICAL_REST["trades_page"][1].replace('"1672290701"', '"2023-01-01T00:00:00Z"')
    assert decode_rest(iso, Page[Trade]).data[0].match_time == 1672531200


def test_cursor_helpers() -> None:
    """Cursors are base64 offsets; the first is MA==, the end LTE=."""
    assert encode_cursor(0) == INITIAL_CURSOR
    assert encode_cursor(-1) == END_CURSOR
    assert encode_cursor(100) == "MTAw"
    for n in (0, 1, 100, 12345, -1):
        assert decode_cursor(encode_cursor(n)) == n
    for bad in ("", "!!", "YWJj", "LS0x"):
        with pytest.raises(WireError):
            decode_cursor(bad)


def test_book_levels_are_sorted_by_consumer() -> None:
    """Best levels are computed, not assumed from the server's order."""
    book = decode_rest(CANONICAL_REST["book"][1], BookSummary)
    assert book.best_bid == Decimal("0.48")
    assert book.best_ask == Decimal("0.52")
    assert [lv.price for lv in book.bids_best_first()] == [Decimal("0.48"), Decimal("0.47")]
    assert [lv.price for lv in book.asks_best_first()] == [Decimal("0.52"), Decimal("0.53")]
    empty = decode_rest(
        '{"market":"m","asset_id":"a","timestamp":"1703875200000","bids":[],"asks":[]}', BookSummary
    )
    assert empty.best_bid is None
    assert empty.hash is None


def test_clob_market_info_tolerates_nulls_and_missing_fields() -> None:
    """Null token entries are dropped, absent optional fields are ``None``, unknown keys are ignored."""
    text = '{"c":"' + CID + '","t":[{"t":"' + YES + '","o":"Yes"},null],"mts":0.01,"new_field":[1,2]}'
    info = decode_rest(text, ClobMarketInfo)
    assert [t.token_id for t in info.tokens] == [YES]
    assert info.neg_risk is None
    assert info.rewards is None
    assert info.min_tick_size == Decimal("0.01")
    full = decode_rest(CANONICAL_REST["clob_market"][1], ClobMarketInfo)
    assert full.rewards is not None
    assert full.rewards.max_spread == Decimal("3.5")
    assert full.fee_details is not None
    assert full.fee_details.rate == Decimal("0.072")


def test_json_numbers_decode_to_exact_decimals() -> None:
    """JSON numbers are parsed as Decimal (``0.1`` stays ``Decimal("0.1")``, never a float)."""
    assert decode_rest('{"minimum_tick_size":0.1}', TickSize).minimum_tick_size == Decimal("0.1")
    (pos,) = decode_rest(CANONICAL_REST["positions"][1], list[Position])
    assert pos.initial_value == Decimal("82.775")
    assert type(pos.size) is Decimal
    tiny = decode_rest(
        '[{"proxyWallet":"0x1","asset":"2","conditionId":"0x3","size":1.2345678901234567e-05}]',
        list[Position],
    )
    assert tiny[0].size == Decimal("0.000012345678901234567")


def test_server_time_is_a_bare_integer() -> None:
    """``/time`` is a bare JSON integer of seconds, both ways."""
    assert decode_rest("1735689600", ServerTime).unix_s == 1735689600
    assert encode_json(ServerTime(unix_s=UnixS(1735689600))) == "1735689600"
    with pytest.raises(WireError):
        decode_rest('"1735689600"', ServerTime)


def test_balance_allowance_amounts_are_decimal() -> None:
    """Balances are base-unit strings decoded to Decimal; both allowance shapes are accepted."""
    new = decode_rest(CANONICAL_REST["balance_allowance"][1], BalanceAllowance)
    assert new.balance == Decimal(1_000_000_000)
    assert new.allowances is not None
    legacy = decode_rest(CANONICAL_REST["balance_allowance_legacy"][1], BalanceAllowance)
    assert legacy.allowance == 999999999000000
    assert legacy.allowances is None


def test_decode_rest_accepts_parsed_objects() -> None:
    """Already-parsed JSON (with Decimal floats) decodes like text."""
    assert decode_rest({"minimum_tick_size": Decimal("0.001")}, TickSize) == TickSize(
        minimum_tick_size=Decimal("0.001")
    )


def test_book_encoding_matches_the_sdk_hash_payload() -> None:
    """With ``hash=""`` the encoded book is byte-for-byte the payload the SDK hashes (server key order)."""
    import hashlib

    import attrs
    from py_clob_client_v2.clob_types import OrderBookSummary, OrderSummary
    from py_clob_client_v2.utilities import generate_orderbook_summary_hash

    book = decode_rest(CANONICAL_REST["book"][1], BookSummary)
    sdk_book = OrderBookSummary(
        market=book.market,
        asset_id=book.asset_id,
        timestamp=str(book.timestamp),
        bids=[OrderSummary(price=str(lv.price), size=str(lv.size)) for lv in book.bids],
        asks=[OrderSummary(price=str(lv.price), size=str(lv.size)) for lv in book.asks],
        min_order_size=str(book.min_order_size),
        neg_risk=book.neg_risk,
        tick_size=str(book.tick_size),
        last_trade_price=str(book.last_trade_price),
        hash="",
    )
    ours = encode_json(attrs.evolve(book, hash=""))
    assert generate_orderbook_summary_hash(sdk_book) == hashlib.sha1(ours.encode()).hexdigest()
