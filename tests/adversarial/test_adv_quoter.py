"""The runtime's side of the limit contract: the real quoter (sign -> reserve -> POST) racing the real
reconciler, on MockClock with fake exchange endpoints.

* reservation happens before the POST, with no checkpoint between check and reserve, even for a batch and
  even with two quoting iterations of one market running at once (handled);
* a reconciliation whose ``/data/orders`` read happens while a POST waits (rate limiter, queue) and which is
  applied after the POST's answer must not release the order that now rests (B1, docs/review-limits.md;
  fixed in e2526c0).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from decimal import Decimal

import attrs
import trio
import trio.testing

from aqbot.auth.keys import SigningKey
from aqbot.auth.signer import OrderSigner
from aqbot.auth.stamps import OrderStamper
from aqbot.core.book import BookSnapshot, Level
from aqbot.core.config import CoreConfig
from aqbot.core.engine import Core
from aqbot.core.events import Channel, OrdersSnapshot
from aqbot.core.exposure import Limits
from aqbot.core.strategy import SkewedMidStrategy, StrategyConfig
from aqbot.core.types import MarketSpec
from aqbot.io import edge
from aqbot.io.hub import Hub
from aqbot.io.quoter import QuoteContext, QuoterConfig, quote_once
from aqbot.io.quoter_guards import ErrorRateGuard, ExchangeGuard
from aqbot.io.reconcile import Reconciler
from aqbot.io.ws_market import BookBoard
from aqbot.wire.orders import OpenOrder, PostOrderRequest, PostOrderResponse, Trade

D = Decimal
YES, NO = "777", "888"
SPEC = MarketSpec("0x" + "7" * 64, YES, NO, D("0.01"))
KEY = SigningKey.from_hex("0x" + "22" * 32)
LIMIT = D(10)


@attrs.define
class SlowExchange:
    """A POST reaches the book ``delay`` seconds after it is sent (a paused rate-limit group, a queue),
    and is answered at once after that. Records what rests and what was reserved when each POST left."""

    delay: float = 0.0
    resting: list[str] = attrs.Factory(list)
    ids: list[str] = attrs.Factory(list)
    worst_at_send: list[Decimal] = attrs.Factory(list)
    answered: trio.Event = attrs.Factory(trio.Event)
    core: Core | None = None

    async def post_orders(self, orders: Sequence[PostOrderRequest]) -> list[PostOrderResponse]:
        assert self.core is not None
        self.worst_at_send.append(self.core.token_exposure(YES).worst + self.core.token_exposure(NO).worst)
        await trio.sleep(self.delay)
        ids, self.ids = self.ids[: len(orders)], self.ids[len(orders) :]
        self.resting.extend(ids)
        self.answered.set()
        return [PostOrderResponse(success=True, order_id=i, status="live") for i in ids]

    # --- SnapshotSource: /data/orders sees only what rests; /data/trades is slow (1 s) ----------------

    async def open_orders(self, *, market: str | None = None, asset_id: str | None = None) -> list[OpenOrder]:
        assert not self.resting, "this fake lists nothing: the race needs the read before the order rests"
        return []

    async def trades(
        self, *, after: int | None = None, market: str | None = None, maker_address: str | None = None
    ) -> list[Trade]:
        await trio.sleep(1.0)
        return []


def context(exchange: SlowExchange, *, size: str = "10") -> QuoteContext:
    core = Core(CoreConfig(Limits(LIMIT), grace=5.0), [SPEC], 0.0)
    core.on_channel_up(Channel.USER, 0.0)
    recon_id, _ = core.begin_reconciliation(0.0)
    core.on_reconciliation(recon_id, OrdersSnapshot(0.0), None, 0.0)
    exchange.core = core
    board = BookBoard.for_markets([SPEC])
    book = (Level(D("0.40"), D(100)),), (Level(D("0.60"), D(100)),)
    board.apply([BookSnapshot(YES, *book, D("0.01")), BookSnapshot(NO, *book, D("0.01"))], 0.0)
    strategy = SkewedMidStrategy(StrategyConfig(half_spread_ticks=2, size=D(size), max_book_age=1e9))
    ctx = QuoteContext(
        Hub(core), board, strategy, OrderSigner(KEY, 137), OrderStamper(random.Random(3)), exchange, "key",
        lambda: 1_700_000_000_000, ExchangeGuard(), QuoterConfig(submit_timeout=10.0), ErrorRateGuard(),
    )  # fmt: skip
    original = core.place

    def place(order_id: str, *args: object, **kw: object) -> object:  # the fake answers with these ids
        exchange.ids.append(order_id)
        return original(order_id, *args, **kw)  # type: ignore[arg-type]

    core.place = place  # type: ignore[method-assign]
    return ctx


async def test_reservation_exists_before_the_post_leaves(autojump_clock: trio.testing.MockClock) -> None:
    exchange = SlowExchange()
    ctx = context(exchange)
    with trio.fail_after(5):
        assert await quote_once(ctx, SPEC)
    assert exchange.worst_at_send == [2 * LIMIT]  # both bids reserved before the one batch POST


async def test_two_concurrent_iterations_never_overbook(autojump_clock: trio.testing.MockClock) -> None:
    """Two quoting iterations of one market interleave at every checkpoint: L1 still holds."""
    exchange = SlowExchange(delay=0.5)
    ctx = context(exchange, size="6")
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(quote_once, ctx, SPEC)
            nursery.start_soon(quote_once, ctx, SPEC)
    core = ctx.hub.core
    for token in SPEC.tokens:
        assert core.token_exposure(token).worst <= LIMIT
    assert len(exchange.resting) == 2  # the second saw the first one's reservations: 4 left < min size


# B1 (docs/review-limits.md): fixed in e2526c0, kept as a regression test.
async def test_reconciliation_racing_a_delayed_post_keeps_the_reservation(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """POST reserved at 0 but held 6 s in the client (paused rate-limit group); the reconciler reads
    /data/orders at 5.9 (nothing rests yet), the order rests and is answered 'live' at 6.0, the reconciler
    applies its snapshot at 6.9: 5.9 - 0 > grace, not in flight any more, absent -> CANCELED, released.
    The exchange has it resting: the quoter may place another full-size BUY on top of it."""
    exchange = SlowExchange(delay=6.0)
    ctx = context(exchange)
    core = ctx.hub.core
    reconciler = Reconciler(exchange, ctx.hub, edge.Identity("key", "0x" + "00" * 20), lambda: 1_700_000_000)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(quote_once, ctx, SPEC)
            await trio.sleep(5.9)
            assert await reconciler.reconcile_once()
    assert sorted(exchange.resting) == sorted(o.order_id for o in core.tracker.orders.values())
    for order_id in exchange.resting:
        order = core.order(order_id)
        assert order is not None
        assert not order.state.terminal  # before the fix: CANCELED although it rests on the exchange
    assert core.token_exposure(YES).worst == LIMIT
