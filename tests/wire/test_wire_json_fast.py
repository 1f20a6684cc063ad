"""The fast JSON path (msgspec) changes nothing observable: :func:`aqbot.wire.jsontext.loads` accepts exactly
what the stdlib reference parser accepts, returns an equal value (same types, same Decimal digits), and
raises the same :class:`WireError` (message, path, excerpt) when it rejects."""

from __future__ import annotations

import json
from decimal import Decimal

import msgspec
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from wire_strategies import json_values

from aqbot.errors import WireError
from aqbot.wire.jsontext import _FAST, _stdlib_loads, loads

# Texts on the edges of what either parser accepts (each was checked against both by hand).
EDGES = [
    '"\\uDEAD"',  # a lone surrogate escape: stdlib accepts, msgspec refuses
    '"\\ud83d\\ude00"',
    "1" * 5000,  # longer than the int digit limit
    "1e999",  # beyond the Decimal bound
    "[1.50, -0.0, 1e5, 1E-2, 0.10]",
    '{"a":1,"a":2}',
    "\ufeff{}",
    '"a\x01b"',
    "NaN",
    "[Infinity]",
    "01",
    "[1,]",
    '{"a":1}x',
    "\x0c1",
    '  {"a" : [ ] }  \n',
    '"\\u0000"',
    "[[[[[[[[[[]]]]]]]]]]",
]


def _outcome(fn: object, text: str) -> tuple[str, str]:
    try:
        value = fn(text)  # type: ignore[operator]
    except WireError as exc:
        return ("error", f"{exc} | {exc.path} | {exc.raw}")
    return ("ok", repr(value))  # repr: Decimal("1.50") != Decimal("1.5"), True != 1


def _same(text: str) -> None:
    fast = _outcome(loads, text)
    reference = _outcome(lambda t: _stdlib_loads(t, sensitive=False), text)
    assert fast == reference


@pytest.mark.parametrize("text", EDGES)
def test_edges_match_the_stdlib_parser(text: str) -> None:
    _same(text)


def test_the_fast_decoder_is_really_used_and_refuses_lone_surrogates() -> None:
    """Evidence that the property below compares two different parsers."""
    assert repr(_FAST.decode("[1.50]")) == repr([Decimal("1.50")])
    with pytest.raises(msgspec.DecodeError):
        _FAST.decode('"\\uDEAD"')


def _dumps(value: object) -> str:
    return json.dumps(value, default=str)


@given(json_values.map(_dumps))
@example("[1.0, 2.50, -3e-7]")
def test_valid_json_parses_equal(text: str) -> None:
    _same(text)


@given(json_values.map(_dumps), st.integers(min_value=0, max_value=200), st.text(max_size=3))
def test_mutated_json_parses_or_fails_alike(text: str, at: int, insert: str) -> None:
    at = min(at, len(text))
    _same(text[:at] + insert + text[at:])


@given(st.lists(st.decimals(allow_nan=False, allow_infinity=False) | st.integers(), max_size=5))
def test_json_numbers_parse_equal(numbers: list[Decimal | int]) -> None:
    _same("[" + ",".join(str(n) for n in numbers) + "]")
