"""The official SDK (py-clob-client-v2, unchanged) against the simulator on real loopback sockets.

The simulator runs in this test's Trio run (hypercorn + trio-websocket on ephemeral ports); the SDK is
synchronous httpx, so every SDK call runs in a worker thread. What passes here is what a user of the SDK
would see: keys, public data, every order type, pagination, trades, cancels, heartbeats, balances.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx2
import pytest
import trio
from _sim_server_helpers import call
from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.clob_types import (
    ApiCreds,
    AssetType,
    BalanceAllowanceParams,
    BookParams,
    MarketOrderArgsV2,
    OpenOrderParams,
    OrderArgsV2,
    OrderMarketCancelParams,
    OrderPayload,
    OrderType,
    PartialCreateOrderOptions,
    PostOrdersV2Args,
    TradeParams,
)
from py_clob_client_v2.exceptions import PolyApiException

from aqbot.sim.faults import FaultConfig
from aqbot.sim.info import SimAccount
from aqbot.sim.runner import SimConfig, SimHandle, run_loopback_simulator

T = TypeVar("T")

CONFIG = SimConfig(seed=11, markets=2, accounts=2, flow=False, account_shares="500", tick_ms=50)


async def sdk(fn: Callable[[], T]) -> T:
    """Run one blocking SDK call in a worker thread."""
    return await trio.to_thread.run_sync(fn)


def client(handle: SimHandle, account: SimAccount, *, with_creds: bool = True) -> ClobClient:
    creds = (
        ApiCreds(account.creds.api_key, account.creds.secret, account.creds.passphrase)
        if with_creds
        else None
    )
    return ClobClient(
        handle.info.rest_url,
        chain_id=handle.info.chain_id,
        key=account.private_key,
        creds=creds,
        signature_type=account.signature_type,
        funder=account.funder,
    )


def tokens(handle: SimHandle, market: int) -> tuple[str, str]:
    toks: list[dict[str, Any]] = handle.info.markets[market]["tokens"]  # type: ignore[assignment]
    return str(toks[0]["token_id"]), str(toks[1]["token_id"])


async def test_sdk_keys_and_public_endpoints(nursery: trio.Nursery) -> None:
    with trio.fail_after(60):
        handle: SimHandle = await nursery.start(run_loopback_simulator, CONFIG)
        acct = handle.accounts[0]
        c = client(handle, acct, with_creds=False)
        creds = await sdk(c.create_or_derive_api_key)
        assert (creds.api_key, creds.api_secret, creds.api_passphrase) == (
            acct.creds.api_key,
            acct.creds.secret,
            acct.creds.passphrase,
        )
        derived = await sdk(c.derive_api_key)
        assert derived.api_key == acct.api_key
        other = await sdk(lambda: c.create_api_key(nonce=7))
        assert other.api_key != acct.api_key
        c.set_api_creds(creds)
        keys = await sdk(c.get_api_keys)
        assert set(keys["apiKeys"]) == {acct.api_key, other.api_key}
        assert await sdk(c.get_closed_only_mode) == {"closed_only": False}
        assert await sdk(c.get_pre_migration_orders) == []

        assert await sdk(c.get_ok) == "OK"
        server_time = await sdk(c.get_server_time)
        assert isinstance(server_time, int)
        assert abs(server_time - time.time()) < 5
        assert await sdk(c.get_version) == 2
        yes, no = tokens(handle, 0)
        nr_yes, _ = tokens(handle, 1)
        assert await sdk(lambda: c.get_tick_size(yes)) == "0.01"
        assert await sdk(lambda: c.get_neg_risk(yes)) is False
        assert await sdk(lambda: c.get_neg_risk(nr_yes)) is True
        assert await sdk(lambda: c.get_fee_rate_bps(yes)) == 0
        info = await sdk(lambda: c.get_clob_market_info(str(handle.info.markets[0]["condition_id"])))
        assert {t["t"] for t in info["t"]} == {yes, no}
        book = await sdk(lambda: c.get_order_book(yes))
        assert book["asset_id"] == yes
        assert book["bids"] == []
        assert book["asks"] == []
        assert await sdk(lambda: c.get_order_book_hash(dict(book))) == book["hash"]
        books = await sdk(lambda: c.get_order_books([BookParams(token_id=yes), BookParams(token_id=no)]))
        assert [b["asset_id"] for b in books] == [yes, no]
        assert (await sdk(lambda: c.get_midpoint(yes)))["mid"] == "0.5"
        assert "price" in await sdk(lambda: c.get_price(yes, "BUY"))
        assert "spread" in await sdk(lambda: c.get_spread(yes))
        assert "price" in await sdk(lambda: c.get_last_trade_price(yes))
        pair = [BookParams(token_id=yes), BookParams(token_id=no)]
        assert await sdk(lambda: c.get_midpoints(pair)) == {yes: "0.5", no: "0.5"}
        assert set(await sdk(lambda: c.get_spreads(pair))) == {yes, no}
        sided = [BookParams(token_id=yes, side="BUY"), BookParams(token_id=yes, side="SELL")]
        assert set((await sdk(lambda: c.get_prices(sided)))[yes]) == {"BUY", "SELL"}
        assert [p["token_id"] for p in await sdk(lambda: c.get_last_trades_prices(pair))] == [yes, no]
        market = await sdk(lambda: c.get_market(str(handle.info.markets[1]["condition_id"])))
        assert market["neg_risk"] is True
        async with handle.connector.ws_connect(handle.info.ws_url + "/ws/market") as ws:  # real sockets
            await ws.send_message(json.dumps({"type": "market", "assets_ids": [yes, no]}))
            snapshot = json.loads(await ws.get_message())
            assert [b["asset_id"] for b in snapshot] == [yes, no]
            assert (snapshot[0]["bids"], snapshot[0]["asks"]) == (book["bids"], book["asks"])
        c.set_api_creds(ApiCreds(other.api_key, other.api_secret, other.api_passphrase))
        assert await sdk(c.delete_api_key) == "OK"
        with pytest.raises(PolyApiException) as revoked:
            await sdk(c.get_api_keys)
        assert revoked.value.status_code == 401
        markets = await sdk(c.get_markets)
        assert markets["next_cursor"] == "LTE="
        assert len(markets["data"]) == 2


async def test_sdk_order_types_trades_cancels_heartbeats(nursery: trio.Nursery) -> None:
    with trio.fail_after(60):
        handle: SimHandle = await nursery.start(run_loopback_simulator, CONFIG)
        maker, taker = handle.accounts[0], handle.accounts[1]
        assert taker.signature_type == 2
        assert taker.funder != taker.address
        a, b = client(handle, maker), client(handle, taker)
        yes, no = tokens(handle, 0)

        # GTC post-only BUY rests
        bid = await sdk(lambda: a.create_and_post_order(OrderArgsV2(yes, 0.40, 10, "BUY"), post_only=True))
        assert bid["success"] is True
        assert bid["status"] == "live"
        assert bid["errorMsg"] == ""
        # post-only that would cross is refused with the documented string
        ask = await sdk(lambda: a.create_and_post_order(OrderArgsV2(yes, 0.60, 20, "SELL"), post_only=True))
        assert ask["status"] == "live"
        with pytest.raises(PolyApiException) as crossed:
            await sdk(lambda: b.create_and_post_order(OrderArgsV2(yes, 0.60, 5, "BUY"), post_only=True))
        assert crossed.value.status_code == 400
        assert "invalid post-only order: order crosses book" in str(crossed.value.error_msg)
        # GTD with the 60 s safety buffer
        expiration = int(time.time()) + 60 + 120
        gtd_order = await sdk(
            lambda: a.create_order(OrderArgsV2(yes, 0.30, 10, "BUY", expiration=expiration))
        )
        gtd = await sdk(lambda: a.post_order(gtd_order, OrderType.GTD))
        assert gtd["success"] is True
        assert gtd["status"] == "live"

        # batch: three legs, one of them invalid (below the minimum size) comes back as a failed leg
        def batch_legs() -> list[PostOrdersV2Args]:
            prices = ((0.20, 10.0), (0.21, 10.0), (0.22, 1.0))
            return [
                PostOrdersV2Args(a.create_order(OrderArgsV2(yes, p, q, "BUY")), OrderType.GTC)
                for p, q in prices
            ]

        legs = await sdk(batch_legs)
        batch = await sdk(lambda: a.post_orders(legs))
        assert [leg["success"] for leg in batch] == [True, True, False]
        assert "lower than the minimum" in batch[2]["errorMsg"]
        assert batch[2]["orderID"] == ""

        # FOK: $6 at 0.60 against the resting ask; the SDK then polls /data/trades until the trade mines
        fok = await sdk(
            lambda: b.create_and_post_market_order(
                MarketOrderArgsV2(yes, 6.0, "BUY", price=0.60), order_type=OrderType.FOK
            )
        )
        assert fok["success"] is True
        assert fok["status"] == "matched"
        assert len(fok["tradeIDs"]) == 1
        assert fok["takingAmount"] == "10"
        assert fok["makingAmount"] == "6"
        assert len(fok["transactionsHashes"]) == 1
        # FAK for more than is left: partially filled, the rest cancelled
        fak = await sdk(
            lambda: b.create_and_post_market_order(
                MarketOrderArgsV2(yes, 12.0, "BUY", price=0.60), order_type=OrderType.FAK
            )
        )
        assert fak["status"] == "matched"
        assert fak["takingAmount"] == "10"
        # FOK that cannot fill
        with pytest.raises(PolyApiException) as killed:
            await sdk(lambda: b.create_and_post_market_order(MarketOrderArgsV2(yes, 5.0, "BUY", price=0.60)))
        assert "FOK orders are fully filled or killed" in str(killed.value.error_msg)

        # trades from both sides
        maker_trades = await sdk(a.get_trades)
        assert {t["trader_side"] for t in maker_trades} == {"MAKER"}
        assert len(maker_trades) == 2
        taker_trades = await sdk(lambda: b.get_trades(TradeParams(asset_id=yes)))
        assert {t["trader_side"] for t in taker_trades} == {"TAKER"}
        assert len(taker_trades) == 2
        assert {t["id"] for t in taker_trades} == set(fok["tradeIDs"]) | set(fak["tradeIDs"])
        assert taker_trades[0]["maker_orders"][0]["order_id"] == ask["orderID"]
        paged = await sdk(
            lambda: b.get_trades_paginated(TradeParams(market=str(handle.info.markets[0]["condition_id"])))
        )
        assert paged["count"] == 2
        assert paged["next_cursor"] == "LTE="

        # orders: one by id, open orders, and every cancel flavour
        one = await sdk(lambda: a.get_order(bid["orderID"]))
        assert one["id"] == bid["orderID"]
        assert one["status"] == "LIVE"
        assert one["original_size"] == "10.00"
        filled = await sdk(lambda: a.get_order(ask["orderID"]))
        assert filled == ""  # no longer live: an empty body
        live = await sdk(a.get_open_orders)
        assert {o["id"] for o in live} == {
            bid["orderID"],
            gtd["orderID"],
            batch[0]["orderID"],
            batch[1]["orderID"],
        }
        assert await sdk(lambda: a.get_open_orders(OpenOrderParams(id=gtd["orderID"]))) == [
            o for o in live if o["id"] == gtd["orderID"]
        ]
        single = await sdk(lambda: a.cancel_order(OrderPayload(orderID=bid["orderID"])))
        assert single == {"canceled": [bid["orderID"]], "not_canceled": {}}
        many = await sdk(lambda: a.cancel_orders([gtd["orderID"], ask["orderID"], "0x" + "00" * 32]))
        assert many["canceled"] == [gtd["orderID"]]
        assert many["not_canceled"] == {
            ask["orderID"]: "already canceled or matched",
            "0x" + "00" * 32: "order not found",
        }
        by_market = await sdk(lambda: a.cancel_market_orders(OrderMarketCancelParams(asset_id=yes)))
        assert sorted(by_market["canceled"]) == sorted([batch[0]["orderID"], batch[1]["orderID"]])
        rest = await sdk(lambda: a.create_and_post_order(OrderArgsV2(no, 0.10, 10, "BUY")))
        assert (await sdk(a.cancel_all))["canceled"] == [rest["orderID"]]

        # heartbeats: a chain, and a wrong id answers the expected one
        first = await sdk(lambda: a.post_heartbeat(""))
        second = await sdk(lambda: a.post_heartbeat(first["heartbeat_id"]))
        assert second["heartbeat_id"] != first["heartbeat_id"]
        with pytest.raises(PolyApiException) as wrong:
            await sdk(lambda: a.post_heartbeat("nope"))
        assert wrong.value.status_code == 400
        assert wrong.value.error_msg["error"] == "Invalid Heartbeat ID"
        assert wrong.value.error_msg["heartbeat_id"] == second["heartbeat_id"]

        # balances: the taker paid 12 pUSD for 20 YES
        collateral = await sdk(
            lambda: b.get_balance_allowance(BalanceAllowanceParams(asset_type=AssetType.COLLATERAL))
        )
        assert collateral["balance"] == str(10_000_000_000 - 12_000_000)
        cond = BalanceAllowanceParams(asset_type=AssetType.CONDITIONAL, token_id=yes)
        assert (await sdk(lambda: b.get_balance_allowance(cond)))["balance"] == str(520_000_000)
        assert await sdk(lambda: b.update_balance_allowance(cond)) == {}


async def test_sdk_open_orders_span_pages_and_neg_risk(nursery: trio.Nursery) -> None:
    with trio.fail_after(60):
        handle: SimHandle = await nursery.start(run_loopback_simulator, CONFIG)
        acct = handle.accounts[0]
        c = client(handle, acct)
        nr_yes, _ = tokens(handle, 1)
        opts = PartialCreateOrderOptions(tick_size="0.01", neg_risk=True)

        def place_all() -> list[str]:
            ids: list[str] = []
            for start in range(0, 105, 15):
                legs = [
                    PostOrdersV2Args(
                        c.create_order(OrderArgsV2(nr_yes, 0.01 * (1 + i % 40), 5.0 + i, "BUY"), opts)
                    )
                    for i in range(start, min(start + 15, 105))
                ]
                answers = c.post_orders(legs)
                assert all(a["success"] for a in answers), answers
                ids.extend(a["orderID"] for a in answers)
            return ids

        ids = await sdk(place_all)
        first_page = await sdk(lambda: c.get_open_orders(only_first_page=True))
        assert len(first_page) == 100
        everything = await sdk(c.get_open_orders)
        assert sorted(o["id"] for o in everything) == sorted(ids)
        no_trades = await sdk(lambda: c.get_trades_paginated())
        assert no_trades["count"] == 0
        assert no_trades["next_cursor"] == "LTE="
        transport = handle.connector.http_transport()
        async with httpx2.AsyncClient(transport=transport, base_url=handle.info.rest_url) as http:
            page = (await call(http, acct, "GET", "/data/orders")).json()
            assert (page["next_cursor"], page["limit"], page["count"]) == ("MTAw", 100, 100)
            last = (await call(http, acct, "GET", "/data/orders", params={"next_cursor": "MTAw"})).json()
            assert (last["next_cursor"], last["count"]) == ("LTE=", 5)
        canceled = await sdk(c.cancel_all)
        assert sorted(canceled["canceled"]) == sorted(ids)
        assert await sdk(c.get_open_orders) == []


async def test_sdk_sees_a_lost_answer_as_a_request_exception_on_loopback(nursery: trio.Nursery) -> None:
    with trio.fail_after(60):
        handle: SimHandle = await nursery.start(run_loopback_simulator, CONFIG)
        acct = handle.accounts[0]
        c = client(handle, acct)
        yes, _ = tokens(handle, 0)
        opts = PartialCreateOrderOptions(tick_size="0.01", neg_risk=False)
        await sdk(
            lambda: (c.get_tick_size(yes), c.get_neg_risk(yes), c.get_version())
        )  # warm the SDK's caches
        handle.engine.faults.config = FaultConfig(name="lost", rest_timeout_applied_p=1.0)  # from now on
        with pytest.raises(PolyApiException) as lost:
            await sdk(lambda: c.create_and_post_order(OrderArgsV2(yes, 0.40, 10, "BUY"), opts))
        assert lost.value.status_code is None  # no HTTP answer: the connection dropped mid-response
        assert len(handle.engine.open_orders(acct.api_key)) == 1  # yet the order rests
        assert handle.tape.fault_counts["rest_timeout_applied"] >= 1
