"""Order signing throughput: aqbot's OrderSigner against py-clob-client-v2 1.2.1, measured in one run.

Three loops over the same orders (same key, salts, timestamps, prices and sizes):

* ``aqbot``: ``OrderSigner.sign`` (Decimal price/size -> amounts, struct hash, digest, signature, order id)
  plus ``order_to_wire`` (the JSON ``order`` dict): everything the bot does per requote;
* ``sdk_build_signed_order``: the SDK's ``ExchangeOrderBuilderV2.build_signed_order`` on ready-made amounts
  (no amounts, no order hash, no JSON: less work than aqbot's loop);
* ``sdk_full``: the SDK's equivalent of aqbot's loop: ``OrderBuilder.build_order`` (amounts + signing) plus
  ``build_order_hash`` plus ``order_to_json_v2``.

Before timing, every order's wire JSON and order hash are checked byte for byte against the SDK's. Loops
alternate and each rate is the best of ``REPEATS`` runs, which keeps the ratios steady on a noisy 2-core VM.
"""

from __future__ import annotations

import functools
import json
import math
import random
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


def _aqbot_loop(signer: OrderSigner, orders: list[OrderInput]) -> list[dict[str, object]]:
    out = []
    for side, price, size, tick, neg_risk, salt, ts in orders:
        order = signer.sign(TOKEN, side, price, size, tick, neg_risk=neg_risk, salt=salt, timestamp_ms=ts)
        wire = order_to_wire(order)
        wire["orderID"] = order.order_id
        out.append(wire)
    return out


def _sdk_full_loop(orders: list[OrderInput]) -> list[dict[str, object]]:
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
    out = []
    with _sdk_stamps(orders):
        for side, price, size, tick, neg_risk, _salt, _ts in orders:
            args = OrderArgsV2(token_id=TOKEN, price=float(price), size=float(size), side=side.value)
            order = builder.build_order(args, CreateOrderOptions(tick_size=str(tick), neg_risk=neg_risk))
            hasher = hashers[neg_risk]
            order_hash = hasher.build_order_hash(hasher.build_order_typed_data(order))
            wire: dict[str, object] = order_to_json_v2(order, "owner", "GTC")["order"]
            wire["orderID"] = order_hash
            out.append(wire)
    return out


def _sdk_build_signed_loop(orders: list[OrderInput]) -> Callable[[], None]:
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

    def loop() -> None:
        for neg_risk, salt, order_data in data:
            current["salt"] = salt
            builders[neg_risk].build_signed_order(order_data)

    return loop


def _rate(fn: Callable[[], object], count: int) -> float:
    started = time.perf_counter()
    fn()
    return count / (time.perf_counter() - started)


def run(n: float = 1.0) -> dict[str, Any]:
    """Measure signing rates and their ratios.

    Args:
        n: an ``int`` is the number of orders per timed loop; a ``float`` is a scale of
            ``DEFAULT_ORDERS`` (``python -m bench --scale``), at least ``MIN_ORDERS``.
    """
    count = n if isinstance(n, int) else max(MIN_ORDERS, round(DEFAULT_ORDERS * n))
    orders = _orders(count)
    signer = OrderSigner(SigningKey.from_hex(KEY), CHAIN_ID)

    ours = _aqbot_loop(signer, orders)
    theirs = _sdk_full_loop(orders)
    mismatches = sum(1 for a, b in zip(ours, theirs, strict=True) if json.dumps(a) != json.dumps(b))

    sdk_signed = _sdk_build_signed_loop(orders)
    rates: dict[str, list[float]] = {"aqbot": [], "sdk_build_signed_order": [], "sdk_full": []}
    for _ in range(REPEATS):
        rates["aqbot"].append(_rate(lambda: _aqbot_loop(signer, orders), count))
        rates["sdk_build_signed_order"].append(_rate(sdk_signed, count))
        rates["sdk_full"].append(_rate(lambda: _sdk_full_loop(orders), count))
    best = {name: max(values) for name, values in rates.items()}
    ratio = best["aqbot"] / best["sdk_build_signed_order"]
    ratio_full = best["aqbot"] / best["sdk_full"]
    return {
        "orders": count,
        "repeats": REPEATS,
        "aqbot_orders_per_s": round(best["aqbot"]),
        "sdk_build_signed_order_per_s": round(best["sdk_build_signed_order"]),
        "sdk_full_per_s": round(best["sdk_full"]),
        "ratio_vs_build_signed_order": round(ratio, 2),
        "ratio_vs_sdk_full": round(ratio_full, 2),
        "bytes_identical": mismatches == 0,
        "orders_compared": len(ours),
        "mismatches": mismatches,
        "headline": (
            f"{best['aqbot']:,.0f} orders/s = {ratio:.1f}x SDK build_signed_order, {ratio_full:.1f}x SDK full"
        ),
        "goal": f">= {GOAL_RATIO:g}x",
        "goal_met": ratio >= GOAL_RATIO and mismatches == 0,
    }


if __name__ == "__main__":
    arg = sys.argv[1] if len(sys.argv) > 1 else ""
    result = run(int(arg) if arg.isdigit() else 1.0)
    print(json.dumps(result, indent=2))
