"""WebSocket frames: every market/user event shape, object-or-array frames, control texts, unknown events,
order statuses, timestamps and the secret-bearing user subscribe frame."""

from __future__ import annotations

import logging
from decimal import Decimal

import attrs
import pytest
from wire_helpers import parse, strict_equal
from wire_samples import (
    CID,
    DYNAMIC_SUBSCRIBE,
    FOK_KILLED,
    FUNDER,
    MARKET_EVENTS,
    MARKET_SUBSCRIBE,
    NO,
    OID,
    OID2,
    OWNER,
    TRADE_ISO_TIMES,
    USER_EVENTS,
    USER_SUBSCRIBE,
    USER_SUBSCRIBE_PASSPHRASE,
    USER_SUBSCRIBE_SECRET,
    YES,
)

from aqbot.core.types import OrderType, Side
from aqbot.wire import (
    MARKET_EVENT_TAGS,
    ApiCreds,
    BookSummary,
    ControlFrame,
    MarketSubscribe,
    OrderEvent,
    OrderEventType,
    PriceChangeEvent,
    Secret,
    SubscriptionUpdate,
    Trade,
    TraderSide,
    TradeStatus,
    UnknownEvent,
    UserSubscribe,
    WireError,
    decode_client_frame,
    decode_market_frame,
    decode_user_frame,
    encode_client_frame,
    encode_market_frame,
    encode_user_frame,
    make_converter,
)


@pytest.mark.parametrize("name", sorted(MARKET_EVENTS))
def test_market_event_round_trips(name: str) -> None:
    """Each market event decodes to its class and re-encodes to the same JSON text."""
    (event,) = decode_market_frame(MARKET_EVENTS[name])
    assert MARKET_EVENT_TAGS[type(event)] == name
    assert encode_market_frame(event) == MARKET_EVENTS[name]


@pytest.mark.parametrize("name", sorted(USER_EVENTS))
def test_user_event_round_trips(name: str) -> None:
    """Order and trade events decode and re-encode to the same JSON text."""
    (event,) = decode_user_frame(USER_EVENTS[name])
    assert encode_user_frame(event) == USER_EVENTS[name]


@pytest.mark.parametrize("fast", [True, False])
def test_array_frames_and_bytes_input(fast: bool) -> None:
    """A frame may be a JSON array of events (as text or bytes); order is kept; both converters agree."""
    conv = make_converter(fast=fast)
    frame = "[" + ",".join(MARKET_EVENTS[n] for n in ("book", "price_change", "best_bid_ask")) + "]"
    events = decode_market_frame(frame.encode(), converter=conv)
    assert [type(e).__name__ for e in events] == ["BookSummary", "PriceChangeEvent", "BestBidAsk"]
    assert strict_equal(parse(encode_market_frame(events)), parse(frame))
    assert decode_market_frame("[]") == []
    user = decode_user_frame("[" + USER_EVENTS["order"] + "," + USER_EVENTS["trade"] + "]", converter=conv)
    assert [type(e) for e in user] == [OrderEvent, Trade]


@pytest.mark.parametrize("text", ["PONG", "NO NEW ASSETS", " PONG\n"])
def test_control_frames(text: str) -> None:
    """Non-JSON control texts come back as a ControlFrame marker on both channels."""
    (market,) = decode_market_frame(text)
    (user,) = decode_user_frame(text.encode())
    assert market == user == ControlFrame(text=text.strip())
    assert encode_market_frame(market) == text.strip()
    assert ControlFrame(text="PONG").is_pong


def test_unknown_event_type_is_kept_not_fatal() -> None:
    """An unknown event_type becomes UnknownEvent with the raw object; known neighbours still decode."""
    frame = (
        '[{"event_type":"funding_rate","market":"x","rate":"0.1"},' + MARKET_EVENTS["tick_size_change"] + "]"
    )
    unknown, tick = decode_market_frame(frame)
    assert unknown == UnknownEvent(
        event_type="funding_rate", raw={"event_type": "funding_rate", "market": "x", "rate": "0.1"}
    )
    assert tick.new_tick_size == Decimal("0.001")  # type: ignore[union-attr]
    assert encode_market_frame(unknown) == '{"event_type":"funding_rate","market":"x","rate":"0.1"}'
    (user_unknown,) = decode_user_frame('{"event_type":"notification","payload":{}}')
    assert isinstance(user_unknown, UnknownEvent)
    assert user_unknown.event_type == "notification"


def test_unknown_fields_are_tolerated() -> None:
    """Extra keys the exchange adds are ignored (and not re-encoded)."""
    frame = MARKET_EVENTS["price_change"].replace('"timestamp"', '"new_thing":[1,{"a":null}],"timestamp"')
    (event,) = decode_market_frame(frame)
    assert isinstance(event, PriceChangeEvent)
    assert encode_market_frame(event) == MARKET_EVENTS["price_change"]


def test_price_change_is_absolute_and_covers_both_tokens() -> None:
    """price_change entries carry absolute sizes, per-entry best bid/ask, and both assets of the market."""
    (event,) = decode_market_frame(MARKET_EVENTS["price_change"])
    assert isinstance(event, PriceChangeEvent)
    yes, no = event.price_changes
    assert (yes.asset_id, yes.side, yes.size, yes.best_ask) == (YES, Side.BUY, Decimal(200), Decimal(1))
    assert (no.asset_id, no.side, no.best_bid) == (NO, Side.SELL, Decimal(0))
    assert event.timestamp == 1757908892351


def test_book_event_is_the_rest_book_shape() -> None:
    """The WS snapshot is a BookSummary; string numerics keep their text ("0.920")."""
    (book,) = decode_market_frame(MARKET_EVENTS["book"])
    assert isinstance(book, BookSummary)
    assert str(book.last_trade_price) == "0.920"
    assert book.best_ask == Decimal("0.98")
    assert book.min_order_size is None


def test_order_event_fields() -> None:
    """The documented order event decodes with cumulative size, units explicit and helpers working."""
    (event,) = decode_user_frame(USER_EVENTS["order"])
    assert isinstance(event, OrderEvent)
    assert event.type is OrderEventType.UPDATE
    assert event.size_matched == Decimal("25.0")
    assert event.order_type is OrderType.GTC
    assert event.created_at == 1703875200
    assert event.timestamp == 1703875200500
    assert not event.is_terminal
    assert event.cancel_reason is None


def test_fok_killed_order_with_empty_fields() -> None:
    """CANCELED_<reason> with empty size_matched/outcome/created_at: size 0, no created_at, reason kept."""
    (event,) = decode_user_frame(FOK_KILLED)
    assert isinstance(event, OrderEvent)
    assert event.size_matched == Decimal(0)
    assert event.created_at is None
    assert event.outcome == ""
    assert event.is_terminal
    assert event.is_canceled
    assert event.cancel_reason == "order couldn't be fully filled. FOK orders are fully filled or killed."


@pytest.mark.parametrize(
    ("status", "terminal", "reason"),
    [
        ("LIVE", False, None),
        ("DELAYED", False, None),
        ("MATCHED", True, None),
        ("CANCELED", True, ""),
        ("CANCELED_MARKET_RESOLVED", True, "MARKET_RESOLVED"),
        ("INVALID", True, None),
        ("UNMATCHED", True, None),
        ("ORDER_STATUS_LIVE", False, None),
        ("canceled", True, ""),
    ],
)
def test_order_status_helpers(status: str, terminal: bool, reason: str | None) -> None:
    """Status stays free text; helpers classify it."""
    event = decode_user_frame(USER_EVENTS["order"].replace('"status":"LIVE"', f'"status":"{status}"'))[0]
    assert isinstance(event, OrderEvent)
    assert event.status == status
    assert event.is_terminal is terminal
    assert event.cancel_reason == reason


@pytest.mark.parametrize(
    ("raw", "expected"), [('"1703875200"', 1703875200000), ('"1703875200500"', 1703875200500)]
)
def test_order_event_timestamp_in_seconds_or_ms(raw: str, expected: int) -> None:
    """``timestamp`` is normalized to ms whether the server sent seconds or milliseconds."""
    event = decode_user_frame(USER_EVENTS["order"].replace('"1703875200500"', raw))[0]
    assert isinstance(event, OrderEvent)
    assert event.timestamp == expected


def test_order_event_null_associate_trades() -> None:
    """associate_trades may be null and round-trips as null."""
    text = USER_EVENTS["order"].replace('["28c4d2eb-bbea-40e7-a9f0-b2fdb56b2c2e"]', "null")
    (event,) = decode_user_frame(text)
    assert isinstance(event, OrderEvent)
    assert event.associate_trades is None
    assert encode_user_frame(event) == text


def test_trade_event_maker_view() -> None:
    """A MAKER trade exposes our maker entries; sides come from the entries or are inferred."""
    (trade,) = decode_user_frame(USER_EVENTS["trade"])
    assert isinstance(trade, Trade)
    assert trade.trader_side is TraderSide.MAKER
    assert trade.status is TradeStatus.MATCHED
    assert not trade.status.is_final
    mine = trade.maker_orders_of(owner=OWNER)
    assert [m.order_id for m in mine] == [OID2]
    assert trade.maker_orders_of(maker_address=FUNDER.upper()) == mine
    assert sum(m.matched_amount for m in trade.maker_orders) == trade.size
    same_asset, other_asset = (attrs.evolve(m, side=None) for m in trade.maker_orders)
    assert trade.maker_side(same_asset) is Side.SELL
    assert trade.maker_side(other_asset) is Side.BUY


def test_trade_event_iso_times_and_missing_maker_side() -> None:
    """naut-style captures: ISO match_time/last_update become Unix seconds; a maker entry without side."""
    (trade,) = decode_user_frame(TRADE_ISO_TIMES)
    assert isinstance(trade, Trade)
    assert trade.match_time == 1704067260
    assert trade.last_update == 1704067320
    assert trade.maker_orders[0].side is None
    assert trade.maker_side(trade.maker_orders[0]) is Side.SELL
    assert trade.taker_order_id == OID


def test_trade_status_variants() -> None:
    """Every settlement status decodes; the API-reference ``TRADE_STATUS_`` prefix is accepted."""
    for status in ("MATCHED", "MINED", "CONFIRMED", "RETRYING", "FAILED", "TRADE_STATUS_FAILED"):
        (trade,) = decode_user_frame(
            USER_EVENTS["trade"].replace('"status":"MATCHED"', f'"status":"{status}"')
        )
        assert isinstance(trade, Trade)
        assert trade.status.value == status.removeprefix("TRADE_STATUS_")


def test_market_subscribe_frames() -> None:
    """Market subscribe and dynamic frames encode with the documented keys and decode back."""
    sub = decode_client_frame(MARKET_SUBSCRIBE)
    assert sub == MarketSubscribe(assets_ids=(YES, NO))
    assert encode_client_frame(sub) == MARKET_SUBSCRIBE
    dyn = decode_client_frame(DYNAMIC_SUBSCRIBE)
    assert dyn == SubscriptionUpdate(operation="subscribe", assets_ids=(YES,), custom_feature_enabled=True)
    assert encode_client_frame(dyn) == DYNAMIC_SUBSCRIBE
    assert decode_client_frame("PING") == ControlFrame(text="PING")
    assert encode_client_frame(ControlFrame(text="PING")) == "PING"
    full = MarketSubscribe(assets_ids=(YES,), custom_feature_enabled=False, initial_dump=True, level=2)
    assert decode_client_frame(encode_client_frame(full)) == full


def test_user_subscribe_round_trip_and_secrets_hidden(caplog: pytest.LogCaptureFixture) -> None:
    """The user subscribe frame carries raw credentials on the wire but never in repr/str/logs."""
    frame = decode_client_frame(USER_SUBSCRIBE)
    assert isinstance(frame, UserSubscribe)
    assert frame.markets == (CID,)
    assert frame.auth.secret.reveal() == USER_SUBSCRIBE_SECRET
    assert encode_client_frame(frame) == USER_SUBSCRIBE
    with caplog.at_level(logging.INFO):
        logging.getLogger("test.wire").info("subscribing %s %r", frame, frame)
    for text in (repr(frame), str(frame), repr(frame.auth), caplog.text):
        assert USER_SUBSCRIBE_SECRET not in text
        assert USER_SUBSCRIBE_PASSPHRASE not in text
    built = UserSubscribe(
        auth=ApiCreds(
            api_key=OWNER, secret=Secret(USER_SUBSCRIBE_SECRET), passphrase=Secret(USER_SUBSCRIBE_PASSPHRASE)
        ),
        markets=(CID,),
    )
    assert encode_client_frame(built) == USER_SUBSCRIBE


def test_bad_user_subscribe_error_has_no_secret() -> None:
    """A malformed credentials frame fails with a WireError that carries no excerpt of the secret."""
    bad = USER_SUBSCRIBE.replace('"markets":["' + CID + '"]', '"markets":"' + CID + '"')
    with pytest.raises(WireError) as info:
        decode_client_frame(bad)
    assert info.value.raw == ""
    assert USER_SUBSCRIBE_SECRET not in str(info.value)
    assert info.value.path == "$.markets"
    with pytest.raises(WireError) as truncated:
        decode_client_frame(USER_SUBSCRIBE[:60])
    assert truncated.value.raw == ""
    with pytest.raises(WireError):
        decode_client_frame('{"type":"rfq"}')
