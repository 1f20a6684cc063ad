"""The market channel's consumer: local books per token, latest-value, never blocking the reader.

:class:`BookBoard` owns one :class:`~aqbot.core.book.OrderBook` per token and a *version* per market.
The market reader applies each decoded frame synchronously (no await: the reader can never be slowed by
a quoter) and bumps the version of every market it touched. Quoters do not receive book messages; they
wait for the version to move past the one they last acted on (:meth:`BookBoard.wait_changed`), then read
the current books. Ten updates while a quoter is busy cost it one wake-up: that is the conflation.

A book that the core reports as needing a resync (a best bid/ask mismatch, a tick size change) is
invalid until a fresh snapshot arrives; :func:`run_book_resync` fetches ``GET /book`` for such tokens
(bounded by the rate limiter). On a market-channel gap every book is invalidated: the resubscribe sends
fresh snapshots (PROTOCOL 4.1), and until then no quoter can price anything (the books return ``None``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import NoReturn

import attrs
import trio

from aqbot.core.book import (
    BookEvent,
    BookSnapshot,
    BookStatus,
    InvalidBookUpdate,
    LevelChange,
    OrderBook,
    build_book,
)
from aqbot.core.types import ConditionId, MarketSpec, TokenId
from aqbot.errors import AqbotError
from aqbot.io import edge

log = logging.getLogger(__name__)


@attrs.define
class BookBoard:
    """Books per token, change versions per market, and the set of tokens awaiting a resync."""

    books: dict[TokenId, OrderBook]
    market_of: dict[TokenId, ConditionId]
    versions: dict[ConditionId, int]
    resync: set[TokenId] = attrs.Factory(set)
    _changed: trio.Event = attrs.Factory(trio.Event)
    _resync_wanted: trio.Event = attrs.Factory(trio.Event)

    @classmethod
    def for_markets(cls, markets: Iterable[MarketSpec]) -> BookBoard:
        """An empty (invalid) book for each token of each market."""
        books: dict[TokenId, OrderBook] = {}
        market_of: dict[TokenId, ConditionId] = {}
        versions: dict[ConditionId, int] = {}
        for spec in markets:
            versions[spec.condition_id] = 0
            for token in spec.tokens:
                books[token] = OrderBook(token)
                market_of[token] = spec.condition_id
        return cls(books, market_of, versions)

    def apply(self, events: Sequence[BookEvent], now: float) -> set[ConditionId]:
        """Apply book events (sync); return the markets whose books changed. Unknown tokens are ignored.

        Consecutive level changes of one frame are applied per token with only the token's *last* entry
        checked against the exchange's best bid/ask: correct whether the exchange reports the top of book
        after each entry or after the whole message.
        """
        touched: set[ConditionId] = set()
        pending: dict[TokenId, list[LevelChange]] = {}
        for event in events:
            if event.token not in self.books:
                continue
            if isinstance(event, LevelChange):
                pending.setdefault(event.token, []).append(event)
                continue
            self._flush(pending, now, touched)
            self._apply_one(event.token, event, now)
            touched.add(self.market_of[event.token])
        self._flush(pending, now, touched)
        self._bump(touched)
        return touched

    def _flush(
        self, pending: dict[TokenId, list[LevelChange]], now: float, touched: set[ConditionId]
    ) -> None:
        for token, changes in pending.items():
            self._apply_one(token, changes, now)
            touched.add(self.market_of[token])
        pending.clear()

    def _apply_one(self, token: TokenId, what: BookEvent | list[LevelChange], now: float) -> None:
        book = self.books[token]
        try:
            if isinstance(what, list):
                status = book.apply_changes(what, now, verify_each=False)
            else:
                status = book.apply(what, now)
        except InvalidBookUpdate as exc:
            log.warning("book %s: %s", token[:12], exc)
            status = BookStatus.RESYNC
        if isinstance(what, BookSnapshot) and status is BookStatus.OK:
            self.resync.discard(token)
        elif status is BookStatus.RESYNC:
            self.resync.add(token)
            self._resync_wanted.set()

    def invalidate_all(self, reason: str) -> None:
        """Drop every book (a market-channel gap); quoters wake and find nothing to price."""
        for book in self.books.values():
            book.invalidate(reason)
        self._bump(set(self.versions))

    def touch_all(self, now: float) -> None:
        """The feed is alive (a frame or PONG arrived): quiet books are current, not stale."""
        for book in self.books.values():
            book.touch(now)

    def all_valid(self) -> bool:
        return all(book.valid for book in self.books.values())

    def _bump(self, markets: set[ConditionId]) -> None:
        if not markets:
            return
        for market in markets:
            self.versions[market] += 1
        self._changed.set()
        self._changed = trio.Event()

    async def wait_changed(self, market: ConditionId, seen: int) -> int:
        """Wait until ``market``'s version differs from ``seen``; return the new version."""
        while self.versions[market] == seen:
            await self._changed.wait()
        return self.versions[market]

    async def wait_resync_wanted(self) -> set[TokenId]:
        """Wait until some book needs a REST snapshot; return those tokens (the set is kept until fixed)."""
        while not self.resync:
            self._resync_wanted = trio.Event()
            await self._resync_wanted.wait()
        return set(self.resync)


@attrs.define
class MarketFeed:
    """The market channel's :class:`~aqbot.io.ws.ChannelListener`: frames -> books; gaps -> callbacks.

    ``on_gap`` / ``on_connected`` let the app raise and clear ``MARKET_DATA_STALE``.
    """

    board: BookBoard
    on_gap: Callable[[str, float], None] = lambda reason, now: None
    on_connected: Callable[[float], None] = lambda now: None
    fetch: Callable[[TokenId], Awaitable[BookSnapshot]] | None = None

    async def verify_quiet(self, token: TokenId) -> bool:
        """For the silence watchdog: True when the exchange's REST book has the same top of book as the
        local one (a quiet market), False when it differs or cannot be read (treat as a frozen feed)."""
        if self.fetch is None:
            await trio.lowlevel.checkpoint()
            return False
        try:
            remote = build_book(await self.fetch(token), trio.current_time())
        except AqbotError as exc:
            log.warning("book check %s failed: %s", token[:12], exc)
            return False
        local = self.board.books.get(token)
        if local is None or not local.valid:
            return False
        quiet = local.best_bid() == remote.best_bid() and local.best_ask() == remote.best_ask()
        if not quiet:
            log.warning("book %s differs from the exchange's: the market feed is frozen", token[:12])
        return quiet

    def connected(self, channel: str, now: float) -> None:
        self.on_connected(now)

    def alive(self, channel: str, now: float) -> None:
        self.board.touch_all(now)

    def gap(self, channel: str, reason: str, now: float) -> None:
        self.board.invalidate_all(f"market channel gap: {reason}")
        self.on_gap(reason, now)

    def deliver(self, channel: str, seq: int, now: float, raw: str, events: Sequence[object]) -> None:
        self.board.apply(edge.market_book_events(events), now)


async def run_book_resync(
    board: BookBoard,
    fetch: Callable[[TokenId], Awaitable[BookSnapshot]],
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> NoReturn:
    """Fetch a REST snapshot for every book that needs one. Runs until cancelled.

    Error handling: a failed fetch (any AqbotError) leaves the token in the resync set; it is retried
    after the next one-second pause.
    """
    task_status.started()
    while True:
        tokens = await board.wait_resync_wanted()
        for token in sorted(tokens):
            try:
                snapshot = await fetch(token)
            except AqbotError as exc:
                log.warning("book resync %s failed: %s", token[:12], exc)
                continue
            board.apply([snapshot], trio.current_time())
        if board.resync:
            await trio.sleep(1.0)
