"""Order entry and cancels: validation, balance checks, post-only/FOK/FAK semantics, cancel races.

:class:`OrderEntry` extends :class:`aqbot.sim.matching.MatchingCore`; :class:`aqbot.sim.engine.Engine`
extends it with time, heartbeats and views. Public methods take ``now_ms`` and first bring the engine's clock
forward (``self.advance``) so that timed transitions (settlement, expiries, the dead-man switch) happen first.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Iterable

from aqbot.sim.book import MarketState, SimOrder
from aqbot.sim.events import Reply, UserEvent, error
from aqbot.sim.matching import MatchingCore
from aqbot.sim.settlement import Trade
from aqbot.sim.units import ONE, fmt_units, notional
from aqbot.sim.validation import (
    ERR_BALANCE,
    ERR_FAK,
    ERR_FOK,
    ERR_NOT_READY,
    ERR_OWNER,
    ERR_PAYLOAD,
    ERR_POST_ONLY_CROSS,
    ERR_POST_ONLY_MODE,
    ERR_SIGNER,
    OrderRequest,
    limit_price,
    parse_order,
    static_checks,
)
from aqbot.sim.views import order_event

logger = logging.getLogger(__name__)

MAX_CANCEL_IDS = 1000
ERR_RESTARTING = "Service is not ready"
ERR_CANCEL_ONLY = "Trading is currently cancel-only. New orders are not accepted, but cancels are allowed."
NOT_FOUND = "order not found"
ACTIVE = ("LIVE", "DELAYED")
ALREADY_DONE = "already canceled or matched"


class OrderEntry(MatchingCore, abc.ABC):
    """Placement and cancels on top of the matching core."""

    racer_owner: str = "__racer__"
    """The engine-internal taker of the ``cancel_race`` fault."""
    restart_until_ms: int = 0
    post_only_until_ms: int = 0
    cancel_only_until_ms: int = 0

    @abc.abstractmethod
    def advance(self, now_ms: int) -> None:
        """Apply every timed transition up to ``now_ms`` (implemented by the engine)."""

    # ---- exchange modes -----------------------------------------------------------------------------------

    def mode_error(self, kind: str, post_only: bool, now_ms: int) -> Reply | None:
        """The refusal an exchange mode imposes on a ``kind`` (``order``/``cancel``) request, or None."""
        if now_ms < self.restart_until_ms:
            return error(425, ERR_RESTARTING)
        if kind == "order":
            if now_ms < self.cancel_only_until_ms:
                return error(503, ERR_CANCEL_ONLY)
            if now_ms < self.post_only_until_ms and not post_only:
                return error(400, ERR_POST_ONLY_MODE)
        return None

    # ---- placement ---------------------------------------------------------------------------------------

    def place_order(self, req: OrderRequest, now_ms: int) -> Reply:
        """Validate, match and possibly rest one order. Returns the placement reply (PROTOCOL 1.3/1.8).

        Accepted orders answer 200 with ``{success, errorMsg, orderID, status, makingAmount, takingAmount,
        tradeIDs}``; every rejection answers 4xx/5xx ``{"error": msg}`` (see
        :func:`aqbot.sim.events.batch_leg` for the batch form). Every outcome is on the tape.
        """
        self.advance(now_ms)
        now_ms = self.now_ms
        refusal = self.mode_error("order", req.post_only, now_ms)
        if refusal is not None:
            return self._reject(req, refusal, now_ms)
        parsed = parse_order(req.order)
        if isinstance(parsed, str):
            return self._reject(req, error(400, parsed), now_ms)
        acct = self.accounts.get(req.owner)
        if acct is None:
            return self._reject(req, error(401, "Unauthorized/Invalid api key"), now_ms)
        if parsed.maker != acct.address:
            return self._reject(req, error(400, ERR_OWNER), now_ms)
        if parsed.signer != acct.signer:
            return self._reject(req, error(400, ERR_SIGNER), now_ms)
        ms = self.token_market.get(parsed.token)
        if ms is None:
            return self._reject(req, error(400, f"{ERR_PAYLOAD}: unknown tokenId"), now_ms)
        if not ms.accepting:
            return self._reject(req, error(400, ERR_NOT_READY), now_ms)
        if req.order_id in self.orders:
            return self._reject(req, error(400, f"order {req.order_id} is invalid. Duplicated."), now_ms)
        problem = static_checks(req, parsed, ms.tick_u, ms.min_size_u, now_ms)
        if problem is not None:
            return self._reject(req, error(400, problem), now_ms)
        price = limit_price(parsed, req.order_type, ms.tick_u)
        order = SimOrder(
            order_id=req.order_id,
            owner=req.owner,
            market=ms.condition_id,
            token=parsed.token,
            is_yes=ms.is_yes(parsed.token),
            is_buy=parsed.is_buy,
            price_u=price,
            original_u=parsed.size_u,
            order_type=req.order_type,
            expiration_s=parsed.expiration_s,
            created_ms=now_ms,
            maker_address=acct.address,
            reserved=parsed.maker_amount,
            post_only=req.post_only,
        )
        if order.is_buy:
            enough = acct.available_pusd() >= order.reserved
        else:
            enough = acct.available_tokens(order.token) >= order.reserved
        if not enough:
            return self._reject(req, error(400, ERR_BALANCE), now_ms)
        crosses = ms.book.crosses(order.bid, order.book_price)
        if req.post_only and crosses:
            return self._reject(req, error(400, ERR_POST_ONLY_CROSS), now_ms)
        marketable = req.order_type in ("FOK", "FAK")
        if crosses and not marketable and notional(order.original_u, price) < ONE:
            amount = fmt_units(notional(order.original_u, price))
            msg = f"invalid amount for a marketable {order.side} order (${amount}), min size: $1"
            return self._reject(req, error(400, msg), now_ms)
        if req.order_type == "FOK" and self.fillable(ms, order) < order.original_u:
            return self._reject(req, error(400, ERR_FOK), now_ms)
        if req.order_type == "FAK" and not crosses:
            return self._reject(req, error(400, ERR_FAK), now_ms)
        delayed = ms.cfg.seconds_delay > 0 and crosses and not req.post_only
        return self._accept(req, ms, order, now_ms, delayed=delayed)

    def _reject(self, req: OrderRequest, reply: Reply, now_ms: int) -> Reply:
        message = reply.body.get("error", "") if isinstance(reply.body, dict) else ""
        self.tape.write(
            now_ms,
            "order_rejected",
            owner=req.owner,
            order_id=req.order_id,
            order=dict(req.order),
            order_type=req.order_type,
            post_only=req.post_only,
            status=reply.status,
            error=message,
        )
        return reply

    def _accept(
        self, req: OrderRequest, ms: MarketState, order: SimOrder, now_ms: int, *, delayed: bool
    ) -> Reply:
        acct = self.accounts.by_owner[order.owner]
        self._reserve(acct, order)
        self.orders[order.order_id] = order
        self.live.setdefault(order.owner, {})[order.order_id] = order
        self.tape.write(
            now_ms,
            "order_accepted",
            owner=order.owner,
            order_id=order.order_id,
            order=dict(req.order),
            order_type=req.order_type,
            post_only=req.post_only,
            defer_exec=req.defer_exec,
            market=ms.condition_id,
            token=order.token,
            side=order.side,
            price=fmt_units(order.price_u),
            size=fmt_units(order.original_u),
        )
        if delayed:
            order.status = "DELAYED"
            self._schedule_delayed(order, now_ms + ms.cfg.seconds_delay * 1000)
        self._user(now_ms, order.owner, ms.condition_id, order_event(order, ms, "PLACEMENT", now_ms))
        if delayed:
            body: dict[str, object] = {
                "success": True,
                "errorMsg": "",
                "orderID": order.order_id,
                "status": "delayed",
                "makingAmount": "",
                "takingAmount": "",
                "tradeIDs": [],
            }
            return Reply(200, body)
        pusd_before = acct.pusd
        tokens_before = acct.tokens.get(order.token, 0)
        trades = self.execute(ms, order, now_ms)
        if trades:
            pusd_delta = acct.pusd - pusd_before
            token_delta = acct.tokens.get(order.token, 0) - tokens_before
            making = -pusd_delta if order.is_buy else -token_delta
            taking = token_delta if order.is_buy else pusd_delta
            status = "matched"
            making_s, taking_s = fmt_units(making), fmt_units(taking)
        else:
            status, making_s, taking_s = "live", "", ""
        body = {
            "success": True,
            "errorMsg": "",
            "orderID": order.order_id,
            "status": status,
            "makingAmount": making_s,
            "takingAmount": taking_s,
            "tradeIDs": [t.trade_id for t in trades],
        }
        return Reply(200, body)

    def execute(self, ms: MarketState, order: SimOrder, now_ms: int) -> list[Trade]:
        """Match an accepted order now, then rest it (GTC/GTD) or kill the remainder (FOK/FAK)."""
        if order.order_type == "FOK" and self.fillable(ms, order) < order.original_u:
            trades: list[Trade] = []  # only reachable for a delayed FOK: the book moved meanwhile
        else:
            trades = self._match(ms, order, now_ms)
        if order.remaining_u == 0:
            self._finish(order, "MATCHED")
        elif order.order_type in ("FOK", "FAK"):
            self._finish(order, "CANCELED")
            self._user(now_ms, order.owner, ms.condition_id, order_event(order, ms, "CANCELLATION", now_ms))
            self.tape.write(
                now_ms, "order_cancelled", owner=order.owner, order_id=order.order_id, reason="fak"
            )
        else:
            ms.book.add(order)
            if order.expiration_s:
                self._schedule_expiry(order)
        self._flush_book(ms, now_ms)
        return trades

    @abc.abstractmethod
    def _schedule_expiry(self, order: SimOrder) -> None:
        """Plan a resting GTD order's expiry (implemented by the engine)."""

    @abc.abstractmethod
    def _schedule_delayed(self, order: SimOrder, due_ms: int) -> None:
        """Plan a delayed order's matching at ``due_ms`` (implemented by the engine)."""

    # ---- cancels -----------------------------------------------------------------------------------------

    def cancel_orders(self, owner: str, order_ids: Iterable[str], now_ms: int) -> Reply:
        """``DELETE /order`` (one id) and ``DELETE /orders`` (<= 1000): ``{canceled, not_canceled}``."""
        self.advance(now_ms)
        now_ms = self.now_ms
        ids = list(dict.fromkeys(order_ids))
        if len(ids) > MAX_CANCEL_IDS:
            return error(400, f"Too many orders to cancel, max {MAX_CANCEL_IDS}")
        refusal = self.mode_error("cancel", False, now_ms)
        if refusal is not None:
            self.tape.write(now_ms, "cancel_refused", owner=owner, order_ids=ids, status=refusal.status)
            return refusal
        return Reply(200, self._cancel_many(owner, ids, now_ms))

    def cancel_all(self, owner: str, now_ms: int) -> Reply:
        """``DELETE /cancel-all``."""
        self.advance(now_ms)
        return self.cancel_orders(owner, list(self.live.get(owner, {})), self.now_ms)

    def cancel_market(self, owner: str, market: str | None, asset_id: str | None, now_ms: int) -> Reply:
        """``DELETE /cancel-market-orders``; both filters None cancels everything."""
        self.advance(now_ms)
        ids = [
            o.order_id
            for o in self.live.get(owner, {}).values()
            if (market is None or o.market == market) and (asset_id is None or o.token == asset_id)
        ]
        return self.cancel_orders(owner, ids, self.now_ms)

    def _cancel_many(self, owner: str, ids: list[str], now_ms: int) -> dict[str, object]:
        canceled: list[str] = []
        not_canceled: dict[str, str] = {}
        touched: dict[str, MarketState] = {}
        for oid in ids:
            order = self.orders.get(oid)
            if order is None or order.owner != owner:
                not_canceled[oid] = NOT_FOUND
                continue
            ms = self.markets[order.market]
            if (
                order.status == "LIVE"
                and owner not in self.fault_exempt
                and self.faults.engine_roll(
                    self.faults.config.cancel_race_p, now_ms, "cancel_race", {"owner": owner, "order_id": oid}
                )
            ):
                self._race_fill(ms, order, now_ms)
            if order.status not in ACTIVE:
                not_canceled[oid] = ALREADY_DONE
                continue
            self.cancel_order_now(order, now_ms, "user")
            touched[ms.condition_id] = ms
            canceled.append(oid)
        for ms in touched.values():
            self._flush_book(ms, now_ms)
        self.tape.write(now_ms, "cancel_request", owner=owner, canceled=canceled, not_canceled=not_canceled)
        return {"canceled": canceled, "not_canceled": not_canceled}

    def cancel_order_now(self, order: SimOrder, now_ms: int, reason: str) -> None:
        """Take a LIVE order off the book and make it CANCELED (reason: user, heartbeat, expired, ...)."""
        ms = self.markets[order.market]
        if order.status == "LIVE":
            ms.book.remove(order)
        self._finish(order, "CANCELED")
        self.tape.write(
            now_ms,
            "order_expired" if reason == "expired" else "order_cancelled",
            owner=order.owner,
            order_id=order.order_id,
            reason=reason,
            size_matched=fmt_units(order.matched_u),
        )
        event = UserEvent(
            now_ms, order.owner, ms.condition_id, order_event(order, ms, "CANCELLATION", now_ms)
        )
        if order.matched_u and self._cancel_before_trade(order, event, now_ms):
            return
        self._events.append(event)

    def _cancel_before_trade(self, order: SimOrder, event: UserEvent, now_ms: int) -> bool:
        """Fault: put the CANCELLATION before a still-queued trade event of this order (PROTOCOL 10.5)."""
        idx = None
        for i in range(len(self._events) - 1, -1, -1):
            ev = self._events[i]
            if (
                isinstance(ev, UserEvent)
                and ev.owner == order.owner
                and ev.payload.get("event_type") == "trade"
            ):
                makers = ev.payload.get("maker_orders")
                ids = (
                    [m.get("order_id") for m in makers if isinstance(m, dict)]
                    if isinstance(makers, list)
                    else []
                )
                if ev.payload.get("taker_order_id") == order.order_id or order.order_id in ids:
                    idx = i
        if idx is None:
            return False
        detail: dict[str, object] = {"owner": order.owner, "order_id": order.order_id}
        if not self.faults.engine_roll(
            self.faults.config.cancel_before_trade_p, now_ms, "cancel_before_trade", detail
        ):
            return False
        self._events.insert(idx, event)
        return True

    def _race_fill(self, ms: MarketState, order: SimOrder, now_ms: int) -> None:
        """Fault: a taker hits ``order`` just before its cancel is processed (all of it, or a part)."""
        racer = self.racer_owner
        rng = self.faults.engine_random("cancel")
        part = (
            order.remaining_u
            if rng.random() < 0.5
            else max(10_000, order.remaining_u // 2 // 10_000 * 10_000)
        )
        part = min(part, order.remaining_u)
        acct = self.accounts.by_owner[racer]
        # the racer always BUYs: the complement against a BUY (a mint), the same token against a SELL
        token = ms.complement(order.token) if order.is_buy else order.token
        racer_price = ONE - order.price_u if order.is_buy else order.price_u
        budget = part * racer_price // ONE + 1
        if acct.available_pusd() < budget:
            return
        taker = SimOrder(
            order_id=f"race-{self.rng.getrandbits(64):016x}",
            owner=racer,
            market=ms.condition_id,
            token=token,
            is_yes=ms.is_yes(token),
            is_buy=True,
            price_u=racer_price,
            original_u=part,
            order_type="FAK",
            expiration_s=0,
            created_ms=now_ms,
            maker_address=acct.address,
            reserved=budget,
        )
        self._reserve(acct, taker)
        self.orders[taker.order_id] = taker
        self._fill_level(ms, taker, order.book_price, [order], now_ms)
        self._finish(taker, "MATCHED" if taker.remaining_u == 0 else "CANCELED")
        self._flush_book(ms, now_ms)
