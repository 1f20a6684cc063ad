"""The ingest benchmark's transport ceiling: trio-websocket over loopback, the server in a second process.

The server (``python -m bench.ingest_transport --serve FRAMES_JSON COUNT``) sends the same frames with
trio-websocket's ``send_message`` on every connection; this process receives them with trio-websocket,
configured as the runtime's readers are (:func:`aqbot.io.ws_conn.open_websocket`:
:data:`~aqbot.io.ws.RECEIVE_BUFFER_SIZE`, :data:`~aqbot.io.ws.MESSAGE_QUEUE_SIZE`), without parsing: what the
socket can deliver (PERF-LIMITS b2). :class:`SocketFrames` hands the same connection to aqbot's own reader
(the ``socket`` loop of :mod:`bench.bench_ingest`).

The exchange is never on the bot's machine, so the server must not take the bot's core: where the machine
allows it (Linux, two CPUs or more) the server is pinned to the last CPU and the receiving process to the
first while it receives (:meth:`TransportServer.receiving`); ``pinned`` says whether that was possible.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import trio
import trio_websocket

from aqbot.io.ws_conn import BatchingConnection, open_websocket


async def _serve(frames_text: str, count: int) -> None:
    frames = json.loads(frames_text)
    blob = [frames[i % len(frames)] for i in range(count)]

    async def handler(request: trio_websocket.WebSocketRequest) -> None:
        ws = await request.accept()
        for text in blob:
            await ws.send_message(text)
        try:
            while True:  # until the client closes (the runtime reader sends its subscribe frame)
                await ws.get_message()
        except trio_websocket.ConnectionClosed:
            pass

    async with trio.open_nursery() as nursery:
        servers = await nursery.start(
            functools.partial(trio_websocket.serve_websocket, handler, "127.0.0.1", 0, ssl_context=None)
        )
        print(servers.port, flush=True)


async def _receive(port: int, count: int) -> float:
    async with open_websocket(f"ws://127.0.0.1:{port}/") as ws:
        await ws.get_message()
        started = time.perf_counter()
        for _ in range(count - 1):
            await ws.get_message()
        return (count - 1) / (time.perf_counter() - started)


def _cpus() -> tuple[set[int], int, int] | None:
    """This process's CPUs, the one for the receiver and the one for the server (None: cannot pin)."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    return (set(cpus), cpus[0], cpus[-1]) if len(cpus) >= 2 else None


class TransportServer:
    """The frame server in a child process (ended by its pid when the benchmark is done), pinned to a CPU
    of its own where possible (see the module docstring)."""

    def __init__(self, frames: tuple[str, ...], count: int, tmp: Path) -> None:
        self.count = count
        path = tmp / "frames.json"
        path.write_text(json.dumps(list(frames)))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.ingest_transport", "--serve", str(path), str(count)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())
        self.url = f"ws://127.0.0.1:{self.port}/"
        self._cpus = _cpus()
        if self._cpus is not None:
            try:
                os.sched_setaffinity(self.proc.pid, {self._cpus[2]})
            except OSError:  # a CPU set the container does not allow: both processes unpinned
                self._cpus = None
        self.pinned = self._cpus is not None

    @contextlib.contextmanager
    def receiving(self) -> Iterator[None]:
        """Pin this process to a CPU the server does not use for the block (then its CPUs as they were)."""
        if self._cpus is None:
            yield
            return
        os.sched_setaffinity(0, {self._cpus[1]})
        try:
            yield
        finally:
            os.sched_setaffinity(0, self._cpus[0])

    def rate(self) -> float:
        with self.receiving():
            return trio.run(_receive, self.port, self.count)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@attrs.define
class SocketFrames:
    """The transport's real connection handed to aqbot's reader: frames as trio-websocket delivers them,
    already queued ones taken in batches as the runtime does (``get_message_nowait``).

    ``before(index)`` runs before frame ``index`` is handed over (untimed setup, such as placing the order
    the frame reports; it keeps its own time). ``started`` is when the first frame was handed over (the
    clock starts there, as the transport's does); ``done`` is set when the reader asks for a frame after
    the last of ``count``.
    """

    ws: BatchingConnection
    count: int
    done: trio.Event
    before: Callable[[int], None]
    index: int = 0
    started: float | None = None

    async def send_message(self, message: str) -> None:
        await self.ws.send_message(message)

    async def get_message(self) -> str | bytes:
        if self.index >= self.count:
            self.done.set()
        return self._take(await self.ws.get_message())

    def get_message_nowait(self) -> str | bytes | None:
        if self.index >= self.count:
            return None
        raw = self.ws.get_message_nowait()
        return None if raw is None else self._take(raw)

    def _take(self, raw: str | bytes) -> str | bytes:
        if self.index >= self.count:
            raise RuntimeError(f"the transport server sent more than {self.count} frames")
        if self.started is None:
            self.started = time.perf_counter()
        self.before(self.index)
        self.index += 1
        return raw


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        trio.run(_serve, Path(sys.argv[2]).read_text(), int(sys.argv[3]))
