"""Shared test configuration: Hypothesis profiles, and a guard on the process-wide GC settings.

``HYPOTHESIS_PROFILE=ci`` (what ``make test`` uses) keeps example counts bounded and derandomized, so the
same commit gives the same run; ``fuzz`` is the long campaign of ``make fuzz``.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from aqbot import gc_policy

settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "fuzz",
    max_examples=5000,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(autouse=True)
def gc_settings_restored() -> Iterator[None]:
    """Every test leaves the garbage collector as it found it: a bot applies :mod:`aqbot.gc_policy` (a
    process-wide setting) while it runs, and must restore it when it stops, even when a test fails."""
    found = gc.get_threshold()
    yield
    left = (gc.get_threshold(), gc.get_freeze_count(), gc_policy.active())
    if left != (found, 0, False):
        gc.set_threshold(*found)
        gc.unfreeze()
        pytest.fail(
            f"GC settings leaked: thresholds, frozen, policy active = {left}, expected {found}, 0, False"
        )
