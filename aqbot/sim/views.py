"""Builders of the wire shapes (PROTOCOL 1.4, 1.5, 4.2, 5.1, 5.2, 5.3, 7.1): plain JSON-able dicts.

Every numeric is a string except where the protocol says otherwise (``created_at`` of REST open orders,
``bucket_index``, ``outcome_index``). The server layer only json-encodes these.
"""

from __future__ import annotations

import hashlib
import json
import logging

from aqbot.sim.book import MarketState, SimOrder
from aqbot.sim.settlement import Trade
from aqbot.sim.units import ONE, fmt_price, fmt_size, fmt_units

logger = logging.getLogger(__name__)

Json = dict[str, object]


def token_levels(ms: MarketState, token: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """``(bids, asks)`` of ``token``'s book as ``(price, size)``, each ascending by price."""
    book = ms.book
    if ms.is_yes(token):
        return book.levels(True), book.levels(False)
    bids = [(ONE - p, s) for p, s in reversed(book.levels(False))]
    asks = [(ONE - p, s) for p, s in reversed(book.levels(True))]
    return bids, asks


def best_bid_ask(ms: MarketState, token: str) -> tuple[int | None, int | None]:
    """Best bid and best ask of ``token`` (None when that side is empty)."""
    bb, ba = ms.book.best_bid(), ms.book.best_ask()
    if ms.is_yes(token):
        return bb, ba
    return (None if ba is None else ONE - ba), (None if bb is None else ONE - bb)


def _levels_json(levels: list[tuple[int, int]]) -> list[dict[str, str]]:
    return [{"price": fmt_price(p), "size": fmt_size(s)} for p, s in levels]


def book_summary(ms: MarketState, token: str, now_ms: int) -> Json:
    """The ``GET /book`` object (best bid and best ask LAST), with its SHA-1 ``hash`` (PROTOCOL 1.5)."""
    bids, asks = token_levels(ms, token)
    ltp = ms.last_trade_u
    if ltp is not None and not ms.is_yes(token):
        ltp = ONE - ltp
    payload: Json = {
        "market": ms.condition_id,
        "asset_id": token,
        "timestamp": str(now_ms),
        "hash": "",
        "bids": _levels_json(bids),
        "asks": _levels_json(list(reversed(asks))),
        "min_order_size": fmt_units(ms.min_size_u),
        "tick_size": fmt_price(ms.tick_u),
        "neg_risk": ms.cfg.neg_risk,
        "last_trade_price": fmt_price(ltp) if ltp is not None else "",
    }
    serialized = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    payload["hash"] = hashlib.sha1(serialized.encode("utf-8")).hexdigest()
    return payload


def _levels_text(levels: list[tuple[int, int]]) -> str:
    return "[" + ",".join(f'{{"price":"{fmt_price(p)}","size":"{fmt_size(s)}"}}' for p, s in levels) + "]"


def book_hash(ms: MarketState, token: str, now_ms: int) -> str:
    """The ``hash`` :func:`book_summary` would give at ``now_ms``, without building the summary.

    The hashed text is assembled directly (every field is plain ASCII digits/hex, so this is byte-identical
    to ``json.dumps(summary, separators=(",", ":"))``); formatted levels are cached per book version.
    """
    cached = ms.levels_cache.get(token)
    if cached is None or cached[0] != ms.book.version:
        bids, asks = token_levels(ms, token)
        cached = (ms.book.version, _levels_text(bids), _levels_text(list(reversed(asks))))
        ms.levels_cache[token] = cached
    ltp = ms.last_trade_u
    if ltp is not None and not ms.is_yes(token):
        ltp = ONE - ltp
    text = (
        f'{{"market":"{ms.condition_id}","asset_id":"{token}","timestamp":"{now_ms}","hash":"",'
        f'"bids":{cached[1]},"asks":{cached[2]},"min_order_size":"{fmt_units(ms.min_size_u)}",'
        f'"tick_size":"{fmt_price(ms.tick_u)}","neg_risk":{"true" if ms.cfg.neg_risk else "false"},'
        f'"last_trade_price":"{fmt_price(ltp) if ltp is not None else ""}"}}'
    )
    return hashlib.sha1(text.encode("ascii")).hexdigest()


def book_event(ms: MarketState, token: str, now_ms: int) -> Json:
    """The market-channel ``book`` event for ``token`` (a full snapshot)."""
    summary = book_summary(ms, token, now_ms)
    return {"event_type": "book", **summary}


def price_change_event(ms: MarketState, changes: list[tuple[bool, int]], now_ms: int) -> Json:
    """One ``price_change`` message for a set of touched YES-book levels, with entries for BOTH tokens."""
    yes, no = ms.cfg.yes_token, ms.cfg.no_token
    hashes = {yes: book_hash(ms, yes, now_ms), no: book_hash(ms, no, now_ms)}
    tops = {yes: best_bid_ask(ms, yes), no: best_bid_ask(ms, no)}
    entries: list[Json] = []
    for bid, price in changes:
        size = ms.book.level_size(bid, price)
        for token, p, side in ((yes, price, bid), (no, ONE - price, not bid)):
            bb, ba = tops[token]
            entries.append(
                {
                    "asset_id": token,
                    "price": fmt_price(p),
                    "size": fmt_size(size) if size else "0",
                    "side": "BUY" if side else "SELL",
                    "hash": hashes[token],
                    "best_bid": fmt_price(bb) if bb is not None else "0",
                    "best_ask": fmt_price(ba) if ba is not None else "1",
                }
            )
    return {
        "event_type": "price_change",
        "market": ms.condition_id,
        "price_changes": entries,
        "timestamp": str(now_ms),
    }


def last_trade_event(ms: MarketState, trade: Trade, now_ms: int) -> Json:
    """``last_trade_price`` for the taker's token of ``trade``."""
    return {
        "event_type": "last_trade_price",
        "asset_id": trade.taker.token,
        "market": ms.condition_id,
        "price": fmt_price(trade.price_u),
        "side": trade.taker.side,
        "size": fmt_size(trade.size_u),
        "fee_rate_bps": str(trade.fee_rate_bps),
        "timestamp": str(now_ms),
    }


def tick_size_event(ms: MarketState, token: str, old_tick_u: int, now_ms: int) -> Json:
    return {
        "event_type": "tick_size_change",
        "asset_id": token,
        "market": ms.condition_id,
        "old_tick_size": fmt_price(old_tick_u),
        "new_tick_size": fmt_price(ms.tick_u),
        "timestamp": str(now_ms),
    }


def open_order(o: SimOrder, ms: MarketState) -> Json:
    """The REST open-order object (PROTOCOL 1.4; ``GET /data/orders``, ``GET /data/order/{id}``)."""
    return {
        "id": o.order_id,
        "status": o.status,
        "owner": o.owner,
        "maker_address": o.maker_address,
        "market": o.market,
        "asset_id": o.token,
        "side": o.side,
        "original_size": fmt_size(o.original_u),
        "size_matched": fmt_size(o.matched_u),
        "price": fmt_price(o.price_u),
        "associate_trades": list(o.trades),
        "outcome": ms.outcome(o.token),
        "created_at": o.created_ms // 1000,
        "expiration": str(o.expiration_s),
        "order_type": o.order_type,
    }


def order_event(o: SimOrder, ms: MarketState, type_: str, now_ms: int, status: str | None = None) -> Json:
    """A user-channel ``order`` event (PROTOCOL 5.1) with the cumulative ``size_matched``."""
    return {
        "event_type": "order",
        "type": type_,
        "id": o.order_id,
        "owner": o.owner,
        "order_owner": o.owner,
        "market": o.market,
        "asset_id": o.token,
        "side": o.side,
        "price": fmt_price(o.price_u),
        "original_size": fmt_size(o.original_u),
        "size_matched": fmt_size(o.matched_u),
        "associate_trades": list(o.trades),
        "outcome": ms.outcome(o.token),
        "order_type": o.order_type,
        "status": status if status is not None else o.status,
        "created_at": str(o.created_ms // 1000),
        "expiration": str(o.expiration_s),
        "maker_address": o.maker_address,
        "timestamp": str(now_ms),
    }


def trade_object(trade: Trade, ms: MarketState, viewer: str) -> Json:
    """The trade as ``viewer`` sees it (REST ``/data/trades`` shape, PROTOCOL 5.3)."""
    taker = trade.taker
    is_taker = viewer == taker.owner
    if is_taker:
        address = taker.maker_address
    else:
        address = next((m.order.maker_address for m in trade.makers if m.order.owner == viewer), "")
    makers: list[Json] = [
        {
            "order_id": m.order.order_id,
            "owner": m.order.owner,
            "maker_address": m.order.maker_address,
            "matched_amount": fmt_size(m.size_u),
            "price": fmt_price(m.price_u),
            "asset_id": m.order.token,
            "outcome": ms.outcome(m.order.token),
            "outcome_index": 0 if m.order.is_yes else 1,
            "side": m.order.side,
            "fee_rate_bps": "0",
        }
        for m in trade.makers
    ]
    return {
        "id": trade.trade_id,
        "taker_order_id": taker.order_id,
        "market": trade.market,
        "asset_id": taker.token,
        "side": taker.side,
        "size": fmt_size(trade.size_u),
        "fee_rate_bps": str(trade.fee_rate_bps),
        "price": fmt_price(trade.price_u),
        "status": trade.status,
        "match_time": str(trade.match_ms // 1000),
        "last_update": str(trade.last_update_ms // 1000),
        "outcome": ms.outcome(taker.token),
        "bucket_index": 0,
        "owner": viewer,
        "maker_address": address,
        "maker_orders": makers,
        "transaction_hash": trade.tx_hash,
        "trader_side": "TAKER" if is_taker else "MAKER",
    }


def trade_event(trade: Trade, ms: MarketState, viewer: str, now_ms: int) -> Json:
    """A user-channel ``trade`` event (PROTOCOL 5.2) for ``viewer``."""
    obj = trade_object(trade, ms, viewer)
    return {"event_type": "trade", "type": "TRADE", **obj, "trade_owner": viewer, "timestamp": str(now_ms)}


def clob_market(ms: MarketState) -> Json:
    """The compact ``GET /clob-markets/{cid}`` object (PROTOCOL 7.1)."""
    cfg = ms.cfg
    out: Json = {
        "c": cfg.condition_id,
        "t": [{"t": cfg.yes_token, "o": "Yes"}, {"t": cfg.no_token, "o": "No"}],
        "mts": fmt_price(ms.tick_u),
        "fd": {"r": fmt_units(cfg.fee_rate_ppm), "e": cfg.fee_exponent, "to": True},
        "mbf": 0,
        "tbf": cfg.fee_rate_ppm // 100,
        "r": None,
        "ao": ms.accepting,
        "mos": fmt_units(ms.min_size_u),
        "sd": cfg.seconds_delay,
        "itode": cfg.seconds_delay > 0,
    }
    if cfg.neg_risk:
        out["nr"] = True
    if cfg.rewards_min_size is not None and cfg.rewards_max_spread is not None:
        out["r"] = {
            "mi": cfg.rewards_min_size,
            "ma": cfg.rewards_max_spread,
            "e": True,
            "smoa": False,
            "moas": 0,
        }
    return out
