"""The synthetic market: fair value, background liquidity, heavy-tailed takers, and speed."""

from __future__ import annotations

import json
import time

from aqbot.sim.engine import Engine
from aqbot.sim.faults import profile
from aqbot.sim.flow import Flow, FlowConfig
from aqbot.sim.testkit import make_engine, run_scenario
from aqbot.sim.units import ONE, parse_units


def _fair_values(seed: int, minutes: int) -> list[int]:
    engine, (m,), _ = make_engine(seed, n_traders=0)
    flow = Flow(engine, seed, FlowConfig(takers_per_minute=0.0))
    out = []
    for t in range(engine.now_ms, engine.now_ms + minutes * 60_000, 1000):
        flow.step(t)
        out.append(flow.fair_value(m.condition_id))
    return out


def test_fair_value_walks_within_bounds_and_is_seeded() -> None:
    path = _fair_values(1, 30)
    assert all(0 < v < ONE for v in path)
    assert len(set(path)) > 100
    assert path == _fair_values(1, 30)
    assert path != _fair_values(2, 30)


def test_background_maker_quotes_around_fair_value() -> None:
    engine, (m,), _ = make_engine(4, n_traders=0)
    flow = Flow(engine, 4, FlowConfig(takers_per_minute=0.0))
    flow.step(engine.now_ms)
    book = engine.book(m.yes_token, engine.now_ms)
    assert book is not None
    fv = flow.fair_value(m.condition_id)
    bids, asks = book["bids"], book["asks"]
    assert isinstance(bids, list)
    assert isinstance(asks, list)
    assert len(bids) == 3
    assert len(asks) == 3
    assert parse_units(bids[-1]["price"]) < fv < parse_units(asks[-1]["price"])


def test_takers_fill_quotes_with_heavy_tailed_sizes_and_adverse_selection() -> None:
    engine, quoters = run_scenario(6, profile("none"), 30 * 60_000, n_markets=2)
    sizes = []
    fv: dict[str, int] = {}
    adverse = favourable = 0
    quoter_owners = {q.trader.owner for q in quoters}
    for line in engine.tape.lines:
        rec = json.loads(line)
        if rec["type"] == "fair_value":
            fv = {k: parse_units(v) for k, v in rec["values"].items()}
        elif rec["type"] == "fill" and rec["owner"] == "flow-taker" and rec["role"] == "TAKER":
            sizes.append(parse_units(rec["size"]))
        elif rec["type"] == "fill" and rec["owner"] in quoter_owners and fv:
            market_fv = fv[rec["market"]]
            token_fv = market_fv if _is_yes(engine, rec["token"]) else ONE - market_fv
            paid = parse_units(rec["price"])
            bad = paid > token_fv if rec["side"] == "BUY" else paid < token_fv
            adverse += bad
            favourable += not bad
    assert len(sizes) > 50
    sizes.sort()
    median, top = sizes[len(sizes) // 2], sizes[-1]
    assert top > 5 * median  # heavy tail
    assert adverse > 0
    assert favourable > 0


def _is_yes(engine: Engine, token: str) -> bool:
    return engine.token_market[token].is_yes(token)


def test_four_markets_under_chaos_run_far_faster_than_real_time() -> None:
    simulated_ms = 20 * 60_000
    t0 = time.process_time()
    engine, _ = run_scenario(9, profile("chaos"), simulated_ms, n_markets=4)
    elapsed = time.process_time() - t0
    assert len(engine.trades) > 100
    assert simulated_ms / 1000 / elapsed >= 100, elapsed
