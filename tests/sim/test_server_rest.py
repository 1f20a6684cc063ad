"""The simulator's REST layer in process: authentication, order-signature checks, limits, shapes, errors.

Each test starts an in-process simulator (no flow, no faults) under the autojump clock and talks to it
through httpx2 over the ASGI transport, exactly as the bot's REST client does.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import pytest
import trio
from _sim_server_helpers import call, dumps, fixed_limit_body, l1, l2, limit_body

from aqbot import wire
from aqbot.sim.info import derive_api_creds
from aqbot.sim.runner import SimConfig, SimHandle, run_inprocess_simulator
from aqbot.sim.server import SimApp
from aqbot.sim.server_routes import paginate

CONFIG = SimConfig(seed=9, markets=2, accounts=2, flow=False, account_shares="100", page_size=3)


@asynccontextmanager
async def sim(nursery: trio.Nursery) -> AsyncIterator[tuple[SimHandle, httpx2.AsyncClient]]:
    handle: SimHandle = await nursery.start(run_inprocess_simulator, CONFIG)
    transport = handle.connector.http_transport()
    async with httpx2.AsyncClient(transport=transport, base_url=handle.info.rest_url) as http:
        yield handle, http


def token(handle: SimHandle, market: int, outcome: int = 0) -> str:
    return str(handle.info.markets[market]["tokens"][outcome]["token_id"])  # type: ignore[index]


async def test_l2_hmac_is_verified_exactly(nursery: trio.Nursery, autojump_clock: Any) -> None:
    with trio.fail_after(30):
        async with sim(nursery) as (handle, http):
            a, b = handle.accounts
            ok = await call(http, a, "GET", "/data/orders", params={"market": "0x" + "11" * 32})
            assert ok.status_code == 200  # the query string is not part of the signed path
            body = dumps({"heartbeat_id": ""})
            good = l2(a, "POST", "/v1/heartbeats", body)
            tampered: list[dict[str, str]] = [
                {**good, "POLY_SIGNATURE": l2(a, "POST", "/v1/heartbeats", body + " ")["POLY_SIGNATURE"]},
                {**good, "POLY_PASSPHRASE": "nope"},
                {**good, "POLY_ADDRESS": b.address},
                {**good, "POLY_API_KEY": b.api_key},
                {k: v for k, v in good.items() if k != "POLY_SIGNATURE"},
                {},
            ]
            for headers in tampered:
                r = await http.post("/v1/heartbeats", content=body.encode(), headers=headers)
                assert r.status_code == 401
                assert r.json() == {"error": "Unauthorized/Invalid api key"}
            r = await http.post("/v1/heartbeats", content=body.encode(), headers=good)
            assert r.status_code == 200
            assert set(r.json()) == {"heartbeat_id"}


async def test_l1_key_creation_and_derivation(nursery: trio.Nursery, autojump_clock: Any) -> None:
    with trio.fail_after(30):
        async with sim(nursery) as (handle, http):
            a = handle.accounts[0]
            created = (await http.post("/auth/api-key", headers=l1(a))).json()
            derived = (await http.get("/auth/derive-api-key", headers=l1(a))).json()
            assert (
                created
                == derived
                == {"apiKey": a.api_key, "secret": a.creds.secret, "passphrase": a.creds.passphrase}
            )
            fresh = (await http.post("/auth/api-key", headers=l1(a, nonce=3))).json()
            expected = derive_api_creds(handle.info.seed, a.address, 3)
            assert fresh["apiKey"] == expected.api_key
            forged = {**l1(a), "POLY_ADDRESS": handle.accounts[1].address}
            r = await http.post("/auth/api-key", headers=forged)
            assert r.status_code == 401
            assert r.json() == {"error": "Invalid L1 Request headers"}
            assert (await http.get("/auth/derive-api-key")).status_code == 401


async def test_order_signatures_and_identity(nursery: trio.Nursery, autojump_clock: Any) -> None:
    with trio.fail_after(30):
        async with sim(nursery) as (handle, http):
            a, b = handle.accounts
            nr_yes = token(handle, 1)
            good = limit_body(a, nr_yes, 0.40, 10, "BUY", neg_risk=True)
            wrong_exchange = limit_body(a, nr_yes, 0.40, 10, "BUY", neg_risk=False)
            r = await call(http, a, "POST", "/order", wrong_exchange)
            assert (r.status_code, r.json()) == (400, {"error": "invalid order signature"})
            forged = {
                **good,
                "order": {**good["order"], "makerAmount": str(int(good["order"]["makerAmount"]) + 1)},
            }
            assert (await call(http, a, "POST", "/order", forged)).json() == {
                "error": "invalid order signature"
            }
            r = await call(http, a, "POST", "/order", {**good, "owner": b.api_key})
            assert r.json() == {"error": "the order owner has to be the owner of the API KEY"}
            r = await call(
                http,
                b,
                "POST",
                "/order",
                {**limit_body(a, nr_yes, 0.4, 10, "BUY", neg_risk=True), "owner": b.api_key},
            )
            assert r.status_code == 400  # a's order under b's key: maker/signer are not b's
            r = await call(http, a, "POST", "/order", good)
            answer = r.json()
            assert r.status_code == 200
            assert set(answer) == {
                "success",
                "errorMsg",
                "orderID",
                "status",
                "makingAmount",
                "takingAmount",
                "tradeIDs",
            }
            assert answer["orderID"].startswith("0x")
            assert len(answer["orderID"]) == 66
            assert (await call(http, a, "POST", "/order", good)).json()["error"].endswith("Duplicated.")
            r = await call(http, a, "POST", "/order", {"order": "nope"})
            assert r.json() == {"error": "Invalid order payload"}
            r = await http.post("/order", content=b"{", headers=l2(a, "POST", "/order", "{"))
            assert (r.status_code, r.json()) == (400, {"error": "Invalid payload"})


async def test_limits_and_shapes(nursery: trio.Nursery, autojump_clock: Any) -> None:
    with trio.fail_after(30):
        async with sim(nursery) as (handle, http):
            a = handle.accounts[0]
            yes, no = token(handle, 0), token(handle, 0, 1)
            legs = [fixed_limit_body(a, yes, 10 + i, 5, "BUY", salt=i) for i in range(16)]
            r = await call(http, a, "POST", "/orders", legs)
            assert (r.status_code, r.json()) == (400, {"error": "Too many orders in payload, max 15"})
            r = await call(http, a, "POST", "/orders", legs[:7])
            assert [leg["success"] for leg in r.json()] == [True] * 7
            r = await call(http, a, "DELETE", "/orders", ["0x" + f"{i:064x}" for i in range(1001)])
            assert r.status_code == 400
            # pagination: page size 3 in this config, base64 offsets, "LTE=" at the end
            pages: list[dict[str, Any]] = []
            cursor = "MA=="
            while cursor != "LTE=":
                page = (await call(http, a, "GET", "/data/orders", params={"next_cursor": cursor})).json()
                pages.append(page)
                cursor = page["next_cursor"]
            assert [p["count"] for p in pages] == [3, 3, 1]
            assert [p["next_cursor"] for p in pages] == ["Mw==", "Ng==", "LTE="]
            assert {p["limit"] for p in pages} == {3}
            assert (
                await call(http, a, "GET", "/data/orders", params={"next_cursor": "%%%"})
            ).status_code == 400
            # public market data
            book = (await http.get("/book", params={"token_id": yes})).json()
            assert [lv["price"] for lv in book["bids"]][-1] == "0.16"  # best bid last
            assert (await http.get("/book", params={"token_id": "123"})).status_code == 404
            many = await http.post("/books", content=dumps([{"token_id": yes}] * 501).encode())
            assert (many.status_code, many.json()) == (400, {"error": "Payload exceeds the limit"})
            assert (await http.get(f"/tick-size/{yes}")).json() == {"minimum_tick_size": 0.01}
            assert (await http.get("/tick-size", params={"token_id": no})).json() == {
                "minimum_tick_size": 0.01
            }
            assert (await http.get("/neg-risk", params={"token_id": token(handle, 1)})).json() == {
                "neg_risk": True
            }
            assert (await http.get(f"/markets-by-token/{no}")).json()["condition_id"] == handle.info.markets[
                0
            ]["condition_id"]
            assert (await http.get("/time")).json() == 1_767_225_600
            assert (await http.get("/nothing")).status_code == 404
            alias = await call(http, a, "GET", "/trades")
            assert alias.json()["data"] == []


async def test_data_api_positions(nursery: trio.Nursery, autojump_clock: Any) -> None:
    with trio.fail_after(30):
        async with sim(nursery) as (handle, http):
            a = handle.accounts[0]
            r = await http.get("/positions", params={"user": a.funder, "sizeThreshold": "0"})
            rows = r.json()
            assert r.status_code == 200
            assert isinstance(rows, list)
            assert len(rows) == 4  # 100 shares of each of the 4 tokens
            assert {row["proxyWallet"].lower() for row in rows} == {a.funder.lower()}
            assert all(isinstance(row["size"], int | float) for row in rows)
            assert (await http.get("/positions")).status_code == 400
            limited = await http.get(
                "/positions", params={"user": a.funder, "sizeThreshold": "0", "limit": "1"}
            )
            assert len(limited.json()) == 1


def test_paginate_unit() -> None:
    rows = list(range(5))
    first = paginate(rows, None, 2).body
    assert first == {"data": [0, 1], "next_cursor": base64.b64encode(b"2").decode(), "limit": 2, "count": 2}
    assert paginate(rows, "LTE=", 2).body == {"data": [], "next_cursor": "LTE=", "limit": 2, "count": 0}
    assert paginate(rows, base64.b64encode(b"-5").decode(), 2).status == 400


async def test_lifespan_protocol(nursery: trio.Nursery, autojump_clock: Any) -> None:
    with trio.fail_after(10):
        handle: SimHandle = await nursery.start(run_inprocess_simulator, CONFIG)
        app = handle.connector.app  # type: ignore[attr-defined]
        assert isinstance(app, SimApp)
        inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return inbox.pop(0)

        async def send(message: dict[str, Any]) -> None:
            sent.append(dict(message))

        await app({"type": "lifespan"}, receive, send)
        assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
        inbox.append({"type": "websocket.connect"})
        await app({"type": "websocket"}, receive, send)
        assert sent[-1] == {"type": "websocket.close", "code": 1008}
        with pytest.raises(ValueError, match="unsupported"):
            await app({"type": "telepathy"}, receive, send)


async def test_every_rest_answer_decodes_with_aqbot_wire(nursery: trio.Nursery, autojump_clock: Any) -> None:
    with trio.fail_after(60):
        async with sim(nursery) as (handle, http):
            a, b = handle.accounts
            yes = token(handle, 0)
            cid = str(handle.info.markets[0]["condition_id"])
            placed = await call(http, a, "POST", "/order", fixed_limit_body(a, yes, 60, 10, "SELL", salt=1))
            wire.decode_rest(placed.text, wire.PostOrderResponse)
            rest = await call(http, a, "POST", "/order", fixed_limit_body(a, yes, 30, 10, "BUY", salt=2))
            taken = await call(http, b, "POST", "/order", fixed_limit_body(b, yes, 60, 5, "BUY", salt=3))
            assert wire.decode_rest(taken.text, wire.PostOrderResponse).status == "matched"
            trades = (await call(http, b, "GET", "/data/trades")).text
            page = wire.decode_rest(trades, wire.Page[wire.Trade])
            assert len(page.data) == 1
            orders = wire.decode_rest(
                (await call(http, a, "GET", "/data/orders")).text, wire.Page[wire.OpenOrder]
            )
            assert len(orders.data) == 2
            wire.decode_rest((await http.get("/book", params={"token_id": yes})).text, wire.BookSummary)
            wire.decode_rest((await http.get("/tick-size", params={"token_id": yes})).text, wire.TickSize)
            wire.decode_rest((await http.get("/neg-risk", params={"token_id": yes})).text, wire.NegRisk)
            wire.decode_rest((await http.get("/fee-rate", params={"token_id": yes})).text, wire.FeeRate)
            wire.decode_rest((await http.get(f"/clob-markets/{cid}")).text, wire.ClobMarketInfo)
            wire.decode_rest((await http.get("/time")).text, wire.ServerTime)
            wire.decode_rest((await http.get("/version")).text, wire.ServerVersion)
            params = {"asset_type": "COLLATERAL"}
            balance = (await call(http, a, "GET", "/balance-allowance", params=params)).text
            assert json.loads(balance)["balance"] == "10003000000"  # sold 5 at 0.60
            allowance = wire.decode_rest(balance, wire.BalanceAllowance)
            assert allowance.balance == 10_003_000_000
            assert allowance.allowances
            assert set(allowance.allowances.values()) == {2**256 - 1}
            beat = (await call(http, a, "POST", "/v1/heartbeats", {"heartbeat_id": ""})).text
            wire.decode_rest(beat, wire.HeartbeatResponse)
            bad_beat = (await call(http, a, "POST", "/v1/heartbeats", {"heartbeat_id": "x"})).text
            wire.decode_rest(bad_beat, wire.HeartbeatError)
            positions = (await http.get("/positions", params={"user": b.funder, "sizeThreshold": "0"})).text
            wire.decode_rest(positions, list[wire.Position])
            cancel = await call(http, a, "DELETE", "/order", {"orderID": rest.json()["orderID"]})
            assert wire.decode_rest(cancel.text, wire.CancelResponse).canceled == (rest.json()["orderID"],)
            wire.decode_rest((await http.get("/book", params={"token_id": "1"})).text, wire.ErrorBody)


async def test_exchange_modes_reach_the_wire(nursery: trio.Nursery, autojump_clock: Any) -> None:
    with trio.fail_after(600):
        async with sim(nursery) as (handle, http):
            a = handle.accounts[0]
            yes = token(handle, 0)
            handle.engine.trigger_restart(handle.now_ms())
            r = await call(http, a, "POST", "/order", fixed_limit_body(a, yes, 40, 10, "BUY", salt=1))
            assert (r.status_code, r.json()) == (425, {"error": "Service is not ready"})
            assert (await call(http, a, "DELETE", "/cancel-all")).status_code == 425
            await trio.sleep(91)  # past the 90 s restart: the post-only window
            r = await call(http, a, "POST", "/order", fixed_limit_body(a, yes, 40, 10, "BUY", salt=2))
            assert r.status_code == 400
            assert "post-only" in r.json()["error"]
            handle.engine.trigger_cancel_only(handle.now_ms(), 30_000)
            r = await call(http, a, "POST", "/order", fixed_limit_body(a, yes, 40, 10, "BUY", salt=3))
            assert r.status_code == 503
            assert r.json()["error"].startswith("Trading is currently cancel-only")
            assert (await call(http, a, "DELETE", "/cancel-all")).status_code == 200
