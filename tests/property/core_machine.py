"""The core state machine: Hypothesis drives the sync core against the exchange model (STYLE P11).

Every rule acts on the model (the exchange) and/or the core, the way the runtime would: the exchange
processes POSTs and cancels when it likes, fills resting orders (maker, cross-asset, several of aqbot's
orders in one trade, taker), settles trades (MINED, CONFIRMED, RETRYING, FAILED), cancels on its own; the
user channel delivers, drops, duplicates and reorders its pending events and disconnects; submits time
out; reconciliations are fresh or stale; the positions API lags; aqbot crashes and restores from its
snapshot. The invariants are checked after every step.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from decimal import Decimal
from typing import ClassVar

from core_model import (
    MARKET,
    MAY_FILL,
    OWNER,
    REJECTED,
    RESTING,
    TOKENS,
    UNSENT,
    ZOMBIE,
    Exchange,
    MOrder,
)
from hypothesis import event, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from aqbot.core.config import CoreConfig
from aqbot.core.engine import Core
from aqbot.core.events import Channel, OrdersSnapshot, SubmitFailed, TradeEvent, TradeStatus
from aqbot.core.exposure import Limits
from aqbot.core.facts import CancelOrder, OrderTransitioned, Outcome
from aqbot.core.halts import HaltReason
from aqbot.core.lifecycle import OrderState, Trigger
from aqbot.core.orders import Order
from aqbot.core.snapshot import restore, snapshot
from aqbot.core.types import OrderId, Side

MAX = Decimal(10)
GRACE = 5.0
CONFIG = CoreConfig(
    Limits(MAX), owner=OWNER, grace=GRACE, protection_window=60.0, position_mismatch_syncs=3, prune_after=60.0
)
PRICES = [Decimal("0.3"), Decimal("0.5"), Decimal("0.7")]
SIZES = [Decimal(n) for n in (1, 2, 3, 5, 10)] + [Decimal("2.5")]


def step_count() -> int:
    """Steps per example: ``AQBOT_MACHINE_STEPS``, else 50 (100 under the long ``fuzz`` profile)."""
    env = os.environ.get("AQBOT_MACHINE_STEPS")
    if env:
        return int(env)
    return 100 if settings.default.max_examples >= 1000 else 50


class CoreMachine(RuleBasedStateMachine):
    counts: ClassVar[Counter[str]] = Counter()

    def __init__(self) -> None:
        super().__init__()
        self.ex = Exchange()
        self.now = 0.0
        self.core = Core(CONFIG, [MARKET], self.now)
        self.next_oid = 0
        self.recon: tuple[int, OrdersSnapshot] | None = None
        self.trades_at_last_full = 0
        # Tokens on which the exchange contradicted an end the core had taken (Trigger.REVIVE, review B4).
        self.revived: set[str] = set()
        self.revived_orders: set[str] = set()

    # --- plumbing -------------------------------------------------------------------------------------

    def _count(self, name: str) -> None:
        type(self).counts[name] += 1
        event(name)

    def _apply(self, out: Outcome) -> None:
        for command in out.commands:
            if isinstance(command, CancelOrder):
                self.ex.cancel_requests.append(command.order_id)
        for fact in out.facts:
            note(f"  {fact!r}")
            if isinstance(fact, OrderTransitioned) and fact.trigger is Trigger.REVIVE:
                self.revived.add(fact.token)
                self.revived_orders.add(fact.order_id)
                self._count("revived")

    def _order(self, oid: OrderId, morder: MOrder) -> Order | None:
        """The core's record of an order; ``None`` only if the core pruned it, which it may do only
        once the order can no longer fill and every fill of it is final on the exchange too."""
        order = self.core.order(oid)
        if order is None:
            assert oid in self.core.tracker.pruned, f"core lost {oid}"
            assert morder.state not in MAY_FILL, f"pruned {oid} may still fill"
            final = (TradeStatus.CONFIRMED, TradeStatus.FAILED)
            assert all(t.status in final for t in self.ex.trades.values() if oid in dict(t.entries))
            type(self).counts["pruned"] += 1
        return order

    def _pick(self, data: st.DataObject, items: list[str]) -> str:
        return data.draw(st.sampled_from(sorted(items)))

    @initialize()
    def connect_and_reconcile(self) -> None:
        self._apply(self.core.on_channel_up(Channel.USER, self.now))
        self.ex.connected = True
        self._reconcile_now(stale=False)

    def _reconcile_now(self, *, stale: bool, trades_lag: float = 0.0) -> None:
        recon_id, out = self.core.begin_reconciliation(self.now)
        self._apply(out)
        self.recon = (recon_id, self.ex.orders_snapshot(trades_lag))
        if not stale:
            self.finish_reconciliation(positions=False, lag=0.0)

    # --- aqbot's own actions --------------------------------------------------------------------------

    @rule(token=st.sampled_from(TOKENS), side=st.sampled_from([Side.BUY, Side.BUY, Side.SELL]),
          price=st.sampled_from(PRICES), size=st.sampled_from(SIZES),
          then=st.sampled_from(["in-flight", "in-flight", "processed", "answered"]))  # fmt: skip
    def place(self, token: str, side: Side, price: Decimal, size: Decimal, then: str) -> None:
        """Reserve and send; the exchange may process it and answer at once, later, or never."""
        self._count("place")
        oid: OrderId = f"0x{self.next_oid:064x}"
        self.next_oid += 1
        gate = self.core.can_quote(token, self.now)
        result = self.core.place(oid, token, side, price, size, self.now)
        note(f"place {oid[-4:]} {side.value} {size}@{price} on {token}: {result.refused}")
        self._apply(result.outcome)
        if not gate.allowed:
            assert not result.ok, f"order left while halted by {gate.reasons}"
        type(self).counts["placed" if result.ok else "refused"] += 1
        event("place refused: " + (result.refused or "no").split(":")[0])
        if result.ok:
            self.ex.orders[oid] = MOrder(oid, token, side, price, size)
            event(f"placed {side.value}")
            if then != "in-flight":
                self.ex.process_post(oid, "")
            if then == "answered":
                answer, self.ex.orders[oid].answer = self.ex.orders[oid].answer, None
                assert answer is not None
                self._apply(self.core.on_placement_answer(answer, self.now))

    @precondition(lambda self: bool(self.core.open_orders()))
    @rule(data=st.data())
    def request_cancel(self, data: st.DataObject) -> None:
        self._count("request_cancel")
        oid = self._pick(data, [o.order_id for o in self.core.open_orders()])
        self._apply(self.core.request_cancel([oid], self.now))

    # --- the exchange ---------------------------------------------------------------------------------

    def _unprocessed(self) -> list[str]:
        return [o.oid for o in self.ex.orders.values() if o.state in (UNSENT, ZOMBIE)]

    def exchange_processes_post(self, data: st.DataObject) -> None:
        reject = data.draw(st.sampled_from(["", "", "", "false", "empty-id", "http400"]))
        self._count("exchange_processes_post")
        oid = self._pick(data, self._unprocessed())
        note(f"exchange processes {oid[-4:]} reject={reject!r}")
        self.ex.process_post(oid, reject)

    def _answerable(self) -> list[str]:
        return [o.oid for o in self.ex.orders.values() if o.answer is not None]

    def deliver_post_answer(self, data: st.DataObject) -> None:
        self._count("deliver_post_answer")
        order = self.ex.orders[self._pick(data, self._answerable())]
        answer, order.answer = order.answer, None
        assert answer is not None
        self._apply(self.core.on_placement_answer(answer, self.now))

    def _timeoutable(self) -> list[str]:
        return [o.oid for o in self.ex.orders.values() if o.state == UNSENT or o.answer is not None]

    def submit_times_out(self, data: st.DataObject) -> None:
        """The POST got no answer: it was either applied (answer lost) or is still in flight (zombie)."""
        self._count("submit_times_out")
        order = self.ex.orders[self._pick(data, self._timeoutable())]
        order.answer = None
        if order.state == UNSENT:
            order.state, order.deadline = ZOMBIE, self.now + GRACE
        self._apply(self.core.on_submit_failed(SubmitFailed(order.oid, "timeout"), self.now))

    def _resting(self) -> list[str]:
        return [o.oid for o in self.ex.orders.values() if o.state == RESTING]

    @precondition(lambda self: bool(self._resting()))
    @rule(data=st.data(), role=st.sampled_from(["maker", "maker", "cross", "taker"]))
    def exchange_fills(self, data: st.DataObject, role: str) -> None:
        self._count("exchange_fills")
        resting = sorted(self._resting())
        oids = [self._pick(data, resting)]
        others = [o for o in resting if o != oids[0]]
        if role != "taker" and others and data.draw(st.booleans()):
            oids.append(self._pick(data, others))  # one trade, several of aqbot's maker orders
        amounts = []
        for oid in oids:
            order = self.ex.orders[oid]
            amounts.append(
                data.draw(st.sampled_from(sorted({order.remaining, min(order.remaining, Decimal(1))})))
            )
        trade = self.ex.fill(oids, amounts, role)
        note(f"fill {trade.trade_id} {role}: {[(o[-4:], str(a)) for o, a in trade.entries]}")
        event(f"fill-{role}-{len(oids)}")

    @precondition(lambda self: bool(self._resting()))
    @rule(data=st.data(), deliver_answer=st.booleans())
    def cancel_races_fill(self, data: st.DataObject, deliver_answer: bool) -> None:
        """aqbot cancels; the exchange fills part of the order first, then cancels it and answers
        ``canceled``; the fill's events are still in the outbox (PROTOCOL section 10, items 5 and 8)."""
        self._count("cancel_races_fill")
        oid = self._pick(data, self._resting())
        self._apply(self.core.request_cancel([oid], self.now))
        order = self.ex.orders[oid]
        amount = min(order.remaining, Decimal(1)) if order.remaining > 1 else order.remaining / 2
        self.ex.fill([oid], [amount], "maker")
        if oid in self.ex.cancel_requests:
            self.ex.cancel_requests.remove(oid)
            self.ex.process_cancel(oid)
            if deliver_answer:
                self._apply(self.core.on_cancel_answer(self.ex.cancel_answers.pop(), self.now))

    def _settleable(self) -> list[str]:
        final = (TradeStatus.CONFIRMED, TradeStatus.FAILED)
        return [t.trade_id for t in self.ex.trades.values() if t.status not in final]

    @precondition(lambda self: bool(self._settleable()))
    @rule(data=st.data())
    def exchange_settles(self, data: st.DataObject) -> None:
        self._count("exchange_settles")
        trade = self.ex.trades[self._pick(data, self._settleable())]
        nxt = {
            TradeStatus.MATCHED: [TradeStatus.MINED, TradeStatus.RETRYING, TradeStatus.FAILED],
            TradeStatus.MINED: [TradeStatus.CONFIRMED, TradeStatus.RETRYING],
            TradeStatus.RETRYING: [TradeStatus.MINED, TradeStatus.FAILED],
        }[trade.status]
        status = data.draw(st.sampled_from(nxt))
        event(f"settle-{status.value}")
        self.ex.settle(trade, status)

    def exchange_processes_cancel(self, data: st.DataObject) -> None:
        self._count("exchange_processes_cancel")
        i = data.draw(st.integers(0, len(self.ex.cancel_requests) - 1))
        self.ex.process_cancel(self.ex.cancel_requests.pop(i))

    def deliver_cancel_answer(self, data: st.DataObject) -> None:
        self._count("deliver_cancel_answer")
        i = data.draw(st.integers(0, len(self.ex.cancel_answers) - 1))
        self._apply(self.core.on_cancel_answer(self.ex.cancel_answers.pop(i), self.now))

    @precondition(lambda self: bool(self._resting()))
    @rule(
        data=st.data(), status=st.sampled_from(["INVALID", "CANCELED_MARKET_RESOLVED", "MATCHED", "CANCELED"])
    )
    def exchange_cancels_on_its_own(self, data: st.DataObject, status: str) -> None:
        self._count("exchange_cancels_on_its_own")
        self.ex.cancel(self._pick(data, self._resting()), status)

    # --- the user channel -----------------------------------------------------------------------------

    @precondition(lambda self: bool(self.ex.outbox))
    @rule(data=st.data(), action=st.sampled_from(["deliver", "deliver", "deliver", "drop", "duplicate"]))
    def user_channel(self, data: st.DataObject, action: str) -> None:
        self._count(f"event_{action}")
        i = data.draw(st.integers(0, len(self.ex.outbox) - 1))  # any index: reordering
        ev = self.ex.outbox[i] if action == "duplicate" else self.ex.outbox.pop(i)
        note(f"{action} {ev!r}")
        if action == "drop":
            return
        if isinstance(ev, TradeEvent):
            self._apply(self.core.on_trade_event(ev, self.now))
        else:
            self._apply(self.core.on_order_event(ev, self.now))

    def disconnect(self, data: st.DataObject) -> None:
        blip = data.draw(st.booleans())
        """The user channel drops (pending events are lost); a blip reconnects and reconciles at once."""
        self._count("disconnect")
        self.ex.connected = False
        self.ex.outbox.clear()  # never replayed
        self._apply(self.core.on_channel_down(Channel.USER, self.now, "closed"))
        if blip:
            self.reconnect(reconcile=self.recon is None)

    def reconnect(self, reconcile: bool) -> None:
        self._count("reconnect")
        self.ex.connected = True
        self._apply(self.core.on_channel_up(Channel.USER, self.now))
        if reconcile and self.recon is None:  # the runtime reconciles at once after a gap
            self._reconcile_now(stale=False)

    # --- reconciliation, positions, time, crashes -----------------------------------------------------

    def begin_reconciliation(self, stale: bool, trades_lag: float = 0.0) -> None:
        self._count("begin_reconciliation")
        if trades_lag:
            event("reconcile-trades-lagging")
        self._reconcile_now(stale=stale, trades_lag=trades_lag)

    def finish_reconciliation(self, positions: bool = False, lag: float = 0.0) -> None:
        self._count("finish_reconciliation")
        assert self.recon is not None
        (recon_id, snap), self.recon = self.recon, None
        pos = self.ex.positions_snapshot(lag, omit_zero=True) if positions else None
        self._apply(self.core.on_reconciliation(recon_id, snap, pos, self.now))

    def reconciliation_fails(self) -> None:
        self._count("reconciliation_fails")
        assert self.recon is not None
        recon_id, self.recon = self.recon[0], None
        self._apply(self.core.on_reconciliation_failed(recon_id, self.now, "503"))

    @precondition(lambda self: bool(self.ex.trades))
    @rule(lag=st.sampled_from([0.0, 10.0, 30.0]), omit_zero=st.booleans())
    def positions_sync(self, lag: float, omit_zero: bool) -> None:
        self._count("positions_sync")
        self._apply(self.core.on_positions(self.ex.positions_snapshot(lag, omit_zero), self.now))

    @precondition(lambda self: bool(self.ex.orders))
    @rule(dt=st.sampled_from([0.5, 3.0, 10.0, 40.0, 70.0]))
    def advance_time(self, dt: float) -> None:
        self._count("advance_time")
        self.now += dt
        self.ex.advance(dt)

    @precondition(lambda self: bool(self.ex.orders))
    @rule(stale=st.booleans())
    def crash_and_restore(self, stale: bool) -> None:
        """kill -9, restart from the snapshot, reconnect, and reconcile (fresh, or stale/in flight)."""
        self._count("crash_and_restore")
        data = json.loads(json.dumps(snapshot(self.core)))
        self.core, out = restore(CONFIG, [MARKET], data, self.now)
        self._apply(out)
        self.ex.connected = False
        self.ex.outbox.clear()
        self.ex.cancel_answers.clear()
        self.recon = None
        for order in self.ex.orders.values():
            order.answer = None  # answers in flight died with the process
            if order.state == UNSENT:
                order.state, order.deadline = ZOMBIE, self.now + GRACE
        self.reconnect(reconcile=False)
        self._reconcile_now(stale=stale)

    @precondition(lambda self: self.ex.next_trade > self.trades_at_last_full
                  and not any(o.post_in_flight for o in self.core.open_orders()))  # fmt: skip
    @rule()
    def full_reconciliation(self) -> None:
        """Past grace, two fresh complete snapshots (an order absent from the first is ended only by the
        second, review D1): afterwards the core must equal the model."""
        self._count("full_reconciliation")
        self.trades_at_last_full = self.ex.next_trade
        if self.recon is not None:
            self.reconciliation_fails()
        if not self.ex.connected:
            self.reconnect(reconcile=False)
        for _ in range(2):
            self.advance_time(GRACE + 1)
            self._reconcile_now(stale=False)
        core_open = {o.order_id for o in self.core.open_orders()}
        model_open = {o.oid for o in self.ex.orders.values() if o.state in MAY_FILL}
        assert core_open == model_open, f"open orders differ: core {core_open} model {model_open}"
        for oid, morder in self.ex.orders.items():
            order = self._order(oid, morder)
            if order is not None:
                assert self.core.tracker.matched(order) == morder.matched, f"{oid}: matched differs"
        for token in TOKENS:
            e = self.core.token_exposure(token)
            assert e.held - e.adjusted == self.ex.true_position(token), f"held differs on {token}"

    # --- dispatchers (few rules, so that swarm testing leaves most of them on) ---------------------------

    @precondition(lambda self: bool(self._unprocessed() or self._answerable() or self._timeoutable()))
    @rule(data=st.data(), action=st.sampled_from(["process", "process", "answer", "answer", "timeout"]))
    def post_progresses(self, data: st.DataObject, action: str) -> None:
        """The exchange processes a POST, or its answer arrives, or it times out."""
        available = {
            "process": self.exchange_processes_post if self._unprocessed() else None,
            "answer": self.deliver_post_answer if self._answerable() else None,
            "timeout": self.submit_times_out if self._timeoutable() else None,
        }
        chosen = available[action] or next(f for f in available.values() if f is not None)
        chosen(data)

    @precondition(lambda self: bool(self.ex.cancel_requests or self.ex.cancel_answers))
    @rule(data=st.data(), process=st.booleans())
    def cancel_progresses(self, data: st.DataObject, process: bool) -> None:
        """The exchange processes a cancel request, or a cancel answer arrives."""
        if (process and self.ex.cancel_requests) or not self.ex.cancel_answers:
            self.exchange_processes_cancel(data)
        else:
            self.deliver_cancel_answer(data)

    @precondition(lambda self: bool(self.ex.outbox) or not self.ex.connected)
    @rule(data=st.data())
    def channel_changes(self, data: st.DataObject) -> None:
        """The user channel drops (or comes back)."""
        if self.ex.connected:
            self.disconnect(data)
        else:
            self.reconnect(data.draw(st.booleans()))

    @rule(stale=st.booleans(), outcome=st.sampled_from(["done", "done", "failed"]), positions=st.booleans(),
          lag=st.sampled_from([0.0, 10.0, 30.0]), trades_lag=st.sampled_from([0.0, 0.0, 3.0]))  # fmt: skip
    def reconciliation(
        self, stale: bool, outcome: str, positions: bool, lag: float, trades_lag: float
    ) -> None:
        """Begin a reconciliation (fresh: done at once; stale: finished by a later step; its /data/trades
        may lag /data/orders by less than the grace period), or finish the one in flight (done or
        failed)."""
        if self.recon is None:
            self.begin_reconciliation(stale, trades_lag)
        elif outcome == "failed":
            self.reconciliation_fails()
        else:
            self.finish_reconciliation(positions, lag)

    # --- invariants -----------------------------------------------------------------------------------

    @invariant()
    def count_steps(self) -> None:
        type(self).counts["__steps__"] += 1

    @invariant()
    def open_order_index_matches_the_orders(self) -> None:
        tracker = self.core.tracker
        assert tracker.open_orders() == [o for o in tracker.orders.values() if not o.state.terminal]

    @invariant()
    def l1_worst_within_limit(self) -> None:
        """The core's worst stays within the cap. The one way past it is the exchange contradicting an end
        the core took on its evidence (review B4: a user-channel event arriving, late, LIVE for an order two
        REST snapshots past grace no longer listed): the order is counted again, conservatively, while the
        room may already be reused. Then LIMIT_BREACH must be latched (nothing is bought; the sweep cancels
        everything) for as long as the cap is exceeded."""
        for token in TOKENS:
            worst = self.core.token_exposure(token).worst
            if worst <= MAX:
                continue
            assert token in self.revived, f"L1 broken on {token}: worst {worst}"
            reasons = self.core.can_quote(token, self.now).reasons
            assert HaltReason.LIMIT_BREACH in reasons, f"{token} over the cap ({worst}) without LIMIT_BREACH"
            event("over the cap after a revive, LIMIT_BREACH latched")

    @invariant()
    def breach_check_matches_a_full_recompute(self) -> None:
        """The engine's incremental L1 check (``Exposure.breached``) against every token's worst."""
        exposure = self.core.exposure
        full = sorted(t for t in exposure.market_of if exposure.token(t).worst > exposure.limits.max_for(t))
        assert exposure.breached() == full

    @invariant()
    def l2_exchange_position_within_limit(self) -> None:
        for token in TOKENS:
            pos = self.ex.true_position(token)
            assert pos <= MAX, f"L2 broken on {token}: exchange credits {pos}"
            potential = pos + self.ex.may_still_buy(token)
            assert potential <= MAX, (
                f"L2 at risk on {token}: {pos} held + {self.ex.may_still_buy(token)} may fill"
            )

    @invariant()
    def core_worst_covers_the_exchange(self) -> None:
        """What L1 bounds (the core's worst) is never below what the exchange may still credit: the link
        that makes L1 imply L2. A premature release shows up here before any new order is placed."""
        for token in TOKENS:
            worst = self.core.token_exposure(token).worst
            potential = self.ex.true_position(token) + self.ex.may_still_buy(token)
            assert worst >= potential, f"core worst {worst} < exchange potential {potential} on {token}"

    @invariant()
    def l3_sells_covered(self) -> None:
        """The core's open sells stay within its sellable shares. As for L1, the one way past it is the
        exchange contradicting an end the core took (review B4; found by ``make fuzz``: a SELL ended by two
        snapshots, its shares offered again, then a late LIVE event): the revived sell is counted again,
        conservatively. Then the open sells other than revived ones must still be covered, and every
        revived sell still open must have its cancel sent."""
        reservations = self.core.exposure.reservations
        for token in TOKENS:
            e = self.core.token_exposure(token)
            if e.open_sell <= e.sellable:
                continue
            revived = [
                r for oid, r in reservations.items()
                if oid in self.revived_orders and r.token == token and r.side is Side.SELL
            ]  # fmt: skip
            assert revived, f"L3 broken on {token}: open_sell {e.open_sell} > {e.sellable}"
            others = e.open_sell - sum((r.remaining for r in revived), start=Decimal(0))
            assert others <= e.sellable, f"L3 broken on {token} beyond revived sells: {others} > {e.sellable}"
            for r in revived:
                order = self.core.order(r.order_id)
                assert order is not None, r.order_id
                assert order.cancel_sent or order.state.terminal, f"{r.order_id}: over L3, no cancel"
            event("L3 exceeded by revived sells, their cancels sent")

    @invariant()
    def no_fill_applied_twice(self) -> None:
        for oid, morder in self.ex.orders.items():
            order = self._order(oid, morder)
            if order is None:
                continue
            assert order.counted <= morder.matched, (
                f"{oid}: counted {order.counted} > exchange {morder.matched}"
            )
            failed = self.core.tracker.fills.failed_amount(oid)
            assert failed <= self.ex.failed_amount(oid), f"{oid}: reversed more than FAILED"

    @invariant()
    def released_only_on_confirmed_facts(self) -> None:
        for oid, morder in self.ex.orders.items():
            order = self._order(oid, morder)
            if order is None:
                continue
            if order.state.terminal:
                assert morder.state not in MAY_FILL, f"{oid} is {order.state.value} but may still fill"
                if order.state is OrderState.REJECTED:
                    assert morder.state == REJECTED
            elif morder.state in MAY_FILL:
                reserved = self.core.exposure.remaining(oid)
                assert reserved >= morder.remaining, f"{oid}: reserved {reserved} < {morder.remaining}"

    @invariant()
    def halted_tokens_have_no_uncancelled_orders(self) -> None:
        for token in TOKENS:
            if self.core.can_quote(token, self.now).allowed:
                continue
            for order in self.core.open_orders(token):
                cancelled = order.state is OrderState.CANCEL_REQUESTED or (
                    order.state is OrderState.UNKNOWN and order.cancel_sent
                )
                assert cancelled, f"{order.order_id} {order.state.value} not cancelled while halted"
