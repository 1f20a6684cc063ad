"""The public surface of ``aqbot.wire`` is pinned: changing it is a deliberate, reviewed act."""

from __future__ import annotations

import aqbot.wire

EXPECTED = {
    "BYTES32_ZERO",
    "END_CURSOR",
    "INITIAL_CURSOR",
    "MARKET_EVENT_TAGS",
    "USER_EVENT_TAGS",
    "ApiCreds",
    "BalanceAllowance",
    "BestBidAsk",
    "BookSummary",
    "CancelMarketRequest",
    "CancelOrderRequest",
    "CancelResponse",
    "ClientFrame",
    "ClobMarketInfo",
    "ClobRewards",
    "ClobToken",
    "ControlFrame",
    "ErrorBody",
    "EventMessage",
    "FeeDetails",
    "FeeRate",
    "HeartbeatError",
    "HeartbeatRequest",
    "HeartbeatResponse",
    "LastTradePrice",
    "MakerOrder",
    "MarketEvent",
    "MarketResolved",
    "MarketSubscribe",
    "NegRisk",
    "NewMarket",
    "OpenOrder",
    "OrderEvent",
    "OrderEventType",
    "Page",
    "Position",
    "PostOrderRequest",
    "PostOrderResponse",
    "PriceChange",
    "PriceChangeEvent",
    "PriceLevel",
    "Secret",
    "ServerTime",
    "ServerVersion",
    "SignedOrder",
    "SubscriptionUpdate",
    "TickSize",
    "TickSizeChange",
    "Trade",
    "TradeStatus",
    "TraderSide",
    "UnixMs",
    "UnixS",
    "UnknownEvent",
    "UserEvent",
    "UserSubscribe",
    "WireError",
    "decode_client_frame",
    "decode_cursor",
    "decode_market_frame",
    "decode_rest",
    "decode_user_frame",
    "default_converter",
    "encode_client_frame",
    "encode_cursor",
    "encode_json",
    "encode_market_frame",
    "encode_user_frame",
    "make_converter",
    "normalize_order_status",
    "order_status_cancel_reason",
    "order_status_is_canceled",
    "order_status_is_terminal",
}


def test_all_is_pinned() -> None:
    """``__all__`` lists exactly the agreed names, sorted, each one importable."""
    assert set(aqbot.wire.__all__) == EXPECTED
    assert len(aqbot.wire.__all__) == len(EXPECTED)
    for name in aqbot.wire.__all__:
        assert hasattr(aqbot.wire, name), name


def test_wire_error_is_the_domain_error() -> None:
    """The re-exported error is the one in ``aqbot.errors``."""
    from aqbot.errors import AqbotError, WireError

    assert aqbot.wire.WireError is WireError
    assert issubclass(aqbot.wire.WireError, AqbotError)
