"""The bot's GC policy (:mod:`aqbot.gc_policy`): applied once startup is over, restored when the bot stops."""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import pytest
import trio
import trio.testing
from test_app import inline

from aqbot import gc_policy
from aqbot.app import ExchangeConnectors, run_bot
from aqbot.run import params_for_sim
from aqbot.sim.runner import SimConfig, run_inprocess_simulator

T = TypeVar("T")


def test_running_applies_the_policy_and_restores_what_it_found() -> None:
    """Inside: startup frozen, the bot's thresholds. After: the thresholds found, nothing frozen."""
    found = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    with gc_policy.running():
        assert gc_policy.active()
        assert gc.get_threshold() == gc_policy.THRESHOLDS
        assert gc.get_freeze_count() > 0
    assert not gc_policy.active()
    assert gc.get_threshold() == found
    assert gc.get_freeze_count() == 0


def test_the_policy_is_restored_when_the_block_raises() -> None:
    found = gc.get_threshold()
    with pytest.raises(RuntimeError, match="boom"), gc_policy.running():
        raise RuntimeError("boom")
    assert gc.get_threshold() == found
    assert gc.get_freeze_count() == 0


def test_overlapping_runs_apply_once_and_the_last_restores() -> None:
    """Two bots in one process, the first stopping before the second: the policy holds until both stop."""
    found = gc.get_threshold()
    first, second = ExitStack(), ExitStack()
    first.enter_context(gc_policy.running())
    frozen = gc.get_freeze_count()
    second.enter_context(gc_policy.running())
    assert gc.get_freeze_count() == frozen  # not collected and frozen again
    first.close()
    assert gc_policy.active()
    assert gc.get_threshold() == gc_policy.THRESHOLDS
    second.close()
    assert not gc_policy.active()
    assert gc.get_threshold() == found
    assert gc.get_freeze_count() == 0


def test_objects_frozen_by_someone_else_stay_frozen() -> None:
    """``gc.unfreeze`` cannot tell whose objects it returns: when something froze before, nothing is."""
    gc.freeze()
    try:
        with gc_policy.running():
            pass
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


async def test_run_bot_applies_the_policy_once_started(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    """Not during startup (the ledger replay, run through ``offload``, sees it off); from ``started`` (the
    ledger writes, through ``offload`` too, see it on) until the bot stops."""
    found = gc.get_threshold()
    seen: list[bool] = []

    async def offload(fn: Callable[[], T]) -> T:
        seen.append(gc_policy.active())
        return await inline(fn)

    with trio.fail_after(600):
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(run_inprocess_simulator, SimConfig(seed=3, markets=1))
            params = params_for_sim(sim, tmp_path / "ledger.sqlite3", max_position=Decimal(50))
            bot = functools.partial(run_bot, params, ExchangeConnectors.simulator(sim), offload=offload)
            async with trio.open_nursery() as bot_nursery:
                assert not gc_policy.active()
                handle = await bot_nursery.start(bot)
                assert seen[0] is False  # the replay
                assert gc_policy.active()
                assert gc.get_threshold() == gc_policy.THRESHOLDS
                await trio.sleep(5)
                assert seen[-1] is True  # a write while the bot quotes
                handle.request_shutdown()
            assert not gc_policy.active()
            assert gc.get_threshold() == found
            assert gc.get_freeze_count() == 0
            nursery.cancel_scope.cancel()
