"""A scripted WebSocket connection for reader tests (no socket)."""

from __future__ import annotations

import attrs
import trio


@attrs.define
class Frames:
    """A connection that hands over ``frames`` one per ``get_message``, then waits forever."""

    frames: list[str]
    done: trio.Event = attrs.Factory(trio.Event)

    async def send_message(self, message: str) -> None:
        await trio.lowlevel.checkpoint()

    async def get_message(self) -> str:
        if not self.frames:
            self.done.set()
            await trio.sleep_forever()
        await trio.lowlevel.checkpoint()
        return self.frames.pop(0)
