"""Replay the decode fuzz corpus (fuzz/corpus/decode) and a Hypothesis byte stream through
fuzz/fuzz_decode.py's ``test_one_input``, so the target and its invariant run in ``make test``."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wire_strategies import json_values

ROOT = Path(__file__).resolve().parents[2]
CORPUS = sorted((ROOT / "fuzz" / "corpus" / "decode").glob("*"))


def _load_target() -> ModuleType:
    name = "aqbot_fuzz_decode_target"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "fuzz" / "fuzz_decode.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


TARGET = _load_target()


def test_corpus_has_valid_and_malformed_seeds() -> None:
    """The seed corpus covers every channel and some malformed inputs."""
    names = [p.name for p in CORPUS]
    for prefix in ("market-", "user-", "rest-", "client-", "control-", "bad-"):
        assert sum(n.startswith(prefix) for n in names) >= 2, prefix


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_corpus_entry_holds_the_invariant(path: Path) -> None:
    """Each seed decodes to models or fails with WireError only, and what decodes round-trips."""
    TARGET.test_one_input(path.read_bytes())


@given(st.binary(max_size=400))
def test_arbitrary_bytes_hold_the_invariant(data: bytes) -> None:
    """Random bytes never raise anything but WireError inside the decoders."""
    TARGET.test_one_input(data)


SEEDS = [
    json.loads(p.read_bytes()) for p in CORPUS if p.name.split("-")[0] in ("market", "user", "rest", "client")
]
DICT_SEEDS = [seed for seed in SEEDS if isinstance(seed, dict)]


@given(st.sampled_from(DICT_SEEDS), st.data())
def test_mutated_messages_hold_the_invariant(seed: dict[str, object], data: st.DataObject) -> None:
    """Real messages with one key replaced by an arbitrary JSON value (or deleted): same invariant."""
    obj = dict(seed)
    key = data.draw(st.sampled_from(sorted(obj)))
    if data.draw(st.booleans()):
        obj[key] = data.draw(json_values)
    else:
        del obj[key]
    TARGET.test_one_input(json.dumps(obj).encode())
    TARGET.test_one_input(json.dumps([obj, seed]).encode())
