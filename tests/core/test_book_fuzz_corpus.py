"""Replay the book fuzz corpus (fuzz/corpus/book) through fuzz/fuzz_book.py, so the target never rots."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from aqbot.core.book import BookStatus, OrderBook

ROOT = Path(__file__).resolve().parents[2]
CORPUS = sorted((ROOT / "fuzz" / "corpus" / "book").glob("*"))


def _load_target() -> ModuleType:
    name = "aqbot_fuzz_book_target"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "fuzz" / "fuzz_book.py")
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
    data = path.read_bytes()
    TARGET.test_one_input(data)  # whole
    TARGET.test_one_input(data[: len(data) // 2])  # and a truncated prefix


def _final_book(data: bytes) -> OrderBook:
    book = OrderBook(TARGET.TOKEN)
    for message, _mode in TARGET.decode(data):
        if isinstance(message, tuple):
            book.apply_changes(list(message), 1.0)
        else:
            book.apply(message, 1.0)
    return book


def test_hand_written_seeds_reach_the_paths_they_are_named_for() -> None:
    by_name = {p.stem: p.read_bytes() for p in CORPUS}
    ok = _final_book(by_name["01-snapshot-best-last-then-checked-changes"])
    assert ok.valid
    assert ok.best_ask() is not None
    decoded = TARGET.decode(by_name["03-tick-change-then-fine-snapshot"])
    assert any(type(m).__name__ == "TickSizeChange" for m, _ in decoded)
    assert _final_book(by_name["02-mismatch-resync-then-snapshot"]).valid  # resynced by the 2nd snapshot
    empty_start = _final_book(by_name["05-empty-book-zero-one-convention"])
    assert empty_start.best_bid() is None
    assert empty_start.best_ask() is not None


def test_the_invariant_catches_a_book_that_ignores_mismatches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Proof that the target has teeth: a book that never resyncs is reported."""
    seed = (ROOT / "fuzz" / "corpus" / "book" / "02-mismatch-resync-then-snapshot.bin").read_bytes()
    monkeypatch.setattr(OrderBook, "_verify", lambda self, bb, ba: BookStatus.OK)
    with pytest.raises(AssertionError):
        TARGET.test_one_input(seed)
