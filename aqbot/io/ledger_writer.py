"""The ledger's Trio shell: one writer task batching events from a bounded channel into SQLite.

Producers ``send`` :class:`~aqbot.io.ledger_events.LedgerEvent` values, or lists of already encoded
:data:`~aqbot.io.ledger_events.LedgerRow` (what the hub's sink hands over), into a *bounded* memory channel
(the runtime chooses its size; a full channel pushes back on producers instead of losing events). One
task, :func:`run_ledger_writer`, takes them off in arrival order (each row's ``seq`` is its place in
that order, continuing the stored sequence, so there is never a hole; the numbers are attached where the
batch is written, off the event loop: :func:`~aqbot.io.ledger.number_rows`), and writes a batch in one
transaction in a worker thread (``trio.to_thread.run_sync``) every ``batch_interval`` seconds (50 ms)
after the first event of the batch, or as soon as ``batch_max`` (2048) events are waiting, whichever
comes first.

Error handling: a failed write (``sqlite3.Error``, ``OSError``, :class:`~aqbot.errors.LedgerError`)
calls ``on_failure(exc)`` once per failure streak (the runtime latches ``LEDGER_FAILURE`` and stops
quoting), closes the store, and retries the *same* batch with exponential backoff, reopening the store
through ``store_factory``. Retrying is idempotent (the store skips numbers it already holds). When a
write succeeds again, ``on_recovered()`` is called. Events keep queueing in the channel meanwhile; none
is dropped. An event whose payload cannot be encoded as JSON (a producer bug) is replaced by a
``defect`` event that names it, rather than blocking the ledger forever.

Shutdown: closing every send side ends the writer after it has written everything (it returns). When
it is cancelled instead, it drains what is already buffered and writes it inside a shielded scope
bounded by ``shutdown_grace``, then re-raises. :meth:`LedgerWriterHandle.flush` waits until everything
sent before the call is durable; :meth:`LedgerWriterHandle.wait_flushed` waits for a given ``seq``.

:func:`aqbot.io.ledger_process.run_ledger_process_writer` (``[ledger] writer = "process"``) is the same
writer (:class:`BatchWriter`, :func:`serve_batches`) with the store in a child process instead of a worker
thread: only the :class:`WriteBackend` differs.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar

import attrs
import trio

from aqbot.io.ledger import LedgerStore
from aqbot.io.ledger_child import WRITE_ERRORS, append_rows
from aqbot.io.ledger_events import LedgerItem, LedgerRow, event_row

log = logging.getLogger(__name__)

T = TypeVar("T")
B = TypeVar("B")

# Batch limits (DESIGN 4; PERF-LIMITS 5: per-row thread hops cap SQLite at 3-7k rows/s, batches do not).
# Every batch costs a handful of GIL hand-overs between the worker thread and a busy event loop (about 2 ms
# each, see docs/io.md); 2048 (one INSERT statement, LedgerStore.INSERT_ROWS) keeps that small under load.
BATCH_MAX = 2048
BATCH_INTERVAL = 0.05
# While a batch gathers, the writer looks at the channel this often instead of waking per item.
POLL = 0.005
# Retry backoff after a failed write: first delay, factor, ceiling (seconds).
RETRY_FIRST = 0.05
RETRY_FACTOR = 2.0
RETRY_MAX = 5.0
# How long a cancelled writer may spend writing what it already holds.
SHUTDOWN_GRACE = 5.0


class Offload(Protocol):
    """Runs a blocking function away from the event loop (``trio.to_thread.run_sync`` by default)."""

    async def __call__(self, fn: Callable[[], T], /) -> T: ...


async def to_thread(fn: Callable[[], T], /) -> T:
    """The production :class:`Offload`: a worker thread that always finishes what it started."""
    return await trio.to_thread.run_sync(fn)


@attrs.frozen
class LedgerWriterStatistics:
    """A snapshot of the writer. ``received`` and ``written`` count rows (events); ``buffered`` counts the
    items in the channel, each an event or a list of up to ``aqbot.io.hub.CHUNK_ROWS`` rows."""

    received: int
    written: int
    last_seq: int
    batches: int
    failures: int
    failing: bool
    buffered: int


class LedgerWriterHandle:
    """What :func:`run_ledger_writer` hands to ``task_status.started``."""

    def __init__(self, receive_channel: trio.MemoryReceiveChannel[LedgerItem], last_seq: int) -> None:
        self._channel = receive_channel
        # Rows taken and not yet written, payloads encoded once (the store writes them as they are), in
        # order; the first is numbered _pending_seq, the next _pending_seq + 1, and so on.
        self._pending: list[LedgerRow] = []
        self._pending_seq = last_seq + 1
        self._items = 0  # channel items taken (an event or a list of rows)
        self._progress = trio.Event()
        # True while the writer task is inside ``await channel.receive()``; ``_woke`` fires when it leaves.
        self._receiving = False
        self._woke = trio.Event()
        self.received = 0
        self.written = 0
        self.last_seq = last_seq
        self.batches = 0
        self.failures = 0
        self.failing = False

    def statistics(self) -> LedgerWriterStatistics:
        """An immutable snapshot of the counters."""
        return LedgerWriterStatistics(
            received=self.received,
            written=self.written,
            last_seq=self.last_seq,
            batches=self.batches,
            failures=self.failures,
            failing=self.failing,
            buffered=self._channel.statistics().current_buffer_used,
        )

    async def wait_flushed(self, seq: int) -> None:
        """Wait until every event up to ``seq`` is durable. Bounded by the caller's scope."""
        while self.last_seq < seq:
            await self._progress.wait()
        await trio.lowlevel.checkpoint()

    async def flush(self) -> None:
        """Wait until every event sent into the channel before this call is durable.

        "Sent" means a ``send``/``send_nowait`` that returned. Such an item (an event or a list of rows)
        is in the channel's buffer, taken by the writer, or *in flight*: handed straight to the writer
        parked in ``receive()``, or taken from the buffer by a ``receive()`` that has not returned yet.
        An item in flight is in neither count, so while the writer is inside ``receive()`` without being
        parked there (parked means no item is in flight), this first waits for that ``receive()`` to
        return. Then it waits until the writer has taken the items buffered at the call, and until every
        row taken by then is written. Bounded by the caller's scope (it waits for ever if the writer has
        stopped).
        """
        while self._receiving and self._channel.statistics().tasks_waiting_receive == 0:
            await self._woke.wait()
        target = self._items + self._channel.statistics().current_buffer_used
        while self._items < target:
            await self._progress.wait()
        rows = self.received
        while self.written < rows:
            await self._progress.wait()
        await trio.lowlevel.checkpoint()

    async def _receive(self) -> LedgerItem:
        """``channel.receive()``, marked so that :meth:`flush` can see an item in flight."""
        self._receiving = True
        try:
            return await self._channel.receive()
        finally:
            self._receiving = False
            self._woke.set()
            self._woke = trio.Event()

    def _take(self, item: LedgerItem) -> None:
        """Add the rows of an item (a list of rows, or an event whose payload is encoded here) to the
        pending batch (no checkpoint: nothing can be lost here). Their numbers are their places in
        ``_pending``: no work per row on the event loop."""
        if isinstance(item, list):
            self._pending += item
            self.received += len(item)
        else:
            self._pending.append(event_row(item))
            self.received += 1
        self._items += 1

    def _take_nowait(self, limit: int) -> None:
        """Take what the channel holds, up to ``limit`` pending events, without a checkpoint."""
        channel = self._channel
        take = self._take
        while len(self._pending) < limit:
            try:
                event = channel.receive_nowait()
            except trio.WouldBlock:
                return
            take(event)

    def _written(self, count: int, last_seq: int) -> None:
        """``count`` rows, taken off ``_pending`` when their batch was encoded, are written."""
        self.written += count
        self.last_seq = last_seq
        self.batches += 1
        self._progress.set()
        self._progress = trio.Event()


async def _collect(handle: LedgerWriterHandle, channel: trio.MemoryReceiveChannel[LedgerItem],
                   batch_max: int, batch_interval: float) -> bool:  # fmt: skip
    """Fill ``handle._pending`` up to ``batch_max`` or ``batch_interval`` after the first event.

    The first item is awaited with ``receive()``. After it the writer does not park in ``receive()``
    (where every hand-over of the pump, one per frame under load, woke it: a pass of the scheduler
    each): it takes everything already in the channel without a checkpoint per item, then sleeps
    :data:`POLL` (or until the deadline) and looks again, so a full batch is seen within ``POLL``. A list of
    rows may take the batch past ``batch_max``: the writer then writes the first ``batch_max``, and the
    rest (fewer than ``batch_max``) starts the next batch, collected here again (the deadline counts from
    then), rather than going alone in a transaction of its own. Returns False when the channel has ended
    (every sender closed).
    """
    try:
        if not handle._pending:
            handle._take(await handle._receive())
        deadline = trio.current_time() + batch_interval
        while True:
            handle._take_nowait(batch_max)  # what is already there, in one wake-up
            if len(handle._pending) >= batch_max:
                break
            now = trio.current_time()
            if now >= deadline:
                break
            await trio.sleep_until(min(now + POLL, deadline))
    except trio.EndOfChannel:
        return False
    return True


class WriteBackend(Protocol[B]):
    """Where the writer's batches go: the store in a worker thread, or a child process.

    ``encode`` makes a batch of ``rows``, to be numbered from ``first_seq``
    (:func:`~aqbot.io.ledger.number_rows`), into what ``write`` sends (synchronous). The writer then drops
    its own references to the rows: a backend that does not keep them (the process's, which keeps the
    encoded frame) lets them be freed right away, while the encoding has them in the CPU's cache (freeing
    2048 rows after the answer cost about twice as much). ``write`` stores an encoded batch in one
    transaction and returns the last stored ``seq``; after a failure the writer retries the same encoded
    batch on a new backend from the same opener."""

    def encode(self, first_seq: int, rows: list[LedgerRow]) -> B: ...

    async def write(self, batch: B) -> int: ...

    async def aclose(self) -> None: ...


class _ThreadBackend:
    """The store, its blocking calls run through ``offload`` (a worker thread). Its batch is the rows and
    their first number: they are numbered in the worker thread."""

    def __init__(self, store: LedgerStore, offload: Offload) -> None:
        self.store = store
        self.offload = offload

    @classmethod
    async def open(cls, store_factory: Callable[[], LedgerStore], offload: Offload) -> _ThreadBackend:
        return cls(await offload(store_factory), offload)

    async def last_seq(self) -> int:
        return await self.offload(self.store.last_seq)

    def encode(self, first_seq: int, rows: list[LedgerRow]) -> tuple[int, list[LedgerRow]]:
        return first_seq, rows

    async def write(self, batch: tuple[int, list[LedgerRow]]) -> int:
        store = self.store
        first_seq, rows = batch
        return await self.offload(lambda: append_rows(store, first_seq, rows))

    async def aclose(self) -> None:
        try:
            self.store.close()
        except sqlite3.Error:
            log.warning("closing the ledger failed", exc_info=True)


class BatchWriter(Generic[B]):
    """Owns the backend, the batch on its way (encoded) and the retry policy; one per
    :func:`run_ledger_writer`."""

    def __init__(
        self,
        opener: Callable[[], Awaitable[WriteBackend[B]]],
        on_failure: Callable[[Exception], None],
        on_recovered: Callable[[], None] | None,
    ) -> None:
        self.opener = opener
        self.on_failure = on_failure
        self.on_recovered = on_recovered
        self.backend: WriteBackend[B] | None = None
        # The batch taken off the head of ``handle._pending`` and encoded (numbered), not yet written, and
        # its row count. A failed write retries it as it is, before any row still pending.
        self.held: tuple[int, B] | None = None

    @property
    def unwritten(self) -> int:
        """Rows encoded and not yet written (the held batch's)."""
        return 0 if self.held is None else self.held[0]

    async def write_once(self, handle: LedgerWriterHandle, batch_max: int) -> None:
        """One attempt at writing the held batch, or else the head of the pending rows; raises a
        WRITE_ERRORS on failure (the batch stays held)."""
        if self.backend is None:
            self.backend = await self.opener()
        if self.held is None:
            pending = handle._pending
            count = min(len(pending), batch_max)
            self.held = (count, self.backend.encode(handle._pending_seq, pending[:count]))
            del pending[:count]  # freed here (the process backend keeps only the encoded frame)
            handle._pending_seq += count
        count, batch = self.held
        last = await self.backend.write(batch)
        self.held = None
        handle._written(count, last)

    async def write(self, handle: LedgerWriterHandle, batch_max: int, *, whole: bool = True) -> None:
        """Write until the held batch and the pending rows are durable, retrying with backoff. Runs until
        it succeeds.

        With ``whole=False`` (the writer's loop) the held batch or the first ``batch_max`` pending rows,
        and then only full batches: a remainder below ``batch_max`` is left pending for the next batch to
        fill up.
        """
        delay = RETRY_FIRST
        wrote = False
        while self.held is not None or (
            handle._pending and (whole or not wrote or len(handle._pending) >= batch_max)
        ):
            try:
                await self.write_once(handle, batch_max)
            except WRITE_ERRORS as exc:
                handle.failures += 1
                await self.aclose()
                if not handle.failing:
                    handle.failing = True
                    log.error("ledger write failed (%s); retrying, quoting must halt", exc)
                    self.on_failure(exc)
                else:
                    log.warning("ledger write failed again (%s); retry in %.2fs", exc, delay)
                await trio.sleep(delay)
                delay = min(delay * RETRY_FACTOR, RETRY_MAX)
                continue
            wrote = True
            if handle.failing:
                handle.failing = False
                log.warning("ledger writes recovered after %d failure(s)", handle.failures)
                if self.on_recovered is not None:
                    self.on_recovered()
            delay = RETRY_FIRST

    async def aclose(self) -> None:
        if self.backend is not None:
            backend, self.backend = self.backend, None
            await backend.aclose()


def _drain_nowait(handle: LedgerWriterHandle, channel: trio.MemoryReceiveChannel[LedgerItem]) -> None:
    while True:
        try:
            handle._take(channel.receive_nowait())
        except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
            return


async def run_ledger_writer(
    store_factory: Callable[[], LedgerStore],
    receive_channel: trio.MemoryReceiveChannel[LedgerItem],
    *,
    on_failure: Callable[[Exception], None],
    on_recovered: Callable[[], None] | None = None,
    batch_max: int = BATCH_MAX,
    batch_interval: float = BATCH_INTERVAL,
    shutdown_grace: float = SHUTDOWN_GRACE,
    offload: Offload = to_thread,
    task_status: trio.TaskStatus[LedgerWriterHandle] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Write every event received on ``receive_channel`` to the ledger, in order, in batches.

    Runs until every sender has closed the channel (then returns after writing everything) or until
    cancelled (then writes what it holds within ``shutdown_grace``, shielded, and re-raises).

    Args:
        store_factory: opens the store (``functools.partial(LedgerStore.open, path)``); called in a
            worker thread at start and again after a failure.
        receive_channel: the bounded channel producers send into; the writer closes it.
        on_failure: called (synchronously) when a write fails after succeeding; must not raise.
        on_recovered: called when writes succeed again after a failure.
        batch_max: events per transaction at most.
        batch_interval: seconds to wait for more events after the first of a batch.
        shutdown_grace: bound on the final write when cancelled.
        offload: how blocking calls leave the event loop (tests pass an inline runner).
        task_status: receives the :class:`LedgerWriterHandle` once the store is open.

    Raises:
        LedgerError: the store cannot be opened at start (nothing was started).
    """

    async def opener() -> WriteBackend[tuple[int, list[LedgerRow]]]:
        return await _ThreadBackend.open(store_factory, offload)

    first = await _ThreadBackend.open(store_factory, offload)
    writer = BatchWriter[tuple[int, list[LedgerRow]]](opener, on_failure, on_recovered)
    writer.backend = first
    last_seq = await first.last_seq()
    await serve_batches(
        writer, last_seq, receive_channel, batch_max, batch_interval, shutdown_grace, task_status
    )


async def serve_batches(
    writer: BatchWriter[Any],
    last_seq: int,
    receive_channel: trio.MemoryReceiveChannel[LedgerItem],
    batch_max: int,
    batch_interval: float,
    shutdown_grace: float,
    task_status: trio.TaskStatus[LedgerWriterHandle],
) -> None:
    """The writer's loop (shared by both backends): hand out the handle, collect and write batches until
    the channel ends, and on the way out write what is held within ``shutdown_grace``, shielded."""
    handle = LedgerWriterHandle(receive_channel, last_seq)
    task_status.started(handle)
    try:
        async with receive_channel:
            try:
                while await _collect(handle, receive_channel, batch_max, batch_interval):
                    await writer.write(handle, batch_max, whole=False)
                await writer.write(handle, batch_max)
            finally:
                with trio.move_on_after(shutdown_grace, shield=True) as scope:
                    # A producer cancelled with us (the pump) hands over its last rows when it runs: let it
                    # run first, or the channel closes under it when nothing is pending here.
                    await trio.lowlevel.checkpoint()
                    _drain_nowait(handle, receive_channel)
                    # A cancelled producer may still hand over its last events.
                    while handle._pending or writer.held is not None:
                        await writer.write(handle, batch_max)
                        _drain_nowait(handle, receive_channel)
                if scope.cancelled_caught:
                    log.error(
                        "ledger shutdown: %d event(s) could not be written in time",
                        len(handle._pending) + writer.unwritten,
                    )
    finally:
        await writer.aclose()
