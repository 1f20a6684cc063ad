"""Order signing throughput: aqbot's OrderSigner against py-clob-client-v2 1.2.1, measured in one run.

Three loops over the same orders (same key, salts, timestamps, prices and sizes):

* ``aqbot``: ``OrderSigner.sign`` (Decimal price/size -> amounts, struct hash, digest, signature, order id)
  plus ``order_to_wire`` (the JSON ``order`` dict): everything the bot does per requote;
* ``sdk_build_signed_order``: the SDK's ``ExchangeOrderBuilderV2.build_signed_order`` on ready-made amounts
  (no amounts, no order hash, no JSON: less work than aqbot's loop);
* ``sdk_full``: the SDK's equivalent of aqbot's loop: ``OrderBuilder.build_order`` (amounts + signing) plus
  ``build_order_hash`` plus ``order_to_json_v2``.

Before timing, every order's wire JSON and order hash are checked byte for byte against the SDK's. The loops
run interleaved in chunks of ``CHUNK`` orders, so background load on this shared 2-core VM falls on all of
them alike; rates and ratios are medians over ``REPEATS`` passes.
"""

from __future__ import annotations

import functools
import json
import math
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from types import SimpleNamespace
from typing import Any
from unittest.mock import patch

from aqbot.auth import OrderSigner, SigningKey, limit_order_amounts, order_to_wire
from aqbot.core.types import Side

# Orders per timed loop at scale 1.0, and timed repetitions per loop.
DEFAULT_ORDERS = 1500
MIN_ORDERS = 30
REPEATS = 3
# Orders per interleaved timing chunk.
CHUNK = 50
GOAL_RATIO = 3.0
# Hardhat's public development key #0 (never funded).
KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
CHAIN_ID = 137
TOKEN = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
TICKS = (Decimal("0.01"), Decimal("0.001"), Decimal("0.1"), Decimal("0.0001"))


OrderInput = tuple[Side, Decimal, Decimal, Decimal, bool, int, int]


def _orders(count: int, seed: int = 7) -> list[OrderInput]:
    """Quote-like orders: on-grid prices, cent sizes that the SDK's floats also floor exactly."""
    rng = random.Random(seed)
    out: list[OrderInput] = []
    ts = 1_760_000_000_000
    while len(out) < count:
        tick = rng.choice(TICKS)
        steps = int(1 / tick)
        price = tick * rng.randint(1, steps - 1)
        cents = rng.randint(500, 500_000)
        if math.floor(float(Decimal(cents).scaleb(-2)) * 100) != cents:
            continue  # a float-noise size: the SDK would sign one cent less (see docs/auth.md)
        ts += rng.randint(0, 3)
        side = rng.choice((Side.BUY, Side.SELL))
        out.append(
            (side, price, Decimal(cents).scaleb(-2), tick, rng.random() < 0.5, rng.randrange(2**40), ts)
        )
    return out


@contextmanager
def _sdk_stamps(orders: list[OrderInput]) -> Iterator[None]:
    """Feed the SDK's OrderBuilder the same salts and timestamps, in order."""
    from py_clob_client_v2.order_builder import builder as builder_module
    from py_clob_client_v2.order_utils import ExchangeOrderBuilderV2

    salts = iter([str(o[5]) for o in orders])
    stamps = iter([o[6] * 1_000_000 for o in orders])
    fake_time = SimpleNamespace(time_ns=lambda: next(stamps))
    cls = functools.partial(ExchangeOrderBuilderV2, generate_salt=lambda: next(salts))
    with (
        patch.object(builder_module, "ExchangeOrderBuilderV2", cls),
        patch.object(builder_module, "time", fake_time),
    ):
        yield


Runner = Callable[[int, int], list[dict[str, object]]]


def _aqbot_runner(orders: list[OrderInput]) -> Runner:
    signer = OrderSigner(SigningKey.from_hex(KEY), CHAIN_ID)

    def run_chunk(lo: int, hi: int) -> list[dict[str, object]]:
        out = []
        for side, price, size, tick, neg_risk, salt, ts in orders[lo:hi]:
            order = signer.sign(TOKEN, side, price, size, tick, neg_risk=neg_risk, salt=salt, timestamp_ms=ts)
            wire = order_to_wire(order)
            wire["orderID"] = order.order_id
            out.append(wire)
        return out

    return run_chunk


def _sdk_full_runner(orders: list[OrderInput]) -> Runner:
    from py_clob_client_v2.clob_types import CreateOrderOptions, OrderArgsV2
    from py_clob_client_v2.config import get_contract_config
    from py_clob_client_v2.order_builder.builder import OrderBuilder
    from py_clob_client_v2.order_utils import ExchangeOrderBuilderV2
    from py_clob_client_v2.order_utils.model.order_data_v2 import order_to_json_v2
    from py_clob_client_v2.signer import Signer

    signer = Signer(KEY, CHAIN_ID)
    builder = OrderBuilder(signer)
    cfg = get_contract_config(CHAIN_ID)
    hashers = {
        nr: ExchangeOrderBuilderV2(a, CHAIN_ID, signer)
        for nr, a in ((False, cfg.exchange_v2), (True, cfg.neg_risk_exchange_v2))
    }

    def run_chunk(lo: int, hi: int) -> list[dict[str, object]]:
        out = []
        with _sdk_stamps(orders[lo:hi]):
            for side, price, size, tick, neg_risk, _salt, _ts in orders[lo:hi]:
                args = OrderArgsV2(token_id=TOKEN, price=float(price), size=float(size), side=side.value)
                order = builder.build_order(args, CreateOrderOptions(tick_size=str(tick), neg_risk=neg_risk))
                hasher = hashers[neg_risk]
                order_hash = hasher.build_order_hash(hasher.build_order_typed_data(order))
                wire: dict[str, object] = order_to_json_v2(order, "owner", "GTC")["order"]
                wire["orderID"] = order_hash
                out.append(wire)
        return out

    return run_chunk


def _sdk_build_signed_runner(orders: list[OrderInput]) -> Runner:
    from py_clob_client_v2.config import get_contract_config
    from py_clob_client_v2.order_utils import ExchangeOrderBuilderV2
    from py_clob_client_v2.order_utils.model.order_data_v2 import OrderDataV2
    from py_clob_client_v2.order_utils.model.side import Side as SdkSide
    from py_clob_client_v2.signer import Signer

    signer = Signer(KEY, CHAIN_ID)
    cfg = get_contract_config(CHAIN_ID)
    data = []
    for side, price, size, tick, neg_risk, salt, ts in orders:
        maker, taker = limit_order_amounts(side, price, size, tick)
        data.append(
            (
                neg_risk,
                str(salt),
                OrderDataV2(
                    maker=signer.address(),
                    tokenId=TOKEN,
                    makerAmount=str(maker),
                    takerAmount=str(taker),
                    side=SdkSide.BUY if side is Side.BUY else SdkSide.SELL,
                    signer=signer.address(),
                    timestamp=str(ts),
                ),
            )
        )
    current = {"salt": "0"}
    builders = {
        nr: ExchangeOrderBuilderV2(a, CHAIN_ID, signer, generate_salt=lambda: current["salt"])
        for nr, a in ((False, cfg.exchange_v2), (True, cfg.neg_risk_exchange_v2))
    }

    def run_chunk(lo: int, hi: int) -> list[dict[str, object]]:
        for neg_risk, salt, order_data in data[lo:hi]:
            current["salt"] = salt
            builders[neg_risk].build_signed_order(order_data)
        return []

    return run_chunk


def _timed(runner: Runner, lo: int, hi: int) -> float:
    started = time.perf_counter()
    runner(lo, hi)
    return time.perf_counter() - started


def run(n: float = 1.0) -> dict[str, Any]:
    """Measure signing rates and their ratios.

    The three loops run interleaved chunk by chunk (``CHUNK`` orders each), so load from other processes
    on this shared VM falls on all of them alike; each figure is the median over ``REPEATS`` passes.

    Args:
        n: an ``int`` is the number of orders per timed loop; a ``float`` is a scale of
            ``DEFAULT_ORDERS`` (``python -m bench --scale``), at least ``MIN_ORDERS``.
    """
    count = n if isinstance(n, int) else max(MIN_ORDERS, round(DEFAULT_ORDERS * n))
    orders = _orders(count)
    runners = {
        "aqbot": _aqbot_runner(orders),
        "sdk_build_signed_order": _sdk_build_signed_runner(orders),
        "sdk_full": _sdk_full_runner(orders),
    }
    ours = runners["aqbot"](0, count)
    theirs = runners["sdk_full"](0, count)
    mismatches = sum(1 for a, b in zip(ours, theirs, strict=True) if json.dumps(a) != json.dumps(b))

    rates: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(REPEATS):
        spent = dict.fromkeys(runners, 0.0)
        for lo in range(0, count, CHUNK):
            for name, runner in runners.items():
                spent[name] += _timed(runner, lo, min(lo + CHUNK, count))
        for name in runners:
            rates[name].append(count / spent[name])
    ratios = [a / b for a, b in zip(rates["aqbot"], rates["sdk_build_signed_order"], strict=True)]
    ratios_full = [a / b for a, b in zip(rates["aqbot"], rates["sdk_full"], strict=True)]
    med = {name: statistics.median(values) for name, values in rates.items()}
    ratio, ratio_full = statistics.median(ratios), statistics.median(ratios_full)
    return {
        "orders": count,
        "repeats": REPEATS,
        "aqbot_orders_per_s": round(med["aqbot"]),
        "sdk_build_signed_order_per_s": round(med["sdk_build_signed_order"]),
        "sdk_full_per_s": round(med["sdk_full"]),
        "ratio_vs_build_signed_order": round(ratio, 2),
        "ratio_vs_build_signed_order_range": [round(min(ratios), 2), round(max(ratios), 2)],
        "ratio_vs_sdk_full": round(ratio_full, 2),
        "bytes_identical": mismatches == 0,
        "orders_compared": len(ours),
        "mismatches": mismatches,
        "headline": (
            f"{med['aqbot']:,.0f} orders/s = {ratio:.1f}x SDK build_signed_order, {ratio_full:.1f}x SDK full"
        ),
        "goal": f">= {GOAL_RATIO:g}x",
        "goal_met": ratio >= GOAL_RATIO and mismatches == 0,
    }


if __name__ == "__main__":
    arg = sys.argv[1] if len(sys.argv) > 1 else ""
    result = run(int(arg) if arg.isdigit() else 1.0)
    print(json.dumps(result, indent=2))
