"""Authentication and order signing for Polymarket CLOB V2 (PROTOCOL sections 2 and 3).

* :mod:`aqbot.auth.eip712`  keccak-256 and EIP-712 encoding helpers
* :mod:`aqbot.auth.keys`    :class:`SigningKey` (a private key that never prints), addresses, recovery
* :mod:`aqbot.auth.l1`      ``ClobAuth`` L1 headers and their recovery
* :mod:`aqbot.auth.l2`      :class:`ApiCreds`, HMAC L2 headers and their verification
"""

from aqbot.auth._errors import InvalidOrderSpec as InvalidOrderSpec
from aqbot.auth._errors import InvalidSignature as InvalidSignature
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

__all__ = [
    "ApiCreds",
    "InvalidOrderSpec",
    "InvalidSignature",
    "L2Auth",
    "SigningKey",
    "build_hmac_signature",
    "l1_headers",
    "l2_headers",
    "recover_address",
    "recover_l1",
    "to_checksum_address",
    "verify_l1",
    "verify_l2",
]
