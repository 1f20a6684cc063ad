"""Ledger replay: snapshot restore with shifted clocks, raw user messages re-applied, process halts go."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import trio
import trio.testing

from aqbot.core.config import CoreConfig
from aqbot.core.engine import Core
from aqbot.core.events import Channel, OrdersSnapshot
from aqbot.core.exposure import Limits
from aqbot.core.halts import HaltReason, Scope
from aqbot.core.lifecycle import OrderState
from aqbot.core.types import MarketSpec, Side
from aqbot.io import edge
from aqbot.io.ledger import LedgerStore
from aqbot.io.ledger_events import LedgerEvent
from aqbot.io.ws_replay import replay_ledger, snapshot_event

D = Decimal
SPEC = MarketSpec("0x" + "1" * 64, "111", "222", D("0.01"))
CONFIG = CoreConfig(Limits(D(20)), owner="key", funder="0xf")
ME = edge.Identity("key", "0xf")
OLD = 150_000.0  # the dead process's Trio clock (arbitrary origin)


def order_message(order_id: str, matched: str, status: str, kind: str) -> str:
    return json.dumps(
        {
            "event_type": "order", "type": kind, "id": order_id, "owner": "key", "market": SPEC.condition_id,
            "asset_id": "111", "side": "BUY", "price": "0.4", "original_size": "10", "size_matched": matched,
            "status": status, "timestamp": "1700000000000",
        }
    )  # fmt: skip


def live_buy_core() -> Core:
    """The dead process's core, past its startup reconciliation, with a LIVE BUY 10 at 0.4 (``0xo1``)."""
    core = Core(CONFIG, [SPEC], OLD)
    core.on_channel_up(Channel.USER, OLD)
    rid, _ = core.begin_reconciliation(OLD)
    core.on_reconciliation(rid, OrdersSnapshot(OLD), None, OLD)
    assert core.place("0xo1", "111", Side.BUY, D("0.4"), D(10), OLD).ok
    core.on_order_event(edge.order_event(_decode(order_message("0xo1", "0", "LIVE", "PLACEMENT"))), OLD)
    return core


async def test_replay_restores_orders_fills_and_clears_process_halts(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    """Snapshot (a LIVE BUY 10, an EXCHANGE_UNAVAILABLE halt) + a later UPDATE matching 4: the new core
    holds 4, reserves 6, has no process halt, and a reconciliation in the new process can resolve gaps."""
    core = live_buy_core()
    core.set_halt(HaltReason.EXCHANGE_UNAVAILABLE, Scope.global_(), OLD, "425")
    path = tmp_path / "ledger.sqlite3"
    with LedgerStore.open(path) as store:
        store.append_batch(
            [
                _seq(snapshot_event(core, OLD), 1),
                _seq(LedgerEvent.create("ws.user.raw", {"local_seq": 9, "text": "PONG"}, mono_time=OLD), 2),
                _seq(
                    LedgerEvent.create(
                        "ws.user.raw",
                        {"local_seq": 10, "text": order_message("0xo1", "4", "LIVE", "UPDATE")},
                        mono_time=OLD + 1,
                    ),
                    3,
                ),
            ]
        )
        replayed = replay_ledger(store, CONFIG, [SPEC], ME, 10.0)
    new = replayed.core
    assert replayed.snapshot_seq == 1
    assert replayed.messages == 2  # the PONG decodes as a control frame and changes nothing
    e = new.token_exposure("111")
    assert (e.held, e.open_buy) == (D(4), D(6))
    order = new.order("0xo1")
    assert order is not None
    assert order.state is OrderState.CANCEL_REQUESTED  # the old halt swept it; still reserved
    assert order.created_at == 10.0  # shifted into the new clock (the snapshot instant maps to now)
    assert order.last_action_at <= 10.0
    assert HaltReason.EXCHANGE_UNAVAILABLE not in new.can_quote("111", 10.0).reasons
    new.on_channel_up(Channel.USER, 11.0)
    rid2, _ = new.begin_reconciliation(12.0)
    new.on_reconciliation(rid2, OrdersSnapshot(12.0, ()), None, 13.0)
    assert new.can_quote("111", 13.0).allowed  # the restart's gaps resolve in the new clock


def _decode(text: str) -> object:
    from aqbot.wire.codec import decode_user_frame

    return decode_user_frame(text)[0]


def _seq(event: LedgerEvent, seq: int) -> LedgerEvent:
    return LedgerEvent(
        event.type,
        event.payload,
        event.token,
        event.order_id,
        event.trade_id,
        event.mono_time,
        event.wall_time,
        seq,
    )


def test_replay_shifts_the_positions_policys_recent_moves(tmp_path: Path) -> None:
    """held's recent moves (the positions lag test's evidence) come back on the new clock, as every other
    monotonic time of the snapshot: the snapshot instant maps to the restart's ``now``."""
    core = live_buy_core()
    core.on_order_event(edge.order_event(_decode(order_message("0xo1", "4", "LIVE", "UPDATE"))), OLD + 2)
    assert [(at, rise) for at, rise, _ in core.positions.moves["111"]] == [(OLD + 2, D(4))]
    path = tmp_path / "ledger.sqlite3"
    with LedgerStore.open(path) as store:
        store.append_batch([_seq(snapshot_event(core, OLD + 5), 1)])
        replayed = replay_ledger(store, CONFIG, [SPEC], ME, 10.0)
    assert list(replayed.core.positions.moves["111"]) == [(7.0, D(4), D(0))]  # 3 s before the snapshot
