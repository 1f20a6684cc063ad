"""Bad inputs across the tool commands: one line on stderr, the documented exit code, no traceback, no file.

Each case runs the real ``aqbot`` CLI in process (``aqbot.cli.main``); a few run it as a subprocess too,
to see exactly what an operator sees.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from _tools_helpers import run_cli, synthetic_ledger

Setup = Callable[[Path], list[str]]


def _garbage(tmp: Path) -> Path:
    path = tmp / "garbage.sqlite3"
    path.write_bytes(b"this is not a database\n" * 100)
    return path


def _sqlite_without_tables(tmp: Path) -> Path:
    import sqlite3

    path = tmp / "other.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t(x)")
    conn.commit()
    conn.close()
    return path


def _truncated(tmp: Path) -> Path:
    """A real ledger cut after its first pages (a half-copied file)."""
    source = synthetic_ledger(tmp / "full.sqlite3")
    for suffix in ("-wal", "-shm"):
        Path(str(source) + suffix).unlink(missing_ok=True)
    data = source.read_bytes()
    path = tmp / "truncated.sqlite3"
    path.write_bytes(data[: len(data) // 3 or 4096])
    source.unlink()
    return path


def _tampered(tmp: Path) -> Path:
    """A ledger whose trigger was dropped and one payload rewritten as a JSON array."""
    import sqlite3

    path = synthetic_ledger(tmp / "tampered.sqlite3")
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute("UPDATE events SET payload = '[1]' WHERE seq = 3")
    conn.commit()
    conn.close()
    return path


def _empty(tmp: Path) -> Path:
    path = tmp / "empty.sqlite3"
    path.write_bytes(b"")
    return path


def _config(tmp: Path, text: str) -> Path:
    path = tmp / "bot.toml"
    path.write_text(text)
    return path


def _busy_port_config(tmp: Path) -> list[str]:
    return [
        "doctor",
        "--config",
        str(_config(tmp, '[endpoints]\nclob_url = "http://127.0.0.1:1"\n')),
        "--no-ws",
    ]


CASES: dict[str, tuple[Setup, int, str]] = {
    "no subcommand": (lambda t: ["ledger"], 2, "aqbot ledger: missing subcommand"),
    "missing ledger": (lambda t: ["ledger", "tail", str(t / "nope.sqlite3")], 2, "no such file"),
    "directory": (lambda t: ["ledger", "orders", str(t)], 2, "not a regular file"),
    "not sqlite": (lambda t: ["ledger", "fills", str(_garbage(t))], 2, "not an SQLite database"),
    "empty file": (lambda t: ["ledger", "gaps", str(_empty(t))], 2, "not an SQLite database"),
    "sqlite, not a ledger": (
        lambda t: ["ledger", "halts", str(_sqlite_without_tables(t))],
        2,
        "not an aqbot ledger (no meta table)",
    ),
    "truncated ledger": (lambda t: ["ledger", "tail", str(_truncated(t))], 2, "LEDGER"),
    "truncated ledger, verify": (lambda t: ["ledger", "verify", str(_truncated(t))], 2, "LEDGER"),
    "payload not an object": (
        lambda t: ["ledger", "orders", str(_tampered(t))],
        2,
        "an event cannot be read (ledger payload is not a JSON object)",
    ),
    "report, payload not an object": (
        lambda t: ["report", str(_tampered(t)), "--out", str(t / "r.html")],
        2,
        "run `aqbot ledger verify`",
    ),
    "unknown flag": (
        lambda t: ["ledger", "tail", "x.sqlite3", "--bogus"],
        2,
        "unrecognized arguments: --bogus",
    ),
    "bad --since": (
        lambda t: ["ledger", "tail", "x.sqlite3", "--since", "yesterday"],
        2,
        "argument --since: expected ISO-8601 time",
    ),
    "bad --until": (lambda t: ["ledger", "export", "x.sqlite3", "--until", "-5"], 2, "argument --until"),
    "bad --limit": (
        lambda t: ["ledger", "tail", "x.sqlite3", "--limit", "0"],
        2,
        "argument --limit: expected a positive integer",
    ),
    "bad export format": (
        lambda t: ["ledger", "export", "x.sqlite3", "--format", "xml"],
        2,
        "invalid choice",
    ),
    "export to missing dir": (
        lambda t: ["ledger", "export", "x.sqlite3", "--out", str(t / "no" / "f.csv")],
        2,
        "does not exist",
    ),
    "report missing ledger": (
        lambda t: ["report", str(t / "nope.sqlite3"), "--out", str(t / "r.html")],
        2,
        "no such file",
    ),
    "report garbage": (
        lambda t: ["report", str(_garbage(t)), "--out", str(t / "r.html")],
        2,
        "not an SQLite database",
    ),
    "report bad limit": (lambda t: ["report", "x", "--max-position", "-1"], 2, "argument --max-position"),
    "report both limits": (
        lambda t: ["report", "x", "--max-position", "1", "--config", "c.toml"],
        2,
        "not allowed with argument",
    ),
    "report bad config": (
        lambda t: [
            "report",
            str(synthetic_ledger(t / "l.sqlite3")),
            "--out",
            str(t / "r.html"),
            "--config",
            str(_config(t, "[limits]\nmax_position = -5\n")),
        ],
        2,
        "limits.max_position: must be > 0",
    ),
    "config: no subcommand": (lambda t: ["config"], 2, "missing subcommand"),
    "config check: missing file": (lambda t: ["config", "check", str(t / "nope.toml")], 2, "cannot read"),
    "config check: invalid": (
        lambda t: ["config", "check", str(_config(t, "[limits]\nmax_postion = 5\n"))],
        2,
        "limits.max_postion: unknown key; did you mean 'max_position'?",
    ),
    "config check: not TOML": (lambda t: ["config", "check", str(_config(t, "= = =\n"))], 2, "bot.toml"),
    "doctor: no --config": (lambda t: ["doctor"], 2, "the following arguments are required: --config"),
    "doctor: invalid config": (
        lambda t: ["doctor", "--config", str(_config(t, "[timers]\nws_stale = 'x'\n"))],
        2,
        "timers.ws_stale",
    ),
    "doctor: bad step": (
        lambda t: ["doctor", "--config", "c.toml", "--step-seconds", "0"],
        2,
        "argument --step-seconds",
    ),
    "keys: no subcommand": (lambda t: ["keys"], 2, "missing subcommand"),
    "keys: no destination": (lambda t: ["keys", "derive"], 2, "need a destination: pass --out KEYFILE"),
    "keys: no private key": (
        lambda t: ["keys", "derive", "--show-secrets"],
        2,
        "no private key: set AQBOT_PRIVATE_KEY or pass --key-file",
    ),
    "keys: unknown flag": (lambda t: ["keys", "derive", "--secret", "x"], 2, "unrecognized arguments"),
    "keys: negative nonce": (
        lambda t: ["keys", "derive", "--nonce", "-1"],
        2,
        "argument --nonce: expected an integer >= 0",
    ),
    "keys: bad chain": (lambda t: ["keys", "derive", "--chain-id", "abc"], 2, "argument --chain-id"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AQBOT_PRIVATE_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    setup, expected_code, expected_text = CASES[case]
    argv = setup(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    code, out, err = run_cli(argv, capsys)
    assert code == expected_code, (out, err)
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert expected_text in err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "no file created"


def test_key_file_readable_by_others_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key_file = tmp_path / "pk.env"
    key_file.write_text("AQBOT_PRIVATE_KEY=0x" + "11" * 32 + "\n")
    key_file.chmod(0o644)
    code, out, err = run_cli(["keys", "derive", "--key-file", str(key_file), "--show-secrets"], capsys)
    assert code == 2
    assert out == ""
    assert err == (
        f"aqbot keys derive: key file {key_file}: mode 0644 lets others read it; run `chmod 600 {key_file}`\n"
    )
    assert "11" * 32 not in err


def test_doctor_endpoint_with_nothing_listening(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A port with no server (bound, never listening): a FAIL line naming the fix, exit 1, no traceback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = _config(tmp_path, f'[endpoints]\nclob_url = "http://127.0.0.1:{port}"\n')
        code, out, err = run_cli(["doctor", "--config", str(config), "--no-ws"], capsys)
    assert code == 1
    assert err == ""
    assert "FAIL: GET /time: no usable answer (GET /time: ConnectError" in out
    assert "check the endpoint URL and the network" in out
    assert out.endswith("check(s) failed\n")


@pytest.mark.parametrize(
    ("argv", "code", "text"),
    [
        (
            ["ledger", "verify", "{tmp}/nope.sqlite3"],
            2,
            "aqbot ledger verify: LEDGER {tmp}/nope.sqlite3: no such file",
        ),
        (["ledger", "tail", "{tmp}/x", "--since", "soon"], 2, "aqbot ledger tail: argument --since"),
        (["report", "{tmp}/nope.sqlite3"], 2, "aqbot report: LEDGER {tmp}/nope.sqlite3: no such file"),
    ],
)
def test_subprocess_sees_one_line(argv: list[str], code: int, text: str, tmp_path: Path) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    result = subprocess.run(
        [sys.executable, "-m", "aqbot", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == code
    assert result.stdout == ""
    assert result.stderr.startswith(text.replace("{tmp}", str(tmp_path)))
    assert result.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_help_everywhere(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["ledger"],
        ["ledger", "tail"],
        ["ledger", "verify"],
        ["ledger", "export"],
        ["report"],
        ["config", "check"],
        ["doctor"],
        ["keys", "derive"],
    ):
        code, out, _ = run_cli([*argv, "--help"], capsys)
        assert code == 0
        assert out.startswith("usage: aqbot ")
    assert shutil.which(sys.executable)
