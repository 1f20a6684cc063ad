"""The operator's view of a running bot: the live dashboard, the progress line, the shutdown summary."""

from aqbot.ui.dashboard import run_dashboard as run_dashboard
from aqbot.ui.model import DashboardExtras as DashboardExtras
from aqbot.ui.model import EventLine as EventLine
from aqbot.ui.model import FillTotals as FillTotals
from aqbot.ui.render import render_dashboard as render_dashboard
from aqbot.ui.summary import log_progress_line as log_progress_line
from aqbot.ui.summary import shutdown_summary as shutdown_summary
from aqbot.ui.tracker import DashboardTracker as DashboardTracker

__all__ = [
    "DashboardExtras",
    "DashboardTracker",
    "EventLine",
    "FillTotals",
    "log_progress_line",
    "render_dashboard",
    "run_dashboard",
    "shutdown_summary",
]
