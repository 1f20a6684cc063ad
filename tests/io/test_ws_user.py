"""UserFeed: the runtime's fused decode (core events, :func:`edge.user_frame_decoder`) and decoded wire models
(:func:`aqbot.wire.decode_user_frame`) give the same core state and the same ledger rows, ``ws.user.raw``
included, on real exchange traffic: the simulator's user events of an account whose BUY orders are filled
with 0-2 other makers at the same level, then MINED and CONFIRMED."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from decimal import Decimal

import trio
import trio.testing

from aqbot.core.config import CoreConfig
from aqbot.core.engine import Core
from aqbot.core.events import Channel, OrdersSnapshot, PlacementAnswer
from aqbot.core.exposure import Limits
from aqbot.core.snapshot import snapshot
from aqbot.core.types import MarketSpec, Side
from aqbot.io import edge
from aqbot.io.hub import Hub
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
