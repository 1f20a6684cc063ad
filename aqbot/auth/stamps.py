"""Per-order salt and a strictly increasing millisecond timestamp, both fed the current time as an argument.

V2 orders carry ``timestamp`` (ms) instead of a nonce: two orders signed in the same millisecond with the
same fields would hash to the same id, so the timestamp source never repeats or goes backwards, even when
the caller's clock does (a burst of requotes, an NTP step back).
"""

from __future__ import annotations

import logging
import random

logger = logging.getLogger(__name__)


class OrderStamper:
    """Hands out ``(salt, timestamp_ms)`` pairs; owns no clock (``now_ms`` is always an argument).

    The salt is drawn like py-clob-client-v2's ``int(random() * now_ms)`` from an injected
    :class:`random.Random`, so a seeded run is reproducible; it stays below 2**53, which keeps the JSON
    number exact for any client. Nothing relies on it being secret.
    """

    __slots__ = ("_last_ms", "_rng")

    def __init__(self, rng: random.Random, *, last_ms: int = 0) -> None:
        """Args:
        rng: the salt source.
        last_ms: a timestamp already used (e.g. restored after a restart); the next one is larger.
        """
        self._rng = rng
        self._last_ms = last_ms

    @property
    def last_timestamp_ms(self) -> int:
        """The most recent timestamp handed out (``last_ms`` before the first)."""
        return self._last_ms

    def next_timestamp_ms(self, now_ms: int) -> int:
        """``now_ms``, or one more than the previous timestamp if that is not larger."""
        ts = now_ms if now_ms > self._last_ms else self._last_ms + 1
        self._last_ms = ts
        return ts

    def next_salt(self, now_ms: int) -> int:
        """A random salt in ``[0, max(now_ms, 1))``."""
        return int(self._rng.random() * max(now_ms, 1))

    def stamp(self, now_ms: int) -> tuple[int, int]:
        """``(salt, timestamp_ms)`` for one order."""
        return self.next_salt(now_ms), self.next_timestamp_ms(now_ms)
