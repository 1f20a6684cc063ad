"""Public (unauthenticated) REST endpoints of the simulator: health, time, market data, Data API positions.

Shapes follow PROTOCOL 1.1, 1.5, 6.1 and 7.1; the engine's read-only views build the objects. Market-data
reads do not advance the engine (the runner's clock task does), so polling never changes a run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aqbot.sim.book import MarketState
from aqbot.sim.events import Reply, error
from aqbot.sim.server_routes import Request, SimBackend, paginate
from aqbot.sim.units import fmt_price, fmt_units

logger = logging.getLogger(__name__)

MAX_BOOKS = 500
ERR_NO_BOOK = "No orderbook exists for the requested token id"
ERR_NO_MARKET = "market not found"

PublicHandler = Callable[[SimBackend, Request], Reply]


def _found(body: object | None, missing: str = ERR_NO_BOOK) -> Reply:
    return Reply(200, body) if body is not None else error(404, missing)


def _token(r: Request) -> str:
    """The token id of a ``?token_id=`` or ``/<endpoint>/{token_id}`` request."""
    tail = r.path.rstrip("/").rsplit("/", 1)[-1]
    return r.query.get("token_id") or (tail if tail.isdigit() else "")


def ok(b: SimBackend, r: Request) -> Reply:
    return Reply(200, "OK")


def server_time(b: SimBackend, r: Request) -> Reply:
    return Reply(200, b.engine.server_time(b.now_ms()))


def version(b: SimBackend, r: Request) -> Reply:
    return Reply(200, b.engine.version())


def book(b: SimBackend, r: Request) -> Reply:
    return _found(b.engine.book(_token(r), b.now_ms()))


def books(b: SimBackend, r: Request) -> Reply:
    items = r.json()
    if not isinstance(items, list):
        return error(400, "Invalid payload")
    if len(items) > MAX_BOOKS:
        return error(400, "Payload exceeds the limit")
    out: list[object] = []
    now = b.now_ms()
    for item in items:
        token = item.get("token_id") if isinstance(item, dict) else None
        found = b.engine.book(str(token), now) if isinstance(token, str) else None
        if found is not None:
            out.append(found)
    return Reply(200, out)


def tick_size(b: SimBackend, r: Request) -> Reply:
    return _found(b.engine.tick_size(_token(r)))


def neg_risk(b: SimBackend, r: Request) -> Reply:
    return _found(b.engine.neg_risk(_token(r)))


def fee_rate(b: SimBackend, r: Request) -> Reply:
    return _found(b.engine.fee_rate(_token(r)))


def midpoint(b: SimBackend, r: Request) -> Reply:
    return _found(b.engine.midpoint(_token(r)))


def price(b: SimBackend, r: Request) -> Reply:
    side = r.query.get("side", "")
    if side.upper() not in ("BUY", "SELL"):
        return error(400, "Invalid side")
    return _found(b.engine.price(_token(r), side))


def spread(b: SimBackend, r: Request) -> Reply:
    return _found(b.engine.spread(_token(r)))


def last_trade_price(b: SimBackend, r: Request) -> Reply:
    return _found(b.engine.last_trade_price(_token(r)))


def _token_items(r: Request) -> list[dict[str, str]] | Reply:
    """The ``[{"token_id": ..., "side"?: ...}]`` body of a batch price request (<= :data:`MAX_BOOKS`)."""
    items = r.json()
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        return error(400, "Invalid payload")
    if len(items) > MAX_BOOKS:
        return error(400, "Payload exceeds the limit")
    return [{str(k): str(v) for k, v in i.items()} for i in items if isinstance(i.get("token_id"), str)]


def midpoints(b: SimBackend, r: Request) -> Reply:
    """``POST /midpoints``: ``{token_id: mid}`` for the known tokens."""
    items = _token_items(r)
    if isinstance(items, Reply):
        return items
    found = {i["token_id"]: b.engine.midpoint(i["token_id"]) for i in items}
    return Reply(200, {t: m["mid"] for t, m in found.items() if m is not None})


def prices(b: SimBackend, r: Request) -> Reply:
    """``POST /prices``: ``{token_id: {side: price}}``."""
    items = _token_items(r)
    if isinstance(items, Reply):
        return items
    out: dict[str, dict[str, object]] = {}
    for i in items:
        side = i.get("side", "BUY").upper()
        found = b.engine.price(i["token_id"], side) if side in ("BUY", "SELL") else None
        if found is not None:
            out.setdefault(i["token_id"], {})[side] = found["price"]
    return Reply(200, out)


def spreads(b: SimBackend, r: Request) -> Reply:
    """``POST /spreads``: ``{token_id: spread}``."""
    items = _token_items(r)
    if isinstance(items, Reply):
        return items
    found = {i["token_id"]: b.engine.spread(i["token_id"]) for i in items}
    return Reply(200, {t: s["spread"] for t, s in found.items() if s is not None})


def last_trades_prices(b: SimBackend, r: Request) -> Reply:
    """``POST /last-trades-prices``: ``[{token_id, price, side}]``."""
    items = _token_items(r)
    if isinstance(items, Reply):
        return items
    out: list[dict[str, object]] = []
    for i in items:
        found = b.engine.last_trade_price(i["token_id"])
        if found is not None:
            out.append({"token_id": i["token_id"], **found})
    return Reply(200, out)


def clob_market(b: SimBackend, r: Request) -> Reply:
    return _found(b.engine.clob_market(r.path.rstrip("/").rsplit("/", 1)[-1]), ERR_NO_MARKET)


def market_by_token(b: SimBackend, r: Request) -> Reply:
    return _found(b.engine.market_by_token(r.path.rstrip("/").rsplit("/", 1)[-1]), ERR_NO_MARKET)


def market_object(ms: MarketState) -> dict[str, object]:
    """The ``GET /markets/{cid}`` object (the CLOB market fields a bot reads)."""
    cfg = ms.cfg
    tokens: list[dict[str, object]] = [
        {"token_id": tok, "outcome": ms.outcome(tok), "price": 0.5, "winner": False}
        for tok in (cfg.yes_token, cfg.no_token)
    ]
    return {
        "condition_id": cfg.condition_id,
        "question": cfg.question,
        "market_slug": cfg.slug,
        "end_date_iso": cfg.end_date,
        "tokens": tokens,
        "minimum_order_size": float(fmt_units(ms.min_size_u)),
        "minimum_tick_size": float(fmt_price(ms.tick_u)),
        "neg_risk": cfg.neg_risk,
        "active": True,
        "closed": False,
        "archived": False,
        "accepting_orders": ms.accepting,
        "enable_order_book": True,
        "maker_base_fee": 0,
        "taker_base_fee": cfg.fee_rate_ppm // 100,
        "rewards": {
            "min_size": float(cfg.rewards_min_size or 0),
            "max_spread": float(cfg.rewards_max_spread or 0),
            "rates": None,
        },
    }


def market(b: SimBackend, r: Request) -> Reply:
    ms = b.engine.markets.get(r.path.rstrip("/").rsplit("/", 1)[-1])
    return _found(market_object(ms) if ms is not None else None, ERR_NO_MARKET)


def markets(b: SimBackend, r: Request) -> Reply:
    rows = [market_object(ms) for ms in b.engine.markets.values()]
    return paginate(rows, r.query.get("next_cursor"), 500)


def data_positions(b: SimBackend, r: Request) -> Reply:
    """Data API ``GET /positions`` (PROTOCOL 6.1): a bare array, lagged by the engine."""
    q = r.query
    user = q.get("user", "")
    if not (user.startswith("0x") and len(user) == 42):
        return error(400, "user is required")
    try:
        limit = max(0, min(500, int(q.get("limit", "100"))))
        offset = max(0, min(10_000, int(q.get("offset", "0"))))
    except ValueError:
        return error(400, "invalid limit/offset")
    cids = [c for c in q.get("market", "").split(",") if c] or None
    rows = b.engine.positions(user, b.now_ms(), market=cids, size_threshold=q.get("sizeThreshold", "1"))
    return Reply(200, rows[offset : offset + limit])


PUBLIC: dict[tuple[str, str], PublicHandler] = {
    ("GET", "/"): ok,
    ("GET", "/ok"): ok,
    ("GET", "/time"): server_time,
    ("GET", "/version"): version,
    ("GET", "/book"): book,
    ("POST", "/books"): books,
    ("GET", "/tick-size"): tick_size,
    ("GET", "/neg-risk"): neg_risk,
    ("GET", "/fee-rate"): fee_rate,
    ("GET", "/midpoint"): midpoint,
    ("GET", "/price"): price,
    ("GET", "/spread"): spread,
    ("GET", "/last-trade-price"): last_trade_price,
    ("POST", "/midpoints"): midpoints,
    ("POST", "/prices"): prices,
    ("POST", "/spreads"): spreads,
    ("POST", "/last-trades-prices"): last_trades_prices,
    ("GET", "/markets"): markets,
    ("GET", "/positions"): data_positions,
}
PUBLIC_PREFIX: list[tuple[str, str, PublicHandler]] = [
    ("GET", "/tick-size/", tick_size),
    ("GET", "/neg-risk/", neg_risk),
    ("GET", "/fee-rate/", fee_rate),
    ("GET", "/clob-markets/", clob_market),
    ("GET", "/markets-by-token/", market_by_token),
    ("GET", "/markets/", market),
]
