"""The ``aqbot run`` command: parser wiring, configuration errors exit 2 with one line, secrets unseen."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from aqbot.io.ws import ChannelSpec
from aqbot.io.ws_user import user_subscribe_frame
from aqbot.run import add_run_parser, run_command


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="aqbot")
    add_run_parser(root.add_subparsers(dest="command"))
    return root


def test_parser_wires_handler() -> None:
    """``run --config FILE [--dry-run]`` parses and carries its handler."""
    args = parser().parse_args(["run", "--config", "bot.toml", "--dry-run"])
    assert args.config == Path("bot.toml")
    assert args.dry_run
    assert args.handler is run_command


def test_missing_credentials_exit_2_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A config with a market but no credentials: exit 2, one line on stderr."""
    for name in ("AQBOT_PRIVATE_KEY", "AQBOT_API_KEY", "AQBOT_API_SECRET", "AQBOT_API_PASSPHRASE"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "bot.toml"
    config.write_text('[[markets]]\ncondition_id = "0x' + "a" * 64 + '"\nyes_token = "1"\nno_token = "2"\n')
    code = run_command(parser().parse_args(["run", "--config", str(config)]))
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith("aqbot run: ")


def test_no_market_is_a_config_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without [[markets]] there is nothing to quote: exit 2 naming the field."""
    config = tmp_path / "bot.toml"
    config.write_text("dry_run = true\n")
    assert run_command(parser().parse_args(["run", "--config", str(config)])) == 2
    assert "markets" in capsys.readouterr().err


def test_user_subscribe_frame_never_in_repr() -> None:
    """The subscribe frame holds the raw API secret: the channel spec's repr must not show it."""
    frame = user_subscribe_frame("key", "SUPER-SECRET-VALUE", "PASSPHRASE-VALUE", ["0xm"])
    assert "SUPER-SECRET-VALUE" in frame  # the exchange needs it (PROTOCOL 2.3) ...
    spec = ChannelSpec("user", lambda: None, frame, lambda raw: [])  # type: ignore[arg-type,return-value]
    assert "SUPER-SECRET-VALUE" not in repr(spec)  # ... nobody else sees it
    assert "PASSPHRASE-VALUE" not in repr(spec)
