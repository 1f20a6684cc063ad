"""The public surface of aqbot.auth is pinned: other packages (io, sim, bench) build on these names."""

from __future__ import annotations

import aqbot.auth

EXPECTED = {
    "BYTES32_ZERO",
    "EXCHANGES",
    "ROUNDING_CONFIG",
    "ApiCreds",
    "InvalidOrderSpec",
    "InvalidSignature",
    "L2Auth",
    "OrderSigner",
    "OrderStamper",
    "RoundConfig",
    "SignatureType",
    "SignedOrder",
    "SigningKey",
    "build_hmac_signature",
    "compute_order_id",
    "exchange_address",
    "l1_headers",
    "l2_headers",
    "limit_order_amounts",
    "market_order_amounts",
    "order_digest",
    "order_to_wire",
    "post_order_body",
    "recover_address",
    "recover_l1",
    "recover_order_signer",
    "signed_order_from_wire",
    "to_checksum_address",
    "verify_l1",
    "verify_l2",
}


def test_all_is_pinned_and_importable() -> None:
    assert set(aqbot.auth.__all__) == EXPECTED
    for name in EXPECTED:
        assert getattr(aqbot.auth, name) is not None


def test_errors_are_in_the_aqbot_tree() -> None:
    from aqbot.errors import AqbotError

    assert issubclass(aqbot.auth.InvalidSignature, AqbotError)
    assert issubclass(aqbot.auth.InvalidOrderSpec, AqbotError)
    assert issubclass(aqbot.auth.InvalidOrderSpec, ValueError)
