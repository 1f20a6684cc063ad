from __future__ import annotations

import subprocess
import sys

import pytest

import aqbot
from aqbot.cli import main


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"aqbot {aqbot.__version__}"


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: aqbot" in capsys.readouterr().err


def test_python_dash_m_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "aqbot", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("aqbot ")
