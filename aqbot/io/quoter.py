"""Quoters: one per market, each in its own cancel scope (DESIGN section 5).

:func:`run_market` supervises one market: it waits until the core's gate for the market is open, then
runs :func:`run_quoter` inside a cancel scope next to a watcher that cancels the scope as soon as the gate
closes (any halt, an unresolved gap, a pending reconciliation). The scope's ``finally`` is a *shielded,
deadline-bound* cleanup: it asks the core to cancel the market's orders (the core's own sweep has usually
done so already) and waits, up to ``cleanup_grace`` seconds, until every one of them is confirmed
terminal by the exchange. Orders still unconfirmed then (or UNKNOWN) keep their reservations: the
reconciler resolves them. A cancelled scope never releases anything by itself. Once the canceller has
stopped (``Hub.cancels_stopped``: a forced stop ends it with the quoters) the cleanup does not wait at all:
no cancel would be sent nor confirmed, and run_bot's last-resort ``DELETE`` comes next.

One quoting iteration (:func:`quote_once`):

1. ask the strategy for the desired quotes from the current books and the core's exposure;
2. diff them against the market's LIVE orders (:func:`aqbot.core.quotes.diff_quotes`);
3. cancels: ``Core.request_cancel`` (the canceller task sends them);
4. places, up to 15: sign (the order id is the EIP-712 hash, known before the POST), then
   ``Core.place`` which checks the gates and limits and reserves *in one synchronous call* (no checkpoint
   between check and reserve), then one ``POST /order(s)`` for the batch;
5. apply every answer: accepted -> LIVE; a definitive rejection releases; anything ambiguous
   (timeout, transport error, 5xx, an undecodable answer) is ``SubmitFailed`` -> UNKNOWN.

Dry run (``QuoteContext.dry_run``): steps 1-4 run unchanged (the core reserves, the real signer signs),
but instead of the POST each order's wire JSON is written to the ledger as a ``dryrun.order`` event and
answered locally as a definitive rejection (``success: false``, ``"dry run: not sent"``), so the
reservation is released through the ordinary confirmed-answer path. Nothing is sent, and a dry run never
requests a cancel (orders of the key that already rest, found by the reconciler, are left alone).

The POST itself runs shielded under ``submit_timeout``: a halt that arrives mid-request waits for the
answer instead of turning a definite answer into an UNKNOWN order.

The quoter wakes on a book change of its market, on any core change (fills, cancels confirmed, halts
cleared), or on the requote timer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import NoReturn, Protocol

import attrs
import trio

from aqbot.auth._errors import InvalidOrderSpec
from aqbot.auth.order import SignedOrder
from aqbot.auth.signer import OrderSigner
from aqbot.auth.stamps import OrderStamper
from aqbot.core.events import PlacementAnswer, SubmitFailed
from aqbot.core.halts import HaltReason
from aqbot.core.lifecycle import OrderState
from aqbot.core.quotes import DesiredQuote, DiffConfig, QuoteDiff, RestingQuote, diff_quotes
from aqbot.core.strategy import Inventory, MarketInputs, Strategy
from aqbot.core.types import MarketSpec, OrderType, Side
from aqbot.errors import ExchangeError, ExchangeUnavailable, OrderRejected, TransportError, WireError
from aqbot.io import edge
from aqbot.io.hub import Hub
from aqbot.io.quoter_guards import BALANCE_REFUSAL, ErrorRateGuard, ExchangeGuard, SellBackoff
from aqbot.io.rest import is_unavailable_message
from aqbot.io.ws_market import BookBoard
from aqbot.wire.codec import encode_json
from aqbot.wire.orders import PostOrderRequest, PostOrderResponse
from aqbot.wire.orders import SignedOrder as WireSignedOrder
from aqbot.wire.types import UnixMs, UnixS

log = logging.getLogger(__name__)

ZERO = Decimal(0)
# The local answer to every order of a dry run.
DRY_RUN_ERROR = "dry run: not sent"


class OrderPoster(Protocol):
    """``POST /order(s)`` (:meth:`aqbot.io.rest_api.ClobApi.post_orders`)."""

    async def post_orders(self, orders: Sequence[PostOrderRequest]) -> list[PostOrderResponse]: ...


@attrs.frozen
class QuoterConfig:
    """Timing of the quoters (seconds)."""

    requote_interval: float = 1.0
    submit_timeout: float = 10.0
    cleanup_grace: float = 5.0
    min_iteration_gap: float = 0.05
    diff: DiffConfig = attrs.Factory(DiffConfig)


@attrs.define
class QuoteContext:
    """What every quoter shares (built once by the app)."""

    hub: Hub
    board: BookBoard
    strategy: Strategy
    signer: OrderSigner
    stamper: OrderStamper
    poster: OrderPoster
    owner: str
    unix_ms: Callable[[], int]
    guard: ExchangeGuard
    config: QuoterConfig = attrs.Factory(QuoterConfig)
    errors: ErrorRateGuard | None = None
    dry_run: bool = False
    sells: SellBackoff = attrs.Factory(SellBackoff)
    placed: int = 0
    rejected: int = 0
    unknown: int = 0


def _resting(ctx: QuoteContext, spec: MarketSpec) -> list[RestingQuote]:
    core = ctx.hub.core
    out: list[RestingQuote] = []
    for token in spec.tokens:
        for order in core.open_orders(token):
            if order.state is OrderState.LIVE:
                remaining = core.exposure.remaining(order.order_id)
                out.append(RestingQuote(order.order_id, token, order.side, order.price, remaining))
    return out


def plan(ctx: QuoteContext, spec: MarketSpec, now: float) -> QuoteDiff | None:
    """The diff to apply now, or ``None`` when the gate is closed (sync, no I/O)."""
    core = ctx.hub.core
    if not core.can_quote(spec.condition_id, now).allowed:
        return None
    resting = _resting(ctx, spec)
    inventory: dict[str, Inventory] = {}
    buy_cap: dict[str, Decimal] = {}
    sell_cap: dict[str, Decimal] = {}
    for token in spec.tokens:
        e = core.token_exposure(token)
        buy_cap[token] = max(ZERO, core.exposure.limits.max_for(token) - e.worst)
        sell_cap[token] = max(ZERO, e.sellable - e.open_sell)  # L3: buys that may still FAIL are not sellable
        if ctx.sells.blocked(token, now):  # the exchange refused a SELL for balance: not credited yet
            sell_cap[token] = ZERO
        mine = [r for r in resting if r.token == token]
        inventory[token] = Inventory(
            held=e.held,
            buy_capacity=buy_cap[token],
            sell_capacity=sell_cap[token],
            resting_buy=sum((r.size for r in mine if r.side.value == "BUY"), start=ZERO),
            resting_sell=sum((r.size for r in mine if r.side.value == "SELL"), start=ZERO),
        )
    books = {token: ctx.board.books[token] for token in spec.tokens}
    desired = ctx.strategy.desired_quotes(MarketInputs(spec, books, inventory), now)
    tick = next((b.tick_size for b in books.values() if b.tick_size is not None), spec.tick_size)
    return diff_quotes(
        resting, desired, tick=tick, config=ctx.config.diff, buy_capacity=buy_cap, sell_capacity=sell_cap
    )


def _to_wire(order: SignedOrder) -> WireSignedOrder:
    return WireSignedOrder(
        salt=order.salt,
        maker=order.maker,
        signer=order.signer,
        token_id=order.token_id,
        maker_amount=order.maker_amount,
        taker_amount=order.taker_amount,
        side=order.side,
        expiration=UnixS(order.expiration),
        signature_type=int(order.signature_type),
        timestamp=UnixMs(order.timestamp_ms),
        metadata=order.metadata,
        builder=order.builder,
        signature=order.signature,
    )


def reserve_batch(
    ctx: QuoteContext, spec: MarketSpec, places: Sequence[DesiredQuote], now: float
) -> list[tuple[SignedOrder, DesiredQuote]]:
    """Sign and reserve each place (sync: check and reserve are one core call, no checkpoint)."""
    core = ctx.hub.core
    tick = ctx.board.books[spec.yes_token].tick_size or spec.tick_size
    batch: list[tuple[SignedOrder, DesiredQuote]] = []
    for quote in places[:15]:
        salt, stamp = ctx.stamper.stamp(ctx.unix_ms())
        try:
            signed = ctx.signer.sign(
                quote.token, quote.side, quote.price, quote.size, tick,
                neg_risk=spec.neg_risk, salt=salt, timestamp_ms=stamp,
            )  # fmt: skip
        except InvalidOrderSpec as exc:
            log.warning("cannot sign %s %s@%s: %s", quote.side.value, quote.size, quote.price, exc)
            continue
        result = core.place(signed.order_id, quote.token, quote.side, quote.price, quote.size, now)
        ctx.hub.apply(result.outcome)
        if result.ok:
            batch.append((signed, quote))
    return batch


async def submit(ctx: QuoteContext, batch: Sequence[tuple[SignedOrder, DesiredQuote]]) -> None:
    """POST one batch (shielded, bounded) and apply every answer to the core."""
    hub = ctx.hub
    requests = [
        PostOrderRequest(order=_to_wire(s), owner=ctx.owner, order_type=OrderType.GTC, post_only=q.post_only)
        for s, q in batch
    ]
    if ctx.dry_run:
        _answer_dry_run(ctx, batch, requests)
        return
    for signed, quote in batch:
        hub.record(
            "command.place",
            {"order_id": signed.order_id, "token": quote.token, "side": quote.side.value,
             "price": str(quote.price), "size": str(quote.size)},
            order_id=signed.order_id, token=quote.token,
        )  # fmt: skip
    ids = [s.order_id for s, _ in batch]
    answers: list[PlacementAnswer | SubmitFailed] = []
    with trio.move_on_after(ctx.config.submit_timeout, shield=True) as scope:
        answers = await _post(ctx, requests, ids)
    if scope.cancelled_caught:
        answers = [SubmitFailed(i, "submit timed out") for i in ids]
    now = trio.current_time()
    ambiguous = 0
    for answer, (_, quote) in zip(answers, batch, strict=True):
        if isinstance(answer, SubmitFailed):
            ambiguous += 1
            hub.apply(hub.core.on_submit_failed(answer, now))
        else:
            ctx.placed += answer.success
            ctx.rejected += not answer.success
            if not answer.success:  # the evidence of a rule-2 release: the exchange's own words
                hub.record(
                    "rest.answer",
                    {"method": "POST", "path": "/order" if len(batch) == 1 else "/orders",
                     "status": answer.http_status, "body": {"success": False, "errorMsg": answer.error}},
                    order_id=answer.order_id, token=quote.token,
                )  # fmt: skip
            if quote.side is Side.SELL:
                if answer.success:
                    ctx.sells.accepted(quote.token)
                elif BALANCE_REFUSAL in answer.error.lower():
                    ctx.sells.refused(quote.token, now)
            hub.apply(hub.core.on_placement_answer(answer, now))
    if ctx.errors is not None:
        rejected = sum(1 for a in answers if isinstance(a, PlacementAnswer) and not a.success)
        ctx.errors.record(hub, errors=ambiguous + rejected, total=len(answers))
    if ambiguous:
        ctx.unknown += ambiguous
        hub.waker.wake(f"{ambiguous} order(s) left UNKNOWN by a submit")


def _answer_dry_run(
    ctx: QuoteContext, batch: Sequence[tuple[SignedOrder, DesiredQuote]], requests: list[PostOrderRequest]
) -> None:
    """Record each signed order (``dryrun.order``) and reject it locally: nothing leaves the process."""
    hub = ctx.hub
    for (signed, quote), request in zip(batch, requests, strict=True):
        hub.record(
            "dryrun.order",
            {"order_id": signed.order_id, "token": quote.token, "side": quote.side.value,
             "price": str(quote.price), "size": str(quote.size), "wire": encode_json(request)},
            order_id=signed.order_id, token=quote.token,
        )  # fmt: skip
    now = trio.current_time()
    for signed, _ in batch:
        answer = edge.placement_answer(
            signed.order_id, PostOrderResponse(success=False, error_msg=DRY_RUN_ERROR)
        )
        ctx.rejected += 1
        hub.apply(hub.core.on_placement_answer(answer, now))


async def _post(
    ctx: QuoteContext, requests: list[PostOrderRequest], ids: list[str]
) -> list[PlacementAnswer | SubmitFailed]:
    try:
        legs = await ctx.poster.post_orders(requests)
    except OrderRejected as exc:
        return [PlacementAnswer(i, False, error=str(exc), http_status=exc.status or 400) for i in ids]
    except ExchangeUnavailable as exc:
        ctx.guard.refused(ctx.hub, str(exc))
        if exc.status is not None and 400 <= exc.status < 500:
            return [PlacementAnswer(i, False, error=str(exc), http_status=exc.status) for i in ids]
        return [SubmitFailed(i, str(exc)) for i in ids]
    except (TransportError, ExchangeError, WireError) as exc:
        log.warning("submit of %d order(s) ambiguous: %s", len(ids), exc)
        return [SubmitFailed(i, f"{type(exc).__name__}: {exc}") for i in ids]
    refusals = [leg.error_msg for leg in legs if leg.error_msg and is_unavailable_message(leg.error_msg)]
    if refusals:
        ctx.guard.refused(ctx.hub, refusals[0])  # a batch carries 425/503 refusals per leg
    else:
        ctx.guard.accepted()
    return [edge.placement_answer(i, leg) for i, leg in zip(ids, legs, strict=True)]


async def quote_once(ctx: QuoteContext, spec: MarketSpec) -> bool:
    """One iteration; True when something was sent."""
    now = trio.current_time()
    diff = plan(ctx, spec, now)
    if diff is None or not diff.has_actions:
        return False
    if diff.cancels and not ctx.dry_run:  # a dry run never touches a real order
        ctx.hub.apply(ctx.hub.core.request_cancel(diff.cancel_ids, now, "requote"))
    batch = reserve_batch(ctx, spec, diff.places, now)
    if batch:
        await submit(ctx, batch)
    return True


async def _wait_for_change(ctx: QuoteContext, spec: MarketSpec, board_seen: int, hub_seen: int) -> None:
    with trio.move_on_after(ctx.config.requote_interval):
        async with trio.open_nursery() as nursery:

            async def board_changed() -> None:
                await ctx.board.wait_changed(spec.condition_id, board_seen)
                nursery.cancel_scope.cancel()

            async def core_changed() -> None:
                await ctx.hub.wait_changed(hub_seen)
                nursery.cancel_scope.cancel()

            nursery.start_soon(board_changed)
            nursery.start_soon(core_changed)


async def run_quoter(
    ctx: QuoteContext, spec: MarketSpec, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> NoReturn:
    """Quote one market until cancelled (see the module docstring). Runs until cancelled."""
    task_status.started()
    while True:
        board_seen = ctx.board.versions[spec.condition_id]
        await quote_once(ctx, spec)
        hub_seen = ctx.hub.version
        await trio.sleep(ctx.config.min_iteration_gap)
        await _wait_for_change(ctx, spec, board_seen, hub_seen)


def _unsettled(ctx: QuoteContext, spec: MarketSpec) -> list[str]:
    """The market's orders still waiting for an exchange-confirmed terminal state (UNKNOWN excluded)."""
    core = ctx.hub.core
    return [
        o.order_id
        for token in spec.tokens
        for o in core.open_orders(token)
        if o.state is not OrderState.UNKNOWN
    ]


async def cleanup_market(ctx: QuoteContext, spec: MarketSpec, reason: str) -> bool:
    """Cancel the market's orders and wait until they are confirmed terminal. Bounded by the caller.

    Returns True when nothing but UNKNOWN orders remain.
    """
    hub = ctx.hub
    if ctx.dry_run:
        return True  # nothing of a dry run rests; real orders found by the reconciler are left alone
    pending = _unsettled(ctx, spec)
    hub.apply(hub.core.request_cancel(pending, trio.current_time(), reason))
    seen = hub.version
    while _unsettled(ctx, spec):
        if hub.cancels_stopped:  # a forced stop: nothing is sent nor confirmed any more
            return False
        seen = await hub.wait_changed(seen)
    return True


async def run_market(
    ctx: QuoteContext, spec: MarketSpec, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> NoReturn:
    """Supervise one market's quoter: run it while the gate is open. Runs until cancelled.

    Cancellation (shutdown): the quoter's shielded cleanup runs before this returns.
    """
    task_status.started()
    hub = ctx.hub
    seen = hub.version
    while True:
        while not hub.core.can_quote(spec.condition_id, trio.current_time()).allowed:
            seen = await hub.wait_changed(seen)
        log.info("market %s: quoting", spec.condition_id[:10])
        reason = "shutdown"
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(run_quoter, ctx, spec, name=f"quoter-{spec.condition_id[:10]}")
                gate = await _wait_gate_closed(ctx, spec)
                reason = "halt: " + ",".join(r.value for r in gate)
                nursery.cancel_scope.cancel()
        finally:
            with trio.move_on_after(ctx.config.cleanup_grace, shield=True) as scope:
                await cleanup_market(ctx, spec, reason)
            if scope.cancelled_caught:
                left = _unsettled(ctx, spec)
                log.warning("market %s: %d unconfirmed after cleanup", spec.condition_id[:10], len(left))
        log.info("market %s: stopped quoting (%s)", spec.condition_id[:10], reason)


async def _wait_gate_closed(ctx: QuoteContext, spec: MarketSpec) -> tuple[HaltReason, ...]:
    hub = ctx.hub
    seen = hub.version
    while True:
        gate = hub.core.can_quote(spec.condition_id, trio.current_time())
        if not gate.allowed:
            return gate.reasons
        seen = await hub.wait_changed(seen)
