"""render_dashboard to text: what is shown for hand-built states (healthy, halted, near limits, empty)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import attrs
from hypothesis import given
from hypothesis import strategies as st
from ui_states import LABELS, M1, M2, N1, N2, Y1, Y2, D, halted, health, healthy, quote, render_text, token

from aqbot.app_state import BotState, HaltState, PnlState
from aqbot.ui import render_dashboard
from aqbot.ui.model import ChannelIo, DashboardExtras, EventLine, FillTotals, IoStats
from aqbot.ui.render import BAR_WIDTH, MAX_QUOTES_PER_TOKEN, limit_bar


def lines(text: str) -> list[str]:
    """Each line with its runs of spaces collapsed (column widths are rich's business)."""
    return [" ".join(line.replace("│", " ").split()) for line in text.splitlines()]


def has_line(text: str, fragment: str) -> bool:
    return any(fragment in line for line in lines(text))


def extras(**kw: object) -> DashboardExtras:
    base: dict[str, object] = {"started_at": 877.0, "labels": LABELS}
    base.update(kw)
    return DashboardExtras(**base)  # type: ignore[arg-type]


def test_healthy_frame_shows_books_positions_bars_and_orders() -> None:
    state = attrs.evolve(healthy(), pnl=PnlState(D(0), D("0.36"), D("0.36"), D("0.36"), D(50)))
    text = render_text(render_dashboard(state, extras()))
    assert has_line(text, "PAPER up 2m03s quoting YES markets 2 resting 5 open gaps 0")
    assert has_line(text, "PnL +0.36 (realized 0.00, unrealized +0.36 at bid) today +0.36 / -50")
    assert has_line(
        text, "0xaaaa…1111 YES 0.48/0.52 12 10 5 22/50 ███████░░░░░░░░░ 44% 0 quoting B 10@0.47 S 5@0.53"
    )
    assert has_line(text, "NO 0.47/0.51 0 10 0 10/50 ███░░░░░░░░░░░░░ 20% 0 B 10@0.46")
    assert has_line(
        text, "0xbbbb…2222 YES 0.3/0.32 0 10 0 10/50 ███░░░░░░░░░░░░░ 20% 0 quoting B 10@0.29 pend"
    )
    assert has_line(text, "NO 0.68/0.7 0 10 0 10/50 ███░░░░░░░░░░░░░ 20% 0 B 10@0.67 UNK")
    assert has_line(text, "user ws ● up gaps 0")
    assert has_line(text, "heartbeat last ok 2.0s ago")
    assert has_line(text, "reconcile last ok 10s ago failures 0")
    assert has_line(text, "ledger ok buffered 3")
    assert has_line(text, "orders placed 40 rejected 1 unknown 0")
    assert has_line(text, "none (open gaps 0)")
    assert "HALT" not in text


def test_orders_per_token_buys_first_then_by_price() -> None:
    quotes = (
        quote("0xa", Y1, "SELL", "0.55", "3"),
        quote("0xb", Y1, "BUY", "0.45", "2", "CANCEL_REQUESTED"),
        quote("0xc", Y1, "SELL", "0.53", "4"),
        quote("0xd", Y1, "BUY", "0.47", "1"),
    )
    text = render_text(render_dashboard(attrs.evolve(healthy(), quotes=quotes), extras()))
    assert has_line(text, "44% 0 quoting B 1@0.47 B 2@0.45 cxl S 3@0.55 S 4@0.53")
    assert has_line(text, "NO 0.47/0.51 0 10 0 10/50 ███░░░░░░░░░░░░░ 20% 0 -")


def test_halted_frame_shows_reasons_scopes_and_durations() -> None:
    text = render_text(render_dashboard(halted(), extras()))
    assert has_line(text, "quoting no: MARKET_DATA_STALE,RECONCILE_PENDING,USER_WS_DOWN markets 2")
    assert has_line(text, "halts (2, open gaps 1)")
    assert has_line(text, "USER_WS_DOWN global for 12s user channel down:")
    assert has_line(text, "MARKET_DATA_STALE market 0xbbbb…2222 for 3s no book update for")
    assert has_line(text, "22/50 ███████░░░░░░░░░ 44% 0 HALT RECONCILE_PENDING USER_WS_DOWN")
    assert has_line(
        text,
        "0xbbbb…2222 YES 0.3/0.32 0 10 0 10/50 ███░░░░░░░░░░░░░ 20% 0 "
        "HALT MARKET_DATA_STALE RECONCILE_PENDING USER_WS_DOWN B 10@0.29 pend",
    )
    assert has_line(text, "user ws ○ DOWN gaps 2")
    assert has_line(text, "market ws ● up gaps 0")
    assert "quoting YES" not in text


def test_reconcile_pending_alone_is_named_as_the_reason() -> None:
    state = attrs.evolve(healthy(), open_gaps=1, quoting_allowed={M1: False, M2: True})
    text = render_text(render_dashboard(state, extras()))
    assert has_line(text, "quoting 1/2: RECONCILE_PENDING")
    assert has_line(
        text,
        "0xaaaa…1111 YES 0.48/0.52 12 10 5 22/50 ███████░░░░░░░░░ 44% 0 HALT RECONCILE_PENDING "
        "B 10@0.47 S 5@0.53",
    )
    assert has_line(
        text, "0xbbbb…2222 YES 0.3/0.32 0 10 0 10/50 ███░░░░░░░░░░░░░ 20% 0 quoting B 10@0.29 pend"
    )


def test_near_limit_bars() -> None:
    tokens = (
        token(Y1, M1, held="40", open_buy="5", limit="50"),  # 90%: red
        token(N1, M1, held="35", limit="50"),  # 70%: yellow
        token(Y2, M2, held="50", open_buy="10", limit="50"),  # beyond: full bar, OVER
        token(N2, M2, limit="50"),
    )
    state = attrs.evolve(healthy(), tokens=tokens)
    text = render_text(render_dashboard(state, extras()))
    assert has_line(text, "45/50 ██████████████░░ 90%")
    assert has_line(text, "35/50 ███████████░░░░░ 70%")
    assert has_line(text, "60/50 ████████████████ 120% OVER")
    assert has_line(text, "0/50 ░░░░░░░░░░░░░░░░ 0%")


def _bar_style(worst: Decimal, limit: Decimal) -> str:
    bar = limit_bar(worst, limit)
    start = bar.plain.index(" ") + 1
    return next(str(s.style) for s in bar.spans if s.start == start)


def test_bar_colours_follow_thresholds() -> None:
    assert _bar_style(D("34.9"), D(50)) == "green"
    assert _bar_style(D(35), D(50)) == "yellow"
    assert _bar_style(D("44.9"), D(50)) == "yellow"
    assert _bar_style(D(45), D(50)) == "bold red"
    assert _bar_style(D(51), D(50)) == "bold red"


@given(
    worst=st.decimals(min_value=0, max_value=200, places=2),
    limit=st.decimals(min_value=Decimal("0.01"), max_value=100, places=2),
)
def test_bar_fill_is_proportional_to_worst_over_limit(worst: Decimal, limit: Decimal) -> None:
    plain = limit_bar(worst, limit).plain
    cells = plain.split(" ")[1]
    filled = cells.count("█")
    assert len(cells) == BAR_WIDTH
    assert cells == "█" * filled + "░" * (BAR_WIDTH - filled)
    expected = min(BAR_WIDTH, int((worst / limit * BAR_WIDTH).to_integral_value(rounding=ROUND_HALF_UP)))
    assert filled == expected
    assert plain.endswith(" OVER") == (worst > limit)


def test_empty_books_no_quotes_no_fills() -> None:
    tokens = tuple(token(t, m, bid=None, ask=None) for t, m in ((Y1, M1), (N1, M1)))
    state = BotState(50.0, tokens, (), (), 0, {M1: True}, health())
    text = render_text(render_dashboard(state, extras(started_at=50.0)))
    assert has_line(text, "0xaaaa…1111 YES -/- 0 0 0 0/50 ░░░░░░░░░░░░░░░░ 0% 0 quoting -")
    assert has_line(text, "up 0s quoting YES markets 1 resting 0")
    assert has_line(text, "PnL 0.00 (realized 0.00, unrealized 0.00 at bid) today n/a")
    assert has_line(text, "(nothing yet)")


def test_no_markets_and_no_extras() -> None:
    state = BotState(5.0, (), (), (), 0, {}, health(heartbeat_last_ok=None, reconcile_last_ok=None))
    text = render_text(render_dashboard(state))
    assert has_line(text, "(no markets)")
    assert has_line(text, "PAPER up - quoting YES markets 0")
    assert has_line(text, "heartbeat last ok never")
    assert has_line(text, "PnL 0.00 (realized 0.00, unrealized 0.00 at bid) today n/a")


def test_pnl_shows_the_cores_figures_and_the_day_against_the_limit() -> None:
    pnl = PnlState(D("1.5"), D("-3.25"), D("-1.75"), D("-40"), None)
    text = render_text(render_dashboard(attrs.evolve(healthy(), pnl=pnl), extras()))
    assert has_line(text, "PnL -1.75 (realized +1.50, unrealized -3.25 at bid) today -40.00")
    text = render_text(
        render_dashboard(attrs.evolve(healthy(), pnl=attrs.evolve(pnl, daily_loss_limit=D(50))), extras())
    )
    assert has_line(text, "PnL -1.75 (realized +1.50, unrealized -3.25 at bid) today -40.00 / -50")


def test_events_fills_and_io_counters() -> None:
    fills = FillTotals().add("BUY", D(10), D("0.47")).add("SELL", D(4), D("0.53"))
    io = IoStats(
        user=ChannelIo(frames=120, connects=1, last_frame_at=999.5),
        market=ChannelIo(frames=3400, connects=2, decode_errors=1, last_frame_at=940.0),
        heartbeat_beats=24, heartbeat_failures=1, reconcile_runs=3, reconcile_last_error="timeout",
        positions_syncs=8, positions_failures=2, positions_last_error="HTTP 503",
    )  # fmt: skip
    events = (
        EventLine(990.0, "halt", "USER_WS_DOWN (global): user channel down"),
        EventLine(995.0, "fill", "BUY YES 0xaaaa…1111 10 @ 0.47"),
        EventLine(999.0, "resume", "USER_WS_DOWN (global) cleared after 9s"),
    )
    ex = extras(fills=fills, token_fills={Y1: fills}, events=events, io=io, frame_ms=2.5)
    state = attrs.evolve(healthy(), pnl=PnlState(D("0.24"), D("0.36"), D("0.60"), D("0.60"), D(50)))
    text = render_text(render_dashboard(state, ex))
    assert has_line(text, "fills 2 (bought 10 for 4.7, sold 4 for 2.12 pUSD)")
    assert has_line(text, "PnL +0.60 (realized +0.24, unrealized +0.36 at bid) today +0.60 / -50")
    assert has_line(text, "44% 2 (+10/-4) quoting")
    assert has_line(text, "-10s halt USER_WS_DOWN (global): user channel down")
    assert has_line(text, "-5s fill BUY YES 0xaaaa…1111 10 @ 0.47")
    assert has_line(text, "-1s resume USER_WS_DOWN (global) cleared after 9s")
    assert has_line(text, "user ws ● up gaps 0 frames 120 conn 1 last 0.5s ago")
    assert has_line(text, "market ws ● up gaps 0 frames 3400 conn 2 bad 1 last 1m00s ago")
    assert has_line(text, "heartbeat last ok 2.0s ago beats 24 failures 1")
    assert has_line(text, "reconcile last ok 10s ago failures 0 runs 3 last error: timeout")
    assert has_line(text, "positions last ok 5.0s ago syncs 8 failures 2 last error: HTTP 503")
    assert has_line(text, "frame 2.5 ms")


def test_orders_per_token_are_bounded() -> None:
    quotes = tuple(quote(f"0xq{i:04d}", Y1, "BUY", "0.4", "1") for i in range(MAX_QUOTES_PER_TOKEN + 3))
    text = render_text(render_dashboard(attrs.evolve(healthy(), quotes=quotes), extras()), width=220)
    assert has_line(text, "quoting " + "B 1@0.4 " * MAX_QUOTES_PER_TOKEN + "+3 more")


def test_pure_same_inputs_same_frame_and_ages_come_from_state_now() -> None:
    ex = extras(events=(EventLine(990.0, "info", "x"),))
    assert render_text(render_dashboard(healthy(), ex)) == render_text(render_dashboard(healthy(), ex))
    later = render_text(render_dashboard(healthy(now=1060.0), ex))
    assert has_line(later, "up 3m03s")
    assert has_line(later, "-1m10s info x")
    assert has_line(later, "heartbeat last ok 1m02s ago")


def test_token_halt_names_the_outcome_and_market() -> None:
    halt = HaltState("POSITION_MISMATCH", f"token:{N1}", 995.0, "api None vs held 5.00")
    state = attrs.evolve(healthy(), halts=(halt,), quoting_allowed={M1: False, M2: True})
    text = render_text(render_dashboard(state, extras()))
    assert has_line(text, "POSITION_MISMATCH token NO 0xaaaa…1111 for 5s api None vs held 5.00")
    assert has_line(text, "quoting 1/2: POSITION_MISMATCH")
    assert has_line(text, "44% 0 HALT POSITION_MISMATCH B 10@0.47 S 5@0.53")
