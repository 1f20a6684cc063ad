"""The simulator's market and user channels, subscribed to as the official docs show (PROTOCOL 2.3, 4, 5).

Runs in process (memory streams, autojump clock). Every message of every type is checked field by field
against PROTOCOL.md (names, string numerics, ms timestamps) and decoded with aqbot.wire.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal as D
from typing import Any

import httpx2
import pytest
import trio
import trio_websocket
from _sim_server_helpers import call, fixed_limit_body, limit_body, market_body

from aqbot.sim.faults import RestAction, WsAction
from aqbot.sim.runner import SimConfig, SimHandle, run_inprocess_simulator
from aqbot.wire import codec
from aqbot.wire.events import UnknownEvent

CONFIG = SimConfig(seed=21, markets=2, accounts=2, flow=False, account_shares="500")
Event = dict[str, Any]

BOOK = {"event_type", "asset_id", "market", "bids", "asks", "timestamp", "hash"}
BOOK_OPTIONAL = {"min_order_size", "tick_size", "neg_risk", "last_trade_price"}
PRICE_CHANGE = {"event_type", "market", "price_changes", "timestamp"}
PRICE_CHANGE_ENTRY = {"asset_id", "price", "size", "side", "hash", "best_bid", "best_ask"}
LAST_TRADE = {"event_type", "asset_id", "market", "price", "side", "size", "fee_rate_bps", "timestamp"}
TICK_CHANGE = {"event_type", "asset_id", "market", "old_tick_size", "new_tick_size", "timestamp"}
BEST_BID_ASK = {"event_type", "asset_id", "market", "best_bid", "best_ask", "spread", "timestamp"}
ORDER = {
    "event_type", "type", "id", "owner", "order_owner", "market", "asset_id", "side", "price",
    "original_size", "size_matched", "associate_trades", "outcome", "order_type", "status", "created_at",
    "expiration", "maker_address", "timestamp",
}  # fmt: skip
TRADE = {
    "event_type", "type", "id", "taker_order_id", "market", "asset_id", "side", "size", "price",
    "fee_rate_bps", "status", "match_time", "last_update", "timestamp", "outcome", "owner", "trade_owner",
    "maker_address", "bucket_index", "transaction_hash", "trader_side", "maker_orders",
}  # fmt: skip
MAKER_ORDER = {
    "order_id", "owner", "maker_address", "matched_amount", "price", "asset_id", "outcome", "side",
    "fee_rate_bps", "outcome_index",
}  # fmt: skip
NUMERIC = {
    "price", "size", "best_bid", "best_ask", "spread", "fee_rate_bps", "old_tick_size", "new_tick_size",
    "original_size", "size_matched", "matched_amount", "min_order_size", "tick_size",
}  # fmt: skip


def is_decimal_text(v: object) -> bool:
    if not isinstance(v, str) or not v:
        return False
    head, _, tail = v.partition(".")
    return head.isdigit() and (tail == "" or tail.isdigit())


def check_fields(ev: Event) -> None:
    """Assert the exact field set and string numerics of one event (PROTOCOL 4.2, 5.1, 5.2)."""
    kind = ev["event_type"]
    keys = set(ev)
    if kind == "book":
        assert BOOK <= keys <= BOOK | BOOK_OPTIONAL
        for level in ev["bids"] + ev["asks"]:
            assert set(level) == {"price", "size"}
            assert is_decimal_text(level["price"])
            assert is_decimal_text(level["size"])
    elif kind == "price_change":
        assert keys == PRICE_CHANGE
        for entry in ev["price_changes"]:
            assert set(entry) == PRICE_CHANGE_ENTRY
            assert entry["side"] in ("BUY", "SELL")
            assert all(is_decimal_text(entry[k]) for k in ("price", "size", "best_bid", "best_ask"))
        assert len({e["asset_id"] for e in ev["price_changes"]}) == 2  # both tokens of the market
    elif kind == "last_trade_price":
        assert keys == LAST_TRADE
    elif kind == "tick_size_change":
        assert keys == TICK_CHANGE
    elif kind == "best_bid_ask":
        assert keys == BEST_BID_ASK
    elif kind == "order":
        assert keys == ORDER
        assert ev["type"] in ("PLACEMENT", "UPDATE", "CANCELLATION")
        assert ev["created_at"].isdigit()
        assert len(ev["created_at"]) == 10
    elif kind == "trade":
        assert keys == TRADE
        assert ev["type"] == "TRADE"
        assert ev["trader_side"] in ("TAKER", "MAKER")
        assert isinstance(ev["bucket_index"], int)
        assert ev["match_time"].isdigit()
        assert ev["last_update"].isdigit()
        for m in ev["maker_orders"]:
            assert set(m) == MAKER_ORDER
            assert isinstance(m["outcome_index"], int)
            assert is_decimal_text(m["matched_amount"])
    else:
        pytest.fail(f"unexpected event type {kind}")
    assert ev["timestamp"].isdigit()
    assert len(ev["timestamp"]) == 13  # ms
    for k in NUMERIC & keys:
        assert is_decimal_text(ev[k]), (kind, k, ev[k])


class Reader:
    """Reads one socket, checks and decodes every frame, keeps the events."""

    def __init__(self, ws: trio_websocket.WebSocketConnection, channel: str) -> None:
        self.ws = ws
        self.channel = channel
        self.events: list[Event] = []
        self.frames = 0

    async def until(self, pred: Callable[[Event], bool]) -> Event:
        """Read until an event satisfies ``pred``; return it."""
        while True:
            raw = await self.ws.get_message()
            assert isinstance(raw, str)
            self.frames += 1
            if raw == "PONG":
                self.events.append({"event_type": "PONG"})
                if pred(self.events[-1]):
                    return self.events[-1]
                continue
            decoded = (
                codec.decode_market_frame(raw) if self.channel == "market" else codec.decode_user_frame(raw)
            )
            assert not any(isinstance(d, UnknownEvent) for d in decoded)
            data = json.loads(raw)
            for ev in data if isinstance(data, list) else [data]:
                check_fields(ev)
                self.events.append(ev)
                if pred(ev):
                    return ev

    def kinds(self) -> set[str]:
        return {e["event_type"] for e in self.events}


def user_auth(handle: SimHandle, i: int, markets: list[str] | None = None) -> str:
    a = handle.accounts[i]
    auth = {"apiKey": a.api_key, "secret": a.creds.secret, "passphrase": a.creds.passphrase}
    return json.dumps(
        {"auth": auth, "type": "user", "markets": markets or [], "assets_ids": [], "initial_dump": True}
    )


async def test_market_and_user_channels_every_message_type(
    nursery: trio.Nursery, autojump_clock: Any
) -> None:
    with trio.fail_after(120):
        handle: SimHandle = await nursery.start(run_inprocess_simulator, CONFIG)
        maker, taker = handle.accounts
        m0 = handle.info.markets[0]
        cid = str(m0["condition_id"])
        yes, no = (str(t["token_id"]) for t in m0["tokens"])  # type: ignore[attr-defined]
        net = handle.connector
        async with (
            httpx2.AsyncClient(transport=net.http_transport(), base_url=handle.info.rest_url) as http,
            net.ws_connect(handle.info.ws_url + "/ws/market") as mws,
            net.ws_connect(handle.info.ws_url + "/ws/user") as maker_ws,
            net.ws_connect(handle.info.ws_url + "/ws/user") as taker_ws,
        ):
            market, mu, tu = Reader(mws, "market"), Reader(maker_ws, "user"), Reader(taker_ws, "user")
            await mws.send_message(
                json.dumps({"type": "market", "assets_ids": [yes, no], "custom_feature_enabled": True})
            )
            snapshot = await market.until(lambda e: e["event_type"] == "book" and e["asset_id"] == no)
            assert snapshot["bids"] == []
            assert {e["asset_id"] for e in market.events} == {yes, no}
            await maker_ws.send_message(user_auth(handle, 0, [cid]))
            await taker_ws.send_message(user_auth(handle, 1))
            for ws, reader in ((maker_ws, mu), (taker_ws, tu)):  # PONG proves the subscription is in
                await ws.send_message("PING")
                await reader.until(lambda e: e["event_type"] == "PONG")

            bid = (await call(http, maker, "POST", "/order", limit_body(maker, yes, 0.40, 10, "BUY"))).json()
            ask = (await call(http, maker, "POST", "/order", limit_body(maker, yes, 0.60, 20, "SELL"))).json()
            await market.until(lambda e: e["event_type"] == "best_bid_ask" and e["best_ask"] == "0.6")
            placement = await mu.until(lambda e: e.get("id") == ask["orderID"])
            assert (placement["type"], placement["status"]) == ("PLACEMENT", "LIVE")
            assert D(placement["size_matched"]) == 0

            fok = (
                await call(http, taker, "POST", "/order", market_body(taker, yes, 6.0, "BUY", 0.60))
            ).json()
            assert fok["status"] == "matched"
            ltp = await market.until(lambda e: e["event_type"] == "last_trade_price")
            assert (ltp["price"], D(ltp["size"]), ltp["side"], ltp["asset_id"]) == ("0.6", 10, "BUY", yes)
            update = await mu.until(lambda e: e["event_type"] == "order" and e["type"] == "UPDATE")
            assert (update["id"], D(update["size_matched"])) == (ask["orderID"], 10)
            maker_fill = await mu.until(lambda e: e["event_type"] == "trade" and e["status"] == "CONFIRMED")
            assert maker_fill["trader_side"] == "MAKER"
            mine = [m for m in maker_fill["maker_orders"] if m["owner"] == maker.api_key]
            assert [(m["order_id"], D(m["matched_amount"]), m["price"]) for m in mine] == [
                (ask["orderID"], 10, "0.6")
            ]
            taker_fill = await tu.until(lambda e: e["event_type"] == "trade" and e["status"] == "CONFIRMED")
            assert (taker_fill["trader_side"], D(taker_fill["size"]), taker_fill["taker_order_id"]) == (
                "TAKER", 10, fok["orderID"],
            )  # fmt: skip
            statuses = [e["status"] for e in tu.events if e["event_type"] == "trade"]
            assert statuses == ["MATCHED", "MINED", "CONFIRMED"]

            await call(http, maker, "DELETE", "/order", {"orderID": bid["orderID"]})
            cancel = await mu.until(lambda e: e["event_type"] == "order" and e["type"] == "CANCELLATION")
            assert (cancel["id"], cancel["status"]) == (bid["orderID"], "CANCELED")
            # the taker's socket only ever saw the taker's own events
            assert {e.get("owner") for e in tu.events if e["event_type"] == "order"} <= {taker.api_key}
            assert all(e["owner"] == taker.api_key for e in tu.events if e["event_type"] == "trade")

            handle.engine.set_tick_size(cid, "0.001", handle.now_ms())
            change = await market.until(lambda e: e["event_type"] == "tick_size_change")
            assert (change["old_tick_size"], change["new_tick_size"]) == ("0.01", "0.001")

            # unsubscribe NO, re-subscribe YES: a fresh book for YES only
            await mws.send_message(json.dumps({"operation": "unsubscribe", "assets_ids": [no]}))
            await mws.send_message(json.dumps({"operation": "subscribe", "assets_ids": [yes]}))
            again = await market.until(lambda e: e["event_type"] == "book" and e is not snapshot)
            assert again["asset_id"] == yes
            assert [(lv["price"], D(lv["size"])) for lv in again["asks"]] == [("0.6", 10)]
            assert market.kinds() == {
                "book",
                "price_change",
                "best_bid_ask",
                "last_trade_price",
                "tick_size_change",
            }
            assert mu.kinds() >= {"order", "trade", "PONG"}


async def test_user_channel_refuses_bad_credentials(nursery: trio.Nursery, autojump_clock: Any) -> None:
    with trio.fail_after(30):
        handle: SimHandle = await nursery.start(run_inprocess_simulator, CONFIG)
        a = handle.accounts[0]
        async with handle.connector.ws_connect(handle.info.ws_url + "/ws/user") as ws:
            bad = {"apiKey": a.api_key, "secret": a.creds.secret, "passphrase": "wrong"}
            await ws.send_message(json.dumps({"auth": bad, "type": "user", "markets": []}))
            with pytest.raises(trio_websocket.ConnectionClosed) as closed:
                await ws.get_message()
            assert closed.value.reason.code == 1008


async def test_unknown_path_is_rejected(nursery: trio.Nursery, autojump_clock: Any) -> None:
    with trio.fail_after(30):
        handle: SimHandle = await nursery.start(run_inprocess_simulator, CONFIG)
        with pytest.raises(trio_websocket.ConnectionRejected) as rejected:
            async with handle.connector.ws_connect(handle.info.ws_url + "/ws/nothing"):
                pass
        assert rejected.value.status_code == 404


class ScriptedWs:
    """Market-channel fault decisions taken from a list, in order (then ``deliver``)."""

    def __init__(self, script: list[WsAction]) -> None:
        self.script = script

    def rest_action(self, method: str, path: str, now_ms: int) -> RestAction:
        return RestAction("ok")

    def ws_action(self, channel: str, key: str, now_ms: int) -> WsAction:
        return self.script.pop(0) if channel == "market" and self.script else WsAction("deliver")


async def test_ws_fault_semantics(nursery: trio.Nursery, autojump_clock: Any) -> None:
    with trio.fail_after(60):
        handle: SimHandle = await nursery.start(run_inprocess_simulator, CONFIG)
        maker = handle.accounts[0]
        yes = str(handle.info.markets[0]["tokens"][0]["token_id"])  # type: ignore[index]
        script = [
            WsAction("deliver"),  # the book snapshot
            WsAction("duplicate"),  # order 1
            WsAction("reorder", 500),  # order 2: overtaken by order 3
            WsAction("deliver"),  # order 3
            WsAction("delay", 1000),  # order 4: holds back order 5 too
            WsAction("deliver"),  # order 5
            WsAction("disconnect"),  # order 6: lost, socket closed
        ]
        handle.set_transport_faults(ScriptedWs(script))
        async with (
            httpx2.AsyncClient(transport=handle.connector.http_transport(), base_url="http://x") as http,
            handle.connector.ws_connect(handle.info.ws_url + "/ws/market") as ws,
        ):
            await ws.send_message(json.dumps({"type": "market", "assets_ids": [yes]}))
            assert json.loads(await ws.get_message())[0]["event_type"] == "book"

            async def bid(cents: int) -> str:
                await call(
                    http, maker, "POST", "/order", fixed_limit_body(maker, yes, cents, 5, "BUY", salt=cents)
                )
                return f"0.{cents}"

            async def next_price() -> str:
                change = json.loads(await ws.get_message())
                return str(change["price_changes"][0]["price"])

            p1 = await bid(11)
            assert [await next_price(), await next_price()] == [p1, p1]
            p2, p3 = await bid(12), await bid(13)
            assert [await next_price(), await next_price()] == [p3, p2]
            start = trio.current_time()
            p4, p5 = await bid(14), await bid(15)
            assert [await next_price(), await next_price()] == [p4, p5]
            assert trio.current_time() - start == pytest.approx(1.0)
            await bid(16)
            with pytest.raises(trio_websocket.ConnectionClosed) as closed:
                await ws.get_message()
            assert closed.value.reason.code == 1011
        assert script == []
        counts = handle.tape.fault_counts
        assert (
            counts["ws_duplicate"] == counts["ws_reorder"] == counts["ws_delay"] == 0
        )  # scripted, not planned


async def test_no_snapshot_beyond_500_assets(nursery: trio.Nursery, autojump_clock: Any) -> None:
    with trio.fail_after(30):
        handle: SimHandle = await nursery.start(run_inprocess_simulator, CONFIG)
        yes = str(handle.info.markets[0]["tokens"][0]["token_id"])  # type: ignore[index]
        fake = [str(10**70 + i) for i in range(500)]
        async with handle.connector.ws_connect(handle.info.ws_url + "/ws/market") as ws:
            await ws.send_message(json.dumps({"type": "market", "assets_ids": [yes]}))
            assert json.loads(await ws.get_message())[0]["asset_id"] == yes  # within the cap: a snapshot
            await ws.send_message(json.dumps({"operation": "subscribe", "assets_ids": fake}))
            await ws.send_message(json.dumps({"operation": "subscribe", "assets_ids": [yes]}))
            await ws.send_message("PING")
            assert await ws.get_message() == "PONG"  # 501 assets: no snapshot any more
