"""Helpers for the simulator server tests: orders signed by the official SDK, L1/L2 headers, an httpx2 client.

The SDK (py-clob-client-v2) is a test-only oracle: its OrderBuilder signs orders offline, so the bodies the
tests send are byte-for-byte what the SDK would send.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs
import httpx2
from py_clob_client_v2.clob_types import CreateOrderOptions, MarketOrderArgsV2, OrderArgsV2
from py_clob_client_v2.order_builder.builder import OrderBuilder
from py_clob_client_v2.order_utils.model.order_data_v2 import order_to_json_v2
from py_clob_client_v2.order_utils.model.signature_type_v2 import SignatureTypeV2
from py_clob_client_v2.signer import Signer

from aqbot.auth.keys import SigningKey
from aqbot.auth.l1 import l1_headers
from aqbot.auth.l2 import l2_headers
from aqbot.auth.order import SignatureType, SignedOrder, compute_order_id, order_digest
from aqbot.auth.order_wire import order_to_wire
from aqbot.core.types import Side
from aqbot.sim.info import CHAIN_ID, SimAccount

WALL_TS = 1_767_225_600
"""A fixed POLY_TIMESTAMP (the simulator does not check freshness)."""


def builder(account: SimAccount) -> OrderBuilder:
    """The SDK's order builder for ``account`` (signature type and funder as in the info file)."""
    return OrderBuilder(
        Signer(account.private_key, CHAIN_ID),
        signature_type=SignatureTypeV2(account.signature_type),
        funder=account.funder,
    )


def limit_body(
    account: SimAccount,
    token: str,
    price: float,
    size: float,
    side: str,
    *,
    tick: str = "0.01",
    neg_risk: bool = False,
    order_type: str = "GTC",
    post_only: bool = False,
    expiration: int = 0,
) -> dict[str, Any]:
    """A ``POST /order`` body for a limit order, signed by the SDK."""
    args = OrderArgsV2(token_id=token, price=price, size=size, side=side, expiration=expiration)
    opts = CreateOrderOptions(tick_size=tick, neg_risk=neg_risk)
    order = builder(account).build_order(args, opts, version=2)
    body: dict[str, Any] = order_to_json_v2(order, account.api_key, order_type, post_only, False)
    return body


def market_body(
    account: SimAccount,
    token: str,
    amount: float,
    side: str,
    price: float,
    *,
    tick: str = "0.01",
    neg_risk: bool = False,
    order_type: str = "FOK",
) -> dict[str, Any]:
    """A ``POST /order`` body for a market (FOK/FAK) order, signed by the SDK."""
    args = MarketOrderArgsV2(token_id=token, amount=amount, side=side, price=price, order_type=order_type)
    opts = CreateOrderOptions(tick_size=tick, neg_risk=neg_risk)
    order = builder(account).build_market_order(args, opts, version=2)
    body: dict[str, Any] = order_to_json_v2(order, account.api_key, order_type, False, False)
    return body


def dumps(body: object) -> str:
    """The SDK's serialization (compact, non-ASCII kept)."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def l2(account: SimAccount, method: str, path: str, body: str | None = None) -> dict[str, str]:
    """L2 headers for one request (path without query)."""
    return l2_headers(account.creds, account.address, WALL_TS, method, path, body)


def l1(account: SimAccount, nonce: int = 0) -> dict[str, str]:
    return l1_headers(SigningKey.from_hex(account.private_key), CHAIN_ID, WALL_TS, nonce)


async def call(
    http: httpx2.AsyncClient,
    account: SimAccount | None,
    method: str,
    path: str,
    body: object = None,
    params: Mapping[str, str] | None = None,
) -> httpx2.Response:
    """Send one request, L2-signed when ``account`` is given, with the SDK's body serialization."""
    text = dumps(body) if body is not None else None
    headers = l2(account, method, path, text) if account is not None else {}
    if text is not None:
        headers["Content-Type"] = "application/json"
    return await http.request(
        method, path, headers=headers, content=text.encode() if text is not None else None, params=params
    )


ZERO32 = "0x" + "00" * 32


def fixed_limit_body(
    account: SimAccount,
    token: str,
    price_cents: int,
    size: int,
    side: str,
    *,
    salt: int,
    neg_risk: bool = False,
    order_type: str = "GTC",
) -> dict[str, Any]:
    """A limit order on a 0.01 tick with a fixed salt and timestamp (same bytes every run).

    ``price_cents`` is the price in cents, ``size`` whole shares.
    """
    shares = size * 1_000_000
    pusd = size * price_cents * 10_000
    maker_amount, taker_amount = (pusd, shares) if side == "BUY" else (shares, pusd)
    unsigned = SignedOrder(
        salt=salt,
        maker=account.funder,
        signer=account.address,
        token_id=token,
        maker_amount=maker_amount,
        taker_amount=taker_amount,
        side=Side(side),
        signature_type=SignatureType(account.signature_type),
        timestamp_ms=1_767_225_600_000 + salt,
        metadata=ZERO32,
        builder=ZERO32,
        expiration=0,
        signature="",
        order_id="",
    )
    digest = order_digest(unsigned, CHAIN_ID, neg_risk)
    signature = "0x" + SigningKey.from_hex(account.private_key).sign_digest(digest).hex()
    signed = attrs.evolve(
        unsigned, signature=signature, order_id=compute_order_id(unsigned, CHAIN_ID, neg_risk)
    )
    return {
        "order": order_to_wire(signed),
        "owner": account.api_key,
        "orderType": order_type,
        "deferExec": False,
        "postOnly": False,
    }
