"""A tiny line layout for the dashboard: aligned columns, boxes, two stacks side by side.

rich's ``Table`` and ``Layout`` measure every cell of every nested table on each frame, which costs tens
of milliseconds for four markets on a busy machine, and the dashboard runs on the bot's own event loop.
These helpers build plain single-line :class:`~rich.text.Text` rows (styles kept) from cells whose widths
are known, so a frame is a few dozen lines that rich only has to crop.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from rich.text import Text

log = logging.getLogger(__name__)

# Column separator of aligned rows.
GAP = "  "


def cell(value: str | Text, style: str = "") -> Text:
    """A Text cell (a string gets ``style``)."""
    return value if isinstance(value, Text) else Text(value, style=style)


def fit(text: Text, width: int) -> Text:
    """``text`` cut (with an ellipsis) or padded with spaces to exactly ``width`` cells (a copy)."""
    out = text.copy()
    out.truncate(max(width, 0), overflow="ellipsis", pad=True)
    return out


def columns(
    header: Sequence[str],
    rows: Sequence[Sequence[Text]],
    right: frozenset[int] = frozenset(),
    *,
    show_header: bool = True,
) -> list[Text]:
    """Aligned rows: a bold header and a rule (unless ``show_header`` is false), then every row; the
    columns in ``right`` are right-justified. A row may be shorter than the header (missing cells are
    blank). The last column is not padded.
    """
    n = len(header)
    widths = [len(h) if show_header else 0 for h in header]
    for row in rows:
        for i, c in enumerate(row[:n]):
            widths[i] = max(widths[i], c.cell_len)
    lines = []
    if show_header:
        lines.append(_row([Text(h, style="bold") for h in header], widths, right))
        lines.append(Text("─" * (sum(widths) + len(GAP) * (n - 1)), style="dim"))
    lines += [_row(row, widths, right) for row in rows]
    return lines


def _row(row: Sequence[Text], widths: Sequence[int], right: frozenset[int]) -> Text:
    out = Text()
    last = len(widths) - 1
    for i, width in enumerate(widths):
        c = row[i] if i < len(row) else Text()
        pad = width - c.cell_len
        if i:
            out.append(GAP)
        if i in right:
            out.append(" " * pad)
            out.append_text(c)
        else:
            out.append_text(c)
            if i != last:
                out.append(" " * pad)
    out.rstrip()
    return out


def box(title: str, lines: Sequence[Text], width: int | None = None, style: str = "") -> list[Text]:
    """``lines`` in a rounded box titled ``title``; inner width = ``width`` or the widest line."""
    inner = width if width is not None else max([len(title) + 2, *(t.cell_len for t in lines)])
    top = Text("╭─ ", style=style)
    top.append(title, style="bold")
    top.append(" " + "─" * max(inner - len(title) - 1, 0) + "╮", style=style)
    out = [top]
    for line in lines:
        row = Text("│ ", style=style)
        row.append_text(fit(line, inner))
        row.append(" │", style=style)
        out.append(row)
    out.append(Text("╰" + "─" * (inner + 2) + "╯", style=style))
    return out


def width_of(lines: Sequence[Text]) -> int:
    return max((t.cell_len for t in lines), default=0)


def side_by_side(left: Sequence[Text], right: Sequence[Text], gap: int = 1) -> list[Text]:
    """Two stacks of lines as one: ``left`` padded to its widest line, then ``right``."""
    w = width_of(left)
    out = []
    for i in range(max(len(left), len(right))):
        line = fit(left[i], w) if i < len(left) else Text(" " * w)
        if i < len(right):
            line.append(" " * gap)
            line.append_text(right[i])
        line.rstrip()
        out.append(line)
    return out
