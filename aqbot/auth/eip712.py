"""Keccak-256 and the small part of EIP-712 that Polymarket needs, as plain byte operations.

EIP-712 hashes a typed struct in three steps:

* ``typeHash = keccak(type string)``, e.g. ``keccak("Order(uint256 salt,...)")``;
* ``structHash = keccak(typeHash || enc(field_1) || ... || enc(field_n))`` where every field encodes to one
  32-byte word: integers big-endian, addresses left-padded, ``string``/``bytes`` as the keccak of their bytes;
* ``digest = keccak(0x19 0x01 || domainSeparator || structHash)``, the domain separator being the struct hash
  of the ``EIP712Domain`` struct.

Everything here is a pure function over ``bytes``; the type hashes and the domain separators are constants
that callers compute once (at import or when a signer is built), so the per-order cost is two keccaks.
"""

from __future__ import annotations

import logging
from typing import Final

from Crypto.Hash import keccak as _keccak_mod

logger = logging.getLogger(__name__)

# EIP-712 domain types with and without a verifying contract (ClobAuth has none).
DOMAIN_TYPE: Final = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
DOMAIN_TYPE_NO_CONTRACT: Final = "EIP712Domain(string name,string version,uint256 chainId)"

# The two-byte prefix of an EIP-712 digest (EIP-191 version 0x01).
EIP712_PREFIX: Final = b"\x19\x01"

_UINT256_MAX: Final = (1 << 256) - 1


def keccak256(data: bytes) -> bytes:
    """Keccak-256 (the Ethereum hash, not NIST SHA3-256) of ``data``."""
    return _keccak_mod.new(digest_bits=256, data=data).digest()


def type_hash(type_string: str) -> bytes:
    """``keccak(type string)``: the first word of every struct hash of that type."""
    return keccak256(type_string.encode("utf-8"))


def encode_uint(value: int) -> bytes:
    """A ``uintN`` as one 32-byte big-endian word.

    Raises:
        ValueError: ``value`` is negative or does not fit in 256 bits.
    """
    if value < 0 or value > _UINT256_MAX:
        raise ValueError("uint256 out of range")
    return value.to_bytes(32, "big")


def address_bytes(address: str) -> bytes:
    """The 20 bytes of a ``0x``-prefixed hex address (any letter case; the checksum is not checked).

    Raises:
        ValueError: not ``0x`` + 40 hex digits.
    """
    if len(address) != 42 or address[:2] not in ("0x", "0X"):
        raise ValueError(f"not an address: {address!r}")
    try:
        return bytes.fromhex(address[2:])
    except ValueError:
        raise ValueError(f"not an address: {address!r}") from None


def encode_address(address: str) -> bytes:
    """An ``address`` as one 32-byte word (left-padded with zeros)."""
    return b"\x00" * 12 + address_bytes(address)


def encode_string(text: str) -> bytes:
    """A ``string`` field: the keccak of its UTF-8 bytes."""
    return keccak256(text.encode("utf-8"))


def bytes32_from_hex(value: str) -> bytes:
    """A ``bytes32`` given as ``0x`` + 64 hex digits.

    Raises:
        ValueError: not exactly 32 bytes of hex.
    """
    if len(value) != 66 or value[:2] not in ("0x", "0X"):
        raise ValueError(f"not a bytes32 hex string: {value!r}")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise ValueError(f"not a bytes32 hex string: {value!r}") from None


def struct_hash(type_hash_: bytes, *words: bytes) -> bytes:
    """``keccak(typeHash || words...)``; each word must already be a 32-byte encoding."""
    return keccak256(type_hash_ + b"".join(words))


def domain_separator(name: str, version: str, chain_id: int, verifying_contract: str | None = None) -> bytes:
    """The EIP-712 domain separator of ``{name, version, chainId[, verifyingContract]}``."""
    if verifying_contract is None:
        return struct_hash(
            type_hash(DOMAIN_TYPE_NO_CONTRACT),
            encode_string(name),
            encode_string(version),
            encode_uint(chain_id),
        )
    return struct_hash(
        type_hash(DOMAIN_TYPE),
        encode_string(name),
        encode_string(version),
        encode_uint(chain_id),
        encode_address(verifying_contract),
    )


def typed_data_digest(domain_sep: bytes, struct_hash_: bytes) -> bytes:
    """``keccak(0x1901 || domainSeparator || structHash)``: what gets signed, and Polymarket's order id."""
    return keccak256(EIP712_PREFIX + domain_sep + struct_hash_)
