"""JSON text at the edge: parsing with Decimal floats and a depth guard, and compact deterministic printing.

:func:`loads` raises only :class:`aqbot.errors.WireError`. :func:`dumps` prints unstructured data with
``separators=(",", ":")`` and ``ensure_ascii=False`` (what the L2 HMAC signs); ``Decimal`` values (the fields
that are JSON numbers on the wire) are printed as JSON numbers in positional notation.
"""

from __future__ import annotations

import json
import logging
import re
from decimal import Decimal
from json.encoder import encode_basestring

import msgspec

from aqbot.errors import WireError
from aqbot.wire.scalars import dec_text, parse_json_float

logger = logging.getLogger(__name__)

Raw = str | bytes | bytearray
_EXCERPT = 160


def excerpt(raw: object) -> str:
    if isinstance(raw, bytes | bytearray):
        return bytes(raw[:_EXCERPT]).decode("utf-8", "replace")
    if isinstance(raw, str):
        return raw[:_EXCERPT]
    return repr(raw)[:_EXCERPT]


def _reject_constant(name: str) -> object:
    raise ValueError("NaN and Infinity are not valid JSON numbers here")


_MAX_DEPTH = 64
_CHEAP_BRACKETS = 2_000
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _too_deep(raw: Raw) -> bool:
    """True when the JSON nests deeper than ``_MAX_DEPTH``.

    Why: the C JSON scanner recurses once per level and only stops at the interpreter's recursion limit,
    which some libraries raise to 100000 at import (py_ecc does): a frame of 100k ``[`` then overflows the
    C stack and kills the process. Counting brackets is C-speed and settles every normal message; only a
    frame with more than ``_CHEAP_BRACKETS`` openers gets the exact (string-aware) depth scan.
    """
    if len(raw) <= _CHEAP_BRACKETS:
        return False
    if isinstance(raw, str):
        if raw.count("[") + raw.count("{") <= _CHEAP_BRACKETS:
            return False
        text = raw
    else:
        if raw.count(b"[") + raw.count(b"{") <= _CHEAP_BRACKETS:
            return False
        text = bytes(raw).decode("utf-8", "replace")
    depth = 0
    for m in _TOKENS.finditer(text):
        tok = m.group()
        if tok in ("[", "{"):
            depth += 1
            if depth > _MAX_DEPTH:
                return True
        elif tok in ("]", "}"):
            depth -= 1
    return False


_DECODER = json.JSONDecoder(parse_float=parse_json_float, parse_constant=_reject_constant)
"""One decoder (``json.loads`` with keyword arguments builds a new decoder and scanner on every call)."""


_FAST = msgspec.json.Decoder(float_hook=parse_json_float)
"""msgspec's untyped JSON decoder, the hot path for text frames (about 2x the stdlib scanner here).

It accepts a subset of what the stdlib decoder accepts, with equal results (Decimal for every JSON float,
bounded by :func:`parse_json_float`; big ints as ``int``; last duplicate key wins); it refuses lone
surrogate escapes, a BOM and over-long ints, which the stdlib path then decides. So :func:`loads` tries it
first and, on any failure, re-parses with the stdlib decoder: what is accepted, the value returned and the
:class:`WireError` raised are exactly the stdlib path's (``tests/wire/test_wire_json_fast.py``)."""
_FAST_ERRORS = (msgspec.MsgspecError, ValueError, TypeError, RecursionError)


def loads(raw: Raw, *, sensitive: bool = False) -> object:
    """Parse JSON text with Decimal floats; any failure is a :class:`WireError` at ``$``."""
    if _too_deep(raw):
        raise WireError(
            f"JSON nests deeper than {_MAX_DEPTH} levels", path="$", raw="" if sensitive else excerpt(raw)
        )
    if type(raw) is str:
        try:
            return _FAST.decode(raw)
        except _FAST_ERRORS:
            pass  # the stdlib path below decides, and builds the error
    return _stdlib_loads(raw, sensitive=sensitive)


def _stdlib_loads(raw: Raw, *, sensitive: bool) -> object:
    """The reference parser: the stdlib scanner with ``parse_float`` (see :data:`_FAST`)."""
    try:
        text = raw if isinstance(raw, str) else raw.decode(json.detect_encoding(raw), "surrogatepass")
        if text.startswith("\ufeff"):
            raise ValueError("unexpected UTF-8 BOM")
        return _DECODER.decode(text)
    except (ValueError, TypeError, RecursionError) as exc:
        snippet = "" if sensitive else excerpt(raw)
        raise WireError(f"invalid JSON ({type(exc).__name__})", path="$", raw=snippet) from exc


class _HasDecimalNumber(Exception):
    """Internal: the tree holds a JSON-number Decimal, so the C encoder cannot print it."""


def _refuse(o: object) -> object:
    if type(o) is Decimal:
        raise _HasDecimalNumber
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def _write(o: object, out: list[str]) -> None:
    if isinstance(o, str):
        out.append(encode_basestring(o))
    elif o is None:
        out.append("null")
    elif o is True:
        out.append("true")
    elif o is False:
        out.append("false")
    elif type(o) is int:
        out.append(int.__repr__(o))
    elif isinstance(o, Decimal):
        out.append(dec_text(o))
    elif isinstance(o, dict):
        out.append("{")
        for n, (k, v) in enumerate(o.items()):
            if n:
                out.append(",")
            out.append(encode_basestring(str(k)))
            out.append(":")
            _write(v, out)
        out.append("}")
    elif isinstance(o, list | tuple):
        out.append("[")
        for n, v in enumerate(o):
            if n:
                out.append(",")
            _write(v, out)
        out.append("]")
    else:
        raise TypeError(f"not JSON serializable: {type(o).__name__}")


def dumps(data: object) -> str:
    """Compact deterministic JSON of unstructured data; ``Decimal`` values print as JSON numbers."""
    try:
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_refuse)
    except _HasDecimalNumber:
        out: list[str] = []
        _write(data, out)
        return "".join(out)
