"""Adversarial user-channel frames through the whole hot path (reader, :class:`UserFeed`, hub, core): frames
the wire layer accepts but whose content is absurd must not take the bot down.

Rules: no sockets (a scripted connection), MockClock, a ``fail_after`` guard each.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st
from scripted_ws import Frames
from test_ws_user import ready_core

from aqbot.core.events import PlacementAnswer
from aqbot.core.types import MarketSpec, Side
from aqbot.io import edge
from aqbot.io.hub import Hub
from aqbot.io.ws import ChannelSpec, ChannelTiming, run_channel
from aqbot.io.ws_user import UserFeed

YES, NO = "1" * 20, "2" * 20
ME = edge.Identity("key-1", "0xabc")


def trade(trade_id: str, order_id: str, side: str, amount: str, price: str, status: str = "MATCHED") -> str:
    """A trade in which aqbot's order ``order_id`` is the only maker, for ``amount`` shares."""
    maker = {
        "order_id": order_id,
        "owner": ME.api_key,
        "maker_address": ME.maker_address,
        "matched_amount": amount,
        "price": price,
        "asset_id": YES,
        "side": side,
    }
    return json.dumps(
        {
            "event_type": "trade",
            "type": "TRADE",
            "id": trade_id,
            "taker_order_id": "0xother",
            "market": "0xcid",
            "asset_id": YES,
            "side": "SELL" if side == "BUY" else "BUY",
            "size": amount,
            "price": price,
            "status": status,
            "match_time": "1700000000",
            "trader_side": "MAKER",
            "maker_orders": [maker],
        }
    )


def place(hub: Hub, order_id: str, side: Side, price: str, size: str, now: float) -> None:
    result = hub.core.place(order_id, YES, side, Decimal(price), Decimal(size), now)
    assert result.ok
    hub.apply(result.outcome)
    hub.apply(hub.core.on_placement_answer(PlacementAnswer(order_id, True, order_id, "live"), now))


async def test_absurd_fill_amounts_do_not_crash_the_reader(autojump_clock: trio.testing.MockClock) -> None:
    """aqbot holds 10 YES (a CONFIRMED fill) with a SELL of 10 resting and a BUY of 10 resting. The exchange
    then reports the BUY filled for 1e20 shares and the SELL for 1e17. The frames are wire-valid, so they
    are recorded and applied (the core halts on the breach); the reader carries on."""
    hub = Hub(ready_core(MarketSpec("0xcid", YES, NO, Decimal("0.01")), ME))
    feed = UserFeed(hub, ME)
    place(hub, "0xb0", Side.BUY, "0.50", "10", 1.0)
    held = trade("t0", "0xb0", "BUY", "10", "0.50", "CONFIRMED")
    feed.deliver("user", 0, 1.0, held, edge.user_frame_events(held, ME))
    place(hub, "0xs1", Side.SELL, "0.60", "10", 2.0)
    place(hub, "0xb1", Side.BUY, "0.50", "10", 2.0)
    conn = Frames([trade("t1", "0xb1", "BUY", "1e20", "0.50"), trade("t2", "0xs1", "SELL", "1e17", "0.60")])

    @asynccontextmanager
    async def connect() -> AsyncIterator[Frames]:
        yield conn

    spec = ChannelSpec("user", connect, "{}", edge.user_frame_decoder(ME), ChannelTiming())
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_channel, spec, feed, random.Random(1))
            await conn.done.wait()
            nursery.cancel_scope.cancel()
    assert spec.stats.frames == 2
    assert hub.core.tracker.exposure.tokens[YES].held == 10 + Decimal("1e20") - Decimal("1e17")


def order_update(order_id: str, matched: str) -> str:
    return json.dumps(
        {
            "event_type": "order",
            "type": "UPDATE",
            "id": order_id.upper(),
            "market": "0xcid",
            "asset_id": YES,
            "side": "BUY",
            "price": "0.50",
            "original_size": "10.00",
            "size_matched": matched,
            "status": "LIVE",
            "timestamp": "1700000000000",
        }
    )


async def test_each_frame_is_in_the_ledger_before_its_facts(autojump_clock: trio.testing.MockClock) -> None:
    """Through the reader: every frame's raw row is recorded before any fact its events cause (the replay
    evidence comes first), for a trade, an order update in another case and exponent ("10.00", "0X.."), an
    array of both, and a malformed frame between them (a counted decode error and a point gap, no row)."""
    hub = Hub(ready_core(MarketSpec("0xcid", YES, NO, Decimal("0.01")), ME))
    feed = UserFeed(hub, ME)
    for order_id in ("0xb0", "0xb1"):
        place(hub, order_id, Side.BUY, "0.50", "10", 1.0)
    hub.sink._buffer.clear()
    frames = [
        trade("t0", "0xb0", "BUY", "4", "0.50"),
        order_update("0xb0", "6"),
        trade("t1", "0xb1", "BUY", "2", "0.50")[:-3],
        f"[{trade('t1', '0xb1', 'BUY', '2', '0.50')},{order_update('0xb1', '3.0')}]",
    ]
    conn = Frames(list(frames))

    @asynccontextmanager
    async def connect() -> AsyncIterator[Frames]:
        yield conn

    spec = ChannelSpec("user", connect, "{}", edge.user_frame_decoder(ME), ChannelTiming())
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_channel, spec, feed, random.Random(1))
            await conn.done.wait()
            nursery.cancel_scope.cancel()
    rows = list(hub.sink._buffer)
    raw = [i for i, row in enumerate(rows) if row[2] == "ws.user.raw"]
    assert [rows[i][6]["text"] for i in raw] == [frames[0], frames[1], frames[3]]
    fills = [i for i, row in enumerate(rows) if row[2] == "fill.applied"]
    assert raw[0] < fills[0] < raw[1] < fills[1] < raw[2] < fills[2] < fills[3]
    assert spec.stats.decode_errors == 1
    assert hub.core.tracker.exposure.tokens[YES].held == 9


AMOUNTS = [
    "10",
    "4",
    "0",
    "-0",
    "-5",
    "0.000001",
    "1e-40",
    "1e17",
    "1e20",
    "1e40",
    "-1e40",
    "1." + "0" * 50 + "1",
]
PRICES = ["0.5", "0.6", "0", "-0.5", "1", "1.5", "1e40", "1e-40"]
ORDER_IDS = ["0xb0", "0xs1", "0xb1", "0xB1", "0xunknown"]
TOKENS = [YES, NO, "zzz"]
SIDES = ["BUY", "SELL"]


@st.composite
def maker_entry(draw: st.DrawFn) -> dict[str, str]:
    entry = {
        "order_id": draw(st.sampled_from(ORDER_IDS)),
        "owner": draw(st.sampled_from([ME.api_key, "other"])),
        "maker_address": draw(st.sampled_from([ME.maker_address.upper(), "0xdef"])),
        "matched_amount": draw(st.sampled_from(AMOUNTS)),
        "price": draw(st.sampled_from(PRICES)),
        "asset_id": draw(st.sampled_from(TOKENS)),
    }
    if draw(st.booleans()):
        entry["side"] = draw(st.sampled_from(SIDES))
    return entry


@st.composite
def user_message(draw: st.DrawFn) -> dict[str, object]:
    common = {
        "market": "0xcid",
        "asset_id": draw(st.sampled_from(TOKENS)),
        "side": draw(st.sampled_from(SIDES)),
    }
    if draw(st.booleans()):
        return {
            "event_type": "trade",
            "id": draw(st.sampled_from(["t0", "t1", "t2"])),
            "taker_order_id": draw(st.sampled_from(ORDER_IDS)),
            **common,
            "size": draw(st.sampled_from(AMOUNTS)),
            "price": draw(st.sampled_from(PRICES)),
            "status": draw(st.sampled_from(["MATCHED", "MINED", "CONFIRMED", "RETRYING", "FAILED"])),
            "match_time": draw(st.sampled_from(["1700000000", "0", "99999999999999"])),
            "trader_side": draw(st.sampled_from(["MAKER", "TAKER"])),
            "maker_orders": draw(st.lists(maker_entry(), max_size=3)),
        }
    return {
        "event_type": "order",
        "type": draw(st.sampled_from(["PLACEMENT", "UPDATE", "CANCELLATION"])),
        "id": draw(st.sampled_from(ORDER_IDS)),
        **common,
        "price": draw(st.sampled_from(PRICES)),
        "original_size": draw(st.sampled_from(AMOUNTS)),
        "size_matched": draw(st.sampled_from([*AMOUNTS, ""])),
        "status": draw(
            st.sampled_from(["LIVE", "MATCHED", "CANCELED", "CANCELED_x", "INVALID", "UNMATCHED"])
        ),
        "order_type": draw(st.sampled_from(["GTC", "FOK", "GTD", ""])),
        "timestamp": "1700000000000",
    }


@settings(max_examples=60)
@given(st.lists(st.lists(user_message(), min_size=1, max_size=2), min_size=1, max_size=25))
def test_no_wire_valid_frame_sequence_crashes_the_user_path(frames: list[list[dict[str, object]]]) -> None:
    """Random frames the wire layer accepts (absurd amounts and prices, negative sizes, unknown ids and
    tokens, ids in another case, reordered statuses) applied to a core holding 10 YES with a SELL and a
    BUY resting: every frame is recorded and applied, none raises (the pair in the test above, and the
    replay of the ledger after a restart, would otherwise crash the bot again and again)."""

    async def main() -> None:
        hub = Hub(ready_core(MarketSpec("0xcid", YES, NO, Decimal("0.01")), ME))
        feed = UserFeed(hub, ME)
        place(hub, "0xb0", Side.BUY, "0.50", "10", 1.0)
        held = trade("t9", "0xb0", "BUY", "10", "0.50", "CONFIRMED")
        feed.deliver("user", 0, 1.0, held, edge.user_frame_events(held, ME))
        place(hub, "0xs1", Side.SELL, "0.60", "10", 2.0)
        place(hub, "0xb1", Side.BUY, "0.50", "10", 2.0)
        decode = edge.user_frame_decoder(ME)
        for seq, messages in enumerate(frames, 1):
            raw = json.dumps(messages[0] if len(messages) == 1 else messages)
            feed.deliver("user", seq, 2.0 + seq, raw, decode(raw))
        assert feed.events_applied == 1 + sum(map(len, frames))

    trio.run(main, clock=trio.testing.MockClock())
