"""The user channel's fused decode (core events, :func:`edge.user_frame_decoder`) against decoded wire models
(:func:`aqbot.wire.decode_user_frame`, what the runtime used before):

* through :class:`UserFeed`, the same core state and the same ledger rows, ``ws.user.raw`` included, on real
  exchange traffic (the simulator's user events of an account whose BUY orders are filled with 0-2 other
  makers at the same level, then MINED and CONFIRMED);
* through the reader :func:`aqbot.io.ws.run_channel`, the same handling of malformed, declined and unknown
  frames: the same decode errors counted, the same point gaps with the same reasons, the same events
  delivered."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import attrs
import trio
import trio.testing
from scripted_ws import Frames

from aqbot.core.config import CoreConfig
from aqbot.core.engine import Core
from aqbot.core.events import Channel, OrdersSnapshot, PlacementAnswer
from aqbot.core.exposure import Limits
from aqbot.core.snapshot import snapshot
from aqbot.core.types import MarketSpec, Side
from aqbot.io import edge
from aqbot.io.hub import Hub
from aqbot.io.ws import ChannelSpec, ChannelTiming, run_channel
from aqbot.io.ws_user import UserFeed
from aqbot.sim.events import UserEvent
from aqbot.sim.testkit import make_engine, order_id_of
from aqbot.sim.units import ONE
from aqbot.sim.ws import encode
from aqbot.wire.codec import decode_user_frame

Placed = tuple[str, str, Decimal]  # order id, token, price (size 10)


def traffic(seed: int, rounds: int) -> tuple[list[str], dict[int, Placed], MarketSpec, edge.Identity]:
    """aqbot's user-channel frames, and the order placed just before each PLACEMENT frame (by index)."""
    engine, markets, traders = make_engine(seed, n_markets=1, n_traders=4, pusd=10**6 * ONE)
    market = markets[0]
    bot, others, taker = traders[0], traders[1:3], traders[3]
    rng = random.Random(seed)
    frames: list[str] = []
    placed: dict[int, Placed] = {}
    now = engine.now_ms
    for _ in range(rounds):
        now += 1_000
        price = rng.choice(["0.45", "0.50", "0.55"])
        reply = bot.limit(market.yes_token, "BUY", price, "10", now_ms=now)
        placed[len(frames)] = (order_id_of(reply).lower(), market.yes_token, Decimal(price))
        extra = rng.randrange(3)
        for other in others[:extra]:
            other.limit(market.yes_token, "BUY", price, "10", now_ms=now)
        no_price = str(Decimal(1) - Decimal(price))
        taker.limit(market.no_token, "BUY", no_price, str(10 * (extra + 1)), now_ms=now)
        for _ in range(6):  # the trade reaches MINED and CONFIRMED
            engine.advance(now)
            frames += [
                encode(e.payload)
                for e in engine.drain_events()
                if isinstance(e, UserEvent) and e.owner == bot.owner
            ]
            now += 1_000
    spec = MarketSpec(market.condition_id, market.yes_token, market.no_token, Decimal(market.tick_size))
    return frames, placed, spec, edge.Identity(bot.owner, bot.address)


def ready_core(spec: MarketSpec, me: edge.Identity) -> Core:
    core = Core(CoreConfig(Limits(Decimal(10**6)), owner=me.api_key, funder=me.maker_address), [spec], 0.0)
    core.on_channel_up(Channel.USER, 0.0)
    recon_id, _ = core.begin_reconciliation(0.0)
    core.on_reconciliation(recon_id, OrdersSnapshot(0.0), None, 0.0)
    return core


def feed_all(decode: Callable[[str], Sequence[object]], seed: int) -> tuple[object, list[object], int]:
    """Core snapshot, ledger rows (wall time aside) and events applied after feeding every frame."""
    frames, placed, spec, me = traffic(seed, rounds=12)
    hub = Hub(ready_core(spec, me))
    feed = UserFeed(hub, me)

    async def main() -> None:
        for i, raw in enumerate(frames):
            if i in placed:
                order_id, token, price = placed[i]
                result = hub.core.place(order_id, token, Side.BUY, price, Decimal(10), float(i))
                assert result.ok
                hub.apply(result.outcome)
                answer = PlacementAnswer(order_id, True, order_id, "live")
                hub.apply(hub.core.on_placement_answer(answer, float(i)))
            feed.deliver("user", i + 1, float(i), raw, decode(raw))

    trio.run(main, clock=trio.testing.MockClock())
    rows: list[object] = [
        (*row[1:-1], bytes(row[-1]) if isinstance(row[-1], bytearray) else row[-1])
        for row in hub.sink._buffer
    ]
    return snapshot(hub.core), rows, feed.events_applied


def test_the_fused_decode_feeds_the_same_state_and_rows() -> None:
    for seed in (1, 2):
        frames, _, _, me = traffic(seed, rounds=12)
        fused = feed_all(edge.user_frame_decoder(me), seed)
        assert fused == feed_all(decode_user_frame, seed)
        _, rows, applied = fused
        types = [row[1] for row in rows]  # type: ignore[index]
        assert applied == len(frames) == types.count("ws.user.raw")
        assert types.count("fill.applied") >= 12  # every round filled aqbot's order


@attrs.define
class Log:
    """A listener recording what the reader reports; delivered frames as core events."""

    me: edge.Identity
    calls: list[object] = attrs.Factory(list)

    def connected(self, channel: str, now: float) -> None:
        self.calls.append(("connected", now))

    def alive(self, channel: str, now: float) -> None:
        pass

    def gap(self, channel: str, reason: str, now: float) -> None:
        self.calls.append(("gap", reason, now))

    def deliver(self, channel: str, seq: int, now: float, raw: str, events: Sequence[object]) -> None:
        core = list(events) if type(events) is edge.UserFrame else edge.user_events(events, self.me)
        self.calls.append(("deliver", seq, raw, core))


ORDER = (
    '{"event_type":"order","type":"PLACEMENT","id":"0xAB","market":"0xm","asset_id":"111","side":"BUY",'
    '"price":"0.5","original_size":"10","size_matched":"0","status":"LIVE","timestamp":"1767225600000"}'
)
BAD_FRAMES = [
    ORDER,
    ORDER[:-5],  # malformed JSON
    ORDER.replace('"price":"0.5",', ""),  # a missing field
    ORDER.replace('"price":"0.5"', '"price":"NaN"'),  # a refused value
    ORDER.replace("{", '{"extra":1,', 1),  # valid, declined by the typed decode: the reference decides
    ORDER.replace('"order"', '"new_thing"'),  # an unknown event type: skipped
    "[" + ORDER + ",PONG]",  # one bad element of an array frame
    "not json",
    ORDER.replace("PLACEMENT", "UPDATE"),
]


async def read_all(decode: Callable[[str], Sequence[object]], me: edge.Identity) -> tuple[list[object], Any]:
    conn = Frames(list(BAD_FRAMES))
    log = Log(me)

    @asynccontextmanager
    async def connect() -> AsyncIterator[Frames]:
        yield conn

    spec: ChannelSpec[Any] = ChannelSpec("user", connect, "{}", decode, ChannelTiming())
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_channel, spec, log, random.Random(1))
            await conn.done.wait()
            nursery.cancel_scope.cancel()
    return log.calls, attrs.evolve(spec.stats, last_frame_at=None)


async def test_the_reader_handles_bad_frames_as_before(autojump_clock: trio.testing.MockClock) -> None:
    """Every malformed frame is the same counted decode error and point gap (same reason) with the fused
    decode as with ``decode_user_frame``; declined and unknown frames give the same events."""
    me = edge.Identity("key", "0xabc")
    calls, stats = await read_all(edge.user_frame_decoder(me), me)
    assert (calls, stats) == await read_all(decode_user_frame, me)
    assert stats.decode_errors == 5
    assert [c[0] for c in calls].count("gap") == 5
    delivered = [c for c in calls if c[0] == "deliver"]
    assert [len(c[3]) for c in delivered] == [1, 1, 0, 1]  # type: ignore[index]
