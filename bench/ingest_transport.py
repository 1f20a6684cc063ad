"""The ingest benchmark's transport ceiling: trio-websocket over loopback, the server in a second process.

The server (``python -m bench.ingest_transport --serve FRAMES_JSON COUNT``) sends the same frames with
trio-websocket's ``send_message``; this process receives them with trio-websocket, configured as the
runtime's readers are (:data:`~aqbot.io.ws.RECEIVE_BUFFER_SIZE`, :data:`~aqbot.io.ws.MESSAGE_QUEUE_SIZE`),
without parsing: what the socket can deliver (PERF-LIMITS b2).
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import time
from pathlib import Path

import trio
import trio_websocket

from aqbot.io.ws import MESSAGE_QUEUE_SIZE, RECEIVE_BUFFER_SIZE


async def _serve(frames_text: str, count: int) -> None:
    frames = json.loads(frames_text)
    blob = [frames[i % len(frames)] for i in range(count)]

    async def handler(request: trio_websocket.WebSocketRequest) -> None:
        ws = await request.accept()
        for text in blob:
            await ws.send_message(text)
        try:
            await ws.get_message()  # until the client closes
        except trio_websocket.ConnectionClosed:
            pass

    async with trio.open_nursery() as nursery:
        servers = await nursery.start(
            functools.partial(trio_websocket.serve_websocket, handler, "127.0.0.1", 0, ssl_context=None)
        )
        print(servers.port, flush=True)


async def _receive(port: int, count: int) -> float:
    url = f"ws://127.0.0.1:{port}/"
    async with trio_websocket.open_websocket_url(
        url, receive_buffer_size=RECEIVE_BUFFER_SIZE, message_queue_size=MESSAGE_QUEUE_SIZE
    ) as ws:
        await ws.get_message()
        started = time.perf_counter()
        for _ in range(count - 1):
            await ws.get_message()
        return (count - 1) / (time.perf_counter() - started)


class TransportServer:
    """The frame server in a child process (ended by its pid when the benchmark is done)."""

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

    def rate(self) -> float:
        return trio.run(_receive, self.port, self.count)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        trio.run(_serve, Path(sys.argv[2]).read_text(), int(sys.argv[3]))
