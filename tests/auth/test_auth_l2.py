"""L2 HMAC headers: the SDK's vector, byte equality with py-clob-client-v2, verification, secrecy."""

from __future__ import annotations

import base64
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st
from py_clob_client_v2.clob_types import ApiCreds as SdkApiCreds
from py_clob_client_v2.clob_types import RequestArgs
from py_clob_client_v2.headers.headers import create_level_2_headers
from py_clob_client_v2.signer import Signer

from aqbot.auth import ApiCreds, L2Auth, SigningKey, build_hmac_signature, l2_headers, verify_l2
from aqbot.errors import SecretsError

HARDHAT_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
SDK_SIGNER = Signer(HARDHAT_KEY, 137)
ADDRESS = SigningKey.from_hex(HARDHAT_KEY).address
SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I="
PASSPHRASE = "pass-phrase-0123"


def test_sdk_vector() -> None:
    sig = build_hmac_signature(
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "1000000", "test-sign", "/orders", '{"hash": "0x123"}'
    )
    assert sig == "ZwAdJKvoYRlEKDkNMwd5BuwNNtg93kNaR_oU2HrfVvc="


def test_query_string_is_not_signed() -> None:
    creds = ApiCreds("key", SECRET, PASSPHRASE)
    with_query = l2_headers(creds, ADDRESS, 1700000000, "GET", "/data/orders?market=0xabc&next_cursor=MA==")
    without = l2_headers(creds, ADDRESS, 1700000000, "GET", "/data/orders")
    assert with_query == without


def test_empty_body_equals_no_body() -> None:
    assert build_hmac_signature(SECRET, 5, "GET", "/x", "") == build_hmac_signature(
        SECRET, 5, "GET", "/x", None
    )
    assert build_hmac_signature(SECRET, 5, "GET", "/x", "{}") != build_hmac_signature(SECRET, 5, "GET", "/x")


_secrets = st.binary(min_size=1, max_size=48).map(lambda b: base64.urlsafe_b64encode(b).decode())
_paths = st.from_regex(r"\A/[a-z\-_/]{0,30}\Z")
# JSON-ish bodies without "'" (the SDK rewrites ' to " before signing; aqbot signs the exact bytes).
_bodies = st.none() | st.text(
    st.characters(codec="utf-8", exclude_characters="'", categories=("L", "M", "N", "P", "S", "Z")),
    max_size=200,
)


@given(
    secret=_secrets,
    api_key=st.uuids().map(str),
    passphrase=st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=1, max_size=64),
    timestamp=st.integers(min_value=0, max_value=4_000_000_000),
    method=st.sampled_from(["GET", "POST", "DELETE", "PUT"]),
    path=_paths,
    body=_bodies,
)
def test_headers_match_sdk(
    secret: str, api_key: str, passphrase: str, timestamp: int, method: str, path: str, body: str | None
) -> None:
    ours = l2_headers(ApiCreds(api_key, secret, passphrase), ADDRESS, timestamp, method, path, body)
    sdk = create_level_2_headers(
        SDK_SIGNER,
        SdkApiCreds(api_key, secret, passphrase),
        RequestArgs(method=method, request_path=path, serialized_body=body),
        timestamp=timestamp,
    )
    assert ours == sdk
    assert list(ours) == list(sdk)
    assert verify_l2(ApiCreds(api_key, secret, passphrase), ours, method, path, body)


def test_body_with_single_quote_is_signed_verbatim() -> None:
    body = '{"note":"it\'s"}'
    ours = build_hmac_signature(SECRET, 1, "POST", "/order", body)
    sdk = create_level_2_headers(
        SDK_SIGNER,
        SdkApiCreds("k", SECRET, PASSPHRASE),
        RequestArgs(method="POST", request_path="/order", serialized_body=body),
        timestamp=1,
    )["POLY_SIGNATURE"]
    # The documented divergence: the SDK signs body.replace("'", '"'), aqbot the bytes it sends.
    assert ours != sdk
    assert build_hmac_signature(SECRET, 1, "POST", "/order", body.replace("'", '"')) == sdk


def test_verify_rejects_tampering() -> None:
    creds = ApiCreds("key-1", SECRET, PASSPHRASE)
    body = '{"orderID":"0x01"}'
    headers = l2_headers(creds, ADDRESS, 1700000000, "DELETE", "/order", body)
    assert verify_l2(creds, headers, "DELETE", "/order", body)
    assert not verify_l2(creds, headers, "DELETE", "/order", body + " ")
    assert not verify_l2(creds, headers, "POST", "/order", body)
    assert not verify_l2(creds, headers, "DELETE", "/orders", body)
    assert not verify_l2(creds, {**headers, "POLY_TIMESTAMP": "1700000001"}, "DELETE", "/order", body)
    assert not verify_l2(creds, {**headers, "POLY_PASSPHRASE": "nope"}, "DELETE", "/order", body)
    assert not verify_l2(creds, {**headers, "POLY_API_KEY": "key-2"}, "DELETE", "/order", body)
    assert not verify_l2(ApiCreds("key-1", "QUJD", PASSPHRASE), headers, "DELETE", "/order", body)
    incomplete = {k: v for k, v in headers.items() if k != "POLY_SIGNATURE"}
    assert not verify_l2(creds, incomplete, "DELETE", "/order", body)


def test_l2auth_is_the_rest_signer() -> None:
    creds = ApiCreds("key-1", SECRET, PASSPHRASE)
    auth = L2Auth(creds, ADDRESS)
    assert auth.l2_headers("POST", "/order", "{}", 42) == l2_headers(
        creds, ADDRESS, 42, "POST", "/order", "{}"
    )


def test_creds_never_show_secrets() -> None:
    creds = ApiCreds("key-1", SECRET, PASSPHRASE)
    for text in (repr(creds), str(creds), repr(L2Auth(creds, ADDRESS)), f"{creds}", str([creds])):
        assert SECRET not in text
        assert PASSPHRASE not in text
        assert "key-1" in text
    assert pickle.loads(pickle.dumps(creds)) == creds


def test_bad_secret_error_does_not_leak() -> None:
    bad = "not base64 at all!"
    with pytest.raises(SecretsError) as info:
        ApiCreds("key", "abcde", "pp")
    assert "abcde" not in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__
    with pytest.raises(SecretsError) as info2:
        build_hmac_signature("x", 1, "GET", "/", None)
    assert bad not in str(info2.value)
