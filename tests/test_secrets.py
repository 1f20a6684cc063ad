"""Secrets: the wrapper hides values, key files are checked, loaders name sources but never values."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import attrs
import pytest

from aqbot.errors import SecretsError
from aqbot.secrets import (
    Credentials,
    Secret,
    SecretRegistry,
    check_key_file,
    load_credentials,
    load_telegram_token,
    read_key_file,
    redact_text,
)

PK = "0x" + "5e" * 32
API_SECRET = "Zm9vYmFyLWZvb2Jhci1mb29iYXItZm9vYmFyLWZvb2I="
PASSPHRASE = "3a" * 32


def test_secret_never_shows_its_value() -> None:
    secret = Secret(PK)
    shown = [
        repr(secret),
        str(secret),
        f"{secret}",
        f"{secret!r}",
        f"{secret:>80}",
        "{}".format(secret),  # noqa: UP032
        f"{[secret]}",
    ]
    assert shown == ["***", "***", "***", "***", "***", "***", "[***]"]
    assert secret.reveal() == PK
    assert secret == Secret(PK)
    assert secret != Secret(PK[:-1] + "0")
    assert hash(secret) == hash(Secret(PK))
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(secret)
    with pytest.raises(TypeError):
        json.dumps({"k": secret})
    creds = Credentials(Secret(PK), Secret("key-id-1234"), Secret(API_SECRET), Secret(PASSPHRASE))
    text = repr(creds) + str(attrs.asdict(creds, recurse=False))
    for value in (PK, API_SECRET, PASSPHRASE):
        assert value not in text


def write(tmp_path: Path, text: str, mode: int = 0o600, name: str = "keys") -> Path:
    path = tmp_path / name
    path.write_text(text)
    os.chmod(path, mode)
    return path


@pytest.mark.parametrize(
    "text",
    [
        f'private_key = "{PK}"\napi_key = "k-1234567"\n'
        f'api_secret = "{API_SECRET}"\napi_passphrase = "{PASSPHRASE}"\n',
        f"# keys\nAQBOT_PRIVATE_KEY={PK}\n\nAQBOT_API_KEY=k-1234567\nAQBOT_API_SECRET={API_SECRET}\n"
        f"AQBOT_API_PASSPHRASE='{PASSPHRASE}'\n",
    ],
    ids=["toml", "key-value"],
)
def test_key_file_formats(tmp_path: Path, text: str) -> None:
    creds = load_credentials({}, write(tmp_path, text))
    assert creds is not None
    assert creds.private_key.reveal() == PK
    assert creds.api_secret is not None
    assert creds.api_secret.reveal() == API_SECRET
    assert creds.api_passphrase is not None
    assert creds.api_passphrase.reveal() == PASSPHRASE


@pytest.mark.parametrize(
    ("text", "mode", "message"),
    [
        (f"private_key={PK}", 0o644, "mode 0644 lets others read it; run `chmod 600 {path}`"),
        (f"private_key={PK}", 0o600 | 0o010, "mode 0610 lets others read it; run `chmod 600 {path}`"),
        (f"wallet_key={PK}", 0o600, "unknown key 'wallet_key' (expected one of private_key, api_key, "),
        (f"private_key {PK}", 0o600, "line 1 is not KEY=VALUE"),
        ("private_key = 5\n[section]", 0o600, "line 2 is not KEY=VALUE"),
        ("# nothing\n", 0o600, "holds no AQBOT_PRIVATE_KEY"),
    ],
)
def test_bad_key_files(tmp_path: Path, text: str, mode: int, message: str) -> None:
    path = write(tmp_path, text, mode)
    with pytest.raises(SecretsError) as info:
        load_credentials({}, path)
    assert str(info.value).startswith(f"key file {path}: ")
    assert message.format(path=path) in str(info.value)
    assert PK not in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__context__ is None or PK not in str(info.value.__context__)


def test_key_file_must_be_a_regular_existing_file(tmp_path: Path) -> None:
    with pytest.raises(SecretsError, match="not a regular file"):
        check_key_file(tmp_path)
    with pytest.raises(SecretsError, match="cannot stat"):
        read_key_file(tmp_path / "missing")


def test_env_loading_rules() -> None:
    assert load_credentials({}) is None
    assert load_credentials({"AQBOT_PRIVATE_KEY": ""}) is None  # empty counts as unset
    only_pk = load_credentials({"AQBOT_PRIVATE_KEY": PK})
    assert only_pk is not None
    assert not only_pk.has_api_credentials
    with pytest.raises(SecretsError, match=r"^AQBOT_API_PASSPHRASE not set in the environment"):
        load_credentials({"AQBOT_PRIVATE_KEY": PK, "AQBOT_API_KEY": "k", "AQBOT_API_SECRET": API_SECRET})
    token = load_telegram_token({"AQBOT_TELEGRAM_TOKEN": "123456:" + "b" * 35})
    assert token is not None
    assert repr(token) == "***"
    assert load_telegram_token({}) is None


def test_registry_ignores_short_values() -> None:
    registry = SecretRegistry()
    Secret("abc", registry=registry)
    Secret("long-enough-value", registry=registry)
    assert registry.values() == frozenset({"long-enough-value"})
    assert redact_text("abc long-enough-value", registry) == "abc ***"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"private_key={PK[:10]}deadbeef", "private_key=***"),
        (f'{{"api_secret": "{API_SECRET[:20]}"}}', '{"api_secret": "***"}'),
        ("passphrase: hunter2hunter2", "passphrase: ***"),
        (f"sig {API_SECRET} end", "sig *** end"),
        (f"raw {PASSPHRASE} end", "raw *** end"),
        ("url https://api.telegram.org/bot123456789:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQ/x", "url https://api.telegram.org/bot***/x"),
        # Not secrets: order ids / condition ids (0x + 64 hex) and token ids stay readable.
        ("order 0x" + "ab" * 32 + " filled", "order 0x" + "ab" * 32 + " filled"),
        ("token_id=" + "7" * 77, "token_id=" + "7" * 77),
    ],
)  # fmt: skip
def test_pattern_redaction(text: str, expected: str) -> None:
    assert redact_text(text, SecretRegistry()) == expected
