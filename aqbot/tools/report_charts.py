"""Charts of the compliance report: one PNG per token, rendered by matplotlib's Agg backend.

matplotlib is imported here only (lazily, by ``aqbot report``); it is the ``report`` extra. The figures
are returned as PNG bytes, which the HTML embeds as base64 ``data:`` URIs (the report is one file).
"""

from __future__ import annotations

import io
import logging
from typing import Any

from aqbot.tools.report_model import ReportModel, TokenReport

log = logging.getLogger(__name__)

HALT_COLOURS = {
    "WS_GAP_UNRESOLVED": "#d62728",
    "USER_WS_DOWN": "#ff7f0e",
    "MARKET_DATA_STALE": "#bcbd22",
    "POSITION_MISMATCH": "#9467bd",
    "EXCHANGE_UNAVAILABLE": "#8c564b",
    "ORDER_ERROR_RATE": "#e377c2",
    "LEDGER_FAILURE": "#7f7f7f",
    "LIMIT_BREACH": "#000000",
    "DAILY_LOSS": "#17becf",
    "MANUAL": "#aec7e8",
    "DEFECT": "#ff9896",
}


class ChartsUnavailable(Exception):
    """matplotlib is not installed."""


def load_pyplot() -> Any:
    """``matplotlib.pyplot`` with the Agg backend.

    Raises:
        ChartsUnavailable: matplotlib is missing.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ChartsUnavailable(str(exc)) from None
    return plt


def _step(xs: list[float], ys: list[float], end: float) -> tuple[list[float], list[float]]:
    return [*xs, end], [*ys, ys[-1]] if ys else []


def token_chart(plt: Any, model: ReportModel, report: TokenReport) -> bytes:
    """Worst case, held and open BUY over time vs the limit, halts shaded, gaps hatched, fills marked."""
    fig, ax = plt.subplots(figsize=(10, 4.2), dpi=80)
    try:
        samples = report.samples
        xs = [s.t for s in samples]
        end = max(model.end_t, xs[-1] if xs else 0.0)
        series = (
            ("worst = held + open BUY", [float(s.worst) for s in samples], "#1f77b4", 2.0),
            ("held", [float(s.held) for s in samples], "#2ca02c", 1.4),
            ("open BUY (reserved)", [float(s.open_buy) for s in samples], "#ff7f0e", 1.0),
            ("open SELL (reserved)", [float(s.open_sell) for s in samples], "#9467bd", 0.8),
        )
        for label, ys, colour, width in series:
            if ys:
                sx, sy = _step(xs, ys, end)
                ax.plot(sx, sy, drawstyle="steps-post", label=label, color=colour, linewidth=width)
        if report.limit is not None:
            ax.axhline(
                float(report.limit),
                color="#d62728",
                linestyle="--",
                linewidth=1.2,
                label=f"limit {report.limit}",
            )
        seen: set[str] = set()
        for halt in model.halts:
            scope = str(halt["scope"])
            if not scope.startswith(("global", "market")) and not scope.endswith(report.token):
                continue
            start = model.time_of(halt["start_mono"], halt["start_at"]) or 0.0
            stop = model.time_of(halt["end_mono"], halt["end_at"])
            reason = halt["reason"]
            ax.axvspan(
                start,
                end if stop is None else max(stop, start + end * 0.002),
                color=HALT_COLOURS.get(reason, "#cccccc"),
                alpha=0.25,
                label=None if reason in seen else f"halt {reason}",
            )
            seen.add(reason)
        for i, gap in enumerate(model.gaps):
            opened = model.time_of(gap["opened_mono"], gap["opened_at"])
            stop = model.time_of(gap["resolved_mono"], gap["resolved_at"])
            start = 0.0 if opened is None else opened
            ax.axvspan(
                start,
                end if stop is None else stop,
                facecolor="none",
                edgecolor="#555555",
                hatch="//",
                linewidth=0,
                label="gap (open to resolved)" if i == 0 else None,
            )
        fills = [f for f in model.fills if f["token"] == report.token]
        if fills:
            ax.scatter(
                [model.time_of(f["mono_time"], f["wall_time"]) for f in fills],
                [
                    float(_held_at(report, model.time_of(f["mono_time"], f["wall_time"]) or 0.0))
                    for f in fills
                ],
                marker="o",
                s=18,
                color="#2ca02c",
                edgecolor="black",
                zorder=5,
                label="fill",
            )
        ax.set_xlabel(
            f"seconds since the run started ({'monotonic' if model.axis == 'mono' else 'wall'} clock)"
        )
        ax.set_ylabel("shares")
        ax.set_title(f"token {report.token[:16]}…" if len(report.token) > 17 else f"token {report.token}")
        ax.set_xlim(0, max(end, 1.0))
        top = max([float(report.max_worst), float(report.limit or 0), 1.0])
        ax.set_ylim(0, top * 1.15)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), fontsize=7, ncol=5, frameon=False)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(fig)


def _held_at(report: TokenReport, t: float) -> float:
    held = 0.0
    for s in report.samples:
        if s.t > t:
            break
        held = float(s.held)
    return held
