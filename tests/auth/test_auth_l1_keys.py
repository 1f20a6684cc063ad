"""L1 ClobAuth headers and keys: the SDK vector, equality with py-clob-client-v2, recovery, secrecy."""

from __future__ import annotations

import copy
import pickle

import coincurve
import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from hypothesis import given
from hypothesis import strategies as st
from py_clob_client_v2.headers.headers import create_level_1_headers
from py_clob_client_v2.signer import Signer

from aqbot.auth import (
    InvalidSignature,
    SigningKey,
    l1_headers,
    recover_address,
    recover_l1,
    to_checksum_address,
    verify_l1,
)
from aqbot.auth.eip712 import keccak256
from aqbot.auth.keys import SECP256K1_N
from aqbot.auth.l1 import clob_auth_digest
from aqbot.errors import SecretsError

HARDHAT_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
HARDHAT_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"

_keys = st.integers(min_value=1, max_value=SECP256K1_N - 1).map(lambda n: "0x" + n.to_bytes(32, "big").hex())


def test_sdk_vector() -> None:
    headers = l1_headers(SigningKey.from_hex(HARDHAT_KEY), 80002, 10000000, 23)
    sig = headers["POLY_SIGNATURE"]
    assert sig.startswith("0xf62319a987514da4")
    assert sig.endswith("b164a1aedc1b")
    assert headers == {
        "POLY_ADDRESS": HARDHAT_ADDRESS,
        "POLY_SIGNATURE": sig,
        "POLY_TIMESTAMP": "10000000",
        "POLY_NONCE": "23",
    }
    assert headers == create_level_1_headers(Signer(HARDHAT_KEY, 80002), nonce=23, timestamp=10000000)


def test_digest_matches_eth_account_typed_data() -> None:
    typed = {
        "primaryType": "ClobAuth",
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
            ],
            "ClobAuth": [
                {"name": "address", "type": "address"},
                {"name": "timestamp", "type": "string"},
                {"name": "nonce", "type": "uint256"},
                {"name": "message", "type": "string"},
            ],
        },
        "domain": {"name": "ClobAuthDomain", "version": "1", "chainId": 137},
        "message": {
            "address": HARDHAT_ADDRESS,
            "timestamp": "1700000000",
            "nonce": 7,
            "message": "This message attests that I control the given wallet",
        },
    }
    msg = encode_typed_data(full_message=typed)
    expected = keccak256(b"\x19" + msg.version + msg.header + msg.body)
    assert clob_auth_digest(HARDHAT_ADDRESS, 137, "1700000000", 7) == expected


@given(
    key=_keys,
    chain_id=st.sampled_from([137, 80002]),
    timestamp=st.integers(min_value=0, max_value=10**11),
    nonce=st.integers(min_value=0, max_value=2**256 - 1),
)
def test_l1_matches_sdk_and_recovers(key: str, chain_id: int, timestamp: int, nonce: int) -> None:
    ours = l1_headers(SigningKey.from_hex(key), chain_id, timestamp, nonce)
    sdk = create_level_1_headers(Signer(key, chain_id), nonce=nonce, timestamp=timestamp)
    assert ours == sdk
    assert recover_l1(ours, chain_id) == Account.from_key(key).address
    assert verify_l1(ours, chain_id)
    other_chain = 80002 if chain_id == 137 else 137
    assert not verify_l1(ours, other_chain)


def test_recover_l1_rejects_tampering_and_garbage() -> None:
    headers = l1_headers(SigningKey.from_hex(HARDHAT_KEY), 137, 1700000000, 0)
    assert not verify_l1({**headers, "POLY_TIMESTAMP": "1700000001"}, 137)
    assert not verify_l1({**headers, "POLY_NONCE": "1"}, 137)
    assert not verify_l1({**headers, "POLY_ADDRESS": "0x" + "11" * 20}, 137)
    for bad in (
        {k: v for k, v in headers.items() if k != "POLY_SIGNATURE"},
        {**headers, "POLY_SIGNATURE": "deadbeef"},
        {**headers, "POLY_SIGNATURE": "0xzz"},
        {**headers, "POLY_SIGNATURE": headers["POLY_SIGNATURE"][:-2]},
        {**headers, "POLY_SIGNATURE": headers["POLY_SIGNATURE"][:-2] + "01"},
        {**headers, "POLY_NONCE": "x"},
        {**headers, "POLY_NONCE": "-1"},
        {**headers, "POLY_ADDRESS": "0x1234"},
    ):
        with pytest.raises(InvalidSignature):
            recover_l1(bad, 137)
        assert not verify_l1(bad, 137)


@given(key=_keys, digest=st.binary(min_size=32, max_size=32))
def test_sign_digest_matches_eth_account_and_recovers(key: str, digest: bytes) -> None:
    ours = SigningKey.from_hex(key)
    theirs = Account._sign_hash(digest, key)
    assert ours.address == Account.from_key(key).address
    assert ours.sign_digest(digest) == bytes(theirs.signature)
    assert recover_address(digest, ours.sign_digest(digest)) == ours.address


def test_recover_rejects_high_s_and_bad_v() -> None:
    key = SigningKey.from_hex(HARDHAT_KEY)
    digest = bytes(range(32))
    sig = key.sign_digest(digest)
    s = int.from_bytes(sig[32:64], "big")
    flipped_v = 55 - sig[64]
    malleable = sig[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes((flipped_v,))
    # The malleable twin is a valid ECDSA signature, but the exchange (OpenZeppelin ECDSA) refuses high s.
    pub = coincurve.PublicKey.from_signature_and_message(
        malleable[:64] + bytes((flipped_v - 27,)), digest, hasher=None
    )
    assert pub.format() == coincurve.PrivateKey(bytes.fromhex(HARDHAT_KEY[2:])).public_key.format()
    with pytest.raises(InvalidSignature):
        recover_address(digest, malleable)
    with pytest.raises(InvalidSignature):
        recover_address(digest, sig[:64] + b"\x01")
    with pytest.raises(InvalidSignature):
        recover_address(digest, b"\x00" * 64 + b"\x1b")
    with pytest.raises(InvalidSignature):
        recover_address(digest[:31], sig)


@given(raw=st.binary(min_size=20, max_size=20))
def test_checksum_address_matches_eth_account(raw: bytes) -> None:
    from eth_utils.address import to_checksum_address as eth_checksum

    assert to_checksum_address(raw) == eth_checksum(raw)
    assert to_checksum_address("0x" + raw.hex().upper()) == eth_checksum(raw)


def test_signing_key_never_shows_itself() -> None:
    key = SigningKey.from_hex(HARDHAT_KEY)
    hex_body = HARDHAT_KEY[2:]
    for text in (repr(key), str(key), f"{key}", str([key]), str({"k": key})):
        assert hex_body not in text
        assert hex_body[:16] not in text
        assert HARDHAT_ADDRESS in text
    with pytest.raises(TypeError):
        pickle.dumps(key)
    with pytest.raises(TypeError):
        copy.copy(key)
    with pytest.raises(TypeError):
        copy.deepcopy(key)
    with pytest.raises(AttributeError):
        key.extra = 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "bad",
    [
        HARDHAT_KEY[:-1],
        HARDHAT_KEY[:-2] + "zz",
        "0x" + "00" * 32,
        "0x" + SECP256K1_N.to_bytes(32, "big").hex(),
        "",
    ],
)
def test_bad_private_key_errors_do_not_leak(bad: str) -> None:
    with pytest.raises(SecretsError) as info:
        SigningKey.from_hex(bad)
    assert info.value.__cause__ is None
    if len(bad) > 10:
        assert bad[2:12] not in str(info.value)
