"""L1 authentication: the EIP-712 ``ClobAuth`` signature used to create or derive API keys (PROTOCOL 2.1).

Domain ``{name: "ClobAuthDomain", version: "1", chainId}`` (no verifying contract); struct
``ClobAuth(address address,string timestamp,uint256 nonce,string message)`` with the constant message below.
The timestamp is signed as the decimal *string* that travels in ``POLY_TIMESTAMP``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from typing import Final

from aqbot.auth._errors import InvalidSignature
from aqbot.auth.eip712 import (
    domain_separator,
    encode_address,
    encode_string,
    encode_uint,
    struct_hash,
    type_hash,
    typed_data_digest,
)
from aqbot.auth.keys import SigningKey, recover_address, signature_bytes
from aqbot.auth.l2 import POLY_ADDRESS, POLY_NONCE, POLY_SIGNATURE, POLY_TIMESTAMP

logger = logging.getLogger(__name__)

CLOB_AUTH_DOMAIN_NAME: Final = "ClobAuthDomain"
CLOB_AUTH_DOMAIN_VERSION: Final = "1"
CLOB_AUTH_MESSAGE: Final = "This message attests that I control the given wallet"
CLOB_AUTH_TYPE: Final = "ClobAuth(address address,string timestamp,uint256 nonce,string message)"

_CLOB_AUTH_TYPE_HASH: Final = type_hash(CLOB_AUTH_TYPE)
_MESSAGE_HASH: Final = encode_string(CLOB_AUTH_MESSAGE)


@functools.cache
def clob_auth_domain_separator(chain_id: int) -> bytes:
    """The ``ClobAuthDomain`` separator for one chain (cached: there are two chains)."""
    return domain_separator(CLOB_AUTH_DOMAIN_NAME, CLOB_AUTH_DOMAIN_VERSION, chain_id)


def clob_auth_digest(address: str, chain_id: int, timestamp: str, nonce: int) -> bytes:
    """The EIP-712 digest of ``ClobAuth{address, timestamp, nonce, message}``.

    Args:
        address: the signer EOA.
        chain_id: 137 (Polygon) or 80002 (Amoy).
        timestamp: Unix seconds as the decimal string sent in ``POLY_TIMESTAMP``.
        nonce: the key nonce (0 unless the user manages several keys).
    """
    body = struct_hash(
        _CLOB_AUTH_TYPE_HASH,
        encode_address(address),
        encode_string(timestamp),
        encode_uint(nonce),
        _MESSAGE_HASH,
    )
    return typed_data_digest(clob_auth_domain_separator(chain_id), body)


def l1_headers(key: SigningKey, chain_id: int, timestamp_s: int, nonce: int = 0) -> dict[str, str]:
    """The four ``POLY_*`` headers of an L1 request (``POST /auth/api-key``, ``GET /auth/derive-api-key``).

    Args:
        key: the signer's private key.
        chain_id: 137 or 80002.
        timestamp_s: Unix seconds (the caller's clock or the server's ``/time``).
        nonce: the API-key nonce.
    """
    timestamp = str(timestamp_s)
    digest = clob_auth_digest(key.address, chain_id, timestamp, nonce)
    return {
        POLY_ADDRESS: key.address,
        POLY_SIGNATURE: "0x" + key.sign_digest(digest).hex(),
        POLY_TIMESTAMP: timestamp,
        POLY_NONCE: str(nonce),
    }


def recover_l1(headers: Mapping[str, str], chain_id: int) -> str:
    """The checksummed address that signed these L1 headers (for the simulator).

    The caller compares it with ``POLY_ADDRESS`` (the address is part of the signed struct, so a forged
    ``POLY_ADDRESS`` recovers to some other address) and checks the timestamp against its own clock.

    Raises:
        InvalidSignature: a header is missing or malformed, or the signature does not recover.
    """
    try:
        address = headers[POLY_ADDRESS]
        signature = headers[POLY_SIGNATURE]
        timestamp = headers[POLY_TIMESTAMP]
        nonce_text = headers.get(POLY_NONCE, "0")
    except KeyError as exc:
        raise InvalidSignature(f"missing L1 header {exc.args[0]}") from None
    try:
        nonce = int(nonce_text)
        digest = clob_auth_digest(address, chain_id, timestamp, nonce)
    except ValueError as exc:
        raise InvalidSignature(f"malformed L1 header: {exc}") from None
    return recover_address(digest, signature_bytes(signature))


def verify_l1(headers: Mapping[str, str], chain_id: int) -> bool:
    """Whether the L1 headers carry a valid signature by ``POLY_ADDRESS`` itself."""
    try:
        recovered = recover_l1(headers, chain_id)
    except InvalidSignature:
        return False
    return recovered.lower() == headers[POLY_ADDRESS].lower()
