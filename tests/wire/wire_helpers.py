"""Helpers shared by the wire tests: strict JSON-value comparison and class-name resolution."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import aqbot.wire


def parse(text: str) -> Any:
    """Parse like the codec does (floats as Decimal)."""
    return json.loads(text, parse_float=Decimal)


def strict_equal(a: object, b: object) -> bool:
    """JSON values equal *including* JSON types (``1 != true``, ``"1" != 1``; ``0.10`` keeps its text)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return a.keys() == b.keys() and all(strict_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        assert isinstance(b, list)
        return len(a) == len(b) and all(strict_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Decimal):
        return str(a) == str(b)
    return a == b


def resolve(name: str) -> Any:
    """``"Page[OpenOrder]"`` -> the type, evaluated in the ``aqbot.wire`` namespace."""
    return eval(name, dict(vars(aqbot.wire)))
