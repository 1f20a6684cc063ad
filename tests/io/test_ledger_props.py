"""Property: any sequence of batches (incl. gap events and reopenings) is stored exactly, in order.

The model is a plain list of (type, token, payload) plus a dict of gaps where the first open, close and
resolve of an id win. After every run the store must equal the model and ``verify()`` must pass.
"""

from __future__ import annotations

import json
import os
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from aqbot.io.ledger import LedgerStore
from aqbot.io.ledger_events import (
    LedgerEvent,
    decode_payload,
    encode_payload,
    gap_close,
    gap_open,
    gap_resolve,
    payload_text,
)

# tmpfs when available: this tests logic, not durability, and fsyncs on a loaded disk cost ~15 ms each.
_SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
_JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53), 2**53),
    st.text(max_size=10),
    st.decimals(allow_nan=False, allow_infinity=False, places=3),
)
_PAYLOADS = st.dictionaries(
    st.text(max_size=6),
    st.recursive(_JSON_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=8),  # noqa: E501
    max_size=4,
)  # fmt: skip
_GAP_IDS = st.integers(1, 4)
_EVENTS = st.one_of(
    st.builds(
        LedgerEvent,
        type=st.sampled_from(["fill.applied", "halt", "ws.user.raw", "x.y_z"]),
        payload=_PAYLOADS,
        token=st.none() | st.sampled_from(["1", "22"]),
        order_id=st.none() | st.just("0x" + "ab" * 32),
    ),
    st.builds(
        lambda g, c: gap_open(g, c, "disconnect", mono_time=0.0),
        _GAP_IDS,
        st.sampled_from(["user", "market"]),
    ),
    st.builds(lambda g: gap_close(g, mono_time=0.0), _GAP_IDS),
    st.builds(lambda g: gap_resolve(g, "rec", mono_time=0.0), _GAP_IDS),
)
_BATCHES = st.lists(st.tuples(st.lists(_EVENTS, max_size=8), st.booleans()), max_size=6)


def _normalise(value: Any) -> Any:
    """What JSON gives back: Decimal as text, tuples as lists."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    return value


@given(batches=_BATCHES)
def test_store_equals_model(batches: list[tuple[list[LedgerEvent], bool]]) -> None:
    model: list[tuple[str, str | None, Any]] = []
    gaps: dict[str, dict[str, int | None]] = {}
    with tempfile.TemporaryDirectory(dir=_SCRATCH) as tmp:
        path = Path(tmp) / "l.db"
        store = LedgerStore.open(path, synchronous="NORMAL")
        try:
            for events, reopen in batches:
                assert store.append_batch(events) == len(model) + len(events)
                for event in events:
                    model.append((event.type, event.token, _normalise(event.payload)))
                    seq = len(model)
                    gap_id = str(event.payload.get("gap_id"))
                    if event.type == "gap.open":
                        gaps.setdefault(gap_id, {"open": seq, "close": None, "resolve": None})
                    elif event.type in ("gap.close", "gap.resolve") and gap_id in gaps:
                        key = event.type.removeprefix("gap.")
                        if gaps[gap_id][key] is None:
                            gaps[gap_id][key] = seq
                if reopen:
                    store.close()
                    store = LedgerStore.open(path, synchronous="NORMAL")
            stored = list(store.iter_events())
            assert [e.seq for e in stored] == list(range(1, len(model) + 1))
            assert [(e.type, e.token, e.payload) for e in stored] == model
            rows = {
                g.id: {"open": g.open_seq, "close": g.closed_seq, "resolve": g.resolved_seq}
                for g in store.gaps()
            }
            assert rows == gaps
            report = store.verify()
            assert report.ok, report.problems
            assert report.event_count == len(model)
        finally:
            store.close()


_JSON = json.JSONEncoder(default=str, separators=(",", ":"), sort_keys=True, allow_nan=False)
_JSON_UTF8 = json.JSONEncoder(
    default=str, separators=(",", ":"), sort_keys=True, allow_nan=False, ensure_ascii=False
)
_FLAT = (str, int, bool, type(None), Decimal)


@given(payload=_PAYLOADS)
def test_payload_encoding_is_canonical(payload: dict[str, Any]) -> None:
    """What json.JSONEncoder.encode writes with the ledger's options; a flat payload (msgspec's fast path)
    writes characters outside printable ASCII as UTF-8, as json does with ensure_ascii=False. Either way the
    text decodes to the same value."""
    text = encode_payload(payload)
    assert text == encode_payload(dict(reversed(list(payload.items()))))  # key order does not matter
    assert "\n" not in text
    flat = all(type(v) in _FLAT for v in payload.values())
    assert text == (_JSON_UTF8 if flat else _JSON).encode(payload)
    assert json.loads(text) == json.loads(_JSON.encode(payload))
    assert payload_text(payload) == (text.encode() if flat else text)  # the fast path hands over bytes


def test_payload_encoding_of_a_lone_surrogate_falls_back_to_escapes() -> None:
    """UTF-8 cannot hold a lone surrogate: the flat payload is written by json, escaped, as before."""
    assert payload_text({"text": "a\ud800b"}) == '{"text":"a\\ud800b"}'
    assert decode_payload(encode_payload({"text": "a\ud800b", "n": 1})) == {"n": 1, "text": "a\ud800b"}
