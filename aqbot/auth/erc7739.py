"""ERC-7739 ``TypedDataSign`` wrapping for ``POLY_1271`` (deposit-wallet) orders.

A deposit wallet validates an order through ERC-1271. Its owner key does not sign the order digest itself
but a ``TypedDataSign`` struct that nests the order (``contents``) inside the wallet's own domain
(``DepositWallet``, version ``1``, the chain, the wallet address, a zero salt)::

    digest    = keccak(0x1901 || exchangeDomainSeparator || hash(TypedDataSign{contents, wallet domain}))
    signature = ownerSig(65) || exchangeDomainSeparator || contentsHash || contentsType || uint16(len)

This mirrors py-clob-client-v2 1.2.1 ``ExchangeOrderBuilderV2._build_poly_1271_order_signature``.
"""

from __future__ import annotations

import logging
from typing import Final

from aqbot.auth._errors import InvalidSignature
from aqbot.auth.eip712 import EIP712_PREFIX, encode_address, encode_string, encode_uint, keccak256, type_hash

logger = logging.getLogger(__name__)

# The V2 ``Order`` type string (re-exported by :mod:`aqbot.auth.order`); TypedDataSign embeds it.
ORDER_TYPE: Final = (
    "Order(uint256 salt,address maker,address signer,uint256 tokenId,"
    "uint256 makerAmount,uint256 takerAmount,uint8 side,uint8 signatureType,"
    "uint256 timestamp,bytes32 metadata,bytes32 builder)"
)
TYPED_DATA_SIGN_TYPE: Final = (
    "TypedDataSign(Order contents,string name,string version,uint256 chainId,"
    "address verifyingContract,bytes32 salt)" + ORDER_TYPE
)
_TYPED_DATA_SIGN_TYPE_HASH: Final = type_hash(TYPED_DATA_SIGN_TYPE)
_WALLET_NAME_HASH: Final = encode_string("DepositWallet")
_WALLET_VERSION_HASH: Final = encode_string("1")
_WALLET_SALT: Final = bytes(32)


def poly_1271_digest(app_domain: bytes, contents_hash: bytes, chain_id: int, wallet: str) -> bytes:
    """The digest the wallet owner signs for an order whose struct hash is ``contents_hash``."""
    wrapped = keccak256(
        _TYPED_DATA_SIGN_TYPE_HASH
        + contents_hash
        + _WALLET_NAME_HASH
        + _WALLET_VERSION_HASH
        + encode_uint(chain_id)
        + encode_address(wallet)
        + _WALLET_SALT
    )
    return keccak256(EIP712_PREFIX + app_domain + wrapped)


def poly_1271_signature(inner: bytes, app_domain: bytes, contents_hash: bytes, contents_type: str) -> bytes:
    """The ERC-7739 signature bytes around the owner's 65-byte ``inner`` signature."""
    type_bytes = contents_type.encode("utf-8")
    return inner + app_domain + contents_hash + type_bytes + len(type_bytes).to_bytes(2, "big")


def split_poly_1271_signature(
    signature: bytes, app_domain: bytes, contents_hash: bytes, contents_type: str
) -> bytes:
    """Check an ERC-7739 wrapper against the expected domain, contents and type; return the inner 65 bytes.

    Raises:
        InvalidSignature: the wrapper does not match this order.
    """
    if signature[65:] != poly_1271_signature(b"", app_domain, contents_hash, contents_type):
        raise InvalidSignature("POLY_1271 signature wrapper does not match the order")
    return signature[:65]
