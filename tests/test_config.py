"""Configuration: defaults, the shipped paper config, one-line errors, credentials and key files."""

from __future__ import annotations

import os
import tomllib
import typing
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aqbot.config import (
    Config,
    EndpointsConfig,
    MarketConfig,
    config_from_dict,
    config_from_toml,
    default_config_path,
    load_config,
    require_credentials,
)
from aqbot.errors import ConfigError, SecretsError

PK = "0x" + "4c" * 32
API_SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I="
PASSPHRASE = "9f" * 32
COND = "0x" + "ab" * 32
FULL_ENV = {
    "AQBOT_PRIVATE_KEY": PK,
    "AQBOT_API_KEY": "1b2c3d4e-0000-4000-8000-123456789abc",
    "AQBOT_API_SECRET": API_SECRET,
    "AQBOT_API_PASSPHRASE": PASSPHRASE,
}


def test_shipped_default_is_paper_ready_without_env() -> None:
    config = load_config(None, {})
    assert config == Config()  # default.toml states exactly the built-in defaults
    assert config.credentials is None
    assert config.endpoints.clob_url == "https://clob.polymarket.com"
    assert config.endpoints.market_ws_url == "wss://ws-subscriptions-clob.polymarket.com/ws/market"
    assert config.endpoints.user_ws_url == "wss://ws-subscriptions-clob.polymarket.com/ws/user"
    assert config.endpoints.data_api_url == "https://data-api.polymarket.com"
    assert config.endpoints.chain_id == 137
    assert config.halt.halt_on_ws_gaps is True
    assert config.halt.ws_gap_reconcile_attempts == 3
    assert config.halt.ws_gap_recovery_interval_seconds == 30.0
    timers = config.timers
    assert (timers.reconcile_interval, timers.protection_window, timers.heartbeat_interval) == (
        60.0,
        60.0,
        5.0,
    )
    assert (timers.ws_ping_interval, timers.ws_stale) == (10.0, 30.0)
    assert config.metrics.enabled is False
    assert config.ledger.synchronous == "FULL"
    with pytest.raises(SecretsError, match="no credentials: set AQBOT_PRIVATE_KEY"):
        require_credentials(config)


def test_simulator_endpoints() -> None:
    ep = EndpointsConfig.for_simulator(
        "http://127.0.0.1:8080", "ws://127.0.0.1:8080", "http://127.0.0.1:8080", 137
    )
    assert ep.market_ws_url == "ws://127.0.0.1:8080/ws/market"
    assert ep.user_ws_url == "ws://127.0.0.1:8080/ws/user"
    assert EndpointsConfig.for_simulator("http://h", "ws://h/ws/", "http://h", 1).ws_url == "ws://h/ws/"
    with pytest.raises(ValueError, match="must be a https:// or http:// URL"):
        EndpointsConfig.for_simulator("tcp://h", "ws://h", "http://h", 137)


def test_every_key_is_documented() -> None:
    doc = (Path(__file__).parents[1] / "docs" / "config.md").read_text(encoding="utf-8")
    default = tomllib.loads(default_config_path().read_text(encoding="utf-8"))
    checked = 0
    for section, inner in typing.get_type_hints(Config).items():
        if section in ("credentials", "telegram_token"):
            continue
        assert f"`{section}`" in doc or f"[{section}]" in doc, section
        if isinstance(inner, type) and attrs.has(inner):
            for name in attrs.fields_dict(inner):
                assert f"`{section}.{name}`" in doc, f"{section}.{name} undocumented"
                checked += 1
    assert checked > 50
    for name in attrs.fields_dict(MarketConfig):
        assert f"`markets[].{name}`" in doc, f"markets[].{name} undocumented"
    assert set(default) <= set(attrs.fields_dict(Config))


def test_markets_and_overrides() -> None:
    config = config_from_toml(
        f"""
        [limits]
        max_position = 100
        [strategy]
        size = 10
        [[markets]]
        condition_id = "{COND}"
        max_position = 25
        size = "2.5"
        [[markets]]
        yes_token = "111"
        no_token = "222"
        """
    )
    first, second = config.markets
    assert config.max_position_for(first) == Decimal(25)
    assert config.max_position_for(second) == Decimal(100)
    assert config.strategy_for(first).size == Decimal("2.5")
    assert config.strategy_for(second) == config.strategy
    assert config.max_notional_for(first) == config.limits.max_market_notional
    assert second.label == "111"


BAD_INPUTS: list[tuple[str, str]] = [
    ("[limits]\nmax_position = -5", "limits.max_position: must be > 0, got -5"),
    ("[limits]\nmax_position = 0", "limits.max_position: must be > 0, got 0"),
    ("[limits]\nmax_position = 'lots'", "limits.max_position: expected a number, got string 'lots'"),
    ("[limits]\nmax_position = true", "limits.max_position: expected a number, got boolean True"),
    ("[limits]\nmax_position = 'NaN'", "limits.max_position: expected a finite number, got string 'NaN'"),
    ("[limits]\nmax_postion = 5", "limits.max_postion: unknown key; did you mean 'max_position'?"),
    ("[limts]\nmax_position = 5", "limts: unknown key; did you mean 'limits'?"),
    ("limits = 5", "limits: expected a table, got integer 5"),
    ("dry_run = 'yes'", "dry_run: expected true or false, got string 'yes'"),
    ("[strategy]\nhalf_spread_ticks = 1.5", "strategy.half_spread_ticks: expected an integer, got float 1.5"),
    ("[timers]\nws_stale = [1]", "timers.ws_stale: expected a number, got an array"),
    ("[timers]\nreconcile_interval = -1", "timers.reconcile_interval: must be > 0, got -1.0"),
    ("[timers]\nws_stale = inf", "timers.ws_stale: expected a finite number, got inf"),
    (
        "[timers]\nheartbeat_interval = 10",
        "timers.heartbeat_interval: must be < 10 (the exchange cancels all orders after 10 s without one), "
        "got 10",
    ),
    ("[timers]\nws_ping_interval = 40", "timers.ws_ping_interval: must be < timers.ws_stale (30), got 40"),
    ("[metrics]\nport = 70000", "metrics.port: must be a TCP port 0-65535, got 70000"),
    (
        "[logging]\nlevel = 'LOUD'",
        "logging.level: must be one of 'DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL', got 'LOUD'",
    ),
    ("[ledger]\nsynchronous = 'OFF'", "ledger.synchronous: must be one of 'NORMAL', 'FULL', got 'OFF'"),
    ("[ledger]\nwriter = 'fork'", "ledger.writer: must be one of 'thread', 'process', got 'fork'"),
    ("[ledger]\npath = ''", "ledger.path: expected a file path string, got string ''"),
    (
        "[endpoints]\nclob_url = 'ftp://x'",
        "endpoints.clob_url: must be a https:// or http:// URL, got 'ftp://x'",
    ),
    (
        "[endpoints]\nws_url = 'wss://x/ws'",
        "endpoints.ws_url: must end with '/' (market/user are appended), got 'wss://x/ws'",
    ),
    ("[account]\nsignature_type = 5", "account.signature_type: must be one of 0, 1, 2, 3, got 5"),
    ("[account]\naddress = '0x12'", "account.address: must be 0x + 40 hex digits, got '0x12'"),
    (
        '[account]\naddress = "0x1111111111111111111111111111111111111111\\n"',
        "account.address: must be 0x + 40 hex digits, got '0x1111111111111111111111111111111111111111\\n'",
    ),
    (
        '"a\\n" = 1',
        "'a\\n': unknown key; known keys: endpoints, account, markets, limits, strategy, halt, timers, "
        "ledger, alerts, metrics, logging, dry_run",
    ),
    (
        "[account]\nsignature_type = 2",
        "account.funder: required when account.signature_type is 2 (the wallet holding funds)",
    ),
    (
        "[account]\nprivate_key = '0xabc'",
        "account.private_key: secrets never go in the config file; set AQBOT_PRIVATE_KEY in the environment "
        "or use account.key_file",
    ),
    (
        "[alerts]\ntelegram_token = '1:x'",
        "alerts.telegram_token: secrets never go in the config file; set AQBOT_TELEGRAM_TOKEN in the "
        "environment or use account.key_file",
    ),
    ("[alerts]\ntelegram_chat_id = -100", "alerts.telegram_chat_id: expected a string, got integer -100"),
    (
        "credentials = 'x'",
        "credentials: secrets never go in the config file; set AQBOT_* environment variables in "
        "the environment or use account.key_file",
    ),
    ("markets = 5", "markets: expected an array of tables ([[markets]]), got integer 5"),
    ("markets = [5]", "markets[0]: expected a table, got integer 5"),
    ("[[markets]]\ncondition_id = '0x12'", "markets[0].condition_id: must be 0x + 64 hex digits, got '0x12'"),
    ("[[markets]]\nyes_token = '1'", "markets[0]: set condition_id, or both yes_token and no_token"),
    ("[[markets]]\nyes_token = '1'\nno_token = '1'", "markets[0].no_token: must differ from yes_token"),
    (
        f"[[markets]]\ncondition_id = '{COND}'\n[[markets]]\ncondition_id = '{COND}'",
        "markets[1]: duplicate of markets[0]",
    ),
    (
        f"[[markets]]\ncondition_id = '{COND}'\nmax_position = -1",
        "markets[0].max_position: must be > 0, got -1",
    ),
    (
        f"[[markets]]\ncondition_id = '{COND}'\nsizee = 1",
        "markets[0].sizee: unknown key; did you mean 'size'?",
    ),
    (
        "[limits]\nmax_market_notional = 600",
        "limits.max_market_notional: must be <= limits.max_global_notional (500), got 600",
    ),
    ("a = = 1", "<config>: invalid TOML: Invalid value (at line 1, column 5)"),
    ("zzz = 1", "zzz: unknown key; known keys: endpoints, account, markets, limits, strategy, halt, timers, "
     "ledger, alerts, metrics, logging, dry_run"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), BAD_INPUTS)
def test_bad_inputs_give_one_line_naming_the_field(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_toml(text)
    assert str(info.value) == message
    assert "\n" not in str(info.value)
    assert info.value.field == message.split(": ", 1)[0]


def test_not_utf8_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^<config>: not UTF-8 text \(byte 0\)$"):
        config_from_toml(b"\xff = 1")
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=f"^{missing}: cannot read the config file"):
        load_config(missing, {})


def write(tmp_path: Path, name: str, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / name
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_credentials_from_env_and_key_file(tmp_path: Path) -> None:
    config = load_config(None, FULL_ENV)
    assert config.credentials is not None
    assert config.credentials.private_key.reveal() == PK
    assert config.credentials.api_passphrase is not None
    assert config.credentials.api_passphrase.reveal() == PASSPHRASE
    assert hash(config) == hash(load_config(None, FULL_ENV))  # frozen configs stay usable as keys
    for secret in (PK, API_SECRET, PASSPHRASE):
        assert secret not in repr(config)
        assert secret not in str(config)
    key_file = write(tmp_path, "keys", f"AQBOT_PRIVATE_KEY={PK}\n")
    cfg = write(tmp_path, "c.toml", f"[account]\nkey_file = '{key_file}'\n")
    from_file = load_config(cfg, {"AQBOT_PRIVATE_KEY": "0x" + "00" * 32})
    assert from_file.credentials is not None
    assert from_file.credentials.private_key.reveal() == PK  # the file wins
    assert not from_file.credentials.has_api_credentials


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"AQBOT_PRIVATE_KEY": PK, "AQBOT_API_KEY": "k" * 36},
            "AQBOT_API_SECRET, AQBOT_API_PASSPHRASE not set in the environment: set all of "
            "AQBOT_API_KEY, AQBOT_API_SECRET, AQBOT_API_PASSPHRASE or none",
        ),
        (
            {"AQBOT_API_KEY": "k" * 36, "AQBOT_API_SECRET": API_SECRET, "AQBOT_API_PASSPHRASE": PASSPHRASE},
            "AQBOT_PRIVATE_KEY is not set in the environment (API credentials alone cannot sign)",
        ),
    ],
)
def test_missing_secrets(env: dict[str, str], message: str) -> None:
    with pytest.raises(SecretsError) as info:
        load_config(None, env)
    assert str(info.value) == message
    for value in env.values():
        assert value not in str(info.value)


def test_telegram_chat_without_token_and_token_from_env(tmp_path: Path) -> None:
    cfg = write(tmp_path, "c.toml", "[alerts]\ntelegram_chat_id = '-100'\n")
    with pytest.raises(
        SecretsError, match=r"^alerts\.telegram_chat_id is set but AQBOT_TELEGRAM_TOKEN is not"
    ):
        load_config(cfg, {})
    token = "123456789:" + "A" * 35
    config = load_config(cfg, {"AQBOT_TELEGRAM_TOKEN": token})
    assert config.telegram_token is not None
    assert config.telegram_token.reveal() == token
    assert token not in repr(config)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_key_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    key_file = write(tmp_path, "keys.toml", f'private_key = "{PK}"\n', mode)
    cfg = write(tmp_path, "c.toml", f"[account]\nkey_file = '{key_file}'\n")
    with pytest.raises(SecretsError) as info:
        load_config(cfg, {})
    assert str(info.value) == (
        f"key file {key_file}: mode {mode:04o} lets others read it; run `chmod 600 {key_file}`"
    )
    assert PK not in str(info.value)


_SECTIONS: dict[str, list[str]] = {
    section: list(attrs.fields_dict(cls))
    for section, cls in typing.get_type_hints(Config).items()
    if isinstance(cls, type) and attrs.has(cls)
}
_VALUES = st.one_of(
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True),
    st.booleans(),
    st.text(max_size=12),
    st.sampled_from(["0.5", "-1", "1e3", "https://x.test/", "wss://x.test/ws/", "FULL", "INFO", "NaN", ""]),
    st.lists(st.integers(), max_size=2),
)
_SECTION_DICTS = st.sampled_from(sorted(_SECTIONS)).flatmap(
    lambda s: st.tuples(
        st.just(s),
        st.dictionaries(st.sampled_from([*_SECTIONS[s], "bogus"]), _VALUES, max_size=4),
    )
)


@given(sections=st.lists(_SECTION_DICTS, max_size=4), dry_run=st.one_of(st.none(), _VALUES))
def test_any_near_valid_document_gives_config_or_one_line_error(
    sections: list[tuple[str, dict[str, Any]]], dry_run: object
) -> None:
    data: dict[str, Any] = dict(sections)
    if dry_run is not None:
        data["dry_run"] = dry_run
    result = _load_or_error(data)
    if isinstance(result, ConfigError):
        assert "\n" not in str(result)
        assert str(result).startswith(result.field + ": ")
    else:
        assert isinstance(result, Config)


def _load_or_error(data: dict[str, Any]) -> Config | ConfigError:
    try:
        return config_from_dict(data)
    except ConfigError as exc:
        return exc


_ANY = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | st.decimals(),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.one_of(st.text(max_size=8), st.integers(), st.none()), inner, max_size=3)
    ),
    max_leaves=10,
)


@given(
    data=st.dictionaries(
        st.one_of(st.sampled_from(sorted(_SECTIONS)), st.text(max_size=8), st.integers()), _ANY, max_size=4
    )
)
def test_arbitrary_python_documents_give_config_or_one_line_error(data: dict[Any, Any]) -> None:
    result = _load_or_error(data)
    if isinstance(result, ConfigError):
        assert "\n" not in str(result)
    else:
        assert isinstance(result, Config)
