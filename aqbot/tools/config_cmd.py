"""``aqbot config check FILE``: validate a configuration and its credentials without touching the network.

Prints one ``ok:``/``FAIL:`` line per check (each FAIL says precisely what to fix) and a short summary
(account, markets, limits). Credentials are never printed: only which variable or key file provides each
one, and the public signer address derived from the private key.

Exit codes: 0 every check passed; 1 a check failed (missing or unsafe credentials, a market a live run
cannot quote, ...); 2 the file is missing or is not a valid configuration (one line on stderr, the
``field.path: problem`` of :mod:`aqbot.config`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from aqbot.auth.keys import SigningKey
from aqbot.auth.l2 import ApiCreds
from aqbot.config import Config, config_from_toml
from aqbot.errors import ConfigError, SecretsError
from aqbot.secrets import (
    ENV_API_KEY,
    ENV_API_PASSPHRASE,
    ENV_API_SECRET,
    ENV_PRIVATE_KEY,
    Credentials,
    check_key_file,
    load_credentials,
    load_telegram_token,
    read_key_file,
)
from aqbot.tools.common import (
    EXIT_OK,
    EXIT_PROBLEM,
    ToolParser,
    UsageError,
    fail,
    one_line_errors,
    run_guarded,
)

log = logging.getLogger(__name__)

SIGNATURE_TYPES = {0: "EOA", 1: "POLY_PROXY", 2: "POLY_GNOSIS_SAFE", 3: "POLY_1271"}
DERIVE_HINT = "derive them with `aqbot keys derive --out KEYFILE` and point account.key_file at KEYFILE"


@attrs.frozen
class Check:
    """One check line: ``ok: text`` or ``FAIL: text``."""

    ok: bool
    text: str

    def line(self) -> str:
        return f"{'ok' if self.ok else 'FAIL'}: {self.text}"


@attrs.define
class ConfigCheck:
    """What :func:`check_config` found. ``key``/``creds`` are set when usable credentials were loaded."""

    config: Config
    checks: list[Check] = attrs.Factory(list)
    summary: list[str] = attrs.Factory(list)
    key: SigningKey | None = None
    creds: ApiCreds | None = None

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


def read_config(path: Path) -> Config:
    """Parse and validate ``path`` (no credentials).

    Raises:
        UsageError: unreadable, or invalid (the one-line ``field: problem``).
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the config file ({exc.strerror or exc})") from None
    try:
        return config_from_toml(raw, source=str(path))
    except ConfigError as exc:
        raise UsageError(f"{path}: {exc}") from None


def _sources(env: Mapping[str, str], key_file: Path | None) -> dict[str, str]:
    file_values = {}
    if key_file is not None:
        try:
            file_values = read_key_file(key_file)
        except SecretsError:
            file_values = {}
    out = {}
    for name in (ENV_PRIVATE_KEY, ENV_API_KEY, ENV_API_SECRET, ENV_API_PASSPHRASE):
        if name in file_values and file_values[name].reveal():
            out[name] = f"key file {key_file}"
        elif env.get(name):
            out[name] = "the environment"
    return out


def _credentials(report: ConfigCheck, env: Mapping[str, str]) -> None:
    config = report.config
    key_file = config.account.key_file
    if key_file is not None:
        try:
            check_key_file(key_file)
        except SecretsError as exc:
            report.checks.append(Check(False, str(exc)))
            return
        report.checks.append(Check(True, f"key file {key_file}: a regular file of ours, mode 0600"))
    try:
        creds: Credentials | None = load_credentials(env, key_file)
    except SecretsError as exc:
        report.checks.append(Check(False, str(exc)))
        return
    if creds is None:
        where = (
            f"in {key_file} or the environment"
            if key_file
            else "in the environment (or use account.key_file)"
        )
        report.checks.append(
            Check(
                False,
                f"no credentials: set {ENV_PRIVATE_KEY} {where}; {ENV_API_KEY}, "
                f"{ENV_API_SECRET}, {ENV_API_PASSPHRASE}: {DERIVE_HINT}",
            )
        )
        return
    sources = _sources(env, key_file)
    try:
        key = SigningKey.from_hex(creds.private_key.reveal())
    except SecretsError as exc:
        report.checks.append(Check(False, f"{ENV_PRIVATE_KEY} (from {sources.get(ENV_PRIVATE_KEY)}): {exc}"))
        return
    report.key = key
    report.checks.append(
        Check(True, f"private key from {sources.get(ENV_PRIVATE_KEY)}: signer {key.address}")
    )
    if config.account.address is not None and config.account.address.lower() != key.address.lower():
        report.checks.append(
            Check(
                False,
                f"account.address {config.account.address} is not the address of "
                f"{ENV_PRIVATE_KEY} ({key.address}): fix one of them",
            )
        )
    if not creds.has_api_credentials:
        report.checks.append(
            Check(
                True,
                f"{ENV_API_KEY}, {ENV_API_SECRET}, {ENV_API_PASSPHRASE} are not set: `aqbot run` derives "
                f"them from the private key at startup (L1 auth); to pin them, {DERIVE_HINT}",
            )
        )
        return
    assert creds.api_key is not None
    assert creds.api_secret is not None
    assert creds.api_passphrase is not None
    try:
        report.creds = ApiCreds(
            creds.api_key.reveal(), creds.api_secret.reveal(), creds.api_passphrase.reveal()
        )
    except SecretsError as exc:
        report.checks.append(
            Check(False, f"{ENV_API_SECRET} (from {sources.get(ENV_API_SECRET)}): {exc}; {DERIVE_HINT}")
        )
        return
    report.checks.append(
        Check(
            True,
            f"API key {report.creds.api_key} with its secret and passphrase "
            f"(from {sources.get(ENV_API_KEY)})",
        )
    )


def _markets(report: ConfigCheck) -> None:
    config = report.config
    enabled = [(i, m) for i, m in enumerate(config.markets) if m.enabled]
    if not enabled:
        report.checks.append(
            Check(
                False,
                "markets: no enabled [[markets]] entry: add one with condition_id, "
                "yes_token and no_token (a live run quotes only configured markets)",
            )
        )
        return
    for i, m in enabled:
        missing = [n for n in ("condition_id", "yes_token", "no_token") if getattr(m, n) is None]
        if missing:
            report.checks.append(
                Check(
                    False,
                    f"markets[{i}]: {', '.join(missing)} missing (`aqbot run` needs "
                    "all three; find them with GET /clob-markets/<condition_id>)",
                )
            )
        else:
            report.checks.append(
                Check(
                    True,
                    f"markets[{i}] {m.condition_id}: max_position "
                    f"{config.max_position_for(m)}, max_notional "
                    f"{config.max_notional_for(m)} pUSD",
                )
            )


def check_config(path: Path, env: Mapping[str, str]) -> ConfigCheck:
    """Validate ``path`` and the credentials it points at.

    Raises:
        UsageError: the file is missing or invalid.
    """
    config = read_config(path)
    report = ConfigCheck(config)
    report.checks.append(Check(True, f"{path}: valid configuration"))
    _credentials(report, env)
    if config.alerts.telegram_chat_id is not None:
        try:
            token = load_telegram_token(env, config.account.key_file)
        except SecretsError:
            token = None
        if token is None:
            report.checks.append(
                Check(
                    False,
                    "alerts.telegram_chat_id is set but AQBOT_TELEGRAM_TOKEN is not: "
                    "set it (environment or key file) or remove the chat id",
                )
            )
    _markets(report)
    a, lim, e = config.account, config.limits, config.endpoints
    signer = report.key.address if report.key else (a.address or "unknown")
    report.summary = [
        f"endpoints: clob {e.clob_url}, ws {e.ws_url}, data api {e.data_api_url}, chain {e.chain_id}",
        f"account: signer {signer}, funder {a.funder or signer}, signature type {a.signature_type} "
        f"({SIGNATURE_TYPES.get(a.signature_type, '?')})",
        f"limits: max_position {lim.max_position} shares/token, market notional {lim.max_market_notional}, "
        f"global notional {lim.max_global_notional}, daily loss {lim.daily_loss_limit} pUSD",
        f"markets: {sum(1 for m in config.markets if m.enabled)} enabled of {len(config.markets)}; "
        f"ledger {config.ledger.path} (synchronous={config.ledger.synchronous}); dry_run={config.dry_run}",
    ]
    return report


def print_checks(checks: list[Check], out: Any) -> None:
    for check in checks:
        out.write(check.line() + "\n")


def config_check_command(args: argparse.Namespace) -> int:
    def body() -> int:
        report = check_config(args.file, os.environ)
        print_checks(report.checks, sys.stdout)
        for line in report.summary:
            sys.stdout.write(f"  {line}\n")
        return EXIT_OK if report.ok else EXIT_PROBLEM

    return run_guarded("aqbot config check", body)


def add_config_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``config`` (with ``check``); sets ``handler``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "config", help="check a configuration file", description="Configuration tools."
    )
    one_line_errors(parser)
    parser.set_defaults(
        handler=lambda _args: fail(parser.prog, "missing subcommand: try `aqbot config check FILE`")
    )
    subs = parser.add_subparsers(dest="config_command", metavar="SUBCOMMAND", parser_class=ToolParser)
    check = subs.add_parser(
        "check",
        help="validate the config and its credentials (no network)",
        description="Validate FILE, check that credentials are present and the key file is 0600, and print a "
        "summary. Exit codes: 0 ok, 1 a check failed, 2 the file is missing or invalid.",
    )
    check.add_argument("file", type=Path, metavar="FILE", help="TOML configuration")
    check.set_defaults(handler=config_check_command)
    return parser
