"""Loading: TOML text -> dict -> (cattrs) -> :class:`Config` -> cross-field checks -> credentials.

Every failure is one :class:`aqbot.errors.ConfigError` whose ``str`` is one line:
``<field path>: <problem and fix>``, e.g. ``limits.max_position: must be > 0, got -5`` or
``limts: unknown key; did you mean 'limits'?``.

How the path is found: the converter is a private cattrs ``Converter`` with detailed validation and
extra keys forbidden. Its errors are exception groups whose members carry notes naming the attribute
or list index they belong to; :func:`_first_leaf` walks down the first member of each group and
collects those notes. attrs validators (which run in ``__init__``, outside cattrs' bookkeeping) raise
:class:`FieldProblem`, which names its own attribute.
"""

from __future__ import annotations

import difflib
import importlib.resources
import math
import re
import tomllib
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import attrs
import cattrs
from cattrs.errors import AttributeValidationNote, ForbiddenExtraKeysError, IterableValidationNote

from aqbot.config._model import Config, FieldProblem, MarketConfig
from aqbot.errors import ConfigError, SecretsError
from aqbot.secrets import Secret, load_credentials, load_telegram_token

# Keys shown as they are in a field path; anything else is quoted with repr().
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
# The exchange cancels every order when no heartbeat arrives for this long (PROTOCOL 1.6).
EXCHANGE_HEARTBEAT_DEADLINE = 10.0
# Keys that look like credentials; they are refused with a pointer to the env vars.
_SECRET_KEYS = frozenset(
    {"private_key", "api_key", "api_secret", "api_passphrase", "passphrase", "secret", "telegram_token",
     "bot_token", "credentials"}
)  # fmt: skip
_SECRET_HINT = {
    "private_key": "AQBOT_PRIVATE_KEY",
    "api_key": "AQBOT_API_KEY",
    "api_secret": "AQBOT_API_SECRET",
    "secret": "AQBOT_API_SECRET",
    "api_passphrase": "AQBOT_API_PASSPHRASE",
    "passphrase": "AQBOT_API_PASSPHRASE",
    "telegram_token": "AQBOT_TELEGRAM_TOKEN",
    "bot_token": "AQBOT_TELEGRAM_TOKEN",
}


def _describe(value: object) -> str:
    kinds = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array", dict: "table"}
    kind = kinds.get(type(value), type(value).__name__)
    if isinstance(value, list | dict):
        return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"
    shown = repr(value)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return f"{kind} {shown}"


def _strict_bool(value: object, _: type) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {_describe(value)}")
    return value


def _strict_int(value: object, _: type) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, got {_describe(value)}")
    return value


def _strict_float(value: object, _: type) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {_describe(value)}")
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(f"expected a finite number, got {value}")
    return result


def _strict_str(value: object, _: type) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {_describe(value)}")
    return value


def _decimal(value: object, _: type) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"expected a number, got {_describe(value)}")
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"expected a number, got {_describe(value)}") from None
    if not result.is_finite():
        raise ValueError(f"expected a finite number, got {_describe(value)}")
    return result


def _path(value: object, _: type) -> Path:
    if not isinstance(value, str) or not value or "\x00" in value:
        raise ValueError(f"expected a file path string, got {_describe(value)}")
    return Path(value)


def _no_secret(value: object, _: type) -> Secret:
    raise ValueError("secrets never go in the config file; use the AQBOT_* environment variables")


def _markets(value: object, _: type) -> tuple[MarketConfig, ...]:
    if not isinstance(value, list):
        raise ValueError(f"expected an array of tables ([[markets]]), got {_describe(value)}")
    markets = []
    for index, item in enumerate(value):
        try:
            markets.append(_CONVERTER.structure(item, MarketConfig))
        except (cattrs.BaseValidationError, ValueError) as exc:
            exc.add_note(IterableValidationNote(f"Structuring markets @ index {index}", index, MarketConfig))
            raise cattrs.IterableValidationError("invalid market", [exc], tuple) from None
    return tuple(markets)


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    conv.register_structure_hook(bool, _strict_bool)
    conv.register_structure_hook(int, _strict_int)
    conv.register_structure_hook(float, _strict_float)
    conv.register_structure_hook(str, _strict_str)
    conv.register_structure_hook(Decimal, _decimal)
    conv.register_structure_hook(Path, _path)
    conv.register_structure_hook(Secret, _no_secret)

    def attrs_factory(cl: type) -> Callable[[object, type], object]:
        inner: Callable[[Mapping[str, Any], Any], object] = cattrs.gen.make_dict_structure_fn(cl, conv)

        def structure(value: object, typ: type) -> object:
            if not isinstance(value, Mapping):
                raise ValueError(f"expected a table, got {_describe(value)}")
            return inner(value, typ)

        return structure

    conv.register_structure_hook_factory(attrs.has, attrs_factory)
    return conv


_CONVERTER = _make_converter()
_CONVERTER.register_structure_hook_func(lambda t: t == tuple[MarketConfig, ...], _markets)


def _first_leaf(exc: BaseException, path: list[str | int]) -> tuple[list[str | int], BaseException]:
    """Follow the first member of nested cattrs exception groups, collecting attribute/index notes."""
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
        for note in getattr(exc, "__notes__", ()):
            if isinstance(note, AttributeValidationNote):
                path = [*path, note.name]
            elif isinstance(note, IterableValidationNote):
                path = [*path, note.index]
    return path, exc


def _join(path: list[str | int]) -> str:
    """``limits.max_position``, ``markets[0].size`` (ints are list indices); odd keys are quoted."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            key = part if _BARE_KEY.fullmatch(part) else repr(part)
            out += "." + key if out else key
    return out or "<config>"


def _to_config_error(exc: BaseException) -> ConfigError:
    path, leaf = _first_leaf(exc, [])
    if isinstance(leaf, ForbiddenExtraKeysError):
        key = sorted(str(k) for k in leaf.extra_fields)[0]
        return ConfigError(_join([*path, key]), _unknown_key_problem(key, leaf.cl))
    if isinstance(leaf, FieldProblem):
        return ConfigError(_join([*path, leaf.name] if leaf.name else path), leaf.problem)
    if isinstance(leaf, ValueError | TypeError | KeyError):
        return ConfigError(_join(path), str(leaf) or type(leaf).__name__)
    return ConfigError(_join(path), f"invalid value ({type(leaf).__name__})")


def _unknown_key_problem(key: str, cl: type) -> str:
    if key in _SECRET_KEYS:
        env = _SECRET_HINT.get(key, "AQBOT_* environment variables")
        return f"secrets never go in the config file; set {env} in the environment or use account.key_file"
    names = [f.name for f in attrs.fields(cl) if f.name not in ("credentials", "telegram_token")]
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(names)}"
    return f"unknown key; {hint}"


def _reject_secret_keys(data: Mapping[str, Any]) -> None:
    for key in ("credentials", "telegram_token"):
        if key in data:
            raise ConfigError(key, _unknown_key_problem(key, Config))


def _check(config: Config) -> None:
    """Cross-field rules that no single attribute validator can see."""
    account = config.account
    if account.signature_type != 0 and account.funder is None:
        raise ConfigError(
            "account.funder",
            f"required when account.signature_type is {account.signature_type} (the wallet holding funds)",
        )
    seen: dict[tuple[str | None, str | None, str | None], int] = {}
    for i, market in enumerate(config.markets):
        where = f"markets[{i}]"
        if market.condition_id is None and (market.yes_token is None or market.no_token is None):
            raise ConfigError(where, "set condition_id, or both yes_token and no_token")
        if market.yes_token is not None and market.yes_token == market.no_token:
            raise ConfigError(f"{where}.no_token", "must differ from yes_token")
        key = (market.condition_id, market.yes_token, market.no_token)
        if key in seen:
            raise ConfigError(where, f"duplicate of markets[{seen[key]}]")
        seen[key] = i
    limits = config.limits
    if limits.max_market_notional > limits.max_global_notional:
        raise ConfigError(
            "limits.max_market_notional",
            f"must be <= limits.max_global_notional ({limits.max_global_notional}), "
            f"got {limits.max_market_notional}",
        )
    timers = config.timers
    if timers.heartbeat_interval >= EXCHANGE_HEARTBEAT_DEADLINE:
        raise ConfigError(
            "timers.heartbeat_interval",
            f"must be < {EXCHANGE_HEARTBEAT_DEADLINE:g} (the exchange cancels all orders after "
            f"{EXCHANGE_HEARTBEAT_DEADLINE:g} s without one), got {timers.heartbeat_interval:g}",
        )
    if timers.ws_ping_interval >= timers.ws_stale:
        raise ConfigError(
            "timers.ws_ping_interval",
            f"must be < timers.ws_stale ({timers.ws_stale:g}), got {timers.ws_ping_interval:g}",
        )


def config_from_dict(data: Mapping[str, Any]) -> Config:
    """Structure and validate a parsed TOML document. No I/O: credentials stay ``None``.

    Raises:
        ConfigError: the first problem found, as one line naming the field path.
    """
    if not isinstance(data, Mapping):
        raise ConfigError("<config>", f"expected a table, got {_describe(data)}")
    _reject_secret_keys(data)
    try:
        config = _CONVERTER.structure(data, Config)
    except ConfigError:
        raise
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        raise _to_config_error(exc) from None
    _check(config)
    return config


def config_from_toml(text: str | bytes, *, source: str = "<config>") -> Config:
    """Parse TOML text (or UTF-8 bytes) and return :func:`config_from_dict` of it.

    Raises:
        ConfigError: invalid UTF-8 or TOML (field = ``source``), or any problem of the content.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(source, f"not UTF-8 text (byte {exc.start})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, f"invalid TOML: {exc}") from None
    return config_from_dict(data)


def default_config_path() -> Path:
    """The shipped paper-trading configuration, ``aqbot/data/default.toml``."""
    return Path(str(importlib.resources.files("aqbot") / "data" / "default.toml"))


def load_config(path: Path | str | None, env: Mapping[str, str]) -> Config:
    """Read ``path`` (``None``: the shipped default), validate it and load credentials from ``env``.

    Credentials come from ``account.key_file`` (mode 0600, ours) when set, else from ``AQBOT_PRIVATE_KEY``,
    ``AQBOT_API_KEY``, ``AQBOT_API_SECRET``, ``AQBOT_API_PASSPHRASE``; ``Config.credentials`` is ``None``
    when there are none (paper trading). The Telegram token comes from ``AQBOT_TELEGRAM_TOKEN``.

    Raises:
        ConfigError: the file cannot be read or any value is invalid.
        SecretsError: a key file is unsafe, credentials are partial, or a Telegram chat id is configured
            without its token.
    """
    file = default_config_path() if path is None else Path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ConfigError(str(file), f"cannot read the config file ({exc.strerror or exc})") from None
    config = config_from_toml(raw, source=str(file))
    key_file = config.account.key_file
    credentials = load_credentials(env, key_file)
    token = load_telegram_token(env, key_file)
    if config.alerts.telegram_chat_id is not None and token is None:
        raise SecretsError(
            "alerts.telegram_chat_id is set but AQBOT_TELEGRAM_TOKEN is not (set it, or remove the chat id)"
        )
    return attrs.evolve(config, credentials=credentials, telegram_token=token)


def require_credentials(config: Config) -> None:
    """Raise :class:`SecretsError` unless ``config`` carries trading credentials (live trading)."""
    if config.credentials is None:
        raise SecretsError(
            "no credentials: set AQBOT_PRIVATE_KEY (and optionally AQBOT_API_KEY, AQBOT_API_SECRET, "
            "AQBOT_API_PASSPHRASE) or account.key_file"
        )
