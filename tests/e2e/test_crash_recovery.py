"""Crash recovery, for real: ``aqbot sim`` in one process, ``aqbot run`` in another, SIGKILL at seeded
random moments, restart on the same ledger.

After every kill: the ledger passes ``LedgerStore.verify`` (seq continuity, append-only triggers, gaps
table). After every restart: the orders the dead process left resting on the exchange (from the
simulator's tape) are reserved again, by the ledger replay plus the startup reconciliation, before the new
process places its first order. At the end (graceful stop of the last bot and of the simulator): no fill
lost or counted twice (the ledger's applied minus reversed fills equal the tape's fills minus FAILED
reversals, per token), no position above the limit on the simulator's books over the whole run, and
``aqbot ledger verify`` (structure plus fact replay against every snapshot) exits 0.

``AQBOT_E2E_KILLS`` sets the number of kill cycles (default 3 in ``make test``; ``make fuzz`` runs 100);
``AQBOT_E2E_SEED`` the seed. Real time: bounds are ``>=``/``<=`` with margins, waits poll files.
"""

from __future__ import annotations

import os
import random
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import pytest
import trio
from e2e_helpers import (
    ROOT,
    aqbot,
    bot_config,
    bot_env,
    final_held,
    ledger_rows,
    order_lives,
    poll,
    read_json,
    reserved_at_first_place,
    stop_process,
    trade_statuses,
)

from aqbot.io.ledger import LedgerStore
from aqbot.paper.summary import tape_evidence

pytestmark = pytest.mark.e2e

KILLS = int(os.environ.get("AQBOT_E2E_KILLS", "3"))
SEED = int(os.environ.get("AQBOT_E2E_SEED", "11"))
LIMIT = 20
# Clock skew allowed between the ledger's wall-time labels and the tape's simulated ms (same machine).
SKEW_MS = 1000
# Once it has quoted, a bot is killed this long later (seconds, seeded uniform).
KILL_AFTER = (0.0, 4.0)
# The last bot runs at least this long before its graceful stop, so every settlement (FAILED at +12 s)
# has reached it.
FINAL_RUN = 15.0


async def _start_bot(config: Path, env: dict[str, str], log: Path) -> trio.Process:
    with log.open("ab") as err:
        return await trio.lowlevel.open_process(
            aqbot("run", "--config", str(config)), env=env, cwd=ROOT, stdout=err, stderr=err
        )


async def _quoted(ledger: Path, after: int, *, limit: float, log: Path) -> None:
    def placed() -> bool | None:
        return True if any(r.type == "command.place" for r in ledger_rows(ledger, after)) else None

    await poll(f"a quote after seq {after}", placed, limit=limit, log=log)


async def _reconciled(ledger: Path, after: int, *, limit: float, log: Path) -> None:
    def done() -> bool | None:
        rows = ledger_rows(ledger, after)
        return True if any(r.type == "reconcile.done" and r.payload.get("ok") for r in rows) else None

    await poll(f"a completed reconciliation after seq {after}", done, limit=limit, log=log)


async def test_sigkill_and_restart_keep_the_books(tmp_path: Path) -> None:
    rng = random.Random(f"e2e-kill-{SEED}")
    info_file, tape = tmp_path / "sim.json", tmp_path / "tape.jsonl"
    ledger, config, log = tmp_path / "ledger.sqlite3", tmp_path / "bot.toml", tmp_path / "bot.log"
    with trio.fail_after(120 + KILLS * 60), (tmp_path / "sim.log").open("wb") as sim_log:
        sim = await trio.lowlevel.open_process(
            aqbot("sim", "--seed", str(SEED), "--markets", "1", "--faults", "none", "--info-file",
                  str(info_file), "--tape", str(tape)),
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=sim_log,
        )  # fmt: skip
        bot: trio.Process | None = None
        try:
            info = await poll("the info file", lambda: read_json(info_file), limit=60)
            owner = info["accounts"][0]["api_key"]
            config.write_text(bot_config(info, ledger, max_position=LIMIT, markets=1), encoding="utf-8")
            env = bot_env(info)
            kills: list[tuple[float, int]] = []  # (kill wall time, last seq written before the kill)
            bot = await _start_bot(config, env, log)
            await _quoted(ledger, 0, limit=60, log=log)
            for _ in range(KILLS):
                await trio.sleep(rng.uniform(*KILL_AFTER))  # the seeded kill moment
                wall = time.time()  # a label, compared with the tape's ms and the ledger's wall_time
                bot.kill()
                assert await bot.wait() == -9
                with LedgerStore.open(ledger, read_only=True) as store:
                    report = store.verify()
                    assert report.ok, report.problems
                    last = store.last_seq()
                kills.append((wall, last))
                bot = await _start_bot(config, env, log)
                # Reconciled and free to quote (it may place nothing: it can restart at its limits).
                await _reconciled(ledger, last, limit=90, log=log)
            await trio.sleep(FINAL_RUN)
            assert await stop_process(bot, limit=60) == 0
        finally:
            if bot is not None and bot.returncode is None:
                bot.kill()
                await bot.wait()
            assert await stop_process(sim, limit=30) == 0
    rows = ledger_rows(ledger)
    lives = order_lives(tape, owner)
    # Every restart: what the dead process left resting is reserved again before the first new order.
    boundaries = [last for _, last in kills] + [rows[-1].seq]
    checked = 0
    for (kill_wall, last), nxt in zip(kills, boundaries[1:], strict=True):
        section = [r for r in rows if last < r.seq <= nxt]
        found = reserved_at_first_place(section)
        if found is None:
            continue  # killed before it reconciled and placed anything
        checked += 1
        place, reserved = found
        kill_ms, place_ms = round(kill_wall * 1000), round(place.wall * 1000)
        for order_id, life in lives.items():
            resting_at_kill = life.start <= kill_ms - SKEW_MS and (life.end is None or life.end > kill_ms)
            still_resting = life.end is None or life.end > place_ms + SKEW_MS
            if resting_at_kill and still_resting:
                must_hold = life.size - life.filled_by(place_ms + SKEW_MS)
                assert reserved.get(order_id, Decimal(0)) >= must_hold, (order_id, reserved.get(order_id))
    assert checked >= 1, "no restarted process ever reconciled: nothing was checked"
    # No fill lost or counted twice, FAILED reversals included: the last bot's final books hold exactly
    # what the exchange credits, and every trade it recorded ended as the exchange says.
    tokens = [t["token_id"] for m in info["markets"] for t in m["tokens"]]
    with tape.open(encoding="ascii") as lines:
        evidence = tape_evidence(lines, owner, dict.fromkeys(tokens, Decimal(LIMIT)))
    held = final_held(rows)
    for token in tokens:
        assert held.get(token, Decimal(0)) == evidence.final.get(token, Decimal(0)), token
    recorded = trade_statuses(rows)
    assert set(recorded) <= set(evidence.fill_trades)
    for trade_id in recorded:
        reversed_in_ledger = any(
            r.type == "fill.reversed" and r.payload["trade_id"] == trade_id for r in rows
        )
        if trade_id in evidence.failed_trades and recorded[trade_id] == "FAILED":
            assert reversed_in_ledger, trade_id
        assert not (reversed_in_ledger and trade_id not in evidence.failed_trades), trade_id
    # The exchange never credited more than the limit.
    assert evidence.violations == []
    # Structure and fact replay of the whole ledger, as the operator's tool sees it.
    with trio.fail_after(120):
        verify = await trio.run_process(aqbot("ledger", "verify", str(ledger)), cwd=ROOT, capture_stdout=True,
                                        capture_stderr=True, check=False)  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert len(kills) == KILLS
