"""Restart on a different Trio clock origin: every stored monotonic time must be rebased.

Trio's ``SystemClock`` adds a random offset in [10 000, 200 000] s per process, so the restarted process's
``now`` has nothing to do with the old one's. :func:`aqbot.io.ws_replay.replay_ledger` shifts the times it
knows about; a time it does not shift is compared across origins (up to 190 000 s apart).
"""

from __future__ import annotations

from pathlib import Path

from adv_helpers import CONFIG, FUNDER, MARKET, OWNER, YES, ZERO, D, buy, maker_trade, oid, order_ev, ready

from aqbot.core.events import Channel, OpenOrderRow, OrdersSnapshot, PlacementAnswer, TradeStatus
from aqbot.core.types import Side
from aqbot.io import edge
from aqbot.io.ledger import LedgerStore
from aqbot.io.ledger_sink import fact_event
from aqbot.io.ws_replay import replay_ledger, snapshot_event

OLD = 10_000.0  # the old process's clock origin
NEW = 200_000.0  # the new one's (within trio's random offsets)


def _old_ledger(path: Path) -> float:
    """An old process bought 10, sold 10, pruned both orders, wrote a snapshot and died."""
    core = ready(now=OLD)
    b = buy(core, 1, now=OLD + 1)
    core.on_trade_event(maker_trade("tb", [(b, "10")], TradeStatus.CONFIRMED), OLD + 1)
    core.on_order_event(order_ev(b, "10", "MATCHED"), OLD + 1)
    s = oid(2)
    assert core.place(s, YES, Side.SELL, D("0.6"), D(10), OLD + 2).ok
    core.on_placement_answer(PlacementAnswer(s, True, s, "live"), OLD + 2)
    core.on_trade_event(maker_trade("ts", [(s, "10")], TradeStatus.CONFIRMED, side=Side.SELL), OLD + 2)
    core.on_order_event(order_ev(s, "10", "MATCHED", side=Side.SELL), OLD + 2)
    pruned_at = OLD + 2 + CONFIG.prune_after + 1
    core.begin_reconciliation(pruned_at)
    assert set(core.tracker.pruned) == {b, s}
    with LedgerStore.open(path, synchronous="NORMAL") as store:
        store.append_batch([snapshot_event(core, pruned_at + 1)])
    return pruned_at


def test_replay_rebases_the_pruned_ids(tmp_path: Path) -> None:
    """The pruned ids were recorded 1 s before the snapshot: after the restart they are 1 s old, not
    190 000 s (which forgets them at the first prune, and a re-read trade of theirs then counts again)."""
    path = tmp_path / "ledger.sqlite3"
    pruned_at = _old_ledger(path)
    with LedgerStore.open(path) as store:
        replayed = replay_ledger(store, CONFIG, [MARKET], edge.Identity(OWNER, FUNDER), NEW)
    core = replayed.core
    ages = {round(NEW - at) for at in core.tracker.pruned.values()}
    assert ages == {round(pruned_at + 1 - pruned_at)}
    core.on_channel_up(Channel.USER, NEW + 1)
    core.begin_reconciliation(NEW + 2)  # the startup reconciliation prunes first
    assert len(core.tracker.pruned) == 2
    assert core.token_exposure(YES).held == ZERO


def test_replay_keeps_a_reservation_recorded_after_the_last_snapshot(tmp_path: Path) -> None:
    """Snapshot, then a BUY 10 reserved and POSTed (its ``reservation`` fact is in the ledger), then kill -9
    with the POST in flight and no user-channel event recorded. The restarted core must treat the order as
    UNKNOWN (reserved) until a snapshot past grace of the restart: the exchange may still put it on the
    book after the startup reconciliation has read /data/orders."""
    path = tmp_path / "ledger.sqlite3"
    core = ready(now=OLD)
    snap = snapshot_event(core, OLD + 1)
    placed = core.place(oid(7), YES, Side.BUY, D("0.5"), D(10), OLD + 2)
    assert placed.ok
    with LedgerStore.open(path, synchronous="NORMAL") as store:
        store.append_batch([snap, *(fact_event(f, OLD + 2) for f in placed.outcome.facts)])
        replayed = replay_ledger(store, CONFIG, [MARKET], edge.Identity(OWNER, FUNDER), NEW)
    again = replayed.core
    again.on_channel_up(Channel.USER, NEW + 1)
    recon_id, _ = again.begin_reconciliation(NEW + 2)
    again.on_reconciliation(recon_id, OrdersSnapshot(NEW + 2), None, NEW + 2)  # read before it rests
    assert again.token_exposure(YES).worst == D(10)
    assert not again.place(oid(8), YES, Side.BUY, D("0.5"), D(1), NEW + 3).ok


def test_replay_rebases_terminal_at_so_a_listed_order_is_revived(tmp_path: Path) -> None:
    """An order resolved by absence before the crash is listed open by the first snapshot after the restart.
    The revive rule (``started_at > terminal_at``) must compare times of one clock: with the old origin
    190 000 s *above* the new one, the unshifted ``terminal_at`` is 'in the future' and nothing is revived."""
    path = tmp_path / "ledger.sqlite3"
    core = ready(now=NEW)  # the OLD process ran on the larger origin this time
    o = buy(core, 1, now=NEW + 1)
    for at in (NEW + 10, NEW + 16):  # absent from two snapshots (review D1): CANCELED
        recon_id, _ = core.begin_reconciliation(at)
        core.on_reconciliation(recon_id, OrdersSnapshot(at), None, at)
    assert core.token_exposure(YES).worst == ZERO
    with LedgerStore.open(path, synchronous="NORMAL") as store:
        store.append_batch([snapshot_event(core, NEW + 17)])
        again = replay_ledger(store, CONFIG, [MARKET], edge.Identity(OWNER, FUNDER), OLD).core
    again.on_channel_up(Channel.USER, OLD + 1)
    recon_id, _ = again.begin_reconciliation(OLD + 2)
    row = OpenOrderRow(o, YES, Side.BUY, D("0.5"), D(10), ZERO)
    again.on_reconciliation(recon_id, OrdersSnapshot(OLD + 2, (row,)), None, OLD + 2)
    assert again.token_exposure(YES).worst == D(10)


def test_replay_rebases_the_last_failed_reconciliation(tmp_path: Path) -> None:
    """A reconciliation failed 1 s before the snapshot: after the restart the failure is 1 s old, so the
    absence re-check waits ``recovery_interval`` from it, not 190 000 s more."""
    path = tmp_path / "ledger.sqlite3"
    core = ready(now=OLD)
    recon_id, _ = core.begin_reconciliation(OLD + 5)
    core.on_reconciliation_failed(recon_id, OLD + 5, "503")
    assert core.gaps.last_failure_at == OLD + 5
    with LedgerStore.open(path, synchronous="NORMAL") as store:
        store.append_batch([snapshot_event(core, OLD + 6)])
    with LedgerStore.open(path) as store:
        replayed = replay_ledger(store, CONFIG, [MARKET], edge.Identity(OWNER, FUNDER), NEW)
    assert replayed.core.gaps.last_failure_at == NEW - 1
