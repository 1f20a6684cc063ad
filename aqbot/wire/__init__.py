"""The wire model: attrs classes for every Polymarket CLOB V2 payload a quoting bot or the exchange simulator
sends or receives, and the codec that turns JSON text into them and back.

Decode functions raise exactly one error type, :class:`aqbot.errors.WireError` (re-exported here).
See ``docs/wire.md`` for the design and the round-trip guarantees.
"""

from aqbot.errors import WireError as WireError
from aqbot.wire.account import ApiCreds as ApiCreds
from aqbot.wire.account import BalanceAllowance as BalanceAllowance
from aqbot.wire.account import ErrorBody as ErrorBody
from aqbot.wire.account import HeartbeatError as HeartbeatError
from aqbot.wire.account import HeartbeatRequest as HeartbeatRequest
from aqbot.wire.account import HeartbeatResponse as HeartbeatResponse
from aqbot.wire.account import Position as Position
from aqbot.wire.account import ServerTime as ServerTime
from aqbot.wire.account import ServerVersion as ServerVersion
from aqbot.wire.codec import MARKET_EVENT_TAGS as MARKET_EVENT_TAGS
from aqbot.wire.codec import USER_EVENT_TAGS as USER_EVENT_TAGS
from aqbot.wire.codec import decode_client_frame as decode_client_frame
from aqbot.wire.codec import decode_market_frame as decode_market_frame
from aqbot.wire.codec import decode_rest as decode_rest
from aqbot.wire.codec import decode_user_frame as decode_user_frame
from aqbot.wire.codec import default_converter as default_converter
from aqbot.wire.codec import encode_client_frame as encode_client_frame
from aqbot.wire.codec import encode_json as encode_json
from aqbot.wire.codec import encode_market_frame as encode_market_frame
from aqbot.wire.codec import encode_user_frame as encode_user_frame
from aqbot.wire.converter import make_converter as make_converter
from aqbot.wire.events import BestBidAsk as BestBidAsk
from aqbot.wire.events import ClientFrame as ClientFrame
from aqbot.wire.events import EventMessage as EventMessage
from aqbot.wire.events import LastTradePrice as LastTradePrice
from aqbot.wire.events import MarketEvent as MarketEvent
from aqbot.wire.events import MarketResolved as MarketResolved
from aqbot.wire.events import MarketSubscribe as MarketSubscribe
from aqbot.wire.events import NewMarket as NewMarket
from aqbot.wire.events import OrderEvent as OrderEvent
from aqbot.wire.events import PriceChange as PriceChange
from aqbot.wire.events import PriceChangeEvent as PriceChangeEvent
from aqbot.wire.events import SubscriptionUpdate as SubscriptionUpdate
from aqbot.wire.events import TickSizeChange as TickSizeChange
from aqbot.wire.events import UnknownEvent as UnknownEvent
from aqbot.wire.events import UserEvent as UserEvent
from aqbot.wire.events import UserSubscribe as UserSubscribe
from aqbot.wire.market import BookSummary as BookSummary
from aqbot.wire.market import ClobMarketInfo as ClobMarketInfo
from aqbot.wire.market import ClobRewards as ClobRewards
from aqbot.wire.market import ClobToken as ClobToken
from aqbot.wire.market import FeeDetails as FeeDetails
from aqbot.wire.market import FeeRate as FeeRate
from aqbot.wire.market import NegRisk as NegRisk
from aqbot.wire.market import PriceLevel as PriceLevel
from aqbot.wire.market import TickSize as TickSize
from aqbot.wire.orders import BYTES32_ZERO as BYTES32_ZERO
from aqbot.wire.orders import END_CURSOR as END_CURSOR
from aqbot.wire.orders import INITIAL_CURSOR as INITIAL_CURSOR
from aqbot.wire.orders import CancelMarketRequest as CancelMarketRequest
from aqbot.wire.orders import CancelOrderRequest as CancelOrderRequest
from aqbot.wire.orders import CancelResponse as CancelResponse
from aqbot.wire.orders import MakerOrder as MakerOrder
from aqbot.wire.orders import OpenOrder as OpenOrder
from aqbot.wire.orders import Page as Page
from aqbot.wire.orders import PostOrderRequest as PostOrderRequest
from aqbot.wire.orders import PostOrderResponse as PostOrderResponse
from aqbot.wire.orders import SignedOrder as SignedOrder
from aqbot.wire.orders import Trade as Trade
from aqbot.wire.orders import decode_cursor as decode_cursor
from aqbot.wire.orders import encode_cursor as encode_cursor
from aqbot.wire.types import ControlFrame as ControlFrame
from aqbot.wire.types import OrderEventType as OrderEventType
from aqbot.wire.types import Secret as Secret
from aqbot.wire.types import TraderSide as TraderSide
from aqbot.wire.types import TradeStatus as TradeStatus
from aqbot.wire.types import UnixMs as UnixMs
from aqbot.wire.types import UnixS as UnixS
from aqbot.wire.types import normalize_order_status as normalize_order_status
from aqbot.wire.types import order_status_cancel_reason as order_status_cancel_reason
from aqbot.wire.types import order_status_is_canceled as order_status_is_canceled
from aqbot.wire.types import order_status_is_terminal as order_status_is_terminal

__all__ = [
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
]
