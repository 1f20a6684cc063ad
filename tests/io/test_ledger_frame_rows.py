"""The user feed's ledger rows against the path they replace (old vs new, differential).

* A raw channel frame's row (:meth:`LedgerSink.record_frame`, :func:`aqbot.io.ledger_events.frame_row`) is
  the row ``make_row`` makes of ``{"local_seq": seq, "text": text}``, or raises what it raises.
* :meth:`UserFeed.deliver` records what ``Hub.record`` of the raw frame and ``Hub.apply`` of each outcome
  recorded before: the same rows in the same order, ``mono_time`` included (the reader's ``now`` is Trio's
  clock when the frame arrived, here a MockClock), one wall-clock label per frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st
from test_ws_user import ready_core, traffic

from aqbot.core.events import OrderEvent, PlacementAnswer
from aqbot.core.types import Side
from aqbot.io import edge
from aqbot.io.hub import Hub
from aqbot.io.ledger_events import frame_row, make_row
from aqbot.io.ledger_sink import LedgerSink
from aqbot.io.ws_user import UserFeed

_TYPES = st.sampled_from(["ws.user.raw", "ws.market.raw", "gap.close", "Bad.Type", "x.y"])
_SEQS = st.integers() | st.sampled_from([-(2**63), 2**64 - 1, 2**64, -(2**63) - 1])
# Text of every kind (lone surrogates included), ASCII text, and a JSON frame with an escape.
_FRAME_TEXT = (
    st.text(st.characters(blacklist_categories=()))
    | st.text(st.characters(max_codepoint=127))
    | st.just('{"a":"\\u00e9"}')
)


def _outcome(fn: Any) -> Any:
    try:
        return fn()
    except (TypeError, ValueError) as exc:
        return type(exc), str(exc)


def _comparable(row: Any) -> Any:
    """A row with its payload as bytes (a bytearray and bytes compare unequal to str)."""
    if not isinstance(row, tuple) or len(row) != 7:
        return row
    payload = row[6]
    if isinstance(payload, bytearray):
        payload = ("bytes", bytes(payload))
    return (*row[:6], type(row[6]).__name__, payload)


@given(type_=_TYPES, seq=_SEQS, text=_FRAME_TEXT, now=st.floats(), wall=st.floats())
def test_frame_row_is_make_row_of_the_frame_payload(
    type_: str, seq: int, text: str, now: float, wall: float
) -> None:
    new = _outcome(lambda: frame_row(type_, seq, text, now, wall))
    old = _outcome(lambda: make_row(type_, {"local_seq": seq, "text": text}, now, None, None, None, wall))
    assert repr(_comparable(new)) == repr(_comparable(old))  # repr: NaN times compare equal to themselves


def test_record_frame_counts_and_signals() -> None:
    sink = LedgerSink()
    sink.record_frame("ws.user.raw", 3, "{}", 1.0, 2.0)
    sink.record_frame("ws.user.raw", 4, "é", 1.0, 2.0)  # not ASCII: encoded at once
    assert sink.recorded == sink.buffered == 2
    first, second = sink._buffer
    assert first == (2.0, 1.0, "ws.user.raw", 0, 0, 0, {"local_seq": 3, "text": "{}"})
    assert bytes(second[6]) == '{"local_seq":4,"text":"é"}'.encode()  # type: ignore[arg-type]
    assert sink._signalled


def test_a_bad_frame_type_raises_as_make_row() -> None:
    with pytest.raises(ValueError, match="dotted lower-case name"):
        LedgerSink().record_frame("Bad", 1, "{}", 1.0, 2.0)


def _old_deliver(feed: UserFeed, seq: int, now: float, raw: str, events: Sequence[object]) -> None:
    """``UserFeed.deliver`` before: ``Hub.record`` of the raw frame, ``Hub.apply`` of each outcome."""
    hub = feed.hub
    hub.record("ws.user.raw", {"local_seq": seq, "text": raw})
    for event in events:
        if isinstance(event, OrderEvent):
            hub.apply(hub.core.on_order_event(event, now))
        else:
            hub.apply(hub.core.on_trade_event(event, now))  # type: ignore[arg-type]


def _feed_rows(seed: int, old: bool) -> list[Any]:
    frames, placed, spec, me = traffic(seed, rounds=12)
    hub = Hub(ready_core(spec, me))
    feed = UserFeed(hub, me)
    decode = edge.user_frame_decoder(me)

    async def main() -> None:
        for i, raw in enumerate(frames):
            await trio.sleep(1.0)  # each frame at its own instant
            now = trio.current_time()  # what the reader passes
            if i in placed:
                order_id, token, price = placed[i]
                result = hub.core.place(order_id, token, Side.BUY, price, Decimal(10), now)
                assert result.ok
                hub.apply(result.outcome)
                hub.apply(
                    hub.core.on_placement_answer(PlacementAnswer(order_id, True, order_id, "live"), now)
                )
            if old:
                _old_deliver(feed, i + 1, now, raw, decode(raw))
            else:
                feed.deliver("user", i + 1, now, raw, decode(raw))

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return [_comparable(row[1:]) for row in hub.sink._buffer]  # wall time aside


def test_deliver_records_the_rows_record_and_apply_recorded() -> None:
    for seed in (1, 2):
        new = _feed_rows(seed, old=False)
        assert new == _feed_rows(seed, old=True)
        assert sum(1 for row in new if row[1] == "ws.user.raw") == len(traffic(seed, rounds=12)[0])
        assert sum(1 for row in new if row[1] == "fill.applied") >= 12


def test_one_wall_reading_labels_a_frame_and_its_facts() -> None:
    frames, placed, spec, me = traffic(1, rounds=3)
    hub = Hub(ready_core(spec, me))
    feed = UserFeed(hub, me)
    decode = edge.user_frame_decoder(me)

    async def main() -> None:
        for i, raw in enumerate(frames):
            if i in placed:
                order_id, token, price = placed[i]
                hub.apply(hub.core.place(order_id, token, Side.BUY, price, Decimal(10), 0.0).outcome)
                hub.apply(
                    hub.core.on_placement_answer(PlacementAnswer(order_id, True, order_id, "live"), 0.0)
                )
            hub.sink._buffer.clear()
            feed.deliver("user", i + 1, 5.0 + i, raw, decode(raw))
            rows = list(hub.sink._buffer)
            assert rows[0][2] == "ws.user.raw"
            assert len({row[0] for row in rows}) == 1  # one wall-clock label
            assert {row[1] for row in rows} == {5.0 + i}  # the reader's now

    trio.run(main, clock=trio.testing.MockClock())


@given(type_=_TYPES, seq=_SEQS, text=_FRAME_TEXT, now=st.floats(), wall=st.floats())
def test_record_frame_records_frame_rows_row(
    type_: str, seq: int, text: str, now: float, wall: float
) -> None:
    """``LedgerSink.record_frame`` records ``frame_row``'s row: the same row, or the same error with nothing
    recorded."""
    sink = LedgerSink()
    new = _outcome(lambda: sink.record_frame(type_, seq, text, now, wall))
    old = _outcome(lambda: frame_row(type_, seq, text, now, wall))
    if isinstance(old, tuple) and len(old) == 2:  # an error: raised the same, nothing recorded
        assert (new, sink.recorded, sink.buffered) == (old, 0, 0)
    else:
        assert new is None
        assert (sink.recorded, sink.buffered) == (1, 1)
        assert repr(_comparable(sink._buffer[0])) == repr(_comparable(old))
