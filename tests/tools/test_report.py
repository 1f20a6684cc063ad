"""``aqbot report``: the HTML holds the expected sections and numbers, for a synthetic and a real ledger."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _tools_helpers import ORDER_1, ORDER_2, TOKEN_A, run_cli

SECTIONS = ("summary", "exposure", "halts", "gaps", "fills", "pnl", "unknown", "method")


def _pngs(html: str) -> list[bytes]:
    return [base64.b64decode(d) for d in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)]


def _row(html: str, needle: str) -> str:
    """The table row (``<tr>...</tr>``) that contains ``needle``."""
    for row in re.findall(r"<tr>.*?</tr>", html):
        if needle in row:
            return str(row)
    raise AssertionError(f"no row with {needle!r}")


def test_synthetic_report_sections_and_numbers(
    synth_ledger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.html"
    code, _, err = run_cli(["report", str(synth_ledger), "--out", str(out)], capsys)
    assert code == 0, err
    html = out.read_text()
    for section in SECTIONS:
        assert f'<section id="{section}">' in html
    assert "<script" not in html
    assert not re.search(r'(src|href)="https?:', html), "self-contained: nothing loaded from the network"
    pngs = _pngs(html)
    assert len(pngs) == 2
    assert all(p.startswith(b"\x89PNG\r\n\x1a\n") and len(p) > 5000 for p in pngs)
    summary = _row(html, TOKEN_A)
    # limit 10 (from the core's L1 refusal), max worst 10 = held 4 + open BUY 6, ratio 1.0000
    assert re.search(r">10</td><td>L1 refusal</td><td class=\"num\">10</td>", summary)
    assert '<span class="ok">1.0000</span>' in summary
    assert "worst case within the limit" in html
    assert "MANUAL: 1, WS_GAP_UNRESOLVED: 1" in html
    assert "1 (1 resolved, 0 unresolved)" in html
    assert "2 applied, 0 reversed" in html
    assert "replay reproduces all 3 snapshot(s)" in html
    pnl = re.search(r'<section id="pnl">.*?</section>', html, re.S)
    assert pnl is not None
    assert ">0.4000<" in pnl.group(0), "realised = 4 * (0.50 - 0.40)"
    unknown = re.search(r'<section id="unknown">.*?</section>', html, re.S)
    assert unknown is not None
    row1, row2 = _row(unknown.group(0), ORDER_1[:18]), _row(unknown.group(0), ORDER_2[:18])
    assert "CANCEL_NOT_FOUND (cancel-answer)" in row1
    assert "EXCH_CANCELED (order_event)" in row1
    assert "user-channel order event" in row1
    assert "released:order_event" in row1
    assert "SUBMIT_UNKNOWN (transport)" in row2
    assert "REST reconciliation snapshot" in row2
    assert "released:rest" in row2
    halts = re.search(r'<section id="halts">.*?</section>', html, re.S)
    assert halts is not None
    assert "3 reconciliations failed" in halts.group(0)
    assert "still latched" in _row(halts.group(0), "MANUAL")


def test_limit_exceeded_exits_1(
    synth_ledger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.html"
    code, _, err = run_cli(
        ["report", str(synth_ledger), "--out", str(out), "--max-position", "5", "--no-charts"], capsys
    )
    assert code == 1
    assert "1 token(s) above the limit" in err
    html = out.read_text()
    assert "LIMIT EXCEEDED on 1 token(s)" in html
    assert '<span class="fail">2.0000</span>' in html
    assert _pngs(html) == []


def test_real_run_report(real_run_ledger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A report of a real paper run (bot + in-process simulator): limits held, replay reproduces snapshots."""
    out = tmp_path / "real.html"
    code, _, err = run_cli(
        ["report", str(real_run_ledger), "--out", str(out), "--max-position", "50"], capsys
    )
    assert code == 0, err
    html = out.read_text()
    assert "monotonic clock" in html
    assert "worst case within the limit on every token" in html
    ratios = [float(r) for r in re.findall(r'<span class="ok">(\d+\.\d{4})</span>', html)]
    assert len(ratios) == 2
    assert all(0 < r <= 1 for r in ratios)
    assert "replay reproduces all" in html
    assert len(_pngs(html)) == 2


def test_missing_matplotlib_is_one_line_and_writes_nothing(
    synth_ledger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out = tmp_path / "report.html"
    code, stdout, err = run_cli(["report", str(synth_ledger), "--out", str(out)], capsys)
    assert code == 2
    assert stdout == ""
    assert (
        err
        == "aqbot report: matplotlib is not installed: pip install 'aqbot[report]' (or pass --no-charts)\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [synth_ledger.name]


def test_matplotlib_is_imported_only_by_the_report() -> None:
    code = "import sys, aqbot.cli\naqbot.cli.build_parser()\nprint('matplotlib' in sys.modules)\n"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"


@pytest.mark.skipif(
    shutil.which("chromium") is None, reason="chromium is not on PATH: headless render skipped"
)
def test_report_renders_headless(
    synth_ledger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, shot = tmp_path / "report.html", tmp_path / "report.png"
    assert run_cli(["report", str(synth_ledger), "--out", str(out)], capsys)[0] == 0
    subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            f"--screenshot={shot}",
            "--window-size=1280,2400",
            out.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert shot.read_bytes().startswith(b"\x89PNG")
    assert shot.stat().st_size > 20_000


def test_limits_from_a_config_file(
    synth_ledger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Per-market max_position applies to both tokens of the market; the global one to the others."""
    config = tmp_path / "bot.toml"
    config.write_text(
        f'[limits]\nmax_position = 40\n[[markets]]\ncondition_id = "0x{"12" * 32}"\nyes_token = "{TOKEN_A}"\n'
        'no_token = "3"\nmax_position = 12.5\n'
    )
    out = tmp_path / "report.html"
    code, _, err = run_cli(
        ["report", str(synth_ledger), "--out", str(out), "--config", str(config), "--no-charts"], capsys
    )
    assert code == 0, err
    html = out.read_text()
    assert '>12.5</td><td>configuration (per market)</td><td class="num">10</td>' in _row(html, TOKEN_A)
    assert '<span class="ok">0.8000</span>' in _row(html, TOKEN_A)
    assert ">40</td><td>configuration</td>" in _row(html, "2" * 70)
