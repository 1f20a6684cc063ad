"""Fuzz target: the wire decoders (:mod:`aqbot.wire`).

Invariant, for any bytes fed to every decoder (market frame, user frame, client frame, and a set of REST
types):

* the decoder returns models or raises :class:`aqbot.errors.WireError`, never anything else (no
  ``KeyError``/``TypeError``/``ValueError``/``JSONDecodeError``/``RecursionError``/cattrs errors, no crash);
* whatever decodes re-encodes, and the re-encoded text decodes to an equal value (encode/decode is a
  round trip on everything the decoder accepts);
* the fast converter and the generated-hooks converter agree (same value or same error and path);
* on the text of the input, the typed user-channel fast paths (``decode_user_frame``'s and the fused
  ``aqbot.io.edge.user_frame_events``) agree with the reference path (same models, same core events and
  newest message timestamp, same error).

Run with atheris on a scratch copy of the corpus (libFuzzer writes new inputs into its first directory):
``cp -r fuzz/corpus/decode /tmp/decode && python -m fuzz.fuzz_decode /tmp/decode -max_total_time=60``
(``python fuzz/fuzz_decode.py ...`` works too). ``tests/wire/test_fuzz_corpus.py`` replays the committed
corpus and a Hypothesis ``binary()`` stream through :func:`test_one_input` in CI.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aqbot.wire as w
from aqbot.io import edge
from aqbot.wire import codec

FAST = w.make_converter(fast=True)
GENERATED = w.make_converter(fast=False)

REST_TYPES: tuple[Any, ...] = (
    w.PostOrderRequest,
    w.PostOrderResponse,
    list[w.PostOrderResponse],
    w.CancelResponse,
    w.Page[w.OpenOrder],
    w.Page[w.Trade],
    w.BookSummary,
    w.ClobMarketInfo,
    w.ServerTime,
    w.HeartbeatError,
    w.ErrorBody,
    w.BalanceAllowance,
    list[w.Position],
)


def _outcome(decode: Callable[..., Any], data: bytes, conv: Any) -> tuple[str, Any]:
    try:
        return ("ok", decode(data, converter=conv))
    except w.WireError as exc:
        return ("error", (str(exc), exc.path))


def _frames(data: bytes) -> None:
    for decode, encode in (
        (w.decode_market_frame, w.encode_market_frame),
        (w.decode_user_frame, w.encode_user_frame),
    ):
        fast = _outcome(decode, data, FAST)
        assert fast == _outcome(decode, data, GENERATED), (fast, data[:200])
        if fast[0] == "ok":
            events = fast[1]
            text = encode(events[0]) if len(events) == 1 else encode(events)
            assert decode(text) == events, (text[:200], data[:200])


ME = edge.Identity(
    api_key="9180014b-33c8-9240-a14b-bdca11c0a465", maker_address="0xF39FD6E51AAD88F6F4CE6AB8827279CFFFB92266"
)


def _text_outcome(decode: Callable[[str], Any], text: str) -> tuple[str, Any]:
    try:
        return ("ok", repr(decode(text)))  # repr keeps Decimal digits
    except w.WireError as exc:
        return ("error", (str(exc), exc.path, exc.raw))


def _user_fast(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    reference = _text_outcome(lambda t: codec._decode_frame(t, codec.default_converter(), "user"), text)
    assert _text_outcome(w.decode_user_frame, text) == reference, text[:200]
    fused = _text_outcome(_fused_frame, text)
    assert fused == _text_outcome(_reference_frame, text), text[:200]


def _fused_frame(text: str) -> tuple[list[Any], int | None]:
    frame = edge.user_frame_events(text, ME)
    return list(frame), frame.newest_ms


def _reference_frame(text: str) -> tuple[list[Any], int | None]:
    models = w.decode_user_frame(text)
    return list(edge.user_events(models, ME)), edge.newest_timestamp_ms(models)


def _client(data: bytes) -> None:
    try:
        frame = w.decode_client_frame(data)
    except w.WireError:
        return
    assert w.decode_client_frame(w.encode_client_frame(frame)) == frame


def _rest(data: bytes) -> None:
    for tp in REST_TYPES:
        try:
            obj = w.decode_rest(data, tp)
        except w.WireError:
            continue
        assert w.decode_rest(w.encode_json(obj), tp) == obj, (tp, data[:200])


def test_one_input(data: bytes) -> None:
    """Feed ``data`` to every decoder; see the module docstring for the invariant."""
    _frames(data)
    _user_fast(data)
    _client(data)
    _rest(data)


def main(argv: list[str]) -> None:
    """Run under atheris (libFuzzer arguments in ``argv``)."""
    import atheris  # only needed for real fuzzing; pytest replays the corpus without it

    atheris.instrument_all()
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":  # pragma: no cover - only under atheris
    main(sys.argv)
