"""The public names of aqbot.ui (what the paper runner and `aqbot run` import)."""

from __future__ import annotations

import inspect

import aqbot.ui
from aqbot.ui import dashboard


def test_exported_names() -> None:
    assert aqbot.ui.__all__ == [
        "DashboardExtras",
        "DashboardTracker",
        "EventLine",
        "FillTotals",
        "log_progress_line",
        "render_dashboard",
        "run_dashboard",
        "shutdown_summary",
    ]
    for name in aqbot.ui.__all__:
        assert getattr(aqbot.ui, name).__module__.startswith("aqbot.ui.")


def test_run_dashboard_signature_the_paper_runner_calls() -> None:
    params = inspect.signature(dashboard.run_dashboard).parameters
    assert list(params)[:3] == ["handle", "console", "refresh_seconds"]
    assert params["refresh_seconds"].default == 0.5
    assert all(p.kind is p.KEYWORD_ONLY for name, p in params.items() if name != "handle")
    assert params["task_status"].default is not inspect.Parameter.empty
