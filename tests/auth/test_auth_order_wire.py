"""Signed-order wire decoding for the simulator: every malformed field is one WireError; recovery errors."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest
from auth_oracle import HARDHAT_KEYS
from hypothesis import given
from hypothesis import strategies as st

from aqbot.auth import (
    InvalidSignature,
    OrderSigner,
    SigningKey,
    compute_order_id,
    order_to_wire,
    recover_order_signer,
    signed_order_from_wire,
)
from aqbot.core.types import Side
from aqbot.errors import WireError

TOKEN = "71321045679252212594626385532706912750332728571942532289631379312455583992563"


def _wire() -> dict[str, object]:
    signer = OrderSigner(SigningKey.from_hex(HARDHAT_KEYS[0]), 137)
    order = signer.sign(
        TOKEN, Side.BUY, Decimal("0.5"), Decimal(10), Decimal("0.01"), neg_risk=False, salt=7, timestamp_ms=9
    )
    return order_to_wire(order)


@pytest.mark.parametrize(
    "change",
    [
        {"side": "buy"},
        {"side": 0},
        {"salt": "7"},
        {"salt": True},
        {"salt": -1},
        {"signatureType": 9},
        {"signatureType": "0"},
        {"makerAmount": 5000000},
        {"makerAmount": "5e6"},
        {"takerAmount": "-1"},
        {"timestamp": "9.0"},
        {"expiration": None},
        {"maker": None},
        {"tokenId": "0x12"},
        {"metadata": "0x00"},
    ],
)
def test_wire_decoding_errors(change: dict[str, object]) -> None:
    data = {**_wire(), **change}
    with pytest.raises(WireError):
        signed_order_from_wire(data, chain_id=137, neg_risk=False)


def test_wire_decoding_missing_field() -> None:
    data = _wire()
    del data["signature"]
    with pytest.raises(WireError):
        signed_order_from_wire(data, chain_id=137, neg_risk=False)


def test_recover_rejects_malformed_signatures() -> None:
    data = _wire()
    order = signed_order_from_wire(data, chain_id=137, neg_risk=False)
    for bad in ("0x", "0x" + "00" * 65, str(data["signature"])[:-2], "zz", str(data["signature"]) + "00"):
        with pytest.raises(InvalidSignature):
            recover_order_signer(attrs.evolve(order, signature=bad), 137, False)


_json_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**300), 2**300),
    st.floats(allow_nan=False),
    st.text(max_size=80),
    st.text("0123456789abcdefx", max_size=70),
    st.lists(st.integers(), max_size=3),
)


@given(
    changes=st.dictionaries(st.sampled_from(list(_wire())), _json_values, max_size=4), neg_risk=st.booleans()
)
def test_wire_decoding_raises_only_wire_error(changes: dict[str, object], neg_risk: bool) -> None:
    data = {**_wire(), **changes}
    try:
        order = signed_order_from_wire(data, chain_id=137, neg_risk=neg_risk)
    except WireError:
        return
    assert order.order_id == compute_order_id(order, 137, neg_risk)
    try:
        recover_order_signer(order, 137, neg_risk)
    except InvalidSignature:
        pass
