"""L2 authentication: API credentials and the HMAC-SHA256 headers on every authenticated REST call.

The signed message is ``str(timestamp) + method + request_path + body`` (PROTOCOL 2.2):

* ``request_path`` is the path **without** the query string (``/data/orders``, never ``/data/orders?x=1``);
* ``body`` is the exact string that goes on the wire, and is left out when empty or ``None``;
* the key is ``urlsafe_b64decode(secret)`` and the signature ``urlsafe_b64encode(digest)``, padding kept.

One deliberate difference from py-clob-client-v2: the SDK replaces every ``'`` in the body with ``"``
before signing (a leftover from signing ``str(dict)``), so for a body containing ``'`` it signs bytes it
does not send. aqbot signs exactly the bytes it sends; the bodies aqbot sends (orders, ids) never
contain ``'``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
from collections.abc import Mapping
from typing import Final

import attrs

from aqbot.errors import SecretsError

logger = logging.getLogger(__name__)

POLY_ADDRESS: Final = "POLY_ADDRESS"
POLY_SIGNATURE: Final = "POLY_SIGNATURE"
POLY_TIMESTAMP: Final = "POLY_TIMESTAMP"
POLY_NONCE: Final = "POLY_NONCE"
POLY_API_KEY: Final = "POLY_API_KEY"
POLY_PASSPHRASE: Final = "POLY_PASSPHRASE"


def _redacted(_value: object) -> str:
    return "<redacted>"


def _decode_secret(secret: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(secret)
    except (binascii.Error, ValueError):
        raise SecretsError("API secret is not valid url-safe base64") from None


@attrs.frozen
class ApiCreds:
    """One set of CLOB API credentials (``POST /auth/api-key`` or ``GET /auth/derive-api-key``).

    ``secret`` and ``passphrase`` never appear in ``repr``/``str``. The secret is decoded once, here.

    Raises:
        SecretsError: the secret is not url-safe base64 (the message does not contain it).
    """

    api_key: str
    secret: str = attrs.field(repr=_redacted)
    passphrase: str = attrs.field(repr=_redacted)
    _key: bytes = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_key", _decode_secret(self.secret))

    @property
    def hmac_key(self) -> bytes:
        """The decoded HMAC key."""
        return self._key


def _message(timestamp: int | str, method: str, request_path: str, body: str | None) -> bytes:
    path = request_path.split("?", 1)[0]
    message = f"{timestamp}{method}{path}"
    if body:
        message += body
    return message.encode("utf-8")


def _sign(key: bytes, timestamp: int | str, method: str, request_path: str, body: str | None) -> str:
    digest = hmac.new(key, _message(timestamp, method, request_path, body), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")


def build_hmac_signature(
    secret: str, timestamp: int | str, method: str, request_path: str, body: str | None = None
) -> str:
    """The L2 HMAC signature (url-safe base64, padded) of one request.

    Args:
        secret: the API secret (url-safe base64).
        timestamp: Unix seconds, as sent in ``POLY_TIMESTAMP``.
        method: the HTTP method exactly as sent (``GET``, ``POST``, ``DELETE``).
        request_path: the path; a query string, if present, is dropped before signing.
        body: the exact body string sent, or ``None``.

    Raises:
        SecretsError: the secret is not base64.
    """
    return _sign(_decode_secret(secret), timestamp, method, request_path, body)


def l2_headers(
    creds: ApiCreds,
    address: str,
    timestamp_s: int,
    method: str,
    request_path: str,
    body: str | None = None,
) -> dict[str, str]:
    """The five ``POLY_*`` headers of an L2-authenticated request.

    Args:
        creds: the API credentials.
        address: the signer EOA (``POLY_ADDRESS``), checksummed as the SDK sends it.
        timestamp_s: Unix seconds (the caller's clock, or the server's ``/time``).
        method: HTTP method exactly as sent.
        request_path: path without query (a query string is dropped).
        body: the exact body string sent, or ``None``.
    """
    return {
        POLY_ADDRESS: address,
        POLY_SIGNATURE: _sign(creds.hmac_key, timestamp_s, method, request_path, body),
        POLY_TIMESTAMP: str(timestamp_s),
        POLY_API_KEY: creds.api_key,
        POLY_PASSPHRASE: creds.passphrase,
    }


def verify_l2(
    creds: ApiCreds,
    headers: Mapping[str, str],
    method: str,
    request_path: str,
    body: str | None = None,
) -> bool:
    """Whether ``headers`` authenticate this request for ``creds`` (for the simulator).

    Checks the API key, the passphrase and the HMAC in constant time; the timestamp's freshness is the
    caller's business (it owns the clock). Missing headers make it ``False``.
    """
    signature = headers.get(POLY_SIGNATURE)
    timestamp = headers.get(POLY_TIMESTAMP)
    api_key = headers.get(POLY_API_KEY)
    passphrase = headers.get(POLY_PASSPHRASE)
    if signature is None or timestamp is None or api_key is None or passphrase is None:
        return False
    expected = _sign(creds.hmac_key, timestamp, method, request_path, body)
    ok_key = hmac.compare_digest(api_key.encode(), creds.api_key.encode())
    ok_pass = hmac.compare_digest(passphrase.encode(), creds.passphrase.encode())
    ok_sig = hmac.compare_digest(signature.encode(), expected.encode())
    return ok_key and ok_pass and ok_sig


@attrs.frozen
class L2Auth:
    """Credentials bound to the signer address: the ``L2Signer`` that :mod:`aqbot.io.rest` expects."""

    creds: ApiCreds
    address: str

    def l2_headers(self, method: str, request_path: str, body: str, timestamp: int) -> dict[str, str]:
        """Headers for ``str(timestamp) + method + request_path + body`` (see :func:`l2_headers`)."""
        return l2_headers(self.creds, self.address, timestamp, method, request_path, body)
