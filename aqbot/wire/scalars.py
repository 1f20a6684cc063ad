"""Scalar conversions shared by the generated and the hand-written hooks.

Every function raises ``ValueError`` or ``TypeError`` on a bad value (never with the value in the message, so
nothing secret can leak into an error), which the codec turns into :class:`aqbot.errors.WireError`.

Decimal policy: strings, ints and (JSON-number) Decimals are accepted; NaN, infinities and magnitudes beyond
``1e±40`` are refused. Encoding uses positional notation (``format(d, "f")``), so every plain decimal string
the exchange sends (``"100.0000"``, ``"0.1"``) re-encodes to the same text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import cast

from aqbot.wire.types import MS_THRESHOLD, SECONDS_MIN, TIMESTAMP_MAX, UnixMs, UnixS

logger = logging.getLogger(__name__)

_EXP_LIMIT = 40
_ZERO = Decimal(0)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


_DEC_CACHE: dict[str, Decimal] = {}
_DEC_CACHE_MAX = 8192
_DEC_KEY_MAX = 64
"""Longest string memoised: the exponent bound does not bound the digits (``"1." + "0" * 10**6`` is
accepted), so without it the memo could hold ``_DEC_CACHE_MAX`` frames' worth of text and Decimals."""


def to_decimal(v: object) -> Decimal:
    """A finite, bounded Decimal from a JSON string, int or Decimal (``parse_float=Decimal``).

    Decimal strings are memoized in a small bounded cache (prices and sizes repeat; Decimals are immutable).
    """
    if type(v) is str:
        d = _DEC_CACHE.get(v)
        if d is not None:
            return d
        d = _checked(v)
        if len(v) > _DEC_KEY_MAX:
            return d
        if len(_DEC_CACHE) >= _DEC_CACHE_MAX:
            _DEC_CACHE.clear()
        _DEC_CACHE[v] = d
        return d
    if type(v) is int or type(v) is Decimal:
        return _checked(v)
    raise TypeError("expected a decimal string or number")


cached_decimal = cast(Callable[[object], Decimal | None], _DEC_CACHE.get)
"""The memo's lookup: the Decimal :func:`to_decimal` returned for a string, or ``None`` (not converted
yet, longer than ``_DEC_KEY_MAX``, or not a string). A hot caller may try it before calling
:func:`to_decimal` (the memo is cleared, never replaced, so this stays bound to it)."""
decimal_memo: Mapping[str, Decimal] = _DEC_CACHE
"""The memo itself, read-only: ``v in decimal_memo`` (no call) says :func:`to_decimal` has accepted ``v``."""


def parse_json_float(text: str) -> Decimal:
    """``parse_float`` for ``json.loads``: exact Decimal, bounded like every other number."""
    return _checked(text)


def _checked(v: str | int | Decimal) -> Decimal:
    try:
        d = Decimal(v)
    except InvalidOperation:
        raise ValueError("not a decimal number") from None
    if d.is_finite():
        if -_EXP_LIMIT <= d.adjusted() <= _EXP_LIMIT:
            return d
        if not d:
            return _ZERO
    raise ValueError("decimal is not finite or out of range")


def to_decimal_or_zero(v: object) -> Decimal:
    """Like :func:`to_decimal`, but ``""`` (the exchange's "nothing yet") means ``0``."""
    if type(v) is str:
        d = _DEC_CACHE.get(v)
        if d is not None:
            return d
        if v == "":
            return _ZERO
    return to_decimal(v)


def to_opt_decimal(v: object) -> Decimal | None:
    """``None``/``""`` -> ``None``, else :func:`to_decimal`."""
    if type(v) is str:
        d = _DEC_CACHE.get(v)
        if d is not None:
            return d
        if v == "":
            return None
    elif v is None:
        return None
    return to_decimal(v)


def dec_text(d: Decimal) -> str:
    """Positional text of ``d`` (no exponent): ``Decimal("100.0000")`` -> ``"100.0000"``."""
    return format(d, "f")


def to_str(v: object) -> str:
    if type(v) is str:
        return v
    raise TypeError("expected a string")


def to_opt_str(v: object) -> str | None:
    if v is None or type(v) is str:
        return v
    raise TypeError("expected a string or null")


def to_bool(v: object) -> bool:
    if type(v) is bool:
        return v
    raise TypeError("expected a boolean")


def to_int(v: object) -> int:
    """A JSON integer (``true``/``false`` are refused)."""
    if type(v) is int:
        return v
    raise TypeError("expected an integer")


def to_int_text(v: object) -> int:
    """An integer sent as a decimal string (``"11782400"``); a JSON integer is accepted too."""
    if type(v) is int:
        return v
    if type(v) is str and v.isascii() and v.isdigit() and len(v) <= 80:
        return int(v)
    raise ValueError("expected an integer string")


def _int_or_iso(v: object, *, iso_scale: int) -> int:
    if type(v) is int:
        return v
    if type(v) is str:
        if len(v) <= 20 and v.isdigit() and v.isascii():
            return int(v)
        if 10 <= len(v) <= 40 and v[:4].isdigit() and v[4:5] == "-":
            try:
                dt = datetime.fromisoformat(v)
            except ValueError:
                raise ValueError("not a timestamp") from None
            if dt.tzinfo is None:
                raise ValueError("timestamp without a timezone")
            delta = dt - _EPOCH
            ms = (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
            return ms if iso_scale == 1000 else ms // 1000
    raise ValueError("expected a unix timestamp")


def _in_range(n: int) -> int:
    if 0 <= n < TIMESTAMP_MAX:
        return n
    raise ValueError("timestamp out of range")


_UNIX_S_CACHE: dict[str, int] = {}
_UNIX_S_CACHE_MAX = 4096


def _digits_s(v: str) -> int:
    """A digit string of at most 10 digits (< 1e10: in range, not ms) as seconds, memoized (``created_at``,
    ``match_time``, ``last_update`` repeat within a second, ``expiration`` is mostly ``"0"``)."""
    n = int(v)
    if len(_UNIX_S_CACHE) >= _UNIX_S_CACHE_MAX:
        _UNIX_S_CACHE.clear()
    _UNIX_S_CACHE[v] = n
    return n


cached_unix_s = cast(Callable[[object], UnixS | None], _UNIX_S_CACHE.get)
"""The seconds memo's lookup: what :func:`to_unix_s` and :func:`to_opt_unix_s` return for a digit string
they have converted, or ``None`` (not converted yet, not such a string, or not a string). A hot caller may
try it before calling them (the memo is cleared, never replaced, so this stays bound to it)."""
unix_s_memo: Mapping[str, int] = _UNIX_S_CACHE
"""The seconds memo itself, read-only: ``v in unix_s_memo`` (no call) says :func:`to_opt_unix_s` has
accepted ``v``."""


def to_unix_s(v: object) -> UnixS:
    """Seconds from an int, a digit string or an ISO-8601 string with a zone. Values that are clearly
    milliseconds (>= 1e11) are floored to seconds; negative or absurd (>= 1e14) values are refused."""
    if type(v) is str:
        n = _UNIX_S_CACHE.get(v)
        if n is not None:
            return n  # type: ignore[return-value]  # hot path: skip the NewType call
        if len(v) <= 10 and v.isdigit() and v.isascii():
            return _digits_s(v)  # type: ignore[return-value]
    n = _in_range(_int_or_iso(v, iso_scale=1))
    if n >= MS_THRESHOLD:
        n //= 1000
    return UnixS(n)


def to_unix_ms(v: object) -> UnixMs:
    """Milliseconds from an int or digit string (or ISO-8601). Values in [1e9, 1e11) are seconds: scaled.
    Negative or absurd (>= 1e14) values are refused."""
    if type(v) is str and len(v) == 13 and v[0] != "0" and v.isdigit() and v.isascii():
        return int(v)  # type: ignore[return-value]  # hot path: skip the NewType call
    n = _in_range(_int_or_iso(v, iso_scale=1000))
    if SECONDS_MIN <= n < MS_THRESHOLD:
        n *= 1000
    return UnixMs(n)


def to_opt_unix_s(v: object) -> UnixS | None:
    if type(v) is str:
        n = _UNIX_S_CACHE.get(v)
        if n is not None:
            return n  # type: ignore[return-value]  # hot path (as in to_unix_s)
        if len(v) <= 10 and v.isdigit() and v.isascii():
            return _digits_s(v)  # type: ignore[return-value]
        if v == "":
            return None
    elif v is None:
        return None
    return to_unix_s(v)


def to_opt_unix_ms(v: object) -> UnixMs | None:
    if type(v) is str:
        if len(v) == 13 and v[0] != "0" and v.isdigit() and v.isascii():
            return int(v)  # type: ignore[return-value]  # hot path: skip the NewType call
        if v == "":
            return None
    elif v is None:
        return None
    return to_unix_ms(v)


def to_str_tuple(v: object) -> tuple[str, ...]:
    """A JSON array of strings."""
    if type(v) is not list:
        raise TypeError("expected an array")
    for x in v:
        if type(x) is not str:
            raise TypeError("expected an array of strings")
    return tuple(v)
