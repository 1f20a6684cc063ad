"""The compliance report as one self-contained HTML file (inline CSS, charts as base64 PNG data URIs).

Sections (each an element with a stable ``id``): ``summary``, ``exposure`` (one chart and table per
token), ``halts``, ``gaps``, ``fills``, ``pnl``, ``unknown`` (UNKNOWN orders and what resolved them),
``method``. Every value is escaped; nothing is loaded from the network.
"""

from __future__ import annotations

import base64
import html
import logging
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from aqbot.tools.common import iso
from aqbot.tools.report_model import ReportModel, TokenReport

log = logging.getLogger(__name__)

# Fill rows listed in the report (the count in the summary covers all of them).
MAX_FILL_ROWS = 1000

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px} h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:32px}
h3{font-size:15px} table{border-collapse:collapse;font-size:12px;margin:8px 0}
th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f4f4f4} td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#1a7f37;font-weight:600} .fail{color:#cf222e;font-weight:600} .muted{color:#666}
code{font-size:11px} img{max-width:100%;border:1px solid #eee}
"""


def _e(value: object) -> str:
    return html.escape("-" if value is None else str(value))


def _num(value: Decimal | None, places: int | None = None) -> str:
    if value is None:
        return "-"
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places))
    return _e(value)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[int] = ()) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    if not rows:
        body.append(f'<tr><td colspan="{len(headers)}" class="muted">none</td></tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _ratio(report: TokenReport) -> str:
    ratio = report.max_ratio
    if ratio is None:
        return '<span class="muted">unknown (no limit: pass --max-position or --config)</span>'
    cls = "fail" if ratio > 1 else "ok"
    return f'<span class="{cls}">{_e(ratio.quantize(Decimal("0.0001")))}</span>'


def _when(model: ReportModel, t: float | None) -> str:
    return "-" if t is None else f"{t:.1f}s"


def summary(model: ReportModel) -> str:
    duration = model.end_t
    tokens = sorted(model.tokens.values(), key=lambda r: r.token)
    rows = [
        [
            f"<code>{_e(r.token)}</code>",
            _num(r.limit),
            _e(r.limit_source),
            _num(r.max_worst),
            _ratio(r),
            _when(model, r.max_worst_t),
            _num(r.max_held),
            str(r.fills),
            _num(r.samples[-1].held if r.samples else None),
            _num(r.samples[-1].open_buy if r.samples else None),
        ]
        for r in tokens
    ]
    breaches = [r for r in tokens if r.breached]
    verdict = (
        f'<p class="fail">LIMIT EXCEEDED on {len(breaches)} token(s)</p>'
        if breaches
        else '<p class="ok">worst case within the limit on every token with a known limit</p>'
    )
    halts = ", ".join(f"{_e(k)}: {v}" for k, v in sorted(model.halt_counts.items())) or "none"
    replay = (
        f'<span class="ok">replay reproduces all {model.snapshots_checked} snapshot(s)</span>'
        if not model.replay_problems
        else f'<span class="fail">{len(model.replay_problems)} replay discrepancy(ies): '
        f"{_e('; '.join(model.replay_problems[:3]))}</span>"
    )
    facts = [
        ["ledger", f"<code>{_e(model.path)}</code>"],
        [
            "run span",
            f"{_e(iso(model.start_wall))} to {_e(iso(model.end_wall))} ({duration:.1f}s on the "
            f"{'monotonic' if model.axis == 'mono' else 'wall'} clock)",
        ],
        ["events", str(model.event_count)],
        ["halts by reason", halts],
        [
            "gaps",
            f"{len(model.gaps)} ({len(model.gaps) - model.gaps_unresolved} resolved, "
            f"{model.gaps_unresolved} unresolved)",
        ],
        [
            "fills",
            f"{sum(1 for f in model.fills if f['kind'] == 'applied')} applied, "
            f"{sum(1 for f in model.fills if f['kind'] == 'reversed')} reversed",
        ],
        [
            "UNKNOWN orders",
            f"{len(model.unknown)} ({sum(1 for u in model.unknown if u['released'] is None)} "
            "still holding their reservation)",
        ],
        ["restarts", ", ".join(f"seq {s}" for s in model.restarts) or "none"],
        ["ledger replay", replay],
    ]
    return (
        '<section id="summary"><h2>Summary</h2>'
        + verdict
        + _table(["", ""], facts)
        + "<h3>Worst case vs limit per token</h3>"
        + _table(
            [
                "token",
                "limit",
                "limit from",
                "max worst",
                "max worst/limit",
                "at",
                "max held",
                "fills",
                "final held",
                "final open BUY",
            ],
            rows,
            numeric=(1, 3, 5, 6, 7, 8, 9),
        )
        + "</section>"
    )


def exposure(model: ReportModel, chart: Callable[[TokenReport], bytes] | None) -> str:
    parts = ['<section id="exposure"><h2>Exposure over time</h2>']
    if chart is None:
        parts.append('<p class="muted">charts disabled (--no-charts)</p>')
    for report in sorted(model.tokens.values(), key=lambda r: r.token):
        parts.append(f"<h3>token <code>{_e(report.token)}</code></h3>")
        if chart is not None:
            data = base64.b64encode(chart(report)).decode("ascii")
            parts.append(
                f'<img alt="exposure of token {_e(report.token)}" src="data:image/png;base64,{data}">'
            )
    parts.append("</section>")
    return "".join(parts)


def halts(model: ReportModel) -> str:
    rows = [
        [
            _e(h["reason"]),
            _e(h["scope"]),
            _e(iso(h["start_at"])),
            _when(model, model.time_of(h["start_mono"], h["start_at"])),
            _e(iso(h["end_at"])) if h["end_seq"] else '<span class="fail">still latched</span>',
            _e(h["detail"]),
        ]
        for h in model.halts
    ]
    return (
        '<section id="halts"><h2>Halts</h2>'
        + _table(["reason", "scope", "since", "at", "until", "detail"], rows)
        + "</section>"
    )


def gaps(model: ReportModel) -> str:
    rows = [
        [
            _e(g["gap_id"]),
            _e(g["channel"] or "-"),
            _e(g["reason"]),
            _e(iso(g["opened_at"])),
            _e(iso(g["closed_at"])),
            _e(iso(g["resolved_at"])) if g["resolved_seq"] else '<span class="fail">UNRESOLVED</span>',
            _e(g["reconcile_id"]),
        ]
        for g in model.gaps
    ]
    return (
        '<section id="gaps"><h2>WebSocket gaps</h2>'
        + _table(["gap", "channel", "reason", "opened", "closed", "resolved", "by reconciliation"], rows)
        + "</section>"
    )


def fills(model: ReportModel) -> str:
    rows = [
        [
            str(f["seq"]),
            _e(iso(f["wall_time"])),
            _e(f["kind"]),
            f"<code>{_e(f['order_id'][:18])}</code>",
            f"<code>{_e(f['token'][:14])}</code>",
            _e(f["side"]),
            _num(f["delta"]),
            _num(f["price"]),
            _e(f["source"]),
            _e(f["trade_id"]),
        ]
        for f in model.fills[:MAX_FILL_ROWS]
    ]
    more = len(model.fills) - MAX_FILL_ROWS
    note = f'<p class="muted">{more} more fill(s) not listed (see aqbot ledger fills)</p>' if more > 0 else ""
    return (
        '<section id="fills"><h2>Fills</h2>'
        + _table(
            ["seq", "time", "kind", "order", "token", "side", "delta", "price", "source", "trade"],
            rows,
            numeric=(0, 6, 7),
        )
        + note
        + "</section>"
    )


def pnl(model: ReportModel) -> str:
    rows = []
    for r in sorted(model.tokens.values(), key=lambda r: r.token):
        p = r.pnl
        rows.append(
            [
                f"<code>{_e(r.token[:20])}</code>",
                _num(p.bought),
                _num(p.sold),
                _num(p.position),
                _num(p.average, 4),
                _num(p.realised, 4),
                _num(p.mark),
                _num(p.unrealised, 4),
            ]
        )
    return (
        '<section id="pnl"><h2>PnL (pUSD)</h2>'
        + _table(
            ["token", "bought", "sold", "position", "avg cost", "realised", "mark", "unrealised"],
            rows,
            numeric=(1, 2, 3, 4, 5, 6, 7),
        )
        + '<p class="muted">Average-cost method over the ledger\'s fills; the mark is the last price aqbot '
        "traded or quoted in the token (the ledger holds no market data); fees not deducted.</p></section>"
    )


def unknown(model: ReportModel) -> str:
    rows = [
        [
            f"<code>{_e(u['order_id'][:18])}</code>",
            f"<code>{_e(u['token'][:14])}</code>",
            _e(u["side"]),
            _num(u["reserved"]),
            _e(iso(u["entered_at"])),
            _e(u["why"]),
            _e(u["resolved_to"] or "-"),
            _e(u["resolved_by"] or "-"),
            _e(u["fact"] or "-"),
            _num(u["released"]) if u["released"] is not None else '<span class="fail">still reserved</span>',
            _e(u["release_cause"] or "-"),
        ]
        for u in model.unknown
    ]
    return (
        '<section id="unknown"><h2>UNKNOWN orders and how each was resolved</h2>'
        + _table(
            [
                "order",
                "token",
                "side",
                "reserved",
                "entered",
                "why UNKNOWN",
                "resolved to",
                "by",
                "confirmed fact",
                "released",
                "release cause",
            ],
            rows,
            numeric=(3, 9),
        )
        + "</section>"
    )


METHOD = """<section id="method"><h2>Method</h2><ul>
<li>Everything here is computed from the ledger's events only, by replaying the recorded facts
(<code>reservation</code>, <code>fill.applied</code>, <code>fill.reversed</code>,
<code>position.decision</code>, <code>order.adopted</code>) and checking the replay against every
recorded <code>snapshot</code>.</li>
<li>worst = held + open BUY remaining (invariant L1); the core also counts sells that may still FAIL.
A fill and the reservation shrink that the core makes in the same step are plotted as one change.</li>
<li>Halts are shaded from the event that latched them to the one that cleared them; gaps are hatched
from opening to resolution by a reconciliation that started after the gap ended.</li>
<li>An order leaves UNKNOWN only on an exchange-confirmed fact: a user-channel order event, a definitive
placement answer, or a REST reconciliation past the grace period.</li></ul></section>"""


def render(model: ReportModel, chart: Callable[[TokenReport], bytes] | None) -> str:
    title = f"aqbot compliance report: {model.path}"
    body = "".join(
        (
            summary(model),
            exposure(model, chart),
            halts(model),
            gaps(model),
            fills(model),
            pnl(model),
            unknown(model),
            METHOD,
        )
    )
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f"<style>{_CSS}</style></head><body><h1>{_e(title)}</h1>{body}</body></html>\n"
    )


__all__: list[Any] = ["render"]
