"""What the composition root (:mod:`aqbot.app`) is built from: the exchange connectors, the runtime
timers and the bot's parameters (built from the configuration by :mod:`aqbot.run`)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import attrs
import httpx2

from aqbot.auth.l2 import ApiCreds
from aqbot.auth.signer import OrderSigner
from aqbot.config import MetricsConfig
from aqbot.core.config import CoreConfig
from aqbot.core.strategy import Strategy
from aqbot.core.types import MarketSpec
from aqbot.io import edge
from aqbot.io.observe import StormThresholds
from aqbot.io.quoter import QuoterConfig
from aqbot.io.ws_conn import MESSAGE_QUEUE_SIZE, RECEIVE_BUFFER_SIZE, WsConnection, open_websocket

WsOpener = Callable[[str], AbstractAsyncContextManager[WsConnection]]


@attrs.frozen
class ExchangeConnectors:
    """Where the exchange is and how to reach it.

    Attributes:
        clob_url: CLOB REST base URL.
        ws_base_url: WebSocket base ending in ``/``; ``market`` and ``user`` are appended.
        data_api_url: Data API base URL.
        ws_connect: opens a WebSocket to a URL (:func:`aqbot.io.ws.open_websocket` on a real network:
            trio-websocket with the readers' frame queue).
        http_transport: a fresh httpx2 transport per client (``None``: httpx2's default network transport).
        wall_clock: Unix seconds as the exchange sees them (the simulator's clock in process).
    """

    clob_url: str
    ws_base_url: str
    data_api_url: str
    ws_connect: WsOpener
    http_transport: Callable[[], httpx2.AsyncBaseTransport] | None = None
    wall_clock: Callable[[], float] = time.time

    @classmethod
    def network(cls, clob_url: str, ws_base_url: str, data_api_url: str) -> ExchangeConnectors:
        """Real sockets (Polymarket, or the loopback simulator)."""
        return cls(clob_url, ws_base_url, data_api_url, open_websocket)

    @classmethod
    def simulator(cls, handle: Any) -> ExchangeConnectors:
        """A running simulator (:class:`aqbot.sim.runner.SimHandle`), in process or on loopback."""
        info, connector = handle.info, handle.connector
        return cls(
            info.rest_url,
            info.ws_url.rstrip("/") + "/ws/",
            info.data_api_url,
            functools.partial(
                connector.ws_connect,
                message_queue_size=MESSAGE_QUEUE_SIZE,
                receive_buffer_size=RECEIVE_BUFFER_SIZE,
            ),
            connector.http_transport,
            wall_clock=lambda: handle.now_ms() / 1000.0,
        )


@attrs.frozen
class BotTimers:
    """Runtime timing (seconds); the limit-contract timers live in :class:`CoreConfig`."""

    heartbeat_interval: float = 5.0
    ws_ping_interval: float = 10.0
    ws_stale: float = 30.0
    market_silence: float | None = 60.0
    position_sync_interval: float = 15.0
    shutdown_grace: float = 10.0
    snapshot_interval: float = 30.0


@attrs.frozen
class BotParams:
    """Everything the bot needs besides the exchange connection. Build with :mod:`aqbot.run`.

    Attributes:
        markets: the markets to quote.
        core: limits and limit-contract timing (its ``owner``/``funder`` identify aqbot's fills).
        strategy: desired quotes per market.
        creds: L2 API credentials (secrets redacted in reprs).
        address: the signer EOA (``POLY_ADDRESS``).
        signer: the order signer (its ``maker`` is the funder).
        ledger_path: the SQLite ledger.
        ledger_writer: ``"thread"`` (SQLite writes in a worker thread, through ``run_bot``'s ``offload``)
            or ``"process"`` (in a child process: :func:`aqbot.io.ledger_process.run_ledger_process_writer`).
        dry_run: the full pipeline with orders reserved, signed and written to the ledger
            (``dryrun.order``) but answered locally as rejected: nothing is placed, cancelled or beat.
        metrics: the Prometheus endpoint (served when ``enabled``; ``None``: off).
        storms: when reconnects and limit refusals become storm alerts (``[alerts]``).
    """

    markets: tuple[MarketSpec, ...]
    core: CoreConfig
    strategy: Strategy
    creds: ApiCreds
    address: str
    signer: OrderSigner
    ledger_path: Path
    quoter: QuoterConfig = attrs.Factory(QuoterConfig)
    timers: BotTimers = attrs.Factory(BotTimers)
    seed: int = 0
    dry_run: bool = False
    ledger_synchronous: str = "FULL"
    ledger_writer: str = "thread"
    max_order_error_rate: float = 0.5
    metrics: MetricsConfig | None = None
    storms: StormThresholds = attrs.Factory(StormThresholds)

    @property
    def identity(self) -> edge.Identity:
        return edge.Identity(self.creds.api_key, self.signer.maker)
