"""``aqbot doctor --config FILE``: everything ``aqbot config check`` does, then the live endpoints.

::

    aqbot doctor --config FILE [--heartbeat] [--no-ws] [--step-seconds 10]

The network checks are :mod:`aqbot.tools.doctor_checks`. Nothing is placed or cancelled; the only check
that changes anything at the exchange is ``--heartbeat`` (it starts the dead-man switch of the API key).

Exit codes: 0 every check passed; 1 a check failed (each ``FAIL:`` line says what to fix); 2 the config
file is missing or invalid (one line on stderr).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx2
import trio
import trio_websocket

from aqbot.tools.common import EXIT_OK, EXIT_PROBLEM, one_line_errors, positive_int, run_guarded
from aqbot.tools.config_cmd import Check, check_config, print_checks
from aqbot.tools.doctor_checks import STEP_SECONDS, Doctor, WsOpener, run_checks

log = logging.getLogger(__name__)


async def doctor_checks(
    path: Path,
    env: Mapping[str, str],
    *,
    transport: Callable[[], httpx2.AsyncBaseTransport] | None = None,
    ws_connect: WsOpener = trio_websocket.open_websocket_url,
    wall_clock: Callable[[], float] = time.time,
    heartbeat: bool = False,
    websocket: bool = True,
    step_seconds: float = STEP_SECONDS,
) -> tuple[list[Check], list[str]]:
    """Config checks then network checks; returns (check lines, config summary lines).

    Raises:
        UsageError: the config file is missing or invalid.
    """
    report = check_config(path, env)
    doctor = Doctor(
        report.config,
        report.creds,
        report.key.address if report.key else None,
        step_seconds=step_seconds,
        key=report.key,
    )
    await run_checks(
        doctor,
        transport=transport,
        ws_connect=ws_connect,
        wall_clock=wall_clock,
        heartbeat=heartbeat,
        websocket=websocket,
    )
    return [*report.checks, *doctor.checks], report.summary


def doctor_command(args: argparse.Namespace) -> int:
    def body() -> int:
        checks, summary = trio.run(
            lambda: doctor_checks(
                args.config,
                os.environ,
                heartbeat=args.heartbeat,
                websocket=not args.no_ws,
                step_seconds=float(args.step_seconds),
            )
        )
        print_checks(checks, sys.stdout)
        for line in summary:
            sys.stdout.write(f"  {line}\n")
        failed = sum(1 for c in checks if not c.ok)
        sys.stdout.write(f"{failed} check(s) failed\n" if failed else "all checks passed\n")
        return EXIT_PROBLEM if failed else EXIT_OK

    return run_guarded("aqbot doctor", body)


def add_doctor_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``doctor``; sets ``handler``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "doctor",
        help="check the config, credentials, endpoints, balances and allowances before trading",
        description="Run `config check`, then check the configured endpoints: clock skew, version, markets, "
        "credentials, pUSD balance and allowances, Data API, user WebSocket. Exit codes: 0 ok, 1 a check "
        "failed, 2 bad usage or invalid config.",
    )
    one_line_errors(parser)
    parser.add_argument("--config", type=Path, required=True, metavar="FILE", help="TOML configuration")
    parser.add_argument(
        "--heartbeat",
        action="store_true",
        help="also POST /v1/heartbeats (STARTS the dead-man switch: orders of the key are "
        "cancelled 10 s after the last heartbeat)",
    )
    parser.add_argument("--no-ws", action="store_true", help="skip the user WebSocket check")
    parser.add_argument(
        "--step-seconds",
        type=positive_int,
        default=int(STEP_SECONDS),
        metavar="S",
        help=f"bound on each check (default {int(STEP_SECONDS)})",
    )
    parser.set_defaults(handler=doctor_command)
    return parser
