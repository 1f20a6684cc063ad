"""Quoter shell: sign -> reserve -> POST, answers applied, shielded submits, bounded halt cleanup."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from decimal import Decimal

import attrs
import pytest
import trio
import trio.testing

from aqbot.auth.keys import SigningKey
from aqbot.auth.signer import OrderSigner
from aqbot.auth.stamps import OrderStamper
from aqbot.core.book import BookSnapshot, Level
from aqbot.core.config import CoreConfig
from aqbot.core.engine import Core
from aqbot.core.events import Channel, OrderEvent, OrderEventType, OrdersSnapshot
from aqbot.core.exposure import Limits
from aqbot.core.halts import HaltReason
from aqbot.core.lifecycle import OrderState
from aqbot.core.quotes import DesiredQuote
from aqbot.core.strategy import SkewedMidStrategy, StrategyConfig
from aqbot.core.types import MarketSpec, Side
from aqbot.errors import ExchangeUnavailable, OrderRejected, TransportError
from aqbot.io import quoter
from aqbot.io.hub import Hub
from aqbot.io.ledger_events import LedgerRow, row_event
from aqbot.io.quoter import QuoteContext, QuoterConfig, quote_once, run_market, run_quoter
from aqbot.io.quoter_guards import ErrorRateGuard, ExchangeGuard, SellBackoff, run_timed_halts
from aqbot.io.ws_market import BookBoard
from aqbot.wire.orders import PostOrderRequest, PostOrderResponse

D = Decimal
SPEC = MarketSpec("0x" + "1" * 64, "111", "222", D("0.01"))
KEY = SigningKey.from_hex("0x" + "11" * 32)


@attrs.define
class FakePoster:
    """Answers every POST after ``delay`` seconds with ``error`` raised, or live legs."""

    delay: float = 0.0
    error: Exception | None = None
    batches: list[list[str]] = attrs.Factory(list)

    async def post_orders(self, orders: Sequence[PostOrderRequest]) -> list[PostOrderResponse]:
        await trio.sleep(self.delay)
        self.batches.append([o.order.token_id for o in orders])
        if self.error is not None:
            raise self.error
        ids, self.pending = self.pending[: len(orders)], self.pending[len(orders) :]
        return [PostOrderResponse(success=True, order_id=i, status="live") for i in ids]

    pending: list[str] = attrs.Factory(list)


def context(poster: FakePoster) -> QuoteContext:
    core = Core(CoreConfig(Limits(D(20))), [SPEC], 0.0)
    core.on_channel_up(Channel.USER, 0.0)
    recon_id, _ = core.begin_reconciliation(0.0)
    core.on_reconciliation(recon_id, OrdersSnapshot(0.0), None, 0.0)
    board = BookBoard.for_markets([SPEC])
    board.apply(
        [
            BookSnapshot("111", (Level(D("0.40"), D(100)),), (Level(D("0.60"), D(100)),), D("0.01")),
            BookSnapshot("222", (Level(D("0.40"), D(100)),), (Level(D("0.60"), D(100)),), D("0.01")),
        ],
        0.0,
    )
    hub = Hub(core)
    ctx = QuoteContext(
        hub, board, SkewedMidStrategy(StrategyConfig(half_spread_ticks=2, size=D(10), max_book_age=1e9)),
        OrderSigner(KEY, 137), OrderStamper(random.Random(1)), poster, "key", lambda: 1_700_000_000_000,
        ExchangeGuard(), QuoterConfig(submit_timeout=5.0, cleanup_grace=3.0), ErrorRateGuard(),
    )  # fmt: skip
    original = core.place

    def place(order_id: str, *args: object, **kw: object) -> object:  # learn the ids the POST answers
        poster.pending.append(order_id)
        return original(order_id, *args, **kw)  # type: ignore[arg-type]

    core.place = place  # type: ignore[method-assign]
    return ctx


async def test_places_both_bids_and_applies_live(autojump_clock: trio.testing.MockClock) -> None:
    """Mid 0.50, 2 ticks: BUY YES 0.48 and BUY NO 0.48 in one batch; answers make them LIVE."""
    poster = FakePoster()
    ctx = context(poster)
    ctx.stamper = OrderStamper(random.Random(1))
    with trio.fail_after(5):
        assert await quote_once(ctx, SPEC)
    orders = ctx.hub.core.open_orders()
    assert sorted((o.token, o.price, o.state) for o in orders) == [
        ("111", D("0.48"), OrderState.LIVE),
        ("222", D("0.48"), OrderState.LIVE),
    ]
    assert len(poster.batches) == 1
    assert ctx.hub.core.token_exposure("111").worst == D(10)


async def test_transport_error_leaves_unknown_and_wakes_reconciler(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """No usable answer: both orders UNKNOWN with their whole reservation; the reconciler is woken."""
    ctx = context(FakePoster(error=TransportError("reset")))
    with trio.fail_after(5):
        await quote_once(ctx, SPEC)
    states = {o.state for o in ctx.hub.core.open_orders()}
    assert states == {OrderState.UNKNOWN}
    assert ctx.hub.core.token_exposure("111").worst == D(10)
    assert ctx.hub.waker.reasons
    assert ctx.unknown == 2


async def test_rejection_releases(autojump_clock: trio.testing.MockClock) -> None:
    """A 4xx with an error body is definitive: REJECTED, reservation released."""
    ctx = context(FakePoster(error=OrderRejected("invalid post-only order: order crosses book", status=400)))
    with trio.fail_after(5):
        await quote_once(ctx, SPEC)
    assert ctx.hub.core.open_orders() == []
    assert ctx.hub.core.token_exposure("111").worst == D(0)
    assert ctx.rejected == 2


async def test_425_latches_exchange_unavailable(autojump_clock: trio.testing.MockClock) -> None:
    """A 425 answer latches EXCHANGE_UNAVAILABLE; its orders are rejected (a 4xx refusal)."""
    ctx = context(FakePoster(error=ExchangeUnavailable("425 restarting", status=425)))
    with trio.fail_after(5):
        await quote_once(ctx, SPEC)
    assert HaltReason.EXCHANGE_UNAVAILABLE in ctx.hub.core.can_quote(SPEC.condition_id, 0.0).reasons
    assert ctx.guard.until == 30.0


async def test_halt_mid_post_keeps_the_answer_then_cleans_up(autojump_clock: trio.testing.MockClock) -> None:
    """A halt lands while the POST is in flight: the shielded submit still applies the answer (LIVE, not
    UNKNOWN); the cleanup then requests cancels and waits for confirmation, bounded by cleanup_grace."""
    poster = FakePoster(delay=2.0)
    ctx = context(poster)
    hub = ctx.hub
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            await nursery.start(run_market, ctx, SPEC)
            await trio.sleep(1.0)  # the POST is in flight
            hub.set_halt(HaltReason.MANUAL, "operator")
            await trio.sleep(1.5)  # the answer arrives at t=2.0
            orders = hub.core.open_orders()
            assert {o.state for o in orders} == {OrderState.CANCEL_REQUESTED}
            # the exchange confirms one cancel; the other stays unconfirmed past the grace
            first = orders[0]
            event = OrderEvent(
                first.order_id, first.token, first.side, first.price, first.original_size, D(0), "CANCELED",
                OrderEventType.CANCELLATION,
            )  # fmt: skip
            hub.apply(hub.core.on_order_event(event, trio.current_time()))
            assert hub.core.exposure.remaining(first.order_id) == D(0)
            await trio.sleep(5.0)
            nursery.cancel_scope.cancel()
    assert len(poster.batches) == 1  # nothing placed while halted
    left = hub.core.open_orders()
    assert len(left) == 1
    assert hub.core.exposure.remaining(left[0].order_id) == D(10)  # unconfirmed: still reserved


async def test_error_rate_trips_and_clears_after_hold(autojump_clock: trio.testing.MockClock) -> None:
    """Over half of the last 10+ placements rejected or unknown: ORDER_ERROR_RATE latches, and the timed
    task clears it after its 60 s hold."""
    ctx = context(FakePoster())
    guard = ErrorRateGuard()
    guard.record(ctx.hub, errors=4, total=8)  # 8 samples: too few to judge
    assert ctx.hub.core.can_quote(SPEC.condition_id, 0.0).allowed
    guard.record(ctx.hub, errors=3, total=4)  # 7 of 12
    assert HaltReason.ORDER_ERROR_RATE in ctx.hub.core.can_quote(SPEC.condition_id, 0.0).reasons
    with trio.fail_after(100):
        async with trio.open_nursery() as nursery:
            await nursery.start(run_timed_halts, [guard], ctx.hub)
            await trio.sleep(61)
            nursery.cancel_scope.cancel()
    assert ctx.hub.core.can_quote(SPEC.condition_id, 0.0).allowed


async def test_error_rate_halt_restored_by_a_restart_clears_after_the_rest_of_its_hold(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """An ORDER_ERROR_RATE halt the ledger replay restored (the old process's timer is gone) clears one
    hold after it was raised; without ``resume`` it would stay latched for good."""
    ctx = context(FakePoster())
    assert not ErrorRateGuard().resume(ctx.hub), "nothing latched: nothing to time"
    ctx.hub.set_halt(HaltReason.ORDER_ERROR_RATE, "restored from the ledger")
    raised = trio.current_time()
    await trio.sleep(25)  # the restart comes 25 s into the hold
    restored = ErrorRateGuard()
    assert restored.resume(ctx.hub)
    with trio.fail_after(200):
        async with trio.open_nursery() as nursery:
            await nursery.start(run_timed_halts, [restored], ctx.hub)
            await trio.sleep_until(raised + 59)
            assert HaltReason.ORDER_ERROR_RATE in ctx.hub.core.can_quote(SPEC.condition_id, 0.0).reasons
            await trio.sleep_until(raised + 61)
            assert ctx.hub.core.can_quote(SPEC.condition_id, 0.0).allowed
            nursery.cancel_scope.cancel()


async def test_dry_run_records_signed_orders_and_releases(autojump_clock: trio.testing.MockClock) -> None:
    """Dry run: both orders are reserved, signed and logged as ``dryrun.order``, then rejected locally
    (released); the poster is never called and no ``command.place`` is written."""
    poster = FakePoster()
    ctx = attrs.evolve(context(poster), dry_run=True)
    send, recv = trio.open_memory_channel[list[LedgerRow]](1000)
    with trio.fail_after(5):
        assert await quote_once(ctx, SPEC)
        ctx.hub.sink.close()
        await ctx.hub.sink.run_pump(send)
    events = [row_event(row) async for rows in recv for row in rows]
    assert poster.batches == []
    assert ctx.hub.core.open_orders() == []
    assert ctx.hub.core.token_exposure("111").worst == D(0)
    assert (ctx.placed, ctx.rejected) == (0, 2)
    dry = [e for e in events if e.type == "dryrun.order"]
    assert sorted(str(e.payload["token"]) for e in dry) == ["111", "222"]
    assert not any(e.type == "command.place" for e in events)
    for e in dry:
        wire = json.loads(str(e.payload["wire"]))
        assert wire["order"]["signature"].startswith("0x")
        assert wire["owner"] == "key"
        states = [
            x.payload.get("new") for x in events if x.type == "order.state" and x.order_id == e.order_id
        ]
        assert states[-1] == OrderState.REJECTED.value


async def test_quoter_wakes_on_book_change_core_change_and_timer(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``run_quoter`` runs an iteration at start, then exactly when its market's book changes, when the core
    changes, or when the requote timer fires, each at the instant it happens (no lost or late wake-up)."""
    ctx = context(FakePoster())
    ctx = attrs.evolve(ctx, config=QuoterConfig(min_iteration_gap=0.0, requote_interval=100.0))
    ran: list[float] = []
    original = quote_once

    async def counting(c: QuoteContext, spec: MarketSpec) -> bool:
        ran.append(trio.current_time())
        return await original(c, spec)

    monkeypatch.setattr(quoter, "quote_once", counting)
    with trio.fail_after(500):
        async with trio.open_nursery() as nursery:
            await nursery.start(run_quoter, ctx, SPEC)
            await trio.testing.wait_all_tasks_blocked()
            assert ran == [0.0]
            await trio.sleep(10)
            snapshot = BookSnapshot(
                "111", (Level(D("0.41"), D(100)),), (Level(D("0.60"), D(100)),), D("0.01")
            )
            ctx.board.apply([snapshot], trio.current_time())
            await trio.testing.wait_all_tasks_blocked()
            assert ran == [0.0, 10.0]
            await trio.sleep(10)
            ctx.hub.set_halt(HaltReason.MANUAL, "operator")  # a core change
            await trio.testing.wait_all_tasks_blocked()
            assert ran == [0.0, 10.0, 20.0]
            await trio.sleep(150)  # nothing changes: the requote timer alone
            assert ran == [0.0, 10.0, 20.0, 120.0]
            nursery.cancel_scope.cancel()


def test_sell_backoff_pauses_a_token_doubling_and_resets_on_acceptance() -> None:
    backoff = SellBackoff(hold=5.0, hold_max=12.0)
    assert not backoff.blocked("111", 0.0)
    backoff.refused("111", 0.0)
    assert backoff.blocked("111", 4.9)
    assert not backoff.blocked("111", 5.0)
    assert not backoff.blocked("222", 1.0), "per token"
    backoff.refused("111", 5.0)  # the second refusal in a row: 10 s
    assert backoff.blocked("111", 14.9)
    backoff.refused("111", 15.0)  # 20 s, capped at 12
    assert backoff.blocked("111", 26.9)
    assert not backoff.blocked("111", 27.0)
    backoff.accepted("111")
    backoff.refused("111", 30.0)  # the streak started afresh: 5 s
    assert not backoff.blocked("111", 35.0)


async def test_doubling_holds_survive_a_thousand_refusals_in_a_row(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A token whose SELLs are always refused for balance (an allowance never set) and an exchange that keeps
    answering 503: the pauses stay at their caps, however long the streak."""
    backoff = SellBackoff(hold=5.0, hold_max=120.0)
    guard = ExchangeGuard()
    hub = context(FakePoster()).hub
    for k in range(1100):
        backoff.refused("111", 120.0 * k)
        guard.refused(hub, "503")
    assert backoff.until["111"] == 120.0 * 1099 + 120.0
    assert guard.until == trio.current_time() + 300.0


@attrs.define
class BalanceRefusingPoster:
    """Refuses every SELL leg for balance, as the exchange does before a bought share is credited."""

    async def post_orders(self, orders: Sequence[PostOrderRequest]) -> list[PostOrderResponse]:
        await trio.lowlevel.checkpoint()
        return [
            PostOrderResponse(success=False, error_msg="not enough balance / allowance")
            if o.order.side.value == "SELL"
            else PostOrderResponse(success=True, order_id="0xb", status="live")
            for o in orders
        ]


async def test_a_sell_refused_for_balance_pauses_that_tokens_sells(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The SELL's balance refusal pauses new SELLs of its token (``plan`` then gives them no capacity);
    the BUY's acceptance in the same batch changes nothing for the other token."""
    ctx = context(FakePoster())
    ctx.poster = BalanceRefusingPoster()
    sell = DesiredQuote("111", Side.SELL, D("0.52"), D(5))
    buy = DesiredQuote("222", Side.BUY, D("0.48"), D(5))
    signed = [
        ctx.signer.sign(q.token, q.side, q.price, q.size, D("0.01"), neg_risk=False, salt=i, timestamp_ms=1)
        for i, q in enumerate((sell, buy))
    ]
    with trio.fail_after(5):
        await quoter.submit(ctx, list(zip(signed, (sell, buy), strict=True)))
    now = trio.current_time()
    assert ctx.sells.blocked("111", now)
    assert not ctx.sells.blocked("222", now)
    assert ctx.rejected == 1
    send, recv = trio.open_memory_channel[list[LedgerRow]](1000)
    with trio.fail_after(5):
        ctx.hub.sink.close()
        await ctx.hub.sink.run_pump(send)
    evidence = [e for e in [row_event(row) async for rows in recv for row in rows] if e.type == "rest.answer"]
    assert [(e.order_id, e.payload["status"], e.payload["body"]) for e in evidence] == [
        (signed[0].order_id, 200, {"success": False, "errorMsg": "not enough balance / allowance"})
    ], "the refusal that released the SELL is in the ledger, in the exchange's words"
