"""``aqbot report LEDGER [--out report.html]``: a self-contained HTML compliance report of one ledger.

::

    aqbot report LEDGER [--out FILE] [--max-position N | --config FILE] [--time-axis auto|wall|mono]
                        [--no-charts] [--force]

See :mod:`aqbot.tools.report_model` for how each number is derived (from the ledger's events only) and
:mod:`aqbot.tools.report_html` for the sections. matplotlib (the ``report`` extra) is imported only here,
only when charts are drawn. Exit codes: 0 written, 1 the report shows a limit above its cap or a ledger
replay discrepancy, 2 bad usage, unreadable ledger or missing matplotlib (one line on stderr).
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from aqbot.config import config_from_toml
from aqbot.errors import ConfigError
from aqbot.tools.common import (
    EXIT_OK,
    EXIT_PROBLEM,
    UsageError,
    decimal_arg,
    one_line_errors,
    open_ledger,
    read_events,
    run_guarded,
)
from aqbot.tools.report_model import ReportModel, build_model

log = logging.getLogger(__name__)

MATPLOTLIB_HINT = "matplotlib is not installed: pip install 'aqbot[report]' (or pass --no-charts)"


def _config_limits(path: Path) -> tuple[Decimal, dict[str, Decimal]]:
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"--config {path}: cannot read ({exc.strerror or exc})") from None
    try:
        config = config_from_toml(text, source=str(path))
    except ConfigError as exc:
        raise UsageError(f"--config {path}: {exc}") from None
    per_token: dict[str, Decimal] = {}
    for market in config.markets:
        for token in (market.yes_token, market.no_token):
            if token is not None:
                per_token[token] = config.max_position_for(market)
    return config.limits.max_position, per_token


def build_report(args: argparse.Namespace) -> tuple[str, ReportModel]:
    """The HTML text and its model (no file written)."""
    max_position: Decimal | None = args.max_position
    per_token: dict[str, Decimal] = {}
    if args.config is not None:
        max_position, per_token = _config_limits(args.config)
    chart = None
    plt: Any = None
    if not args.no_charts:
        from aqbot.tools.report_charts import ChartsUnavailable, load_pyplot, token_chart

        try:
            plt = load_pyplot()
        except ChartsUnavailable:
            raise UsageError(MATPLOTLIB_HINT) from None
    with open_ledger(args.ledger) as store:
        model = build_model(
            str(args.ledger),
            read_events(store),
            axis=args.time_axis,
            max_position=max_position,
            token_limits=per_token,
        )
    if plt is not None:
        chart = functools.partial(token_chart, plt, model)
    from aqbot.tools.report_html import render

    return render(model, chart), model


def report_command(args: argparse.Namespace) -> int:
    def body() -> int:
        out: Path = args.out
        if out.exists() and not args.force and out.resolve() != Path(os.devnull):
            raise UsageError(f"--out {out}: exists; pass --force to overwrite it")
        if not out.parent.is_dir():
            raise UsageError(f"--out {out}: directory {out.parent} does not exist")
        text, model = build_report(args)
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(out)
        finally:
            tmp.unlink(missing_ok=True)
        breached = [r.token for r in model.tokens.values() if r.breached]
        print(
            f"aqbot report: wrote {out} ({len(text) // 1024} KiB, {model.event_count} events, "
            f"{len(model.tokens)} token(s))",
            file=sys.stderr,
        )
        if breached or model.replay_problems:
            print(
                f"aqbot report: problems: {len(breached)} token(s) above the limit, "
                f"{len(model.replay_problems)} replay discrepancy(ies)",
                file=sys.stderr,
            )
            return EXIT_PROBLEM
        return EXIT_OK

    return run_guarded("aqbot report", body)


def add_report_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``report``; sets ``handler``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "report",
        help="write a self-contained HTML compliance report of a ledger",
        description="Exposure vs limit over time, halts, gaps, fills, PnL and UNKNOWN orders, from the "
        "ledger alone. Exit codes: 0 ok, 1 a limit exceeded or a replay discrepancy, 2 bad usage.",
    )
    one_line_errors(parser)
    parser.add_argument("ledger", type=Path, metavar="LEDGER", help="the SQLite ledger")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("report.html"),
        metavar="FILE",
        help="where to write the HTML (default: report.html)",
    )
    limits = parser.add_mutually_exclusive_group()
    limits.add_argument(
        "--max-position",
        type=decimal_arg,
        metavar="SHARES",
        help="the per-token limit to compare against (default: from the ledger)",
    )
    limits.add_argument("--config", type=Path, metavar="FILE", help="take the limits from this config")
    parser.add_argument(
        "--time-axis",
        choices=("auto", "wall", "mono"),
        default="auto",
        help="x axis clock (auto: monotonic for a simulated run, else wall)",
    )
    parser.add_argument("--no-charts", action="store_true", help="tables only (no matplotlib needed)")
    parser.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    parser.set_defaults(handler=report_command)
    return parser
