"""OrderStamper: strictly increasing ms timestamps under bursts and clock steps back; reproducible salts."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from aqbot.auth import OrderStamper


@given(
    start=st.integers(0, 2**45),
    steps=st.lists(st.integers(-5_000, 5_000), min_size=1, max_size=200),
    seed=st.integers(0, 2**32),
)
def test_timestamps_strictly_increase_and_never_lag(start: int, steps: list[int], seed: int) -> None:
    stamper = OrderStamper(random.Random(seed))
    now = start
    previous = -1
    for step in steps:
        now = max(0, now + step)
        ts = stamper.next_timestamp_ms(now)
        assert ts > previous
        assert ts >= now
        previous = ts
    assert stamper.last_timestamp_ms == previous


def test_burst_in_one_millisecond() -> None:
    stamper = OrderStamper(random.Random(1))
    stamps = [stamper.stamp(1_700_000_000_000) for _ in range(50)]
    assert [ts for _, ts in stamps] == list(range(1_700_000_000_000, 1_700_000_000_050))
    assert stamper.next_timestamp_ms(1_700_000_000_100) == 1_700_000_000_100


def test_restart_continues_after_the_last_timestamp() -> None:
    stamper = OrderStamper(random.Random(1), last_ms=2_000)
    assert stamper.next_timestamp_ms(1_000) == 2_001


@given(seed=st.integers(0, 2**32), now=st.integers(0, 2**52))
def test_salts_are_reproducible_and_json_safe(seed: int, now: int) -> None:
    a = OrderStamper(random.Random(seed))
    b = OrderStamper(random.Random(seed))
    salts = [a.next_salt(now) for _ in range(10)]
    assert salts == [b.next_salt(now) for _ in range(10)]
    assert all(0 <= s < max(now, 1) <= 2**53 for s in salts)
