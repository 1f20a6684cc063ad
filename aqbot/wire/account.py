"""Account and service models: API credentials, balances, heartbeats, time, version, error bodies, and the
Data API positions (PROTOCOL 1.1, 1.3, 1.6, 2.1, 6.1).
"""

from __future__ import annotations

import logging
from decimal import Decimal

import attrs

from aqbot.wire.types import Secret, UnixS

logger = logging.getLogger(__name__)


@attrs.frozen(kw_only=True)
class ApiCreds:
    """L2 API credentials (``{"apiKey", "secret", "passphrase"}``). Secret parts never show in ``repr``."""

    api_key: str
    secret: Secret
    passphrase: Secret


@attrs.frozen(kw_only=True)
class BalanceAllowance:
    """``GET /balance-allowance``: amounts in 6-decimal base units (integer strings on the wire).

    Newer servers send ``allowances`` (spender -> amount); older ones a single ``allowance``. An unlimited
    ERC-20 approval is ``2**256 - 1``, so amounts are exact integers, not bounded Decimals.
    """

    balance: int
    allowances: dict[str, int] | None = None
    allowance: int | None = None


@attrs.frozen(kw_only=True)
class HeartbeatRequest:
    """``POST /v1/heartbeats`` body: ``""`` first, then the id the previous answer returned."""

    heartbeat_id: str = ""


@attrs.frozen(kw_only=True)
class HeartbeatResponse:
    """Successful heartbeat answer."""

    heartbeat_id: str


@attrs.frozen(kw_only=True)
class HeartbeatError:
    """The 400 answer to a wrong heartbeat id; ``heartbeat_id`` is the one the server expects."""

    error: str
    heartbeat_id: str


@attrs.frozen(kw_only=True)
class ErrorBody:
    """A REST error body ``{"error", "code"?, "retry_after_seconds"?}``."""

    error: str
    code: str | None = None
    retry_after_seconds: Decimal | None = None


@attrs.frozen(kw_only=True)
class ServerTime:
    """``GET /time``: the body is a bare JSON integer of Unix seconds."""

    unix_s: UnixS


@attrs.frozen(kw_only=True)
class ServerVersion:
    """``GET /version``: the order version the server expects."""

    version: int


@attrs.frozen(kw_only=True)
class Position:
    """One row of the Data API ``GET /positions`` (v1: a bare JSON array; numbers are JSON numbers)."""

    proxy_wallet: str
    asset: str
    condition_id: str
    size: Decimal
    avg_price: Decimal | None = None
    initial_value: Decimal | None = None
    current_value: Decimal | None = None
    cash_pnl: Decimal | None = None
    percent_pnl: Decimal | None = None
    total_bought: Decimal | None = None
    realized_pnl: Decimal | None = None
    percent_realized_pnl: Decimal | None = None
    cur_price: Decimal | None = None
    redeemable: bool | None = None
    mergeable: bool | None = None
    title: str | None = None
    slug: str | None = None
    icon: str | None = None
    event_slug: str | None = None
    outcome: str | None = None
    outcome_index: int | None = None
    opposite_outcome: str | None = None
    opposite_asset: str | None = None
    end_date: str | None = None
    negative_risk: bool | None = None
