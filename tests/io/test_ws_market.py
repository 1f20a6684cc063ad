"""Book board: conflation by version, resync on mismatch, invalidation on gaps."""

from __future__ import annotations

from decimal import Decimal

import trio
import trio.testing

from aqbot.core.book import BookSnapshot, Level, LevelChange
from aqbot.core.types import MarketSpec, Side
from aqbot.errors import TransportError
from aqbot.io.ws_market import BookBoard, MarketFeed, run_book_resync

D = Decimal
SPEC = MarketSpec("0xm", "111", "222", D("0.01"))


def snap(token: str, bid: str = "0.40", ask: str = "0.60") -> BookSnapshot:
    return BookSnapshot(token, (Level(D(bid), D(10)),), (Level(D(ask), D(10)),), D("0.01"))


async def test_many_updates_one_wakeup(autojump_clock: trio.testing.MockClock) -> None:
    """A busy quoter sees only the latest version, whatever happened meanwhile."""
    board = BookBoard.for_markets([SPEC])
    with trio.fail_after(5):
        board.apply([snap("111"), snap("222")], 0.0)
        version = await board.wait_changed("0xm", 0)
        for i in range(10):
            board.apply([LevelChange("111", Side.BUY, D("0.3") + D(i) / 100, D(1))], 1.0)
        latest = await board.wait_changed("0xm", version)
    assert latest == version + 10
    assert board.books["111"].best_bid() == Level(D("0.40"), D(10))


async def test_mismatch_requests_rest_resync(autojump_clock: trio.testing.MockClock) -> None:
    """A change whose best_bid disagrees invalidates the book; the resync task fetches /book and fixes it."""
    board = BookBoard.for_markets([SPEC])
    board.apply([snap("111")], 0.0)
    board.apply([LevelChange("111", Side.BUY, D("0.41"), D(5), best_bid=D("0.45"))], 1.0)
    assert not board.books["111"].valid
    assert board.resync == {"111"}
    fetched: list[str] = []

    async def fetch(token: str) -> BookSnapshot:
        await trio.lowlevel.checkpoint()
        fetched.append(token)
        return snap(token, bid="0.45")

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            await nursery.start(run_book_resync, board, fetch)
            await trio.testing.wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
    assert fetched == ["111"]
    assert board.books["111"].valid
    assert board.resync == set()


async def test_gap_invalidates_every_book_until_snapshots(autojump_clock: trio.testing.MockClock) -> None:
    """A market-channel gap empties all books (nothing to price) and notifies the app."""
    board = BookBoard.for_markets([SPEC])
    gaps: list[str] = []
    feed = MarketFeed(board, on_gap=lambda reason, now: gaps.append(reason))
    feed.deliver("market", 1, 0.0, "[]", [])
    board.apply([snap("111"), snap("222")], 0.0)
    assert board.all_valid()
    feed.gap("market", "stale", 5.0)
    assert gaps == ["stale"]
    assert not board.books["111"].valid
    assert board.books["111"].best_bid() is None
    board.apply([snap("111"), snap("222")], 6.0)
    assert board.all_valid()


async def test_verify_quiet_compares_rest_top_of_book(autojump_clock: trio.testing.MockClock) -> None:
    """Same top of book on REST: a quiet market. Different, invalid locally, or unreadable: frozen."""
    board = BookBoard.for_markets([SPEC])
    board.apply([snap("111")], 0.0)
    remote = {"111": snap("111")}

    async def fetch(token: str) -> BookSnapshot:
        await trio.lowlevel.checkpoint()
        if token not in remote:
            raise TransportError("down")
        return remote[token]

    feed = MarketFeed(board, fetch=fetch)
    assert await feed.verify_quiet("111")
    remote["111"] = snap("111", bid="0.41")
    assert not await feed.verify_quiet("111")
    assert not await feed.verify_quiet("222")  # unreadable (and invalid locally)
    assert not await MarketFeed(board).verify_quiet("111")  # no REST check configured
