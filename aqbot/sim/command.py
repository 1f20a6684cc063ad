"""The ``aqbot sim`` subcommand: a simulated Polymarket CLOB V2 on loopback, until SIGINT/SIGTERM.

::

    aqbot sim [--host 127.0.0.1] [--port 0] [--ws-port 0] [--seed N] [--markets K] [--accounts N]
              [--faults none|mild|chaos] [--no-flow] [--info-file PATH] [--tape PATH]

Once serving it prints one line (``aqbot sim: rest=<url> ws=<url> data_api=<url>``) and, with
``--info-file``, writes the JSON a client needs (URLs, chain id, accounts with their test credentials,
markets); see :mod:`aqbot.sim.info`. ``--tape`` streams the ground-truth tape (JSON lines, no secrets).
A signal stops it cleanly with exit code 0. Also runnable as ``python -m aqbot.sim.command``.

The lead wires it into :mod:`aqbot.cli` with ``add_sim_parser(subparsers)``; the parsed namespace carries
``handler`` (``args.handler(args) -> int``).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import trio

from aqbot.errors import ConfigError
from aqbot.sim.faults import PROFILES
from aqbot.sim.info import write_info_file
from aqbot.sim.runner import SimConfig, run_loopback_simulator
from aqbot.sim.tape import Tape

logger = logging.getLogger(__name__)

MAX_MARKETS = 64
MAX_ACCOUNTS = 64


def _bounded(low: int, high: int) -> type[int]:
    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
        return value

    parse.__name__ = "integer"
    return parse  # type: ignore[return-value]


def add_sim_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Register ``sim`` on ``subparsers``; the namespace gets ``handler=run_sim_command``."""
    parser = subparsers.add_parser(
        "sim",
        help="run the exchange simulator on loopback",
        description="Serve a simulated Polymarket CLOB V2 (REST, WebSockets, Data API) until SIGINT/SIGTERM.",
    )
    _add_arguments(parser)
    parser.set_defaults(handler=run_sim_command)
    return parser


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=_bounded(0, 65535), default=0, help="REST port (0: ephemeral)")
    parser.add_argument("--ws-port", type=_bounded(0, 65535), default=0, help="WebSocket port (0: ephemeral)")
    parser.add_argument("--seed", type=int, default=1, help="seed of every random stream (default 1)")
    parser.add_argument(
        "--markets", type=_bounded(1, MAX_MARKETS), default=2, help="binary markets (default 2)"
    )
    parser.add_argument("--accounts", type=_bounded(1, MAX_ACCOUNTS), default=2, help="funded accounts")
    parser.add_argument("--faults", choices=sorted(PROFILES), default="none", help="fault profile")
    parser.add_argument("--no-flow", action="store_true", help="no synthetic makers and takers")
    parser.add_argument("--info-file", type=Path, help="write URLs, accounts and markets as JSON here")
    parser.add_argument("--tape", type=Path, help="stream the ground-truth tape (JSON lines) here")


def config_from_args(args: argparse.Namespace) -> SimConfig:
    """The :class:`SimConfig` the parsed arguments describe."""
    return SimConfig(
        seed=args.seed,
        markets=args.markets,
        faults=args.faults,
        accounts=args.accounts,
        flow=not args.no_flow,
        host=args.host,
        port=args.port,
        ws_port=args.ws_port,
    )


def run_sim_command(args: argparse.Namespace) -> int:
    """Run the simulator until a signal; 0 on a clean stop, 2 on a bad configuration (one line on stderr)."""
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        print(f"aqbot sim: {exc}", file=sys.stderr)
        return 2
    return trio.run(serve_until_signal, config, args.info_file, args.tape)


async def serve_until_signal(config: SimConfig, info_file: Path | None, tape_path: Path | None) -> int:
    """Serve on loopback, publish the info file, and stop on SIGINT/SIGTERM. Returns the exit code."""
    with contextlib.ExitStack() as stack:
        sink: TextIO | None = None
        if tape_path is not None:
            sink = stack.enter_context(tape_path.open("w", encoding="ascii"))
        tape = Tape(sink, keep=False)
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with trio.open_nursery() as nursery:
                handle = await nursery.start(run_loopback_simulator, config, tape)
                if info_file is not None:
                    write_info_file(handle.info, info_file)
                info = handle.info
                print(
                    f"aqbot sim: rest={info.rest_url} ws={info.ws_url} data_api={info.data_api_url}",
                    flush=True,
                )
                async for signum in signals:
                    logger.info("signal %d: stopping the simulator", signum)
                    break
                nursery.cancel_scope.cancel()
        if sink is not None:
            sink.flush()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m aqbot.sim.command``: the same options as ``aqbot sim``."""
    parser = argparse.ArgumentParser(prog="aqbot sim", description="Serve a simulated Polymarket CLOB V2.")
    _add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    return run_sim_command(args)


if __name__ == "__main__":
    sys.exit(main())
