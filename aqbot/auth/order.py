"""CLOB V2 orders: the EIP-712 ``Order`` struct, the signed-order model, its hash (the order id) and recovery.

The signed struct (PROTOCOL 3.1) is ::

    Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,
          uint256 takerAmount,uint8 side,uint8 signatureType,uint256 timestamp,bytes32 metadata,
          bytes32 builder)

under the domain ``{name: "Polymarket CTF Exchange", version: "2", chainId, verifyingContract}`` where the
verifying contract is the CTF exchange or, for neg-risk markets, the neg-risk exchange. The EIP-712 digest
of the order is both what is signed and the order id the server returns. :mod:`aqbot.auth.signer` holds the
fast signing path; the functions here recompute hashes from a :class:`SignedOrder` (e.g. decoded from the
wire by the simulator).
"""

from __future__ import annotations

import enum
import functools
import logging
from collections.abc import Mapping
from typing import Final

import attrs

from aqbot.auth._errors import InvalidOrderSpec, InvalidSignature
from aqbot.auth.eip712 import (
    EIP712_PREFIX,
    bytes32_from_hex,
    domain_separator,
    encode_address,
    keccak256,
    type_hash,
)
from aqbot.auth.erc7739 import ORDER_TYPE, poly_1271_digest, split_poly_1271_signature
from aqbot.auth.keys import recover_address, signature_bytes
from aqbot.core.types import Side, TokenId
from aqbot.errors import ConfigError

logger = logging.getLogger(__name__)

CTF_EXCHANGE_DOMAIN_NAME: Final = "Polymarket CTF Exchange"
CTF_EXCHANGE_DOMAIN_VERSION: Final = "2"
ORDER_TYPE_HASH: Final = type_hash(ORDER_TYPE)
BYTES32_ZERO: Final = "0x" + "00" * 32

POLYGON: Final = 137
AMOY: Final = 80002


@attrs.frozen
class ExchangeContracts:
    """The two V2 exchanges of one chain (the EIP-712 verifying contracts)."""

    exchange: str
    neg_risk_exchange: str


# py-clob-client-v2 1.2.1 ``config.py``: Amoy uses the same V2 exchange addresses as Polygon.
EXCHANGES: Final[Mapping[int, ExchangeContracts]] = {
    POLYGON: ExchangeContracts(
        exchange="0xE111180000d2663C0091e4f400237545B87B996B",
        neg_risk_exchange="0xe2222d279d744050d28e00520010520000310F59",
    ),
    AMOY: ExchangeContracts(
        exchange="0xE111180000d2663C0091e4f400237545B87B996B",
        neg_risk_exchange="0xe2222d279d744050d28e00520010520000310F59",
    ),
}


class SignatureType(enum.IntEnum):
    """Who signs for whom (PROTOCOL 3.3)."""

    EOA = 0
    POLY_PROXY = 1
    POLY_GNOSIS_SAFE = 2
    POLY_1271 = 3


_UINT256_LIMIT: Final = 1 << 256
SIDE_WORD: Final[Mapping[Side, bytes]] = {
    Side.BUY: (0).to_bytes(32, "big"),
    Side.SELL: (1).to_bytes(32, "big"),
}
ZERO_WORD: Final = bytes(32)


@attrs.frozen
class SignedOrder:
    """A signed V2 order: the 11 struct fields, the unsigned ``expiration``, the signature and the id.

    Amounts are integers in 10**-6 units; ``metadata``/``builder`` are ``0x`` + 64 hex digits;
    ``signature`` is ``0x`` hex (65 bytes, or the ERC-7739 wrapper for ``POLY_1271``); ``order_id`` is the
    lower-case ``0x`` hex EIP-712 digest, exactly the server's ``orderID``.
    """

    salt: int
    maker: str
    signer: str
    token_id: TokenId
    maker_amount: int
    taker_amount: int
    side: Side
    signature_type: SignatureType
    timestamp_ms: int
    metadata: str
    builder: str
    expiration: int
    signature: str
    order_id: str


@functools.cache
def exchange_domain_separator(chain_id: int, verifying_contract: str) -> bytes:
    """The V2 exchange domain separator (cached per chain and contract)."""
    return domain_separator(
        CTF_EXCHANGE_DOMAIN_NAME, CTF_EXCHANGE_DOMAIN_VERSION, chain_id, verifying_contract
    )


def exchange_address(chain_id: int, neg_risk: bool) -> str:
    """The verifying contract of an order on ``chain_id``.

    Raises:
        ConfigError: an unknown chain.
    """
    try:
        contracts = EXCHANGES[chain_id]
    except KeyError:
        raise ConfigError("chain_id", f"unsupported chain {chain_id}") from None
    return contracts.neg_risk_exchange if neg_risk else contracts.exchange


@functools.lru_cache(maxsize=4096)
def token_word(token_id: str) -> bytes:
    """A decimal token id as a 32-byte word (cached: a bot quotes few tokens, each many times).

    Raises:
        InvalidOrderSpec: not a decimal uint256.
    """
    if not token_id.isdigit() or not token_id.isascii():
        raise InvalidOrderSpec(f"token id must be a decimal string, got {token_id!r}")
    value = int(token_id)
    if value >= _UINT256_LIMIT:
        raise InvalidOrderSpec("token id does not fit in uint256")
    return value.to_bytes(32, "big")


def uint_word(value: int, what: str) -> bytes:
    """A uint256 word; ``what`` names the field in the error.

    Raises:
        InvalidOrderSpec: out of range.
    """
    if not 0 <= value < _UINT256_LIMIT:
        raise InvalidOrderSpec(f"{what} out of uint256 range: {value}")
    return value.to_bytes(32, "big")


@functools.lru_cache(maxsize=256)
def bytes32_word(value: str) -> bytes:
    """A ``0x`` + 64 hex ``bytes32`` field as its word (cached: metadata and builder codes repeat).

    Raises:
        InvalidOrderSpec: malformed.
    """
    try:
        return bytes32_from_hex(value)
    except ValueError as exc:
        raise InvalidOrderSpec(str(exc)) from None


def order_struct_hash(order: SignedOrder) -> bytes:
    """The EIP-712 struct hash of an order's 11 signed fields (``contents`` for ERC-7739)."""
    try:
        maker = encode_address(order.maker)
        signer = encode_address(order.signer)
    except ValueError as exc:
        raise InvalidOrderSpec(str(exc)) from None
    side_word = SIDE_WORD.get(order.side)
    if side_word is None:
        raise InvalidOrderSpec(f"side must be a Side, got {order.side!r}")
    return keccak256(
        ORDER_TYPE_HASH
        + uint_word(order.salt, "salt")
        + maker
        + signer
        + token_word(order.token_id)
        + uint_word(order.maker_amount, "makerAmount")
        + uint_word(order.taker_amount, "takerAmount")
        + side_word
        + uint_word(int(order.signature_type), "signatureType")
        + uint_word(order.timestamp_ms, "timestamp")
        + bytes32_word(order.metadata)
        + bytes32_word(order.builder)
    )


def order_digest(order: SignedOrder, chain_id: int, neg_risk: bool) -> bytes:
    """The EIP-712 digest of an order: the signed hash and, as hex, its order id."""
    domain = exchange_domain_separator(chain_id, exchange_address(chain_id, neg_risk))
    return keccak256(EIP712_PREFIX + domain + order_struct_hash(order))


def compute_order_id(order: SignedOrder, chain_id: int, neg_risk: bool) -> str:
    """The order id the server assigns: lower-case ``0x`` hex of :func:`order_digest`."""
    return "0x" + order_digest(order, chain_id, neg_risk).hex()


def recover_order_signer(order: SignedOrder, chain_id: int, neg_risk: bool) -> str:
    """The checksummed EOA whose key signed ``order`` (for the simulator).

    For types 0-2 the caller checks it equals ``order.signer``; for ``POLY_1271`` it is the deposit
    wallet's owner key that signed the ERC-7739 wrapper (the wallet contract would check it is an owner).

    Raises:
        InvalidSignature: the signature is malformed or does not recover.
    """
    sig = signature_bytes(order.signature)
    domain = exchange_domain_separator(chain_id, exchange_address(chain_id, neg_risk))
    contents = order_struct_hash(order)
    if order.signature_type is SignatureType.POLY_1271:
        inner = split_poly_1271_signature(sig, domain, contents, ORDER_TYPE)
        return recover_address(poly_1271_digest(domain, contents, chain_id, order.signer), inner)
    if len(sig) != 65:
        raise InvalidSignature(f"signature must be 65 bytes, got {len(sig)}")
    return recover_address(keccak256(EIP712_PREFIX + domain + contents), sig)
