"""The ``aqbot`` command line. One command, subcommands, ``--help`` everywhere.

Exit codes: 0 success; 1 the run found a problem (a limit violation, a failed verification);
2 bad usage or bad configuration (one line on stderr naming the field); 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from aqbot import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aqbot",
        description="Active-quoting bot for Polymarket CLOB V2 whose position limits hold.",
    )
    parser.add_argument("--version", action="version", version=f"aqbot {__version__}")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    return 0
