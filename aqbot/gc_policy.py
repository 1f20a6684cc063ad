"""The cyclic garbage collector's settings while a bot runs (``aqbot run``, ``aqbot paper``).

The bot allocates a few hundred short-lived objects per user-channel frame (decoded events, core events,
facts, ledger rows) and keeps a large, long-lived heap (modules, configuration, the replayed core, the
clients). With CPython's defaults (thresholds 700, 10, 10) a young collection runs every few frames, the
objects alive at that moment are promoted and scanned again by the older collections, and every full
collection walks the whole long-lived heap. :func:`running` changes that once the bot has started:

* ``gc.collect()`` then ``gc.freeze()``: what startup built moves to the permanent generation, which no
  collection walks (the collection first, so no startup garbage is pinned);
* ``gc.set_threshold(5_000, 10, 10)`` (:data:`THRESHOLDS`): a young collection every 5,000 net
  allocations of tracked objects instead of 700, so most per-frame objects are gone before one runs.

Measured with the ingest bench's workload (the feed stage, then the full path with the process writer;
time in collections read with ``gc.callbacks``; 11 passes over 10,000 frames, twice per setting, on a
loaded 2-core box): 2.0 and 2.3 us a frame with CPython's defaults, 1.3 and 1.8 with the freeze alone,
0.8 and 0.5 with both; the longest single collection went from 60 to 66 ms (full collections over the
whole heap) to 5 to 15 ms. A young threshold of 10,000 saved no more (0.8 and 0.9 us) and cost memory:
the paper memory bench (scale 0.05) ended ~1.2 MiB higher (growth +7.2% and +7.7% against +6.8% twice
without the policy); with 5,000 it grew +6.3%, +6.8% and +7.0%, ending ~0.5 MiB higher (the freeze alone:
+6.8% twice).

The policy is process-wide, so :func:`running` restores what it found when the last bot using it stops
(thresholds back, ``gc.unfreeze()``): runs may nest or overlap in one process (tests, paper campaigns);
the first to enter applies the policy, the last to leave restores the settings.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

THRESHOLDS = (5_000, 10, 10)
"""``gc.set_threshold`` while a bot runs: young collections every 5,000 net allocations (CPython: 700);
the older generations' ratios are CPython's."""

_users = 0
_saved: tuple[tuple[int, int, int], bool] | None = None  # (the thresholds found, whether to unfreeze)


@contextmanager
def running() -> Iterator[None]:
    """Apply the bot's GC policy (collect, freeze, :data:`THRESHOLDS`) for the duration of the block.

    Counted: nested or overlapping blocks apply it once and restore the settings found by the first when
    the last one exits: the previous thresholds, and the frozen objects returned to the collector (unless
    something had frozen objects before: ``gc.unfreeze`` cannot tell theirs from ours, so all stay frozen).
    """
    global _users, _saved
    if _users == 0:
        first, second, third = gc.get_threshold()
        _saved = ((first, second, third), gc.get_freeze_count() == 0)
        gc.collect()
        gc.freeze()
        gc.set_threshold(*THRESHOLDS)
    _users += 1
    try:
        yield
    finally:
        _users -= 1
        if _users == 0 and _saved is not None:
            thresholds, unfreeze = _saved
            _saved = None
            gc.set_threshold(*thresholds)
            if unfreeze:
                gc.unfreeze()


def active() -> bool:
    """Whether a :func:`running` block is in effect (for tests and diagnostics)."""
    return _users > 0
