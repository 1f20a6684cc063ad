"""Fixtures of the tool tests: ledgers built once per session (a real run takes a few seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest
from _tools_helpers import real_ledger, synthetic_ledger


@pytest.fixture(scope="session")
def real_run_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ledger of a 300 s (virtual) paper run of the real bot against the in-process simulator."""
    return real_ledger(tmp_path_factory.mktemp("real") / "ledger.sqlite3")


@pytest.fixture
def synth_ledger(tmp_path: Path) -> Path:
    return synthetic_ledger(tmp_path / "synthetic.sqlite3")
