"""Hub: outcomes become ledger rows and commands; the ledger sink never blocks; the canceller retries."""

from __future__ import annotations

import enum
import typing
from collections.abc import Sequence
from decimal import Decimal

import attrs
import trio
import trio.testing

from aqbot.core import facts as cf
from aqbot.core.config import CoreConfig
from aqbot.core.engine import Core
from aqbot.core.events import Channel, OrdersSnapshot, TradeStatus
from aqbot.core.exposure import Limits
from aqbot.core.halts import HaltReason, Scope
from aqbot.core.lifecycle import OrderState, Trigger
from aqbot.core.types import MarketSpec, Side
from aqbot.errors import ExchangeUnavailable, TransportError
from aqbot.io.hub import Hub, run_canceller
from aqbot.io.ledger_events import (
    LedgerEvent,
    LedgerRow,
    decode_payload,
    encode_payload,
    event_row,
    make_row,
)
from aqbot.io.ledger_sink import CHUNK_ROWS, LedgerSink, fact_event
from aqbot.wire.orders import CancelResponse

D = Decimal
SPEC = MarketSpec("0x" + "1" * 64, "111", "222", D("0.01"))


def ready_core() -> Core:
    """A core past its startup gate: user channel up, one complete (empty) reconciliation."""
    core = Core(CoreConfig(Limits(D(20))), [SPEC], 0.0)
    core.on_channel_up(Channel.USER, 0.0)
    recon_id, _ = core.begin_reconciliation(0.0)
    core.on_reconciliation(recon_id, OrdersSnapshot(0.0), None, 0.0)
    assert core.can_quote("111", 0.0).allowed
    return core


def make_hub(sink: LedgerSink | None = None) -> Hub:
    return Hub(ready_core(), sink or LedgerSink())


def test_every_fact_has_a_ledger_row() -> None:
    """A placement's facts become typed ledger rows carrying token and order id."""
    hub = make_hub()
    result = hub.core.place("0xabc", "111", Side.BUY, D("0.4"), D(10), 1.0)
    rows = [fact_event(f, 1.0) for f in result.outcome.facts]
    assert [r.type for r in rows] == ["reservation"]
    assert rows[0].order_id == "0xabc"
    assert rows[0].token == "111"
    assert rows[0].payload["delta"] == D(10)


def _plain_reference(value: object) -> object:
    """The generic conversion the compiled fact encoders replace (enums to values, records to dicts)."""
    if isinstance(value, enum.Enum):
        return value.value
    if attrs.has(type(value)):
        return {k: _plain_reference(v) for k, v in attrs.asdict(value, recurse=False).items()}  # type: ignore[arg-type]
    if isinstance(value, tuple | list):
        return [_plain_reference(v) for v in value]
    return value


ONE_OF_EACH_FACT: list[cf.Fact] = [
    cf.OrderTransitioned("0xa", "111", OrderState.LIVE, OrderState.CANCELED, Trigger.EXCH_CANCELED, "rest"),
    cf.ReservationChanged("0xa", "111", Side.BUY, D("-5.000"), D("0"), "released:rest"),
    cf.ReserveRefused("111", Side.SELL, D("0.570"), D("10"), "limit"),
    cf.FillApplied("0xa", "111", Side.BUY, D("2.5"), D("2.50"), "trade", "t-1"),
    cf.FillApplied("0xa", "111", Side.SELL, D("-1"), D("1"), "order_event"),
    cf.TradeRecorded("t-1", "0xa", D("2.5"), D("0.4"), TradeStatus.MATCHED),
    cf.FillReversed("t-1", "0xa", "111", D("-2.5")),
    cf.PositionDecision("111", cf.PositionDecisionKind.ACCEPTED_RAISE, D("3"), D("1"), D("3"), 0),
    cf.PositionDecision("111", cf.PositionDecisionKind.SKIPPED_NO_ROW, None, D("1"), D("1"), 2),
    cf.HaltRaised(HaltReason.MANUAL, Scope.token("111"), "operator"),
    cf.HaltCleared(HaltReason.MANUAL, Scope.global_()),
    cf.ReconciliationStarted(3, 12.5),
    cf.ReconciliationFinished(3, True, 0),
    cf.OrderAdopted("0xa", "111", Side.BUY, D("5"), "rest-trade"),
    cf.Defect("111", "0xa", "contradiction", ("1.000 LIVE->CANCELED", "2.000 revived")),
]


def test_compiled_fact_payloads_equal_the_generic_conversion() -> None:
    """Every fact type's ledger row: the payload is what the generic conversion gives, byte for byte once
    encoded, and the key columns come from the fact's token / order_id / trade_id (empty ones are NULL)."""
    assert {type(f) for f in ONE_OF_EACH_FACT} | {cf.GapOpened, cf.GapClosed, cf.GapResolved} == set(
        typing.get_args(cf.Fact)
    )
    for fact in ONE_OF_EACH_FACT:
        row = fact_event(fact, 7.0)
        want = _plain_reference(fact)
        assert row.payload == want
        assert encode_payload(row.payload) == encode_payload(want)  # type: ignore[arg-type]
        assert row.mono_time == 7.0
        assert row.token == (getattr(fact, "token", None) or None)
        assert row.order_id == (getattr(fact, "order_id", None) or None)
        assert row.trade_id == (getattr(fact, "trade_id", None) or None)
    assert fact_event(ONE_OF_EACH_FACT[4], 0.0).trade_id is None  # FillApplied without a trade id


async def test_apply_records_executes_and_wakes(autojump_clock: trio.testing.MockClock) -> None:
    """Cancel commands reach the cancel queue, halts alert, waiters on the version wake."""
    alerts: list[str] = []
    hub = attrs.evolve(make_hub(), alert=lambda key, text: alerts.append(key))
    hub.apply(hub.core.place("0xabc", "111", Side.BUY, D("0.4"), D(10), 0.0).outcome)
    seen = hub.version
    async with trio.open_nursery() as nursery:
        woke: list[int] = []

        async def waiter() -> None:
            woke.append(await hub.wait_changed(seen))

        nursery.start_soon(waiter)
        await trio.testing.wait_all_tasks_blocked()
        hub.set_halt(HaltReason.MANUAL, "operator")
    assert woke == [seen + 1]
    assert alerts == ["halt:MANUAL:global"]
    assert hub.cancels.take(10) == ["0xabc"]  # the halt's sweep commanded the cancel
    assert hub.sink.buffered >= 3


async def test_sink_never_blocks_and_keeps_order(autojump_clock: trio.testing.MockClock) -> None:
    """record() is sync even when the writer's channel is full; the pump delivers everything in order,
    in lists of at most CHUNK_ROWS rows."""
    sink = LedgerSink()
    send, recv = trio.open_memory_channel[list[LedgerRow]](2)
    events = [LedgerEvent.create("defect", {"n": i}, mono_time=0.0) for i in range(200)]
    got: list[LedgerRow] = []
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(sink.run_pump, send)
            sink.record(events)  # 200 events, channel of 2 lists: nothing blocks here
            assert sink.buffered == 200
            while len(got) < 200:
                chunk = await recv.receive()
                assert isinstance(chunk, list)
                assert 0 < len(chunk) <= CHUNK_ROWS
                got += chunk
            sink.close()
    assert [decode_payload(row[6])["n"] for row in got] == list(range(200))
    assert got == [event_row(e) for e in events]


async def test_overflow_latches_ledger_failure(autojump_clock: trio.testing.MockClock) -> None:
    """More buffered events than the bound: LEDGER_FAILURE latches (quoting stops, nothing dropped)."""
    hub = make_hub(LedgerSink(max_buffered=3))
    hub.apply(hub.core.place("0xa", "111", Side.BUY, D("0.4"), D(5), 0.0).outcome)
    hub.sink.record([LedgerEvent.create("defect", {}, mono_time=0.0)] * 5)
    hub.apply(hub.core.place("0xb", "111", Side.BUY, D("0.4"), D(5), 0.0).outcome)
    assert HaltReason.LEDGER_FAILURE in hub.core.can_quote("111", 0.0).reasons
    assert hub.ledger_failing


@attrs.define
class FlakyCanceller:
    failures: list[Exception]
    calls: list[tuple[float, tuple[str, ...]]] = attrs.Factory(list)
    third_call: trio.Event = attrs.Factory(trio.Event)

    async def cancel_orders(self, order_ids: Sequence[str]) -> CancelResponse:
        await trio.lowlevel.checkpoint()
        self.calls.append((trio.current_time(), tuple(order_ids)))
        if len(self.calls) == 3:
            self.third_call.set()
        if self.failures:
            raise self.failures.pop(0)
        return CancelResponse(canceled=tuple(order_ids))


async def test_canceller_retries_with_backoff_and_reports_unavailable(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A 425 and a timeout are retried after 1 s then 2 s; the 425 is reported; the answer is applied
    (CANCEL_REQUESTED stays: a DELETE answer releases nothing)."""
    hub = make_hub()
    hub.apply(hub.core.place("0xabc", "111", Side.BUY, D("0.4"), D(10), 0.0).outcome)
    hub.apply(hub.core.request_cancel(["0xabc"], 0.0))
    api = FlakyCanceller([ExchangeUnavailable("425", status=425), TransportError("timeout")])
    unavailable: list[str] = []
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            await nursery.start(lambda **kw: run_canceller(hub, api, on_unavailable=unavailable.append, **kw))
            await api.third_call.wait()
            nursery.cancel_scope.cancel()
    assert [t for t, _ in api.calls] == [0.0, 1.0, 3.0]
    assert unavailable == ["425"]
    order = hub.core.order("0xabc")
    assert order is not None
    assert order.state is OrderState.CANCEL_REQUESTED
    assert hub.core.exposure.remaining("0xabc") == D(10)


async def test_pump_keeps_order_when_rows_arrive_while_the_channel_is_full(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """With the channel full the pump holds one list, puts the rest back in front of the buffer, and rows
    recorded meanwhile follow them; cancelled there, everything not in the channel is back in the buffer,
    in order."""
    rows = [make_row("x.y", {"n": i}, 0.0) for i in range(300)]
    for cancel in (False, True):
        sink = LedgerSink()
        send, recv = trio.open_memory_channel[list[LedgerRow]](1)
        got: list[LedgerRow] = []
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                await nursery.start(sink.run_pump, send)
                for row in rows[:100]:
                    sink.record_row(row)
                await trio.sleep(1)  # the pump's turn (it gathers for GATHER first)
                assert sink.buffered == 100 - 2 * CHUNK_ROWS  # one list in the channel, one held
                for row in rows[100:]:
                    sink.record_row(row)
                if cancel:
                    nursery.cancel_scope.cancel()
                else:
                    while len(got) < len(rows):
                        got += await recv.receive()
                    sink.close()
        if cancel:
            got = [*recv.receive_nowait(), *sink._buffer]
        assert got == rows
