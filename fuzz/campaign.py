"""The long limit-compliance campaign of ``make fuzz`` (the CI slice is ``tests/paper/``).

Three parts, all real bot against the simulator at max speed, judged from the exchange's own books:

* **seeds**: ``seeds`` runs under the ``chaos`` profile, every ``crash_every``-th with seeded in-process
  crashes and restarts on the same ledger;
* **schedules**: Hypothesis generates fault schedules (which user/market message to drop, duplicate,
  reorder, delay or disconnect on, which REST request to lose, refuse or throttle, and when the bot
  crashes) on top of the ``mild`` profile; each is one job whose replay command carries the schedule;
* **teeth**: the same seeds with a bug restored (``tests/paper/sabotage.py``); here violations are the
  expected outcome, and the table reports how many seeds caught it.

Hypothesis only *generates* the schedules here (no shrinking): the jobs run in parallel processes, and a
failing schedule is replayed with its printed one-line command.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from aqbot.paper.campaign import SeedJob
from aqbot.paper.schedule import REST_KINDS, WS_KINDS, FaultSchedule, ScheduledFault

ROOT = Path(__file__).resolve().parents[1]
SABOTAGE = ROOT / "tests" / "paper" / "sabotage.py"
TEETH_BUGS = ("release_on_cancel_send", "optimistic_release")


def tight_config(where: Path, max_position: int = 20) -> Path:
    """The shipped default with a 20-share limit (quotes of 10: the bot lives at its limit) and the
    notional caps out of the way."""
    from aqbot.config import default_config_path

    text = default_config_path().read_text(encoding="utf-8")
    text = text.replace("max_position = 100 ", f"max_position = {max_position} ")
    text = text.replace("max_market_notional = 100 ", "max_market_notional = 1000 ")
    text = text.replace("max_global_notional = 500 ", "max_global_notional = 5000 ")
    path = where / "campaign-tight.toml"
    path.write_text(text, encoding="utf-8")
    return path


def seed_jobs(
    seeds: int, *, first: int = 1, duration: float, markets: int, crash_every: int, config: Path
) -> list[SeedJob]:
    """Chaos seeds; every ``crash_every``-th one crashes (1 or 2 times) and restarts."""
    jobs = []
    for seed in range(first, first + seeds):
        crashes = (1 + seed % 2) if crash_every and seed % crash_every == 0 else 0
        jobs.append(SeedJob(seed, "chaos", duration, markets, crashes=crashes, config_path=str(config)))
    return jobs


def scheduled_fault(horizon: float) -> st.SearchStrategy[ScheduledFault]:
    at = st.integers(0, int(horizon * 0.9)).map(float)
    nth = st.integers(0, 30)
    delay = st.integers(1, 3000)
    ws = st.builds(
        ScheduledFault, at, st.sampled_from(["user", "market"]), nth, st.sampled_from(WS_KINDS), delay
    )
    rest = st.builds(ScheduledFault, at, st.just("rest"), nth, st.sampled_from(REST_KINDS), delay)
    return st.one_of(ws, rest)


def schedules(horizon: float) -> st.SearchStrategy[FaultSchedule]:
    """Up to 25 scripted faults and up to 3 crashes inside ``horizon`` simulated seconds."""
    crashes = st.lists(st.integers(5, int(horizon * 0.9)).map(float), max_size=3)
    return st.builds(
        FaultSchedule,
        faults=st.lists(scheduled_fault(horizon), max_size=25).map(tuple),
        crashes=crashes.map(lambda c: tuple(sorted(c))),
    )


def schedule_jobs(count: int, *, duration: float, markets: int, config: Path) -> list[SeedJob]:
    """``count`` Hypothesis-generated schedules (derandomized: the same list every time), one job each."""
    drawn: list[tuple[int, FaultSchedule]] = []

    @settings(
        max_examples=count, database=None, derandomize=True, phases=[Phase.generate], deadline=None,
        suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    @given(seed=st.integers(0, 2**31), schedule=schedules(duration))
    def collect(seed: int, schedule: FaultSchedule) -> None:
        drawn.append((seed, schedule))

    collect()
    return [
        SeedJob(seed, "mild", duration, markets, schedule_json=schedule.to_json(), config_path=str(config))
        for seed, schedule in drawn[:count]
    ]


def teeth_jobs(seeds: int, *, duration: float, markets: int, config: Path) -> dict[str, list[SeedJob]]:
    """Per restored bug, ``seeds`` chaos jobs with it installed."""
    return {
        bug: [
            SeedJob(seed, "chaos", duration, markets, config_path=str(config), hook=f"{SABOTAGE}:{bug}")
            for seed in range(1, seeds + 1)
        ]
        for bug in TEETH_BUGS
    }
