"""The JSON shape of a signed order (``POST /order`` body), and its decoding for the simulator.

Field names, types and order are exactly py-clob-client-v2 1.2.1 ``order_to_json_v2``: ``salt`` and
``signatureType`` are JSON numbers, every amount and the timestamp and expiration are decimal strings,
``side`` is ``"BUY"``/``"SELL"``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import attrs

from aqbot.auth._errors import InvalidOrderSpec
from aqbot.auth.order import SignatureType, SignedOrder, compute_order_id
from aqbot.core.types import OrderType, Side
from aqbot.errors import WireError

logger = logging.getLogger(__name__)


def order_to_wire(order: SignedOrder) -> dict[str, object]:
    """The ``order`` object of a ``POST /order`` body."""
    return {
        "salt": order.salt,
        "maker": order.maker,
        "signer": order.signer,
        "tokenId": order.token_id,
        "makerAmount": str(order.maker_amount),
        "takerAmount": str(order.taker_amount),
        "side": order.side.value,
        "expiration": str(order.expiration),
        "signatureType": int(order.signature_type),
        "timestamp": str(order.timestamp_ms),
        "metadata": order.metadata,
        "builder": order.builder,
        "signature": order.signature,
    }


def post_order_body(
    order: SignedOrder,
    owner: str,
    order_type: OrderType,
    *,
    post_only: bool = False,
    defer_exec: bool = False,
) -> dict[str, object]:
    """A whole ``POST /order`` body (one element of a ``POST /orders`` list).

    Args:
        order: the signed order.
        owner: the API key (UUID) the order belongs to.
        order_type: GTC, GTD, FOK or FAK.
        post_only: reject rather than cross (GTC/GTD only).
        defer_exec: the SDK's ``deferExec`` flag.

    Raises:
        InvalidOrderSpec: ``post_only`` with FOK/FAK (the SDK refuses it locally too).
    """
    if post_only and order_type in (OrderType.FOK, OrderType.FAK):
        raise InvalidOrderSpec("post-only is only valid for GTC and GTD orders")
    return {
        "order": order_to_wire(order),
        "owner": owner,
        "orderType": order_type.value,
        "deferExec": defer_exec,
        "postOnly": post_only,
    }


def _text(data: Mapping[str, object], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise WireError(f"expected a string, got {type(value).__name__}", path=f"$.order.{key}")
    return value


def _int_text(data: Mapping[str, object], key: str) -> int:
    value = _text(data, key)
    if not value.isascii() or not value.isdigit():
        raise WireError("expected a decimal string", path=f"$.order.{key}", raw=value[:80])
    return int(value)


def _number(data: Mapping[str, object], key: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise WireError("expected a non-negative integer", path=f"$.order.{key}", raw=repr(value)[:80])
    return value


def signed_order_from_wire(data: Mapping[str, object], *, chain_id: int, neg_risk: bool) -> SignedOrder:
    """Decode the ``order`` object of a ``POST /order`` body and compute its order id.

    The signature is not checked here (see :func:`aqbot.auth.order.recover_order_signer`).

    Raises:
        WireError: a field is missing, of the wrong type or malformed.
    """
    side_text = _text(data, "side")
    if side_text not in ("BUY", "SELL"):
        raise WireError("side must be BUY or SELL", path="$.order.side", raw=side_text[:20])
    try:
        signature_type = SignatureType(_number(data, "signatureType"))
    except ValueError:
        raise WireError("unknown signatureType", path="$.order.signatureType") from None
    order = SignedOrder(
        salt=_number(data, "salt"),
        maker=_text(data, "maker"),
        signer=_text(data, "signer"),
        token_id=_text(data, "tokenId"),
        maker_amount=_int_text(data, "makerAmount"),
        taker_amount=_int_text(data, "takerAmount"),
        side=Side(side_text),
        signature_type=signature_type,
        timestamp_ms=_int_text(data, "timestamp"),
        metadata=_text(data, "metadata"),
        builder=_text(data, "builder"),
        expiration=_int_text(data, "expiration"),
        signature=_text(data, "signature"),
        order_id="",
    )
    try:
        order_id = compute_order_id(order, chain_id, neg_risk)
    except InvalidOrderSpec as exc:
        raise WireError(str(exc), path="$.order") from None
    return attrs.evolve(order, order_id=order_id)
