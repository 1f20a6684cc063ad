"""Hypothesis strategies that build any wire model from its annotations.

Values stay inside what the wire can carry: Decimals are finite with at most 8 places and |x| < 1e12;
timestamps avoid the ranges the decoder normalizes (seconds < 1e11; milliseconds < 1e9 or >= 1e11);
secrets come from a fixed pool (so random text never lands in the process-wide redaction registry).
"""

from __future__ import annotations

import enum
import typing
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs
from hypothesis import strategies as st

from aqbot.wire import MARKET_EVENT_TAGS, USER_EVENT_TAGS, Secret, UnixMs, UnixS, UnknownEvent

TEST_SECRETS = ("c2VjcmV0LXByb3BlcnR5LXRlc3QtMDAwMDAwMDE=", "passphrase-property-test-0000000002")

decimals = st.decimals(
    min_value=Decimal(-(10**12)), max_value=Decimal(10**12), places=8, allow_nan=False, allow_infinity=False
) | st.sampled_from([Decimal("0.1"), Decimal("100.0000"), Decimal("0.001"), Decimal("0E-8"), Decimal("5")])
unix_s = st.integers(min_value=0, max_value=10**11 - 1).map(UnixS)
unix_ms = (
    st.integers(min_value=0, max_value=10**9 - 1) | st.integers(min_value=10**11, max_value=10**14 - 1)
).map(UnixMs)
text = st.text(max_size=12)
json_scalars = st.none() | st.booleans() | st.integers(-(10**9), 10**9) | text
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)
_KNOWN_TAGS = set(MARKET_EVENT_TAGS.values()) | set(USER_EVENT_TAGS.values())


def _unknown_event() -> st.SearchStrategy[UnknownEvent]:
    tags = text.filter(lambda t: t not in _KNOWN_TAGS)
    return st.builds(
        lambda tag, extra: UnknownEvent(event_type=tag, raw={**extra, "event_type": tag}),
        tags,
        st.dictionaries(text, json_values, max_size=4),
    )


def strategy_for(tp: Any) -> st.SearchStrategy[Any]:
    """A strategy for a field type or a model class."""
    if tp is UnknownEvent:
        return _unknown_event()
    if tp is str:
        return text
    if tp is bool:
        return st.booleans()
    if tp is int:
        return st.integers(min_value=0, max_value=2**80)
    if tp is Decimal:
        return decimals
    if tp is UnixS:
        return unix_s
    if tp is UnixMs:
        return unix_ms
    if tp is Secret:
        return st.sampled_from(TEST_SECRETS).map(Secret)
    if tp == Mapping[str, object]:
        return st.dictionaries(text, json_values, max_size=3)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return st.sampled_from(list(tp))
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union or type(tp).__name__ == "UnionType":
        return st.one_of([strategy_for(a) if a is not type(None) else st.none() for a in args])
    if origin is tuple:
        return st.lists(strategy_for(args[0]), max_size=3).map(tuple)
    if origin is list:
        return st.lists(strategy_for(args[0]), max_size=3)
    if origin is dict:
        return st.dictionaries(strategy_for(args[0]), strategy_for(args[1]), max_size=3)
    cls = origin or tp
    if attrs.has(cls):
        bindings = dict(zip(getattr(cls, "__parameters__", ()), args, strict=False))
        hints = typing.get_type_hints(cls)
        fields = {}
        for f in attrs.fields(cls):
            ftp = hints[f.name]
            if typing.get_origin(ftp) is tuple and isinstance(typing.get_args(ftp)[0], typing.TypeVar):
                ftp = tuple[bindings[typing.get_args(ftp)[0]], ...]  # type: ignore[misc]
            fields[f.name] = strategy_for(ftp)
        return st.fixed_dictionaries(fields).map(lambda kw: cls(**kw))
    raise NotImplementedError(f"no strategy for {tp!r}")
