"""Authentication and order signing for Polymarket CLOB V2 (PROTOCOL sections 2 and 3).

* :mod:`aqbot.auth.eip712`     keccak-256 and EIP-712 encoding helpers
* :mod:`aqbot.auth.keys`       :class:`SigningKey` (a private key that never prints), addresses, recovery
* :mod:`aqbot.auth.l1`         ``ClobAuth`` L1 headers and their recovery
* :mod:`aqbot.auth.l2`         :class:`ApiCreds`, HMAC L2 headers and their verification
* :mod:`aqbot.auth.amounts`    price/size to maker/taker amounts (exact integers, SDK rounding)
* :mod:`aqbot.auth.order`      the signed-order model, order hash (order id), signer recovery
* :mod:`aqbot.auth.signer`     :class:`OrderSigner`, the fast signing path
* :mod:`aqbot.auth.order_wire` the ``POST /order`` JSON shape and its decoding
* :mod:`aqbot.auth.stamps`     :class:`OrderStamper`: salts and strictly increasing ms timestamps
* :mod:`aqbot.auth.erc7739`    the ``POLY_1271`` (deposit wallet) signature wrapper
"""

from aqbot.auth._errors import InvalidOrderSpec as InvalidOrderSpec
from aqbot.auth._errors import InvalidSignature as InvalidSignature
from aqbot.auth.amounts import ROUNDING_CONFIG as ROUNDING_CONFIG
from aqbot.auth.amounts import RoundConfig as RoundConfig
from aqbot.auth.amounts import limit_order_amounts as limit_order_amounts
from aqbot.auth.amounts import market_order_amounts as market_order_amounts
from aqbot.auth.keys import SigningKey as SigningKey
from aqbot.auth.keys import recover_address as recover_address
from aqbot.auth.keys import to_checksum_address as to_checksum_address
from aqbot.auth.l1 import l1_headers as l1_headers
from aqbot.auth.l1 import recover_l1 as recover_l1
from aqbot.auth.l1 import verify_l1 as verify_l1
from aqbot.auth.l2 import ApiCreds as ApiCreds
from aqbot.auth.l2 import L2Auth as L2Auth
from aqbot.auth.l2 import build_hmac_signature as build_hmac_signature
from aqbot.auth.l2 import l2_headers as l2_headers
from aqbot.auth.l2 import verify_l2 as verify_l2
from aqbot.auth.order import BYTES32_ZERO as BYTES32_ZERO
from aqbot.auth.order import EXCHANGES as EXCHANGES
from aqbot.auth.order import SignatureType as SignatureType
from aqbot.auth.order import SignedOrder as SignedOrder
from aqbot.auth.order import compute_order_id as compute_order_id
from aqbot.auth.order import exchange_address as exchange_address
from aqbot.auth.order import order_digest as order_digest
from aqbot.auth.order import recover_order_signer as recover_order_signer
from aqbot.auth.order_wire import order_to_wire as order_to_wire
from aqbot.auth.order_wire import post_order_body as post_order_body
from aqbot.auth.order_wire import signed_order_from_wire as signed_order_from_wire
from aqbot.auth.signer import OrderSigner as OrderSigner
from aqbot.auth.stamps import OrderStamper as OrderStamper

__all__ = [
    "BYTES32_ZERO",
    "EXCHANGES",
    "ROUNDING_CONFIG",
    "ApiCreds",
    "InvalidOrderSpec",
    "InvalidSignature",
    "L2Auth",
    "OrderSigner",
    "OrderStamper",
    "RoundConfig",
    "SignatureType",
    "SignedOrder",
    "SigningKey",
    "build_hmac_signature",
    "compute_order_id",
    "exchange_address",
    "l1_headers",
    "l2_headers",
    "limit_order_amounts",
    "market_order_amounts",
    "order_digest",
    "order_to_wire",
    "post_order_body",
    "recover_address",
    "recover_l1",
    "recover_order_signer",
    "signed_order_from_wire",
    "to_checksum_address",
    "verify_l1",
    "verify_l2",
]
