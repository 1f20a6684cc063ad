"""The simulator's identities (wallets, API keys) and the ``--info-file`` JSON that publishes them.

Everything is derived from the run's seed, so the same seed gives the same accounts:

* account ``i``'s private key is ``sha256("aqbot-sim-key/<seed>/<i>")`` (reduced into the curve order);
* even accounts are plain EOAs (``signature_type`` 0, funder = signer); odd accounts trade for a
  Gnosis Safe (``signature_type`` 2) whose funder address is derived from the signer;
* API credentials are a function of ``(seed, signer address, nonce)``: ``POST /auth/api-key`` and
  ``GET /auth/derive-api-key`` both answer them, so create and derive agree (PROTOCOL 2.1).

The info file holds simulator test secrets **by design** (a client needs them to sign); the tape never
does. :class:`SimAccount` redacts its secrets in ``repr``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from pathlib import Path

import attrs

from aqbot.auth.keys import SECP256K1_N, SigningKey, to_checksum_address
from aqbot.auth.l2 import ApiCreds
from aqbot.sim.units import fmt_units

logger = logging.getLogger(__name__)

CHAIN_ID = 137
SIG_EOA = 0
SIG_GNOSIS_SAFE = 2


def _redacted(_value: object) -> str:
    return "<redacted>"


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()


def derive_api_creds(seed: int, address: str, nonce: int) -> ApiCreds:
    """The API credentials the simulator issues to ``address`` for ``nonce`` (create and derive agree)."""
    addr = address.lower()
    h = _digest("aqbot-sim-apikey", seed, addr, nonce).hex()
    api_key = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"
    secret = base64.urlsafe_b64encode(_digest("aqbot-sim-secret", seed, addr, nonce)).decode()
    passphrase = _digest("aqbot-sim-passphrase", seed, addr, nonce).hex()
    return ApiCreds(api_key=api_key, secret=secret, passphrase=passphrase)


@attrs.frozen
class SimAccount:
    """One simulated trading account: its wallet, its API key (nonce 0) and its starting funds.

    Attributes:
        private_key: the signer's private key, ``0x`` + 64 hex (redacted in ``repr``).
        address: the signer EOA, checksummed (``POLY_ADDRESS``, the order ``signer``).
        funder: the order ``maker`` (== ``address`` for EOA accounts).
        signature_type: 0 (EOA) or 2 (POLY_GNOSIS_SAFE).
        creds: the API credentials for nonce 0.
        pusd: starting pUSD, base units (6 decimals).
    """

    private_key: str = attrs.field(repr=_redacted)
    address: str
    funder: str
    signature_type: int
    creds: ApiCreds
    pusd: int

    @property
    def api_key(self) -> str:
        return self.creds.api_key

    def to_json(self) -> dict[str, object]:
        """The info-file object (it contains the secrets)."""
        return {
            "private_key": self.private_key,
            "address": self.address,
            "funder": self.funder,
            "signature_type": self.signature_type,
            "api_key": self.creds.api_key,
            "secret": self.creds.secret,
            "passphrase": self.creds.passphrase,
            "pusd": fmt_units(self.pusd),
        }


def generate_accounts(seed: int, count: int, pusd: int) -> list[SimAccount]:
    """``count`` deterministic accounts for ``seed``, each funded with ``pusd`` base units."""
    out: list[SimAccount] = []
    for i in range(count):
        k = int.from_bytes(_digest("aqbot-sim-key", seed, i), "big") % (SECP256K1_N - 1) + 1
        private_key = "0x" + f"{k:064x}"
        address = SigningKey.from_hex(private_key).address
        if i % 2 == 0:
            sig_type, funder = SIG_EOA, address
        else:
            sig_type = SIG_GNOSIS_SAFE
            funder = to_checksum_address(_digest("aqbot-sim-safe", seed, address.lower())[:20])
        out.append(
            SimAccount(
                private_key=private_key,
                address=address,
                funder=funder,
                signature_type=sig_type,
                creds=derive_api_creds(seed, address, 0),
                pusd=pusd,
            )
        )
    return out


@attrs.frozen
class SimInfo:
    """What a client needs to use a running simulator (the ``--info-file`` content).

    Attributes:
        rest_url: base URL of the CLOB REST API.
        ws_url: base URL of the WebSocket API (``<ws_url>/ws/market``, ``<ws_url>/ws/user``).
        data_api_url: base URL of the Data API (``<data_api_url>/positions``).
        chain_id: the chain id orders and L1 headers are signed for.
        seed: the run's seed.
        accounts: the pre-funded accounts.
        markets: one JSON object per market (condition_id, tokens, tick_size, min_order_size, neg_risk).
    """

    rest_url: str
    ws_url: str
    data_api_url: str
    chain_id: int
    seed: int
    accounts: tuple[SimAccount, ...]
    markets: tuple[dict[str, object], ...]

    def to_json(self) -> dict[str, object]:
        return {
            "rest_url": self.rest_url,
            "ws_url": self.ws_url,
            "data_api_url": self.data_api_url,
            "chain_id": self.chain_id,
            "seed": self.seed,
            "accounts": [a.to_json() for a in self.accounts],
            "markets": list(self.markets),
        }


def write_info_file(info: SimInfo, path: Path) -> None:
    """Write ``info`` as JSON to ``path`` atomically (temp file + rename), readable by the owner only."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(info.to_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(path)


def read_info_file(path: Path) -> dict[str, object]:
    """The info file as decoded JSON (for tests and tools)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a JSON object")
    return data
