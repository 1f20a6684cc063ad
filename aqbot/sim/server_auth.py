"""Authentication for the simulator's REST and user channel: the key ring, L1, L2 and order signatures.

* **L2** (every authenticated REST call, PROTOCOL 2.2): ``POLY_API_KEY`` names a key; the HMAC over
  ``timestamp + METHOD + path-without-query + raw body`` must match, the passphrase must match, and
  ``POLY_ADDRESS`` must be the key's signer. Timestamps are not checked for freshness (the allowed skew is
  UNCONFIRMED, and in-process runs sign with wall time while the exchange runs on virtual time).
* **L1** (``POST /auth/api-key``, ``GET /auth/derive-api-key``, PROTOCOL 2.1): the ClobAuth signature must
  recover to ``POLY_ADDRESS``. Keys are a pure function of ``(seed, address, nonce)``
  (:func:`aqbot.sim.info.derive_api_creds`), so create and derive agree.
* **Orders** (PROTOCOL 3): the signed order is decoded with :mod:`aqbot.auth.order_wire`, its id is its
  EIP-712 hash on the market's exchange (neg-risk or not), and its signer must recover to the key's signer,
  with the key's signature type and funder.

All cryptography is :mod:`aqbot.auth`'s; this module only decides who is who.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping

import attrs

from aqbot.auth._errors import InvalidSignature
from aqbot.auth.l1 import recover_l1
from aqbot.auth.l2 import POLY_ADDRESS, POLY_API_KEY, POLY_NONCE, ApiCreds, verify_l2
from aqbot.auth.order import recover_order_signer
from aqbot.auth.order_wire import signed_order_from_wire
from aqbot.errors import WireError
from aqbot.sim.info import SIG_EOA, SimAccount, derive_api_creds

logger = logging.getLogger(__name__)

ERR_UNAUTHORIZED = "Unauthorized/Invalid api key"
ERR_L1 = "Invalid L1 Request headers"
ERR_ORDER_SIGNATURE = "invalid order signature"
ERR_SIGNATURE_TYPE = "invalid signature type for the API KEY"


@attrs.define(eq=False, slots=True)
class KeyEntry:
    """One API key: its credentials, its signer EOA (lower case), funder (lower case) and signature type."""

    creds: ApiCreds
    signer: str
    funder: str
    signature_type: int


@attrs.frozen
class VerifiedOrder:
    """A signature-checked order: its id (EIP-712 hash) and the decoded JSON, as the engine expects it."""

    order_id: str
    order: Mapping[str, object]


class KeyRing:
    """Every API key the simulator knows, and the wallets keys may be issued to.

    Args:
        seed: the run's seed (keys derive from it).
        chain_id: the chain id L1 headers and orders are signed for.
    """

    def __init__(self, seed: int, chain_id: int) -> None:
        self.seed = seed
        self.chain_id = chain_id
        self._keys: dict[str, KeyEntry] = {}
        self._funders: dict[str, tuple[str, int]] = {}

    def register_account(self, account: SimAccount) -> None:
        """Know ``account``'s wallet (its funder and signature type) and its nonce-0 key."""
        signer = account.address.lower()
        self._funders[signer] = (account.funder.lower(), account.signature_type)
        self._add(account.creds, signer)

    def _add(self, creds: ApiCreds, signer: str) -> KeyEntry:
        funder, sig_type = self._funders.get(signer, (signer, SIG_EOA))
        entry = KeyEntry(creds=creds, signer=signer, funder=funder, signature_type=sig_type)
        self._keys[creds.api_key] = entry
        return entry

    def issue(self, address: str, nonce: int) -> tuple[KeyEntry, bool]:
        """The key of ``address`` for ``nonce``, creating it if needed; ``(entry, created)``."""
        creds = derive_api_creds(self.seed, address, nonce)
        existing = self._keys.get(creds.api_key)
        if existing is not None:
            return existing, False
        return self._add(creds, address.lower()), True

    def revoke(self, api_key: str) -> None:
        """Forget ``api_key`` (``DELETE /auth/api-key``); deriving it again brings it back."""
        self._keys.pop(api_key, None)

    def get(self, api_key: str) -> KeyEntry | None:
        return self._keys.get(api_key)

    def keys_of(self, signer: str) -> list[str]:
        """Every API key issued to ``signer`` (for ``GET /auth/api-keys``), sorted."""
        s = signer.lower()
        return sorted(k for k, e in self._keys.items() if e.signer == s)

    # ---- verification ----------------------------------------------------------------------------------

    def verify_l2(self, headers: Mapping[str, str], method: str, path: str, body: bytes) -> KeyEntry | None:
        """The key that authenticates this request, or None (answer 401 ``Unauthorized/Invalid api key``)."""
        entry = self._keys.get(headers.get(POLY_API_KEY, ""))
        if entry is None:
            return None
        try:
            text = body.decode("utf-8") if body else None
        except UnicodeDecodeError:
            return None
        if not verify_l2(entry.creds, headers, method, path, text):
            return None
        if headers.get(POLY_ADDRESS, "").lower() != entry.signer:
            return None
        return entry

    def verify_l1(self, headers: Mapping[str, str]) -> tuple[str, int] | None:
        """``(address, nonce)`` of valid L1 headers, or None (answer 401 ``Invalid L1 Request headers``)."""
        try:
            recovered = recover_l1(headers, self.chain_id)
            nonce = int(headers.get(POLY_NONCE, "0") or "0")
        except (InvalidSignature, ValueError):
            return None
        claimed = headers.get(POLY_ADDRESS, "")
        if not hmac.compare_digest(recovered.lower().encode(), claimed.lower().encode()) or nonce < 0:
            return None
        return claimed, nonce

    def verify_order(
        self, entry: KeyEntry, order: Mapping[str, object], neg_risk: bool
    ) -> VerifiedOrder | str:
        """Decode ``order``, compute its id and check its signature; an error string when it fails.

        The maker/signer identity against the key is the engine's check (it answers the documented
        strings); here the signature must recover to the order's own ``signer`` and the signature type
        must be the key's.
        """
        try:
            signed = signed_order_from_wire(order, chain_id=self.chain_id, neg_risk=neg_risk)
        except WireError as exc:
            return f"Invalid order payload: {exc}"
        try:
            recovered = recover_order_signer(signed, self.chain_id, neg_risk)
        except InvalidSignature:
            return ERR_ORDER_SIGNATURE
        if recovered.lower() != signed.signer.lower():
            return ERR_ORDER_SIGNATURE
        if int(signed.signature_type) != entry.signature_type:
            return ERR_SIGNATURE_TYPE
        return VerifiedOrder(order_id=signed.order_id, order=order)
