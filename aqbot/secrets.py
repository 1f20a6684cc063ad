"""Credentials: a ``Secret`` wrapper, loading from the environment or a 0600 key file, and log redaction.

Design:

* :class:`Secret` wraps a string so that ``repr``, ``str`` and ``format`` all give ``'***'``; only
  :meth:`Secret.reveal` returns the value. It is deliberately *not* a ``str`` subclass: a subclass would
  leak through concatenation, ``json.dumps`` and f-string conversions.
* Every ``Secret`` registers its value in a process-wide :class:`SecretRegistry` (values shorter than
  ``MIN_REGISTERED_LENGTH`` are not registered, so a test secret like ``"x"`` cannot blank out every
  ``x`` in the logs). This registry is the one deliberate piece of global state in aqbot: redaction must
  cover every log record of the process, including records emitted before the composition root could
  hand a registry to anyone, and forgetting to register a secret must be impossible.
* :class:`RedactingFilter` is a ``logging.Filter`` for handlers: it renders each record's message, its
  exception text, its stack text and its extra fields, and replaces registered values and secret-looking
  patterns with ``***``.

Patterns redacted even when the value was never registered:

* ``name=value`` / ``"name": "value"`` pairs whose name says private key, secret, passphrase, password
  or bot/auth token;
* 44-character base64 strings ending in ``=`` (the shape of an L2 API secret);
* bare 64-digit hex strings (the shape of a passphrase, or of a private key without ``0x``);
* Telegram bot tokens (``<digits>:<30+ chars>``).

A ``0x`` + 64 hex string is *not* redacted by pattern alone, because order ids, condition ids and
transaction hashes have exactly that shape and logs without them are useless. A private key is caught by
value (it is registered as soon as it is loaded) and by the ``private_key=`` context pattern.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import stat
import threading
import tomllib
from collections.abc import Iterable, Mapping
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import NoReturn

import attrs

from aqbot.errors import SecretsError

log = logging.getLogger(__name__)

# What every redacted value is replaced by.
MASK = "***"
# Values shorter than this are not registered for redaction (they would mask ordinary words).
MIN_REGISTERED_LENGTH = 8

# Environment variables read by :func:`load_credentials` and :func:`load_telegram_token`.
ENV_PRIVATE_KEY = "AQBOT_PRIVATE_KEY"
ENV_API_KEY = "AQBOT_API_KEY"
ENV_API_SECRET = "AQBOT_API_SECRET"
ENV_API_PASSPHRASE = "AQBOT_API_PASSPHRASE"
ENV_TELEGRAM_TOKEN = "AQBOT_TELEGRAM_TOKEN"
_API_TRIPLE = (ENV_API_KEY, ENV_API_SECRET, ENV_API_PASSPHRASE)
_CREDENTIAL_NAMES = (ENV_PRIVATE_KEY, *_API_TRIPLE, ENV_TELEGRAM_TOKEN)

_KEY_VALUE_LINE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")

# Secret-looking shapes (see the module docstring for why bare 0x+64 hex is not among them).
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"(?i)((?:private[_ -]?key|secret|passphrase|password|(?:bot|telegram|auth|access)[_ -]?token)"
            r"['\"]?\s*[:=]\s*['\"]?)"
            r"([^\s'\",;}]+)"
        ),
        r"\1" + MASK,
    ),
    (re.compile(r"(?<![A-Za-z0-9_\-+/])[A-Za-z0-9_\-+/]{43}=(?![A-Za-z0-9=])"), MASK),
    (re.compile(r"(?<![0-9A-Fa-fxX])[0-9a-fA-F]{64}(?![0-9a-fA-F])"), MASK),
    (re.compile(r"(?<![0-9])[0-9]{6,12}:[A-Za-z0-9_\-]{30,}"), MASK),
)


class SecretRegistry:
    """A thread-safe set of secret values to redact (logging may run in worker threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: frozenset[str] = frozenset()
        self._longest_first: tuple[str, ...] = ()

    def register(self, value: str) -> None:
        """Add ``value`` to the set (ignored when shorter than ``MIN_REGISTERED_LENGTH``)."""
        if len(value) < MIN_REGISTERED_LENGTH or value in self._values:
            return
        with self._lock:
            self._values = self._values | {value}
            self._longest_first = tuple(sorted(self._values, key=len, reverse=True))

    def values(self) -> frozenset[str]:
        """An immutable snapshot of the registered values."""
        return self._values

    def longest_first(self) -> tuple[str, ...]:
        """The values, longest first (so a value containing another is masked whole)."""
        return self._longest_first


DEFAULT_REGISTRY = SecretRegistry()
"""The process-wide registry every :class:`Secret` registers into (see the module docstring)."""


class Secret:
    """A secret string whose ``repr``/``str``/``format`` are ``'***'``.

    Equality compares in constant time. Secrets are hashable (so a frozen config holding them is too;
    a SipHash of the value reveals nothing usable) but refuse to be pickled, so they do not end up in
    files or subprocess arguments by accident.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str, *, registry: SecretRegistry = DEFAULT_REGISTRY) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret wraps a str")
        self._value = value
        registry.register(value)

    def reveal(self) -> str:
        """The secret value itself. Call it only where the value is used (signing, an HTTP header)."""
        return self._value

    def __repr__(self) -> str:
        return MASK

    def __str__(self) -> str:
        return MASK

    def __format__(self, format_spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(("aqbot.Secret", self._value))

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")

    def __bool__(self) -> bool:
        return bool(self._value)


@attrs.frozen
class Credentials:
    """The bot's credentials. ``api_*`` are all set or all ``None`` (then derived with L1 auth)."""

    private_key: Secret
    api_key: Secret | None = None
    api_secret: Secret | None = None
    api_passphrase: Secret | None = None

    @property
    def has_api_credentials(self) -> bool:
        return self.api_key is not None


def redact_text(text: str, registry: SecretRegistry = DEFAULT_REGISTRY) -> str:
    """``text`` with every registered value and every secret-looking pattern replaced by ``***``."""
    for value in registry.longest_first():
        if value in text:
            text = text.replace(value, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


# LogRecord attributes that are not "extra" fields.
_STANDARD_RECORD_ATTRS = frozenset(
    vars(logging.LogRecord("n", logging.INFO, "p", 1, "m", None, None)).keys() | {"message", "asctime"}
)


class RedactingFilter(logging.Filter):
    """Redacts secrets from each record's message, exception text, stack text and extra fields.

    Install it on *handlers* (a logger-level filter does not see records propagated from child
    loggers). The record is rewritten in place: ``msg`` becomes the rendered, redacted message,
    ``args`` becomes ``()``, and ``exc_text`` holds the redacted traceback (formatters use
    ``exc_text`` when it is set).
    """

    def __init__(self, registry: SecretRegistry = DEFAULT_REGISTRY) -> None:
        super().__init__()
        self._registry = registry
        self._exc_formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = f"{record.msg!r} (unformattable args)"
        record.msg = redact_text(message, self._registry)
        record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = self._exc_formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text, self._registry)
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info, self._registry)
        for name, value in list(vars(record).items()):
            if name in _STANDARD_RECORD_ATTRS:
                continue
            if isinstance(value, str):
                setattr(record, name, redact_text(value, self._registry))
            elif not isinstance(value, int | float | bool | type(None) | Decimal | Enum | Secret):
                setattr(record, name, redact_text(repr(value), self._registry))
        return True


def _normalise_name(name: str) -> str:
    """``AQBOT_PRIVATE_KEY`` and ``private_key`` both become ``AQBOT_PRIVATE_KEY``."""
    upper = name.strip().upper()
    return upper if upper.startswith("AQBOT_") else "AQBOT_" + upper


def check_key_file(path: Path) -> None:
    """Refuse a key file that is not a regular file owned by us with mode 0600 (or stricter).

    Raises:
        SecretsError: naming the file and the fix, never the content.
    """
    try:
        st = path.stat()
    except OSError as exc:
        raise SecretsError(f"key file {path}: cannot stat ({exc.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise SecretsError(f"key file {path}: not a regular file")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise SecretsError(f"key file {path}: mode {mode:04o} lets others read it; run `chmod 600 {path}`")
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise SecretsError(f"key file {path}: owned by uid {st.st_uid}, not by the user running aqbot")


def read_key_file(path: Path) -> dict[str, Secret]:
    """Read a key file (TOML, or ``KEY=VALUE`` lines) after :func:`check_key_file`.

    Keys may be written ``private_key`` or ``AQBOT_PRIVATE_KEY``; the result is keyed by the env-var
    names. Blank lines and ``#`` comments are ignored in the ``KEY=VALUE`` form; values may be quoted.

    Raises:
        SecretsError: unsafe file, unreadable file, an unparsable line (named by number) or an unknown key.
    """
    check_key_file(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretsError(f"key file {path}: cannot read ({type(exc).__name__})") from None
    raw: dict[str, object]
    try:
        raw = dict(tomllib.loads(text))
    except tomllib.TOMLDecodeError:
        raw = {}
    if not raw or not all(isinstance(v, str) for v in raw.values()):
        # Not TOML, or TOML that read an unquoted 0x... value as a number: parse as KEY=VALUE lines.
        raw = {}
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            match = _KEY_VALUE_LINE.match(line)
            if match is None:
                raise SecretsError(f"key file {path}: line {lineno} is not KEY=VALUE")
            raw[match.group(1)] = match.group(2).strip().strip("'\"")
    result: dict[str, Secret] = {}
    for name, value in raw.items():
        key = _normalise_name(name)
        if key not in _CREDENTIAL_NAMES:
            raise SecretsError(f"key file {path}: unknown key {name!r} (expected one of {_names()})")
        if not isinstance(value, str):
            raise SecretsError(f"key file {path}: {name} must be a string")
        result[key] = Secret(value)
    return result


def _names() -> str:
    return ", ".join(n.removeprefix("AQBOT_").lower() for n in _CREDENTIAL_NAMES)


def _from_sources(name: str, env: Mapping[str, str], file_values: Mapping[str, Secret]) -> Secret | None:
    if name in file_values and file_values[name].reveal():
        return file_values[name]
    value = env.get(name, "")
    return Secret(value) if value else None


def load_credentials(env: Mapping[str, str], key_file: Path | None = None) -> Credentials | None:
    """Load the trading credentials from a key file (when given) and the environment.

    Values in the key file win over the environment. Returns ``None`` when no credential at all is
    present (paper trading: the runner supplies the simulator's).

    Raises:
        SecretsError: the key file is unsafe or unreadable, the private key is missing while API
            credentials are present, or only some of the three API credentials are present.
    """
    file_values = read_key_file(key_file) if key_file is not None else {}
    found = {name: _from_sources(name, env, file_values) for name in (ENV_PRIVATE_KEY, *_API_TRIPLE)}
    if all(v is None for v in found.values()):
        if key_file is not None:
            raise SecretsError(f"key file {key_file}: holds no {ENV_PRIVATE_KEY}")
        return None
    private_key = found[ENV_PRIVATE_KEY]
    where = f"key file {key_file} or the environment" if key_file else "the environment"
    if private_key is None:
        raise SecretsError(f"{ENV_PRIVATE_KEY} is not set in {where} (API credentials alone cannot sign)")
    missing = [name for name in _API_TRIPLE if found[name] is None]
    if missing and len(missing) < len(_API_TRIPLE):
        raise SecretsError(
            f"{', '.join(missing)} not set in {where}: set all of {', '.join(_API_TRIPLE)} or none"
        )
    return Credentials(
        private_key=private_key,
        api_key=found[ENV_API_KEY],
        api_secret=found[ENV_API_SECRET],
        api_passphrase=found[ENV_API_PASSPHRASE],
    )


def load_telegram_token(env: Mapping[str, str], key_file: Path | None = None) -> Secret | None:
    """The Telegram bot token from the key file or ``AQBOT_TELEGRAM_TOKEN``; ``None`` when absent."""
    file_values = read_key_file(key_file) if key_file is not None else {}
    return _from_sources(ENV_TELEGRAM_TOKEN, env, file_values)


def register_all(secrets: Iterable[Secret | None], registry: SecretRegistry = DEFAULT_REGISTRY) -> None:
    """Register values with another registry (the default one already has every ``Secret``)."""
    for secret in secrets:
        if secret is not None:
            registry.register(secret.reveal())
