"""``aqbot paper``: the real bot against the simulator in one process, with the limit evidence.

::

    aqbot paper [--config FILE] [--seed N] [--duration SECONDS] [--speed realtime|max]
                [--faults none|mild|chaos] [--markets K] [--summary PATH] [--tape PATH] [--ledger PATH]
                [--no-dashboard] [--crashes N] [--schedule JSON]

``--speed max`` (default duration 600 simulated seconds) runs under a mock clock as fast as the CPU
allows and is deterministic: the same options give the same tape and ledger events. ``--speed realtime``
serves the simulator on loopback and runs until ``--duration`` or Ctrl-C. Exit code 0 when the exchange
never credited more than a limit and the final state matches the exchange, 1 otherwise (the one-line
replay command is printed), 2 on a bad argument or configuration.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from aqbot.config import load_config
from aqbot.errors import AqbotError, ConfigError, SecretsError
from aqbot.logs import configure_logging
from aqbot.paper.maxspeed import run_paper
from aqbot.paper.runner import SPEEDS, PaperOptions, PaperPaths, default_paths
from aqbot.paper.schedule import FaultSchedule
from aqbot.paper.summary import summary_ok, summary_paragraph
from aqbot.sim.faults import PROFILES

log = logging.getLogger(__name__)

# Default simulated seconds of a max-speed run.
MAX_DEFAULT_DURATION = 600.0
# Settling time before the final reconciliation of a real-time run (the user is waiting).
REALTIME_SETTLE_SECONDS = 3.0
RUNS_DIR = Path("runs")
# Wall seconds without progress of simulated time before a max-speed run is abandoned (a livelock).
STALL_LIMIT = 60.0
MAX_MARKETS = 16


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def _markets(text: str) -> int:
    value = int(text)
    if not 1 <= value <= MAX_MARKETS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_MARKETS}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def _schedule(text: str) -> FaultSchedule:
    try:
        return FaultSchedule.from_json(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_paper_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``paper`` on an ``argparse`` subparsers object; the namespace gets ``handler``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "paper",
        help="paper-trade against the built-in simulator and check the limits",
        description="Run the real bot against the exchange simulator in one process. Exit 0 when no "
        "position limit was exceeded on the exchange and the final state matches it.",
    )
    parser.add_argument("--config", type=Path, metavar="FILE", help="TOML configuration (default: shipped)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the simulator and the bot (default 1)")
    parser.add_argument(
        "--duration", type=_positive_float, metavar="SECONDS",
        help="simulated seconds (max: default 600; realtime: until Ctrl-C)",
    )  # fmt: skip
    parser.add_argument("--speed", choices=SPEEDS, default="max", help="max (mock clock) or realtime")
    parser.add_argument("--faults", choices=sorted(PROFILES), default="none", help="fault profile")
    parser.add_argument("--markets", type=_markets, default=4, help="markets to quote (default 4)")
    parser.add_argument("--summary", type=Path, metavar="PATH", help="write the JSON summary here")
    parser.add_argument("--tape", type=Path, metavar="PATH", help="write the simulator's tape here")
    parser.add_argument("--ledger", type=Path, metavar="PATH", help="the bot's ledger (SQLite)")
    parser.add_argument("--no-dashboard", action="store_true", help="log progress lines instead of drawing")
    parser.add_argument("--crashes", type=_count, default=0, help="seeded in-process crash/restart cycles")
    parser.add_argument("--schedule", type=_schedule, metavar="JSON", help="scripted faults and crash times")
    parser.set_defaults(handler=paper_command)
    return parser


def options_from_args(args: argparse.Namespace) -> PaperOptions:
    duration = args.duration
    if duration is None and args.speed == "max":
        duration = MAX_DEFAULT_DURATION
    return PaperOptions(
        seed=args.seed, duration=duration, speed=args.speed, faults=args.faults, markets=args.markets,
        config_path=args.config, summary_path=args.summary, tape_path=args.tape, ledger_path=args.ledger,
        dashboard=not args.no_dashboard, crashes=args.crashes, schedule=args.schedule or FaultSchedule(),
        settle_seconds=REALTIME_SETTLE_SECONDS if args.speed == "realtime" else 30.0,
    )  # fmt: skip


def run_dir_for(options: PaperOptions, now: datetime.datetime) -> Path:
    """``./runs/<UTC timestamp>-seed<N>/`` (a real-time run's default home)."""
    return RUNS_DIR / f"{now.strftime('%Y%m%dT%H%M%SZ')}-seed{options.seed}"


def paper_command(args: argparse.Namespace) -> int:
    """The ``paper`` handler."""
    options = options_from_args(args)
    scratch: Path | None = None
    if options.speed == "realtime":
        run_dir = run_dir_for(options, datetime.datetime.now(datetime.UTC))
        paths = default_paths(options, run_dir)
        paths = PaperPaths(paths.ledger, paths.tape, options.summary_path or run_dir / "summary.json")
    else:
        scratch = Path(tempfile.mkdtemp(prefix=f"aqbot-paper-{options.seed}-"))
        paths = default_paths(options, scratch)
    if paths.ledger.exists():
        print(
            f"aqbot paper: --ledger {paths.ledger}: exists (a paper run starts a fresh exchange)",
            file=sys.stderr,
        )
        return 2
    try:
        load_config(options.config_path, os.environ)  # refuse a bad configuration before anything starts
    except (ConfigError, SecretsError) as exc:
        print(f"aqbot paper: {exc}", file=sys.stderr)
        return 2
    _configure_logging(options, paths)
    failures: list[str] = []
    summary: dict[str, Any] | None = None
    try:
        summary = _run(options, paths)
    except* AqbotError as group:  # PaperRunStalled, or a runtime failure that stopped the bot
        failures.extend(str(e) for e in group.exceptions)
    if failures:
        print(f"aqbot paper: FAIL: {failures[0]}\nreplay:  {options.replay_command()}", file=sys.stderr)
        return 1
    if summary is None:
        print("aqbot paper: forced to stop: no summary", file=sys.stderr)
        return 1
    ok = summary_ok(summary)
    if paths.summary is not None:
        paths.summary.parent.mkdir(parents=True, exist_ok=True)
        paths.summary.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(summary_paragraph(summary))
    if scratch is not None and ok:
        shutil.rmtree(scratch, ignore_errors=True)
    else:
        print(f"summary: {paths.summary or '(not written: use --summary)'}")
        print(f"ledger:  {paths.ledger}")
        print(f"tape:    {paths.tape}")
        print(f"report:  {_report(options, paths, summary)}")
    if not ok:
        print(f"replay:  {options.replay_command()}", file=sys.stderr)
        return 1
    return 0


def _report(options: PaperOptions, paths: PaperPaths, summary: dict[str, Any]) -> str:
    """Real time: write ``report.html`` beside the ledger (``aqbot report``) and return its path; max speed
    (or if the report fails): the command that writes it."""
    out = paths.ledger.with_name("report.html")
    command = f"aqbot report {paths.ledger} --out {out}"
    if options.speed != "realtime":
        return command
    from aqbot.cli import build_parser  # late: the cli imports this module

    limits = set(summary["limits"].values())
    argv = ["report", str(paths.ledger), "--out", str(out), "--force"]
    if len(limits) == 1:
        argv += ["--max-position", limits.pop()]
    try:
        args = build_parser().parse_args(argv)
        code = args.handler(args)
    except (SystemExit, OSError, ValueError) as exc:
        log.warning("paper: the HTML report failed (%s); run: %s", exc, command)
        return command
    return str(out) if out.exists() and code in (0, 1) else command


def _configure_logging(options: PaperOptions, paths: PaperPaths) -> None:
    """Max speed: errors only (plus this package's warnings). Real time: INFO on stderr, or into
    ``bot.log`` beside the ledger while the dashboard owns the terminal."""
    if options.speed == "max":
        configure_logging("ERROR", False, sys.stderr)
        logging.getLogger("aqbot.paper").setLevel(logging.WARNING)
        return
    if options.dashboard and sys.stdout.isatty():
        paths.ledger.parent.mkdir(parents=True, exist_ok=True)
        stream = (paths.ledger.parent / "bot.log").open("a", encoding="utf-8")
        configure_logging("INFO", False, stream)
        return
    configure_logging("INFO", False, sys.stderr)


def _run(options: PaperOptions, paths: PaperPaths) -> dict[str, Any] | None:
    if options.speed == "realtime":
        from aqbot.paper.realtime import run_realtime

        return run_realtime(options, paths)
    return run_paper(options, paths, stall_limit=STALL_LIMIT)
