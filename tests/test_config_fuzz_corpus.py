"""Replay the config fuzz corpus (fuzz/corpus/config) through fuzz/fuzz_config.py so it never rots."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
CORPUS = sorted((ROOT / "fuzz" / "corpus" / "config").glob("*"))


def _load_target() -> ModuleType:
    name = "aqbot_fuzz_config_target"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "fuzz" / "fuzz_config.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


TARGET = _load_target()


def test_corpus_is_not_empty() -> None:
    assert len(CORPUS) >= 10


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_corpus_entry_holds_the_invariant(path: Path) -> None:
    TARGET.test_one_input(path.read_bytes())


def test_the_target_catches_a_broken_invariant(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(data: bytes) -> None:
        raise KeyError("not a ConfigError")

    monkeypatch.setattr(TARGET, "config_from_toml", explode)
    with pytest.raises(KeyError):
        TARGET.test_one_input(b"")


@given(st.binary(max_size=200))
def test_random_bytes_hold_the_invariant(data: bytes) -> None:
    TARGET.test_one_input(data)


@given(st.text(alphabet="[]=\"'.,{} \nabcdefgilmnoprstxyz0123456789-_", max_size=120))
def test_toml_ish_text_holds_the_invariant(text: str) -> None:
    TARGET.test_one_input(text.encode())
