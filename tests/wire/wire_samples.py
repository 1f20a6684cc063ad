# ruff: noqa: E501  (captured-shape JSON samples read best one message fragment per line)
"""Realistic wire samples in the shapes of PROTOCOL.md (sections 1, 4, 5, 6) and of public live captures.

Every sample in ``CANONICAL_*`` re-encodes to an identical JSON *value* (same keys, same values, same JSON
types); ``NORMALIZING`` samples decode fine but re-encode a normalized form (documented per entry).
"""

from __future__ import annotations

YES = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
NO = "52114319501245915516055106046884209969926127482827954674443846427813813222426"
CID = "0xdd22472e552920b8438158ea7238bfadfa4f736aa4cee91a6b86c39ead110917"
OID = "0x06bc63e346ed4ceddce9efd6b3af37c8f8f440c92fe7da6b2d0f9e4ccbc50c42"
OID2 = "0xff354cd7ca7539dfa9c28d90943ab5779a4eac34b9b37a757d7b32bdfb11790b"
OWNER = "9180014b-33c8-9240-a14b-bdca11c0a465"
FUNDER = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
ZERO32 = "0x" + "0" * 64

SIGNED_ORDER = (
    '{"salt":1234567890,"maker":"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",'
    '"signer":"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266","tokenId":"' + YES + '",'
    '"makerAmount":"11782400","takerAmount":"21040000","side":"BUY","expiration":"0","signatureType":0,'
    '"timestamp":"1735689600000","metadata":"'
    + ZERO32
    + '","builder":"'
    + ZERO32
    + '","signature":"0x'
    + "ab" * 65
    + '"}'
)
POST_ORDER = (
    '{"order":'
    + SIGNED_ORDER
    + ',"owner":"'
    + OWNER
    + '","orderType":"GTC","deferExec":false,"postOnly":true}'
)

CANONICAL_REST: dict[str, tuple[str, str]] = {
    # name: (class name in aqbot.wire, JSON text)
    "post_order": ("PostOrderRequest", POST_ORDER),
    "post_order_response": (
        "PostOrderResponse",
        '{"success":true,"errorMsg":"","orderID":"' + OID + '","status":"live","makingAmount":"0",'
        '"takingAmount":"0","transactionsHashes":[],"tradeIDs":[]}',
    ),
    "post_order_response_matched": (
        "PostOrderResponse",
        '{"success":true,"errorMsg":"","orderID":"' + OID + '","status":"matched","makingAmount":"11.7824",'
        '"takingAmount":"21.04","transactionsHashes":[],"tradeIDs":["28c4d2eb-bbea-40e7-a9f0-b2fdb56b2c2e"]}',
    ),
    "cancel_one": ("CancelOrderRequest", '{"orderID":"' + OID + '"}'),
    "cancel_market": ("CancelMarketRequest", '{"market":"' + CID + '","asset_id":"' + YES + '"}'),
    "cancel_response": (
        "CancelResponse",
        '{"canceled":["' + OID + '"],"not_canceled":{"' + OID2 + '":"already canceled or matched"}}',
    ),
    "book": (
        "BookSummary",
        '{"market":"' + CID + '","asset_id":"' + YES + '","timestamp":"1703875200000",'
        '"hash":"ed47eb91f3c7985fac1cb18cb7c19535eddd3c0a","bids":[{"price":"0.47","size":"250.5"},'
        '{"price":"0.48","size":"100.00"}],"asks":[{"price":"0.53","size":"80"},{"price":"0.52","size":"12.34"}],'
        '"min_order_size":"5","tick_size":"0.01","neg_risk":false,"last_trade_price":"0.50"}',
    ),
    "tick_size": ("TickSize", '{"minimum_tick_size":0.01}'),
    "neg_risk": ("NegRisk", '{"neg_risk":true}'),
    "fee_rate": ("FeeRate", '{"base_fee":1000}'),
    "clob_market": (
        "ClobMarketInfo",
        '{"c":"' + CID + '","t":[{"t":"' + YES + '","o":"Yes"},{"t":"' + NO + '","o":"No"}],"mts":0.01,'
        '"nr":true,"fd":{"r":0.072,"e":1,"to":true},"mbf":1000,"tbf":1000,'
        '"r":{"mi":50,"ma":3.5,"e":true,"smoa":false,"moas":10},"ao":true,"mos":5,"sd":0,'
        '"gst":"2026-12-01T18:00:00Z","cbos":false,"aot":"2026-11-01T00:00:00Z","rfqe":false,"itode":false,'
        '"ibce":true}',
    ),
    "clob_market_minimal": (
        "ClobMarketInfo",
        '{"c":"'
        + CID
        + '","t":[{"t":"'
        + YES
        + '","o":"Yes"},{"t":"'
        + NO
        + '","o":"No"}],"mts":0.001,"r":null}',
    ),
    "version": ("ServerVersion", '{"version":2}'),
    "heartbeat_request": ("HeartbeatRequest", '{"heartbeat_id":""}'),
    "heartbeat_response": ("HeartbeatResponse", '{"heartbeat_id":"6d1e2b3c-hb-0002"}'),
    "heartbeat_error": (
        "HeartbeatError",
        '{"error":"Invalid Heartbeat ID","heartbeat_id":"6d1e2b3c-hb-0002"}',
    ),
    "error_body": ("ErrorBody", '{"error":"not enough balance / allowance"}'),
    "error_body_full": (
        "ErrorBody",
        '{"error":"Too Many Requests","code":"RATE_LIMITED","retry_after_seconds":2.5}',
    ),
    "balance_allowance": (
        "BalanceAllowance",
        '{"balance":"1000000000","allowances":{"0xE111180000d2663C0091e4f400237545B87B996B":"115792089237316195"}}',
    ),
    "balance_allowance_legacy": (
        "BalanceAllowance",
        '{"balance":"1000000000","allowance":"999999999000000"}',
    ),
}

# Normalizing: empty amounts decode as 0 and re-encode as "0".
EMPTY_AMOUNTS_RESPONSE = (
    '{"success":true,"errorMsg":"","orderID":"'
    + OID
    + '","status":"live","makingAmount":"","takingAmount":"",'
    '"transactionsHashes":null,"tradeIDs":[]}'
)

OPEN_ORDER = (
    '{"id":"' + OID + '","status":"LIVE","owner":"' + OWNER + '","maker_address":"' + FUNDER + '",'
    '"market":"' + CID + '","asset_id":"' + YES + '","side":"BUY","original_size":"200.0000",'
    '"size_matched":"0.0000","price":"0.6000","associate_trades":[],"outcome":"Yes","created_at":1703875200,'
    '"expiration":"0","order_type":"GTC"}'
)
REST_TRADE = (
    '{"id":"28c4d2eb-bbea-40e7-a9f0-b2fdb56b2c2e","taker_order_id":"' + OID + '","market":"' + CID + '",'
    '"asset_id":"' + YES + '","side":"BUY","size":"10.0000","price":"0.5000","fee_rate_bps":"0",'
    '"status":"CONFIRMED","match_time":"1672290701","last_update":"1672290710","outcome":"Yes",'
    '"owner":"'
    + OWNER
    + '","maker_address":"'
    + FUNDER
    + '","bucket_index":0,"transaction_hash":"0x'
    + "cd" * 32
    + '","trader_side":"TAKER","maker_orders":[{"order_id":"'
    + OID2
    + '","owner":"1180014b-33c8-9240-a14b-bdca11c0a465","maker_address":"0x70997970c51812dc3a010c7d01b50e0d17dc79c8",'
    '"matched_amount":"10.0000","price":"0.5000","asset_id":"' + YES + '","outcome":"Yes","side":"SELL",'
    '"fee_rate_bps":"0","outcome_index":0}]}'
)
CANONICAL_REST["open_orders_page"] = (
    "Page[OpenOrder]",
    '{"data":[' + OPEN_ORDER + '],"next_cursor":"MTAw","limit":100,"count":1}',
)
CANONICAL_REST["trades_page"] = (
    "Page[Trade]",
    '{"data":[' + REST_TRADE + '],"next_cursor":"LTE=","limit":100,"count":1}',
)
CANONICAL_REST["positions"] = (
    "list[Position]",
    '[{"proxyWallet":"0x56687bf447db6ffa42ffe2204a05edaa20f55839","asset":"'
    + YES
    + '","conditionId":"'
    + CID
    + '",'
    '"size":150.5,"avgPrice":0.55,"initialValue":82.775,"currentValue":90.3,"cashPnl":7.525,"percentPnl":9.09,'
    '"totalBought":150.5,"realizedPnl":0,"percentRealizedPnl":0,"curPrice":0.6,"redeemable":false,'
    '"mergeable":false,"title":"Will BTC hit $100k?","slug":"btc-100k","icon":"https://example.invalid/btc.png",'
    '"eventSlug":"btc-100k-event","outcome":"Yes","outcomeIndex":0,"oppositeOutcome":"No","oppositeAsset":"'
    + NO
    + '",'
    '"endDate":"2026-12-31","negativeRisk":false}]',
)

MARKET_EVENTS: dict[str, str] = {
    "book": (
        '{"event_type":"book","market":"' + CID + '","asset_id":"' + YES + '","timestamp":"1786604072222",'
        '"hash":"ed47eb91f3c7985fac1cb18cb7c19535eddd3c0a","bids":[{"price":"0.01","size":"3149725.72"},'
        '{"price":"0.02","size":"70281.2"}],"asks":[{"price":"0.99","size":"156606.14"},{"price":"0.98","size":"17512.3"}],'
        '"tick_size":"0.01","last_trade_price":"0.920"}'
    ),
    "price_change": (
        '{"event_type":"price_change","market":"'
        + CID
        + '","price_changes":[{"asset_id":"'
        + YES
        + '","price":"0.5",'
        '"size":"200","side":"BUY","hash":"56621a121a47ed9333273e21c83b660cff37ae50","best_bid":"0.5","best_ask":"1"},'
        '{"asset_id":"'
        + NO
        + '","price":"0.5","size":"200","side":"SELL","hash":"1895759e4df7a796bf4f1c5a5950b748306923e2",'
        '"best_bid":"0","best_ask":"0.5"}],"timestamp":"1757908892351"}'
    ),
    "tick_size_change": (
        '{"event_type":"tick_size_change","asset_id":"'
        + YES
        + '","market":"'
        + CID
        + '","old_tick_size":"0.01",'
        '"new_tick_size":"0.001","timestamp":"1100000000000"}'
    ),
    "last_trade_price": (
        '{"event_type":"last_trade_price","asset_id":"' + YES + '","market":"' + CID + '","price":"0.456",'
        '"side":"BUY","size":"219.217767","fee_rate_bps":"0","timestamp":"1750428146322",'
        '"transaction_hash":"0x' + "ef" * 32 + '"}'
    ),
    "best_bid_ask": (
        '{"event_type":"best_bid_ask","asset_id":"' + YES + '","market":"' + CID + '","best_bid":"0.73",'
        '"best_ask":"0.77","spread":"0.04","timestamp":"1766789469958"}'
    ),
    "new_market": (
        '{"event_type":"new_market","id":"1031769","question":"Will NVIDIA (NVDA) close above $240 end of January?",'
        '"market":"'
        + CID
        + '","slug":"nvda-above-240-on-january-30-2026","description":"Resolves \\"Yes\\" if…",'
        '"assets_ids":["' + YES + '","' + NO + '"],"outcomes":["Yes","No"],"event_message":{"id":"125819",'
        '"ticker":"nvda-above-in-january-2026","slug":"nvda-above-in-january-2026","title":"NVDA above ___?",'
        '"description":"…"},"timestamp":"1766790415550","tags":["stocks"],"condition_id":"' + CID + '",'
        '"active":true,"clob_token_ids":["' + YES + '","' + NO + '"],"order_price_min_tick_size":"0.01",'
        '"group_item_title":"NVDA above $240","sports_market_type":"","line":"","game_start_time":"",'
        '"fees_enabled":true,"fee_schedule":{"rate":0.04,"exponent":1,"takerOnly":true,"rebateRate":0.25},'
        '"taker_base_fee":"1000"}'
    ),
    "market_resolved": (
        '{"event_type":"market_resolved","id":"1031769","market":"'
        + CID
        + '","assets_ids":["'
        + YES
        + '","'
        + NO
        + '"],'
        '"winning_asset_id":"'
        + YES
        + '","winning_outcome":"Yes","timestamp":"1766790415550","tags":["stocks"]}'
    ),
}

ORDER_EVENT = (
    '{"event_type":"order","type":"UPDATE","id":"'
    + OID
    + '","owner":"'
    + OWNER
    + '","order_owner":"'
    + OWNER
    + '",'
    '"market":"' + CID + '","asset_id":"' + YES + '","side":"BUY","price":"0.5","original_size":"100.0",'
    '"size_matched":"25.0","associate_trades":["28c4d2eb-bbea-40e7-a9f0-b2fdb56b2c2e"],"outcome":"Yes",'
    '"order_type":"GTC","status":"LIVE","created_at":"1703875200","expiration":"0","maker_address":"'
    + FUNDER
    + '",'
    '"timestamp":"1703875200500"}'
)
TRADE_EVENT = (
    '{"event_type":"trade","type":"TRADE","id":"28c4d2eb-bbea-40e7-a9f0-b2fdb56b2c2e","taker_order_id":"'
    + OID
    + '",'
    '"market":"'
    + CID
    + '","asset_id":"'
    + YES
    + '","side":"BUY","size":"10","price":"0.57","fee_rate_bps":"0",'
    '"status":"MATCHED","match_time":"1672290701","last_update":"1672290701","timestamp":"1672290701000",'
    '"outcome":"YES","owner":"' + OWNER + '","trade_owner":"' + OWNER + '","maker_address":"' + FUNDER + '",'
    '"bucket_index":0,"transaction_hash":"0x' + "ab" * 32 + '","trader_side":"MAKER","maker_orders":['
    '{"order_id":"'
    + OID2
    + '","owner":"'
    + OWNER
    + '","maker_address":"'
    + FUNDER
    + '","matched_amount":"6",'
    '"price":"0.57","asset_id":"'
    + YES
    + '","outcome":"YES","side":"SELL","fee_rate_bps":"0","outcome_index":0},'
    '{"order_id":"0xaa354cd7ca7539dfa9c28d90943ab5779a4eac34b9b37a757d7b32bdfb11790b","owner":"1180014b-33c8-9240-'
    'a14b-bdca11c0a465","maker_address":"0x70997970c51812dc3a010c7d01b50e0d17dc79c8","matched_amount":"4",'
    '"price":"0.43","asset_id":"'
    + NO
    + '","outcome":"NO","side":"BUY","fee_rate_bps":"0","outcome_index":1}]}'
)
USER_EVENTS: dict[str, str] = {"order": ORDER_EVENT, "trade": TRADE_EVENT}

FOK_KILLED = (
    '{"id":"0x78aa","owner":"' + OWNER + '","market":"' + CID + '","asset_id":"' + YES + '","side":"BUY",'
    '"order_owner":"'
    + OWNER
    + '","original_size":"12","size_matched":"","price":"0.6","associate_trades":[],'
    '"outcome":"","type":"CANCELLATION","created_at":"","expiration":"0","order_type":"FOK",'
    '"status":"CANCELED_order couldn\'t be fully filled. FOK orders are fully filled or killed.",'
    '"maker_address":"' + FUNDER + '","timestamp":"1777824065000","event_type":"order"}'
)
TRADE_ISO_TIMES = (
    '{"event_type":"trade","asset_id":"' + YES + '","bucket_index":1,"fee_rate_bps":"0","id":"trade-0xfull",'
    '"last_update":"2024-01-01T00:02:00Z","maker_address":"'
    + FUNDER
    + '","maker_orders":[{"asset_id":"'
    + YES
    + '",'
    '"fee_rate_bps":"0","maker_address":"0x70997970c51812dc3a010c7d01b50e0d17dc79c8","matched_amount":"100.0000",'
    '"order_id":"'
    + OID2
    + '","outcome":"Yes","owner":"00000000-0000-0000-0000-000000000002","price":"0.5000"}],'
    '"market":"' + CID + '","match_time":"2024-01-01T00:01:00Z","outcome":"Yes","owner":"' + OWNER + '",'
    '"price":"0.5","side":"BUY","size":"100.0","status":"CONFIRMED","taker_order_id":"' + OID + '",'
    '"timestamp":"1703875260000","trade_owner":"'
    + OWNER
    + '","transaction_hash":"0xcdef","trader_side":"TAKER",'
    '"type":"TRADE"}'
)

MARKET_SUBSCRIBE = '{"type":"market","assets_ids":["' + YES + '","' + NO + '"],"custom_feature_enabled":true}'
USER_SUBSCRIBE_SECRET = "c2VjcmV0LXZhbHVlLWZvci10ZXN0cy1vbmx5LTAwMDE="
USER_SUBSCRIBE_PASSPHRASE = "d1e5b3b5f6a24c0e9b2f5e55c0aa1b1dpp"
USER_SUBSCRIBE = (
    '{"auth":{"apiKey":"'
    + OWNER
    + '","secret":"'
    + USER_SUBSCRIBE_SECRET
    + '","passphrase":"'
    + USER_SUBSCRIBE_PASSPHRASE
    + '"},"type":"user","markets":["'
    + CID
    + '"]}'
)
DYNAMIC_SUBSCRIBE = '{"operation":"subscribe","assets_ids":["' + YES + '"],"custom_feature_enabled":true}'
