"""secp256k1 keys: a wrapped private key that never prints, EIP-55 addresses, and signer recovery.

Signatures are Ethereum's 65-byte ``r || s || v`` with ``v`` in {27, 28}, over a 32-byte digest that the
caller has already hashed (EIP-712 digests); libsecp256k1 (via coincurve) signs deterministically (RFC 6979)
and always produces a low ``s``, so the bytes equal eth-account's for the same key and digest.
"""

from __future__ import annotations

import logging
from typing import Final, NoReturn

import coincurve

from aqbot.auth._errors import InvalidSignature
from aqbot.auth.eip712 import address_bytes, keccak256
from aqbot.errors import SecretsError

logger = logging.getLogger(__name__)

# Order of the secp256k1 group; a valid private key is in [1, N-1], a canonical ``s`` is at most N/2.
SECP256K1_N: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HALF_N: Final = SECP256K1_N // 2

_REDACTED: Final = "<redacted>"


def to_checksum_address(address: str | bytes) -> str:
    """The EIP-55 mixed-case form of a 20-byte address (given as bytes or as ``0x`` hex in any case).

    Raises:
        ValueError: not a 20-byte address.
    """
    raw = address if isinstance(address, bytes) else address_bytes(address)
    if len(raw) != 20:
        raise ValueError("an address is 20 bytes")
    lower = raw.hex()
    digest = keccak256(lower.encode("ascii")).hex()
    return "0x" + "".join(
        c.upper() if d in "89abcdef" else c for c, d in zip(lower, digest[:40], strict=True)
    )


def address_of_public_key(public_key: coincurve.PublicKey) -> str:
    """The checksummed Ethereum address of a public key: the last 20 bytes of keccak(x || y)."""
    return to_checksum_address(keccak256(public_key.format(compressed=False)[1:])[-20:])


class SigningKey:
    """A secp256k1 private key that signs digests and never shows itself.

    ``repr``/``str`` show only the address; pickling and copying are refused so the key cannot leak into a
    ledger, a report or a subprocess by accident. Build it once (``from_hex``) and reuse it: construction
    derives the public key and the address.
    """

    __slots__ = ("_key", "address")

    _key: coincurve.PrivateKey
    address: str

    def __init__(self, secret: bytes) -> None:
        """Wrap a raw 32-byte private key.

        Raises:
            SecretsError: not 32 bytes, or not in [1, N-1]. The message never contains the key.
        """
        if len(secret) != 32 or not 0 < int.from_bytes(secret, "big") < SECP256K1_N:
            raise SecretsError("private key must be 32 bytes in [1, N-1]")
        self._key = coincurve.PrivateKey(secret)
        self.address = address_of_public_key(self._key.public_key)

    @classmethod
    def from_hex(cls, hex_key: str) -> SigningKey:
        """Wrap a private key given as 64 hex digits, with or without ``0x``.

        Raises:
            SecretsError: not a valid key. The message never contains the key.
        """
        text = hex_key.strip()
        if text[:2] in ("0x", "0X"):
            text = text[2:]
        if len(text) != 64:
            raise SecretsError("private key must be 64 hex digits")
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raise SecretsError("private key is not hex") from None
        return cls(raw)

    def sign_digest(self, digest: bytes) -> bytes:
        """Sign a 32-byte digest: 65 bytes ``r || s || v`` with ``v`` = 27 or 28."""
        sig = self._key.sign_recoverable(digest, hasher=None)
        return sig[:64] + (b"\x1b" if sig[64] == 0 else b"\x1c")

    def __repr__(self) -> str:
        return f"SigningKey(address={self.address}, secret={_REDACTED})"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("SigningKey cannot be pickled or copied")

    def __copy__(self) -> NoReturn:
        raise TypeError("SigningKey cannot be pickled or copied")

    def __deepcopy__(self, memo: object) -> NoReturn:
        raise TypeError("SigningKey cannot be pickled or copied")


def signature_bytes(signature: str) -> bytes:
    """Decode a ``0x`` hex signature.

    Raises:
        InvalidSignature: not ``0x``-prefixed hex.
    """
    if signature[:2] not in ("0x", "0X"):
        raise InvalidSignature("signature must be 0x-prefixed hex")
    try:
        return bytes.fromhex(signature[2:])
    except ValueError:
        raise InvalidSignature("signature is not hex") from None


def recover_address(digest: bytes, signature: bytes) -> str:
    """The checksummed address whose key produced ``signature`` (65 bytes ``r || s || v``) over ``digest``.

    Like the exchange contracts (OpenZeppelin ``ECDSA``), only ``v`` in {27, 28} and a low ``s`` are
    accepted.

    Raises:
        InvalidSignature: wrong length, ``v`` not 27/28, ``r`` or ``s`` out of range, or no key recovers.
    """
    if len(digest) != 32:
        raise InvalidSignature("digest must be 32 bytes")
    if len(signature) != 65:
        raise InvalidSignature(f"signature must be 65 bytes, got {len(signature)}")
    v = signature[64]
    if v not in (27, 28):
        raise InvalidSignature(f"signature v must be 27 or 28, got {v}")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    if not 0 < r < SECP256K1_N or not 0 < s <= _HALF_N:
        raise InvalidSignature("signature r/s out of range (or high s)")
    try:
        public_key = coincurve.PublicKey.from_signature_and_message(
            signature[:64] + bytes((v - 27,)), digest, hasher=None
        )
    except ValueError as exc:  # coincurve: "failed to recover ECDSA public key"
        raise InvalidSignature("signature does not recover to a public key") from exc
    return address_of_public_key(public_key)
