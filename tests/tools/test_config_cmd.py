"""``aqbot config check``: credentials present or named as missing, key-file mode, summary, no secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from _tools_helpers import run_cli

PRIVATE_KEY = "0x" + "4c" * 32
API_SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I="
PASSPHRASE = "f" * 64
MARKET = (
    '[[markets]]\ncondition_id = "0x'
    + "12" * 32
    + '"\nyes_token = "111"\nno_token = "222"\nmax_position = 20\n'
)


def _write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def _env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name in (
        "AQBOT_PRIVATE_KEY",
        "AQBOT_API_KEY",
        "AQBOT_API_SECRET",
        "AQBOT_API_PASSPHRASE",
        "AQBOT_TELEGRAM_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def _no_secret(text: str) -> None:
    for secret in (PRIVATE_KEY, PRIVATE_KEY[2:], API_SECRET, PASSPHRASE):
        assert secret not in text


def test_complete_config_from_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _env(
        monkeypatch,
        AQBOT_PRIVATE_KEY=PRIVATE_KEY,
        AQBOT_API_KEY="key-1",
        AQBOT_API_SECRET=API_SECRET,
        AQBOT_API_PASSPHRASE=PASSPHRASE,
    )
    config = _write(tmp_path / "bot.toml", "[limits]\nmax_position = 25\n" + MARKET)
    code, out, err = run_cli(["config", "check", str(config)], capsys)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"ok: {config}: valid configuration"
    assert lines[1].startswith("ok: private key from the environment: signer 0x")
    assert lines[2] == "ok: API key key-1 with its secret and passphrase (from the environment)"
    assert lines[3] == f"ok: markets[0] 0x{'12' * 32}: max_position 20, max_notional 100 pUSD"
    assert "limits: max_position 25 shares/token" in out
    _no_secret(out)


def test_missing_credentials_are_named_and_api_creds_optional(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _env(monkeypatch, AQBOT_PRIVATE_KEY=PRIVATE_KEY)
    config = _write(tmp_path / "bot.toml", MARKET)
    code, out, _ = run_cli(["config", "check", str(config)], capsys)
    assert code == 0  # `aqbot run` derives the API credentials from the private key (L1) at startup
    assert (
        "ok: AQBOT_API_KEY, AQBOT_API_SECRET, AQBOT_API_PASSPHRASE are not set: `aqbot run` derives them "
        "from the private key at startup (L1 auth); to pin them, "
        "derive them with `aqbot keys derive --out KEYFILE`"
    ) in out
    _env(monkeypatch, AQBOT_API_KEY="key-1")
    code, out, _ = run_cli(["config", "check", str(config)], capsys)
    assert code == 1
    assert "FAIL: AQBOT_PRIVATE_KEY is not set in the environment" in out


def test_key_file_mode_and_partial_triple(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _env(monkeypatch)
    keys = _write(tmp_path / "keys.env", f"AQBOT_PRIVATE_KEY={PRIVATE_KEY}\nAQBOT_API_KEY=k\n", mode=0o644)
    config = _write(tmp_path / "bot.toml", f'[account]\nkey_file = "{keys}"\n' + MARKET)
    code, out, err = run_cli(["config", "check", str(config)], capsys)
    assert (code, err) == (1, "")
    assert f"FAIL: key file {keys}: mode 0644 lets others read it; run `chmod 600 {keys}`" in out
    keys.chmod(0o600)
    code, out, _ = run_cli(["config", "check", str(config)], capsys)
    assert code == 1
    assert f"ok: key file {keys}: a regular file of ours, mode 0600" in out
    assert "AQBOT_API_SECRET, AQBOT_API_PASSPHRASE not set in key file" in out
    _no_secret(out)


def test_market_needs_both_tokens_and_address_must_match(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _env(
        monkeypatch,
        AQBOT_PRIVATE_KEY=PRIVATE_KEY,
        AQBOT_API_KEY="key-1",
        AQBOT_API_SECRET=API_SECRET,
        AQBOT_API_PASSPHRASE=PASSPHRASE,
    )
    text = f'[account]\naddress = "0x{"00" * 20}"\n[[markets]]\ncondition_id = "0x{"34" * 32}"\n'
    code, out, _ = run_cli(["config", "check", str(_write(tmp_path / "bot.toml", text))], capsys)
    assert code == 1
    assert f"FAIL: account.address 0x{'00' * 20} is not the address of AQBOT_PRIVATE_KEY" in out
    assert "FAIL: markets[0]: yes_token, no_token missing" in out


def test_bad_api_secret_is_a_fail_without_the_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _env(
        monkeypatch,
        AQBOT_PRIVATE_KEY=PRIVATE_KEY,
        AQBOT_API_KEY="key-1",
        AQBOT_API_SECRET="not base64 !!",
        AQBOT_API_PASSPHRASE=PASSPHRASE,
    )
    code, out, _ = run_cli(["config", "check", str(_write(tmp_path / "bot.toml", MARKET))], capsys)
    assert code == 1
    assert "FAIL: AQBOT_API_SECRET (from the environment):" in out
    assert "not base64 !!" not in out
