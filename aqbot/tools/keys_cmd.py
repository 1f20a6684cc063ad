"""``aqbot keys derive``: turn the wallet's private key (L1) into CLOB API credentials (L2).

::

    aqbot keys derive [--host URL] [--chain-id 137] [--nonce 0] [--key-file FILE]
                      (--out KEYFILE [--force] | --show-secrets)

The private key comes from ``--key-file`` (mode 0600, ``AQBOT_PRIVATE_KEY=0x...``) or the environment
variable ``AQBOT_PRIVATE_KEY``. The command signs an L1 ``ClobAuth`` message over the server's ``/time``,
asks ``GET /auth/derive-api-key`` for the key of that nonce and, if the exchange has none yet, creates it
with ``POST /auth/api-key``. It prints the API key (an identifier). The secret and passphrase go to the
``--out`` file (created mode 0600, ``KEY=VALUE`` lines that ``account.key_file`` reads), or to stdout only
with ``--show-secrets``.

Exit codes: 0 derived; 1 the exchange refused or could not be reached; 2 bad usage (no private key, no
destination for the secrets, ``--out`` exists): one line on stderr, nothing sent, nothing written.
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

from aqbot.auth.keys import SigningKey
from aqbot.auth.l1 import l1_headers
from aqbot.auth.l2 import ApiCreds
from aqbot.errors import AuthError, ExchangeError, SecretsError, TransportError, WireError
from aqbot.io.ratelimit import RateLimiter
from aqbot.io.rest import RestTransport
from aqbot.secrets import ENV_API_KEY, ENV_API_PASSPHRASE, ENV_API_SECRET, ENV_PRIVATE_KEY, read_key_file
from aqbot.tools.common import (
    EXIT_OK,
    EXIT_PROBLEM,
    ToolParser,
    UsageError,
    fail,
    non_negative_int,
    one_line_errors,
    positive_int,
    run_guarded,
)
from aqbot.wire.account import ApiCreds as WireApiCreds
from aqbot.wire.codec import decode_rest

log = logging.getLogger(__name__)

DEFAULT_HOST = "https://clob.polymarket.com"
# Bound on the whole derivation (two or three requests).
DERIVE_TIMEOUT = 30.0


def load_private_key(key_file: Path | None, env: Mapping[str, str]) -> SigningKey:
    """The signer key from ``key_file`` (checked 0600) or ``AQBOT_PRIVATE_KEY``.

    Raises:
        UsageError: missing, unsafe or invalid (the message never contains the key).
    """
    try:
        if key_file is not None:
            value = read_key_file(key_file).get(ENV_PRIVATE_KEY)
            if value is None or not value.reveal():
                raise UsageError(f"--key-file {key_file}: holds no {ENV_PRIVATE_KEY}=0x... line")
            return SigningKey.from_hex(value.reveal())
        text = env.get(ENV_PRIVATE_KEY, "")
        if not text:
            raise UsageError(f"no private key: set {ENV_PRIVATE_KEY} or pass --key-file FILE (mode 0600)")
        return SigningKey.from_hex(text)
    except SecretsError as exc:
        raise UsageError(str(exc)) from None


async def derive_api_creds(
    http: httpx2.AsyncClient,
    key: SigningKey,
    chain_id: int,
    nonce: int = 0,
    *,
    wall_clock: Callable[[], float] = time.time,
) -> tuple[ApiCreds, str]:
    """Derive (or, when the exchange has none for ``nonce``, create) the API credentials of ``key``.

    Returns the credentials and how they were obtained (``derived`` or ``created``).

    Raises:
        AuthError: the exchange refused the L1 signature.
        ExchangeError, TransportError, WireError: another failure.
    """
    rest = RestTransport(http, RateLimiter(), None, wall_clock=wall_clock)
    try:
        response = await rest.request("GET", "/time")
        timestamp = int(decode_rest(response.content, int))
    except (ExchangeError, WireError) as exc:
        log.info("GET /time failed (%s); signing with the local clock", exc)
        timestamp = int(wall_clock())
    headers = l1_headers(key, chain_id, timestamp, nonce)
    how = "derived"
    try:
        response = await _l1_request(rest, "GET", "/auth/derive-api-key", headers)
    except AuthError:
        raise
    except ExchangeError as exc:
        log.info("derive-api-key refused (%s): creating a key", exc)
        response = await _l1_request(rest, "POST", "/auth/api-key", headers)
        how = "created"
    wire = decode_rest(response.content, WireApiCreds)
    return ApiCreds(wire.api_key, wire.secret.reveal(), wire.passphrase.reveal()), how


async def _l1_request(
    rest: RestTransport, method: str, path: str, headers: Mapping[str, str]
) -> httpx2.Response:
    try:
        response = await rest.http.request(method, path, headers=dict(headers))
    except (httpx2.TransportError, httpx2.DecodingError, httpx2.StreamError) as exc:
        raise TransportError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
    if response.status_code == 401:
        raise AuthError(f"{method} {path}: 401: the L1 signature was refused", status=401)
    if not 200 <= response.status_code < 300:
        raise ExchangeError(f"{method} {path}: {response.status_code}", status=response.status_code)
    return response


def write_key_file(path: Path, creds: ApiCreds) -> None:
    """Write the three API values as ``KEY=VALUE`` lines, mode 0600 from creation, atomically."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    text = (
        f"# CLOB API credentials written by `aqbot keys derive` (keep this file mode 0600)\n"
        f"{ENV_API_KEY}={creds.api_key}\n{ENV_API_SECRET}={creds.secret}\n"
        f"{ENV_API_PASSPHRASE}={creds.passphrase}\n"
    )
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def _check_out(args: argparse.Namespace) -> None:
    if args.out is None and not args.show_secrets:
        raise UsageError(
            "the secret and passphrase need a destination: pass --out KEYFILE (written mode 0600) "
            "or --show-secrets (prints them to stdout)"
        )
    if args.out is not None:
        if args.out.exists() and not args.force:
            raise UsageError(f"--out {args.out}: exists; pass --force to replace it")
        if not args.out.parent.is_dir():
            raise UsageError(f"--out {args.out}: directory {args.out.parent} does not exist")


def derive_command(args: argparse.Namespace, *, transport: httpx2.AsyncBaseTransport | None = None) -> int:
    prog = "aqbot keys derive"

    def body() -> int:
        _check_out(args)
        key = load_private_key(args.key_file, os.environ)

        async def run() -> tuple[ApiCreds, str]:
            with trio.fail_after(DERIVE_TIMEOUT):
                async with httpx2.AsyncClient(base_url=args.host, transport=transport) as http:
                    return await derive_api_creds(http, key, args.chain_id, args.nonce)

        try:
            creds, how = trio.run(run)
        except AuthError:
            print(
                f"{prog}: FAIL: {args.host} refused the L1 signature of {key.address} (401): check "
                f"--chain-id (137 Polygon, 80002 Amoy) and that the local clock is right",
                file=sys.stderr,
            )
            return EXIT_PROBLEM
        except (ExchangeError, TransportError, WireError, trio.TooSlowError) as exc:
            print(
                f"{prog}: FAIL: could not derive an API key from {args.host}: {exc or 'timed out'}",
                file=sys.stderr,
            )
            return EXIT_PROBLEM
        print(f"api key: {creds.api_key} ({how} for signer {key.address}, nonce {args.nonce})")
        if args.out is not None:
            write_key_file(args.out, creds)
            print(
                f"{prog}: wrote {ENV_API_KEY}, {ENV_API_SECRET}, {ENV_API_PASSPHRASE} to {args.out} (mode "
                f'0600): set account.key_file = "{args.out}" and add {ENV_PRIVATE_KEY}=0x... to it, or keep '
                f"{ENV_PRIVATE_KEY} in the environment",
                file=sys.stderr,
            )
        if args.show_secrets:
            print(
                f"{ENV_API_KEY}={creds.api_key}\n{ENV_API_SECRET}={creds.secret}\n"
                f"{ENV_API_PASSPHRASE}={creds.passphrase}"
            )
        return EXIT_OK

    return run_guarded(prog, body)


def add_keys_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``keys`` (with ``derive``); sets ``handler``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "keys", help="derive CLOB API credentials from the wallet key", description="API key tools."
    )
    one_line_errors(parser)
    parser.set_defaults(
        handler=lambda _args: fail(parser.prog, "missing subcommand: try `aqbot keys derive`")
    )
    subs = parser.add_subparsers(dest="keys_command", metavar="SUBCOMMAND", parser_class=ToolParser)
    derive = subs.add_parser(
        "derive",
        help="derive (or create) the API key of the wallet (L1 -> L2)",
        description="Derive the CLOB API key of the private key in AQBOT_PRIVATE_KEY or --key-file. "
        "Exit codes: 0 ok, 1 the exchange refused or is unreachable, 2 bad usage.",
    )
    derive.add_argument(
        "--host", default=DEFAULT_HOST, metavar="URL", help=f"CLOB REST base (default {DEFAULT_HOST})"
    )
    derive.add_argument(
        "--chain-id", type=positive_int, default=137, metavar="ID", help="137 Polygon, 80002 Amoy"
    )
    derive.add_argument(
        "--nonce", type=non_negative_int, default=0, metavar="N", help="API key nonce (default 0)"
    )
    derive.add_argument(
        "--key-file", type=Path, metavar="FILE", help=f"0600 file with {ENV_PRIVATE_KEY}=0x..."
    )
    derive.add_argument(
        "--out", type=Path, metavar="KEYFILE", help="write the API credentials here (mode 0600)"
    )
    derive.add_argument("--force", action="store_true", help="replace --out if it exists")
    derive.add_argument(
        "--show-secrets", action="store_true", help="print the secret and passphrase to stdout"
    )
    derive.set_defaults(handler=derive_command)
    return parser


__all__ = ["add_keys_parser", "derive_api_creds", "derive_command"]
