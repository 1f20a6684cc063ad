"""Order-entry parsing and validation on the signed INTEGER amounts (PROTOCOL 1.2, 1.8, 3.4, 7.2).

The server layer has already verified the signature and computed the order id (the EIP-712 hash). What is
left is the exchange's business rules; each failure is the exact error string of PROTOCOL 1.8 where one is
documented. Checks that depend on the book (post-only crossing, FOK/FAK fill) live in the engine.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import attrs

from aqbot.sim.units import CENT_SHARES, ONE, amount_decimals, ceil_div, fmt_units

logger = logging.getLogger(__name__)

ORDER_TYPES = ("GTC", "GTD", "FOK", "FAK")
GTD_BUFFER_S = 60

ERR_PAYLOAD = "Invalid order payload"
ERR_BALANCE = "not enough balance / allowance"
ERR_POST_ONLY_TYPE = "invalid post-only order: only GTC and GTD order types are allowed"
ERR_POST_ONLY_CROSS = "invalid post-only order: order crosses book"
ERR_FOK = "order couldn't be fully filled. FOK orders are fully filled or killed."
ERR_FAK = (
    "no orders found to match with FAK order. FAK orders are partially filled or killed if no match is found."
)
ERR_NOT_READY = "the market is not yet ready to process new orders"
ERR_EXPIRATION = "invalid expiration"
ERR_OWNER = "the order owner has to be the owner of the API KEY"
ERR_SIGNER = "the order signer address has to be the address of the API KEY"
ERR_MARKET_BUY_PRECISION = (
    "invalid amounts, the market buy orders maker amount supports a max accuracy of 2 decimals, "
    "taker amount a max of 4 decimals"
)
ERR_POST_ONLY_MODE = (
    "invalid order: the matching engine is in post-only mode, only post-only orders are accepted"
)


@attrs.frozen
class OrderRequest:
    """One order as the server received it, after signature verification.

    Attributes:
        order: the ``order`` object of the POST body, as decoded JSON (amounts as strings or numbers).
        order_id: the EIP-712 hash of the order (``0x`` + 64 hex), computed by the server.
        owner: the ``owner`` field (API key); the server has checked it matches the authenticated key.
        order_type: ``GTC``, ``GTD``, ``FOK`` or ``FAK``.
        post_only: the ``postOnly`` flag.
        defer_exec: the ``deferExec`` flag (recorded, no effect).
    """

    order: Mapping[str, object]
    order_id: str
    owner: str
    order_type: str = "GTC"
    post_only: bool = False
    defer_exec: bool = False


@attrs.frozen
class ParsedOrder:
    """The integer view of a signed order."""

    maker: str
    signer: str
    token: str
    maker_amount: int
    taker_amount: int
    is_buy: bool
    expiration_s: int
    timestamp_ms: int

    @property
    def size_u(self) -> int:
        """Shares the order is for (taker leg of a BUY, maker leg of a SELL)."""
        return self.taker_amount if self.is_buy else self.maker_amount

    @property
    def pusd_u(self) -> int:
        """pUSD leg (maker leg of a BUY, taker leg of a SELL)."""
        return self.maker_amount if self.is_buy else self.taker_amount


def _int_field(order: Mapping[str, object], key: str) -> int:
    v = order.get(key)
    if isinstance(v, bool):
        raise ValueError(key)
    if isinstance(v, int):
        return v
    if isinstance(v, str) and v.isdigit():
        return int(v)
    raise ValueError(key)


def _str_field(order: Mapping[str, object], key: str) -> str:
    v = order.get(key)
    if not isinstance(v, str) or not v:
        raise ValueError(key)
    return v


def parse_order(order: Mapping[str, object]) -> ParsedOrder | str:
    """Parse the signed order fields; an error string on a malformed payload."""
    try:
        side = order.get("side")
        if side in ("BUY", 0, "0"):
            is_buy = True
        elif side in ("SELL", 1, "1"):
            is_buy = False
        else:
            raise ValueError("side")
        token = _str_field(order, "tokenId")
        if not token.isdigit():
            raise ValueError("tokenId")
        exp = order.get("expiration", "0")
        parsed = ParsedOrder(
            maker=_str_field(order, "maker").lower(),
            signer=_str_field(order, "signer").lower(),
            token=token,
            maker_amount=_int_field(order, "makerAmount"),
            taker_amount=_int_field(order, "takerAmount"),
            is_buy=is_buy,
            expiration_s=_int_field({"expiration": exp}, "expiration"),
            timestamp_ms=_int_field(order, "timestamp") if "timestamp" in order else 0,
        )
    except ValueError as exc:
        return f"{ERR_PAYLOAD}: {exc.args[0]}"
    if parsed.maker_amount <= 0 or parsed.taker_amount <= 0:
        return f"{ERR_PAYLOAD}: amounts must be positive"
    return parsed


def limit_price(p: ParsedOrder, order_type: str, tick_u: int) -> int:
    """The order's limit price in base units.

    Limit orders (GTC/GTD) must sit exactly on the tick grid: the caller checks :func:`on_grid`. Market orders
    (FOK/FAK) are priced by the SDK with a rounded leg, so their implied price is floored (BUY) or ceiled
    (SELL) to the tick: never more generous than what was signed.
    """
    if p.is_buy:
        raw_num, raw_den = p.maker_amount * ONE, p.taker_amount
        if order_type in ("FOK", "FAK"):
            # floor(implied / tick + 0.001): the SDK's rounded share leg may put the implied price a hair
            # below the grid price it was built from
            return (raw_num * 1000 + raw_den * tick_u) // (raw_den * tick_u * 1000) * tick_u
        return raw_num // raw_den
    raw_num, raw_den = p.taker_amount * ONE, p.maker_amount
    if order_type in ("FOK", "FAK"):
        return ceil_div(max(0, raw_num * 1000 - raw_den * tick_u), raw_den * tick_u * 1000) * tick_u
    return ceil_div(raw_num, raw_den)


def on_grid(p: ParsedOrder, tick_u: int) -> bool:
    """Whether a limit order's effective price is exactly a multiple of the tick."""
    num = (p.maker_amount if p.is_buy else p.taker_amount) * ONE
    den = p.taker_amount if p.is_buy else p.maker_amount
    return num % den == 0 and (num // den) % tick_u == 0


def static_checks(req: OrderRequest, p: ParsedOrder, tick_u: int, min_size_u: int, now_ms: int) -> str | None:
    """Every check that needs neither the book nor balances; None when the order passes.

    Args:
        req: the request (order type, post-only flag, id).
        p: the parsed order.
        tick_u: the market's tick.
        min_size_u: the market's minimum resting size.
        now_ms: current simulated time.
    """
    ot = req.order_type
    oid = req.order_id
    if ot not in ORDER_TYPES:
        return f"{ERR_PAYLOAD}: unknown orderType {ot!r}"
    if req.post_only and ot not in ("GTC", "GTD"):
        return ERR_POST_ONLY_TYPE
    now_s = now_ms // 1000
    if ot == "GTC" and p.expiration_s != 0:
        return ERR_EXPIRATION
    if ot == "GTD" and p.expiration_s < now_s + GTD_BUFFER_S + 1:
        return ERR_EXPIRATION
    market = ot in ("FOK", "FAK")
    if market:
        dp = max(4, amount_decimals(tick_u))
        if p.is_buy and (p.maker_amount % CENT_SHARES or p.taker_amount % (10 ** (6 - dp))):
            return ERR_MARKET_BUY_PRECISION
        if not p.is_buy and (p.maker_amount % CENT_SHARES or p.taker_amount % (10 ** (6 - dp))):
            return (
                "invalid amounts, the market sell orders maker amount supports a max accuracy of 2 decimals"
            )
    else:
        if p.size_u % CENT_SHARES:
            return (
                f"order {oid} is invalid. Size ({fmt_units(p.size_u)}) supports a max accuracy of 2 decimals"
            )
        if not on_grid(p, tick_u):
            return f"order {oid} is invalid. Price breaks minimum tick size rules"
    price = limit_price(p, ot, tick_u)
    if price < tick_u or price > ONE - tick_u:
        return (
            f"order {oid} is invalid. Price ({fmt_units(price)}) breaks minimum tick size rules: "
            f"must be between {fmt_units(tick_u)} and {fmt_units(ONE - tick_u)}"
        )
    if market:
        if p.pusd_u < ONE:
            side = "BUY" if p.is_buy else "SELL"
            return f"invalid amount for a marketable {side} order (${fmt_units(p.pusd_u)}), min size: $1"
    elif p.size_u < min_size_u:
        size, minimum = fmt_units(p.size_u), fmt_units(min_size_u)
        return f"order {oid} is invalid. Size ({size}) lower than the minimum: {minimum}"
    return None
