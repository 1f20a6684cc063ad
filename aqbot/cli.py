"""The ``aqbot`` command line. One command, subcommands, ``--help`` everywhere.

Each subcommand lives beside the code it drives and registers itself with an ``add_*_parser(subparsers)``
function that sets ``handler`` (``args -> int``) as the parser default.

Exit codes: 0 success; 1 the run found a problem (a limit violation, a failed verification, a runtime
failure); 2 bad usage or bad configuration (one line on stderr naming the field or argument); 130
interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from aqbot import __version__
from aqbot.paper.command import add_paper_parser
from aqbot.run import add_run_parser
from aqbot.sim.command import add_sim_parser
from aqbot.tools.config_cmd import add_config_parser
from aqbot.tools.doctor import add_doctor_parser
from aqbot.tools.keys_cmd import add_keys_parser
from aqbot.tools.ledger_cmd import add_ledger_parser
from aqbot.tools.report import add_report_parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aqbot",
        description="Active-quoting bot for Polymarket CLOB V2 whose position limits hold.",
    )
    parser.add_argument("--version", action="version", version=f"aqbot {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_run_parser(subparsers)
    add_paper_parser(subparsers)
    add_sim_parser(subparsers)
    add_ledger_parser(subparsers)
    add_report_parser(subparsers)
    add_config_parser(subparsers)
    add_keys_parser(subparsers)
    add_doctor_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("aqbot: interrupted", file=sys.stderr)
        return 130
