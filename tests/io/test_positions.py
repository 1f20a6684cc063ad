"""Position sync: snapshots stamped at request start, decisions ledgered, failures counted, drift-free."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import attrs
import trio
import trio.testing

from aqbot.core.config import CoreConfig
from aqbot.core.engine import Core
from aqbot.core.exposure import Limits
from aqbot.core.types import MarketSpec
from aqbot.errors import TransportError
from aqbot.io.hub import Hub
from aqbot.io.positions import PositionSyncStats, run_position_sync, sync_positions_once
from aqbot.wire.account import Position

D = Decimal
SPEC = MarketSpec("0x" + "1" * 64, "111", "222", D("0.01"))


@attrs.define
class Source:
    rows: list[Position]
    fail: bool = False
    calls: list[float] = attrs.Factory(list)

    async def positions(self, user: str, markets: Sequence[str] = ()) -> list[Position]:
        self.calls.append(trio.current_time())
        await trio.sleep(0.5)
        if self.fail:
            raise TransportError("timeout")
        return list(self.rows)


def row(token: str, size: str) -> Position:
    return Position(proxy_wallet="0xf", asset=token, condition_id=SPEC.condition_id, size=D(size))


async def test_raise_is_accepted_and_every_decision_recorded(autojump_clock: trio.testing.MockClock) -> None:
    """The API shows 7 YES we did not know: held rises (conservative for buys); both tokens get a row."""
    hub = Hub(Core(CoreConfig(Limits(D(20))), [SPEC], 0.0))
    stats = PositionSyncStats()
    assert await sync_positions_once(hub, Source([row("111", "7")]), "0xf", [SPEC.condition_id], stats)
    assert hub.core.token_exposure("111").held == D(7)
    assert hub.core.token_exposure("222").held == D(0)  # a missing row never means flat (or anything)
    assert hub.sink.buffered == 2  # two position.decision rows
    assert stats.syncs == 1


async def test_failures_are_counted_and_sync_is_periodic(autojump_clock: trio.testing.MockClock) -> None:
    """Every 15 s, drift-free (the 0.5 s request time does not accumulate); failures do not stop it."""
    hub = Hub(Core(CoreConfig(Limits(D(20))), [SPEC], 0.0))
    source = Source([], fail=True)
    stats = PositionSyncStats()
    with trio.fail_after(100):
        async with trio.open_nursery() as nursery:
            await nursery.start(
                lambda **kw: run_position_sync(hub, source, "0xf", [], stats, interval=15.0, **kw)
            )
            await trio.sleep(46)
            nursery.cancel_scope.cancel()
    assert source.calls == [15.0, 30.0, 45.0]
    assert stats.failures == 3
    assert stats.last_error.startswith("TransportError")
