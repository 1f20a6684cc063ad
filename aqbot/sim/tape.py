"""The ground-truth tape: one JSON object per line, deterministic byte for byte for a given seed.

Every record has ``"t"`` (simulated ms) and ``"type"``; the first line is the ``header``. Keys are sorted and
separators compact, amounts and prices are exact decimal strings. The format is documented in
``docs/tape.md``; the tape never holds a secret (API keys are identifiers and do appear).
"""

from __future__ import annotations

import collections
import json
import logging
from collections.abc import Mapping
from typing import TextIO

logger = logging.getLogger(__name__)

TAPE_VERSION = 1

JSON = object
"""A JSON-able value (dicts, lists, str, int, bool, None)."""


class Tape:
    """Collects tape records, in memory and optionally into a text sink.

    Args:
        sink: a text stream to write lines to as they come (the caller owns and closes it).
        keep: keep lines in memory (``lines``, :meth:`dump`); needed by :meth:`getvalue`.
    """

    def __init__(self, sink: TextIO | None = None, *, keep: bool = True) -> None:
        self._sink = sink
        self._keep = keep
        self.lines: list[str] = []
        self.counts: collections.Counter[str] = collections.Counter()
        self.fault_counts: collections.Counter[str] = collections.Counter()

    def write(self, t: int, type_: str, **fields: JSON) -> None:
        """Append one record ``{"t": t, "type": type_, **fields}``."""
        record: dict[str, JSON] = {"t": t, "type": type_}
        record.update(fields)
        line = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        self.counts[type_] += 1
        if type_ == "fault":
            self.fault_counts[str(fields.get("fault", ""))] += 1
        if self._keep:
            self.lines.append(line)
        if self._sink is not None:
            self._sink.write(line + "\n")

    def fault(self, t: int, fault: str, detail: Mapping[str, JSON] | None = None) -> None:
        """Record an injected fault named ``fault``."""
        self.write(t, "fault", fault=fault, detail=dict(detail or {}))

    def getvalue(self) -> str:
        """The whole tape as text (requires ``keep=True``)."""
        return "".join(line + "\n" for line in self.lines)

    def getbytes(self) -> bytes:
        return self.getvalue().encode("ascii")
