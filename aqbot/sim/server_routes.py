"""Routing and the authenticated (trading) endpoints of the simulator's REST API (PROTOCOL 1.1-1.8, 2).

Every handler takes a :class:`Request` and returns an :class:`~aqbot.sim.events.Reply`; the engine does the
exchange logic (validation, matching, cancels, heartbeats, balances) and this module adds what the wire
needs around it: authentication, body parsing, pagination, batch limits and error bodies. Public market
data and the Data API are in :mod:`aqbot.sim.server_public`.

After every request the backend flushes the engine's events to the WebSocket hub, so a client's user
channel sees a PLACEMENT no later than the POST answer (often earlier, as on the real exchange).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable, Sequence

import attrs

from aqbot.sim.engine import Engine
from aqbot.sim.events import Event, Reply, batch_leg, error
from aqbot.sim.market import AccountConfig
from aqbot.sim.server_auth import ERR_L1, KeyEntry, KeyRing
from aqbot.sim.validation import ERR_OWNER, ERR_PAYLOAD, OrderRequest

logger = logging.getLogger(__name__)

INITIAL_CURSOR = "MA=="
END_CURSOR = "LTE="
PAGE_SIZE = 100
MAX_BATCH = 15


@attrs.frozen
class Request:
    """One decoded HTTP request. ``headers`` are keyed by UPPER-case name; ``path`` has no query."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        """The body as JSON (``ValueError`` when it is not)."""
        return json.loads(self.body.decode("utf-8")) if self.body else None


@attrs.define(eq=False)
class SimBackend:
    """What the handlers need: the engine, the key ring, the simulated clock and the event sink.

    Attributes:
        engine: the exchange engine.
        keys: the API keys and wallets.
        clock: simulated now, in ms since the epoch.
        publish: receives every event the engine emitted (the WebSocket hub's fan-out).
        page_size: rows per page of ``/data/orders`` and ``/data/trades``.
    """

    engine: Engine
    keys: KeyRing
    clock: Callable[[], int]
    publish: Callable[[list[Event]], None]
    page_size: int = PAGE_SIZE

    def now_ms(self) -> int:
        return self.clock()

    def flush(self) -> None:
        """Hand the engine's pending events to the hub."""
        events = self.engine.drain_events()
        if events:
            self.publish(events)


Handler = Callable[[SimBackend, Request], Reply]
AuthedHandler = Callable[[SimBackend, KeyEntry, Request], Reply]


def paginate(rows: Sequence[object], cursor: str | None, page_size: int) -> Reply:
    """One page ``{data, next_cursor, limit, count}`` of ``rows`` at base64-offset ``cursor``."""
    cursor = cursor or INITIAL_CURSOR
    if cursor == END_CURSOR:
        return Reply(200, {"data": [], "next_cursor": END_CURSOR, "limit": page_size, "count": 0})
    try:
        offset = int(base64.b64decode(cursor, validate=True).decode("ascii"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return error(400, "invalid next_cursor")
    if offset < 0:
        return error(400, "invalid next_cursor")
    page = list(rows[offset : offset + page_size])
    end = offset + page_size
    next_cursor = END_CURSOR if end >= len(rows) else base64.b64encode(str(end).encode()).decode()
    return Reply(200, {"data": page, "next_cursor": next_cursor, "limit": page_size, "count": len(page)})


# ---- orders ---------------------------------------------------------------------------------------------


def _place_one(b: SimBackend, key: KeyEntry, item: object) -> Reply:
    if not isinstance(item, dict) or not isinstance(item.get("order"), dict):
        return error(400, ERR_PAYLOAD)
    order: dict[str, object] = item["order"]
    if item.get("owner") != key.creds.api_key:
        return error(400, ERR_OWNER)
    order_type = item.get("orderType", "GTC")
    post_only = item.get("postOnly", False)
    defer_exec = item.get("deferExec", False)
    if not isinstance(order_type, str) or not isinstance(post_only, bool) or not isinstance(defer_exec, bool):
        return error(400, ERR_PAYLOAD)
    market = b.engine.token_market.get(str(order.get("tokenId", "")))
    verified = b.keys.verify_order(key, order, neg_risk=market.cfg.neg_risk if market is not None else False)
    if isinstance(verified, str):
        return error(400, verified)
    req = OrderRequest(
        order=verified.order,
        order_id=verified.order_id,
        owner=key.creds.api_key,
        order_type=order_type,
        post_only=post_only,
        defer_exec=defer_exec,
    )
    return b.engine.place_order(req, b.now_ms())


def post_order(b: SimBackend, key: KeyEntry, r: Request) -> Reply:
    return _place_one(b, key, r.json())


def post_orders(b: SimBackend, key: KeyEntry, r: Request) -> Reply:
    items = r.json()
    if not isinstance(items, list) or not items:
        return error(400, ERR_PAYLOAD)
    if len(items) > MAX_BATCH:
        return error(400, f"Too many orders in payload, max {MAX_BATCH}")
    return Reply(200, [batch_leg(_place_one(b, key, item)) for item in items])


def cancel_order(b: SimBackend, key: KeyEntry, r: Request) -> Reply:
    body = r.json()
    if not isinstance(body, dict) or not isinstance(body.get("orderID"), str):
        return error(400, "Invalid order payload: orderID")
    return b.engine.cancel_orders(key.creds.api_key, [body["orderID"]], b.now_ms())


def cancel_orders(b: SimBackend, key: KeyEntry, r: Request) -> Reply:
    ids = r.json()
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        return error(400, "Invalid order payload: expected an array of order ids")
    return b.engine.cancel_orders(key.creds.api_key, ids, b.now_ms())


def cancel_all(b: SimBackend, key: KeyEntry, r: Request) -> Reply:
    return b.engine.cancel_all(key.creds.api_key, b.now_ms())


def cancel_market_orders(b: SimBackend, key: KeyEntry, r: Request) -> Reply:
    body = r.json() if r.body else {}
    if not isinstance(body, dict):
        return error(400, "Invalid payload")
    market, asset = body.get("market") or None, body.get("asset_id") or None
    if not (market is None or isinstance(market, str)) or not (asset is None or isinstance(asset, str)):
        return error(400, "Invalid payload")
    return b.engine.cancel_market(key.creds.api_key, market, asset, b.now_ms())


def get_order(b: SimBackend, key: KeyEntry, r: Request) -> Reply:
    order_id = r.path.rsplit("/", 1)[-1]
    found = b.engine.get_order(key.creds.api_key, order_id)
    return Reply(200, found)  # None -> an empty body once the order is no longer live (PROTOCOL 1.4)


def open_orders(b: SimBackend, key: KeyEntry, r: Request) -> Reply:
    q = r.query
    rows = b.engine.open_orders(
        key.creds.api_key,
        market=q.get("market") or None,
        asset_id=q.get("asset_id") or None,
        order_id=q.get("id") or None,
    )
    return paginate(rows, q.get("next_cursor"), b.page_size)


def trades(b: SimBackend, key: KeyEntry, r: Request) -> Reply:
    q = r.query
    try:
        before = int(q["before"]) if q.get("before") else None
        after = int(q["after"]) if q.get("after") else None
    except ValueError:
        return error(400, "invalid before/after")
    rows = b.engine.get_trades(
        key.creds.api_key,
        trade_id=q.get("id") or None,
        market=q.get("market") or None,
        asset_id=q.get("asset_id") or None,
        before=before,
        after=after,
        maker_address=q.get("maker_address") or None,
    )
    return paginate(rows, q.get("next_cursor"), b.page_size)


def heartbeat(b: SimBackend, key: KeyEntry, r: Request) -> Reply:
    body = r.json() if r.body else {}
    hb = body.get("heartbeat_id", "") if isinstance(body, dict) else None
    if not isinstance(hb, str):
        return error(400, "Invalid Heartbeat ID", heartbeat_id="")
    return b.engine.heartbeat(key.creds.api_key, hb, b.now_ms())


def balance_allowance(b: SimBackend, key: KeyEntry, r: Request) -> Reply:
    q = r.query
    return b.engine.balance_allowance(key.creds.api_key, q.get("asset_type", ""), q.get("token_id") or None)


def update_balance_allowance(b: SimBackend, key: KeyEntry, r: Request) -> Reply:
    q = r.query
    return b.engine.update_balance_allowance(
        key.creds.api_key, q.get("asset_type", ""), q.get("token_id") or None
    )


def pre_migration_orders(b: SimBackend, key: KeyEntry, r: Request) -> Reply:
    """``GET /data/pre-migration-orders``: the simulator never ran CLOB V1, so always an empty page."""
    return paginate([], r.query.get("next_cursor"), b.page_size)


def delete_api_key(b: SimBackend, key: KeyEntry, r: Request) -> Reply:
    """``DELETE /auth/api-key``: revoke the calling key (its engine account stays)."""
    b.keys.revoke(key.creds.api_key)
    return Reply(200, "OK")


def api_keys(b: SimBackend, key: KeyEntry, r: Request) -> Reply:
    return Reply(200, {"apiKeys": b.keys.keys_of(key.signer)})


def closed_only(b: SimBackend, key: KeyEntry, r: Request) -> Reply:
    return Reply(200, {"closed_only": False})


# ---- L1: API keys -----------------------------------------------------------------------------------------


def _issue(b: SimBackend, r: Request) -> Reply:
    who = b.keys.verify_l1(r.headers)
    if who is None:
        return error(401, ERR_L1)
    entry, created = b.keys.issue(*who)
    if created:
        _add_account(b, entry)
    creds = entry.creds
    return Reply(200, {"apiKey": creds.api_key, "secret": creds.secret, "passphrase": creds.passphrase})


def _add_account(b: SimBackend, entry: KeyEntry) -> None:
    """A key issued to a new wallet trades from an empty account (balances are per key in the engine)."""
    if b.engine.accounts.get(entry.creds.api_key) is None:
        b.engine.add_account(
            AccountConfig(owner=entry.creds.api_key, address=entry.funder, signer=entry.signer)
        )


def create_api_key(b: SimBackend, r: Request) -> Reply:
    return _issue(b, r)


def derive_api_key(b: SimBackend, r: Request) -> Reply:
    return _issue(b, r)


AUTHED: dict[tuple[str, str], AuthedHandler] = {
    ("POST", "/order"): post_order,
    ("POST", "/orders"): post_orders,
    ("DELETE", "/order"): cancel_order,
    ("DELETE", "/orders"): cancel_orders,
    ("DELETE", "/cancel-all"): cancel_all,
    ("DELETE", "/cancel-market-orders"): cancel_market_orders,
    ("GET", "/data/orders"): open_orders,
    ("GET", "/data/trades"): trades,
    ("GET", "/trades"): trades,
    ("GET", "/data/pre-migration-orders"): pre_migration_orders,
    ("DELETE", "/auth/api-key"): delete_api_key,
    ("POST", "/v1/heartbeats"): heartbeat,
    ("GET", "/balance-allowance"): balance_allowance,
    ("GET", "/balance-allowance/update"): update_balance_allowance,
    ("GET", "/auth/api-keys"): api_keys,
    ("GET", "/auth/ban-status/closed-only"): closed_only,
}
AUTHED_PREFIX: list[tuple[str, str, AuthedHandler]] = [
    ("GET", "/data/order/", get_order),
    ("GET", "/order/", get_order),
]
L1: dict[tuple[str, str], Handler] = {
    ("POST", "/auth/api-key"): create_api_key,
    ("GET", "/auth/derive-api-key"): derive_api_key,
}
