"""A reference auditor for the ground-truth tape (``docs/tape.md``): positions and limit checks.

It reads nothing but the tape: starting balances from ``header``/``account_added``, every ``fill``, and the
``FAILED`` reversals. It reports, per (owner, token), the final and the peak position (the number a
position limit must bound, invariant L2), and checks them against limits. ``python -m aqbot.sim.audit
TAPE [--owner KEY] [--limit SHARES]`` prints a JSON report and exits 1 on a breach.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterable, Sequence

import attrs

from aqbot.sim.units import fmt_units, parse_units

logger = logging.getLogger(__name__)


@attrs.define
class TokenAudit:
    """One (owner, token): base-unit positions and when the peak was reached."""

    position: int = 0
    peak: int = 0
    peak_t: int = 0
    fills: int = 0
    failed_fills: int = 0


@attrs.define
class AuditReport:
    """What a tape says: per (owner, token) audits, trade statuses and injected-fault counts."""

    seed: int | None = None
    profile: str = ""
    tokens: dict[tuple[str, str], TokenAudit] = attrs.field(factory=dict)
    statuses: dict[str, int] = attrs.field(factory=dict)
    faults: dict[str, int] = attrs.field(factory=dict)

    def breaches(self, limit_u: int, owner: str | None = None) -> list[tuple[str, str, int]]:
        """``(owner, token, peak)`` for every peak above ``limit_u`` (only ``owner``'s when given)."""
        return [
            (o, t, a.peak)
            for (o, t), a in sorted(self.tokens.items())
            if a.peak > limit_u and (owner is None or o == owner)
        ]

    def to_json(self) -> dict[str, object]:
        owners: dict[str, dict[str, object]] = {}
        for (o, t), a in sorted(self.tokens.items()):
            owners.setdefault(o, {})[t] = {
                "position": fmt_units(a.position),
                "peak": fmt_units(a.peak),
                "peak_t": a.peak_t,
                "fills": a.fills,
                "failed_fills": a.failed_fills,
            }
        return {
            "seed": self.seed,
            "fault_profile": self.profile,
            "owners": owners,
            "trade_statuses": dict(sorted(self.statuses.items())),
            "faults": dict(sorted(self.faults.items())),
        }


def _start(report: AuditReport, account: dict[str, object], t: int) -> None:
    tokens = account.get("tokens")
    if not isinstance(tokens, dict):
        return
    for token, amount in tokens.items():
        a = report.tokens.setdefault((str(account["owner"]), str(token)), TokenAudit())
        a.position += parse_units(str(amount))
        if a.position > a.peak:
            a.peak, a.peak_t = a.position, t


def audit(lines: Iterable[str]) -> AuditReport:
    """Replay a tape (an iterable of its lines) into an :class:`AuditReport`.

    Raises:
        ValueError: a line is not a JSON object with ``t`` and ``type``.
    """
    report = AuditReport()
    by_trade: dict[str, list[tuple[tuple[str, str], int]]] = {}
    last_status: dict[str, str] = {}
    for line in lines:
        if not line.strip():
            continue
        rec = json.loads(line)
        if not isinstance(rec, dict) or "type" not in rec or "t" not in rec:
            raise ValueError(f"not a tape record: {line[:80]!r}")
        kind, t = rec["type"], int(rec["t"])
        if kind == "header":
            report.seed = rec.get("seed")
            report.profile = str(rec.get("fault_profile", ""))
            for account in rec.get("accounts", []):
                _start(report, account, t)
        elif kind == "account_added":
            _start(report, rec["account"], t)
        elif kind == "fill":
            size = parse_units(rec["size"])
            delta = size - parse_units(rec["fee"]) if rec["side"] == "BUY" else -size
            key = (str(rec["owner"]), str(rec["token"]))
            a = report.tokens.setdefault(key, TokenAudit())
            a.position += delta
            a.fills += 1
            if a.position > a.peak:
                a.peak, a.peak_t = a.position, t
            by_trade.setdefault(str(rec["trade_id"]), []).append((key, delta))
        elif kind == "trade_status":
            tid, status = str(rec["trade_id"]), str(rec["status"])
            last_status[tid] = status
            if status == "FAILED":
                for key, delta in by_trade.get(tid, []):
                    report.tokens[key].position -= delta
                    report.tokens[key].failed_fills += 1
        elif kind == "fault":
            name = str(rec["fault"])
            report.faults[name] = report.faults.get(name, 0) + 1
    for status in last_status.values():
        report.statuses[status] = report.statuses.get(status, 0) + 1
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: audit a tape file; exit 1 when ``--limit`` is breached."""
    parser = argparse.ArgumentParser(prog="python -m aqbot.sim.audit", description=__doc__)
    parser.add_argument("tape", help="path to a .jsonl tape")
    parser.add_argument("--owner", help="only check this API key")
    parser.add_argument("--limit", help="max position in shares (decimal)")
    args = parser.parse_args(argv)
    with open(args.tape, encoding="utf-8") as fh:
        report = audit(fh)
    out = report.to_json()
    code = 0
    if args.limit is not None:
        breaches = report.breaches(parse_units(args.limit), args.owner)
        out["breaches"] = [{"owner": o, "token": t, "peak": fmt_units(p)} for o, t, p in breaches]
        code = 1 if breaches else 0
    sys.stdout.write(json.dumps(out, indent=2, sort_keys=True) + "\n")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
