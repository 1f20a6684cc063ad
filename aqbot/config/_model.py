"""The configuration tree: frozen attrs classes with defaults and per-field validators.

Validators raise :class:`FieldProblem` (a ``ValueError``) with the *problem* only ("must be > 0, got -5");
the loader adds the field path. Every number that is a price, size or amount is a ``Decimal``;
durations are float seconds.
Credentials never live here: :class:`Config` carries them as :class:`aqbot.secrets.Secret` values that
:func:`aqbot.config.load_config` fills in from the environment or a key file.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from aqbot.secrets import Credentials, Secret

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_CONDITION_ID = re.compile(r"^0x[0-9a-fA-F]{64}$")
_TOKEN_ID = re.compile(r"^[0-9]{1,80}$")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
SYNC_MODES = ("NORMAL", "FULL")
LEDGER_WRITERS = ("thread", "process")
SIGNATURE_TYPES = (0, 1, 2, 3)


class FieldProblem(ValueError):
    """A validator's complaint about one attribute; the loader prefixes the path of its parents."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(problem)
        self.name = name
        self.problem = problem


def _positive(_inst: object, attribute: attrs.Attribute[Any], value: Decimal | float | None) -> None:
    if value is not None and not value > 0:
        raise FieldProblem(attribute.name, f"must be > 0, got {value}")


def _non_negative(_inst: object, attribute: attrs.Attribute[Any], value: Decimal | float | None) -> None:
    if value is not None and not value >= 0:
        raise FieldProblem(attribute.name, f"must be >= 0, got {value}")


def _finite(_inst: object, attribute: attrs.Attribute[Any], value: Decimal | float | None) -> None:
    if value is not None and isinstance(value, Decimal) and not value.is_finite():
        raise FieldProblem(attribute.name, f"must be a finite number, got {value}")
    if isinstance(value, float) and value != value:  # NaN
        raise FieldProblem(attribute.name, "must be a number, got nan")


def _url(*schemes: str) -> Any:
    def check(_inst: object, attribute: attrs.Attribute[Any], value: str | None) -> None:
        if value is None:
            return
        scheme, sep, rest = value.partition("://")
        if not sep or scheme not in schemes or not rest or any(c.isspace() for c in value):
            raise FieldProblem(
                attribute.name, f"must be a {' or '.join(s + '://' for s in schemes)} URL, got {value!r}"
            )

    return check


def _matches(pattern: re.Pattern[str], what: str) -> Any:
    def check(_inst: object, attribute: attrs.Attribute[Any], value: str | None) -> None:
        if value is not None and not pattern.fullmatch(value):
            raise FieldProblem(attribute.name, f"must be {what}, got {value!r}")

    return check


def _one_of(choices: tuple[Any, ...]) -> Any:
    def check(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value not in choices:
            raise FieldProblem(
                attribute.name, f"must be one of {', '.join(repr(c) for c in choices)}, got {value!r}"
            )

    return check


def _port(_inst: object, attribute: attrs.Attribute[Any], value: int) -> None:
    if not 0 <= value <= 65535:
        raise FieldProblem(attribute.name, f"must be a TCP port 0-65535, got {value}")


_POS = [_finite, _positive]
_NONNEG = [_finite, _non_negative]


@attrs.frozen
class EndpointsConfig:
    """Where the exchange lives. ``ws_url`` is the base: ``market`` / ``user`` are appended."""

    clob_url: str = attrs.field(default="https://clob.polymarket.com", validator=_url("https", "http"))
    ws_url: str = attrs.field(
        default="wss://ws-subscriptions-clob.polymarket.com/ws/", validator=_url("wss", "ws")
    )
    data_api_url: str = attrs.field(
        default="https://data-api.polymarket.com", validator=_url("https", "http")
    )
    chain_id: int = attrs.field(default=137, validator=_positive)

    @ws_url.validator
    def _ends_with_slash(self, attribute: attrs.Attribute[str], value: str) -> None:
        if not value.endswith("/"):
            raise FieldProblem(attribute.name, f"must end with '/' (market/user are appended), got {value!r}")

    @classmethod
    def for_simulator(cls, rest_url: str, ws_url: str, data_api_url: str, chain_id: int) -> EndpointsConfig:
        """The endpoints of a running simulator, from its info file (``/ws/`` is appended to ``ws_url``).

        Raises:
            FieldProblem: a URL is malformed (a ``ValueError``).
        """
        base = ws_url.rstrip("/")
        if not base.endswith("/ws"):
            base += "/ws"
        return cls(clob_url=rest_url, ws_url=base + "/", data_api_url=data_api_url, chain_id=chain_id)

    @property
    def market_ws_url(self) -> str:
        return self.ws_url + "market"

    @property
    def user_ws_url(self) -> str:
        return self.ws_url + "user"


@attrs.frozen
class AccountConfig:
    """Who trades. ``funder`` (the proxy/safe/deposit wallet) is required for signature types 1-3."""

    address: str | None = attrs.field(default=None, validator=_matches(_ADDRESS, "0x + 40 hex digits"))
    funder: str | None = attrs.field(default=None, validator=_matches(_ADDRESS, "0x + 40 hex digits"))
    signature_type: int = attrs.field(default=0, validator=_one_of(SIGNATURE_TYPES))
    key_file: Path | None = None


@attrs.frozen
class MarketConfig:
    """One market to quote, by condition id or by its two token ids; ``None`` overrides = global value."""

    condition_id: str | None = attrs.field(
        default=None, validator=_matches(_CONDITION_ID, "0x + 64 hex digits")
    )
    yes_token: str | None = attrs.field(default=None, validator=_matches(_TOKEN_ID, "a decimal token id"))
    no_token: str | None = attrs.field(default=None, validator=_matches(_TOKEN_ID, "a decimal token id"))
    max_position: Decimal | None = attrs.field(default=None, validator=_POS)
    max_notional: Decimal | None = attrs.field(default=None, validator=_POS)
    half_spread_ticks: int | None = attrs.field(default=None, validator=_positive)
    size: Decimal | None = attrs.field(default=None, validator=_POS)
    skew_per_share: Decimal | None = attrs.field(default=None, validator=_NONNEG)
    enabled: bool = True

    @property
    def label(self) -> str:
        """A short human name: the condition id, else the YES token id."""
        return self.condition_id or self.yes_token or "?"


@attrs.frozen
class LimitsConfig:
    """Position and notional caps (shares and pUSD). Market overrides live on :class:`MarketConfig`."""

    max_position: Decimal = attrs.field(default=Decimal(100), validator=_POS)
    max_market_notional: Decimal = attrs.field(default=Decimal(100), validator=_POS)
    max_global_notional: Decimal = attrs.field(default=Decimal(500), validator=_POS)
    daily_loss_limit: Decimal = attrs.field(default=Decimal(50), validator=_POS)


@attrs.frozen
class StrategyConfig:
    """Quoting knobs (names follow ``aqbot.core.strategy``); prices in ticks, sizes in shares."""

    half_spread_ticks: int = attrs.field(default=2, validator=_positive)
    size: Decimal = attrs.field(default=Decimal(10), validator=_POS)
    max_levels: int = attrs.field(default=1, validator=_positive)
    level_step_ticks: int = attrs.field(default=1, validator=_positive)
    skew_per_share: Decimal = attrs.field(default=Decimal(0), validator=_NONNEG)
    max_skew: Decimal = attrs.field(default=Decimal("0.05"), validator=_NONNEG)
    requote_threshold_ticks: int = attrs.field(default=1, validator=_positive)
    requote_interval: float = attrs.field(default=1.0, validator=_POS)
    quote_both_tokens: bool = True
    target_rewards: bool = True


@attrs.frozen
class HaltConfig:
    """When gaps and divergences halt quoting (DESIGN section 3)."""

    halt_on_ws_gaps: bool = True
    ws_gap_reconcile_attempts: int = attrs.field(default=3, validator=_positive)
    ws_gap_recovery_interval_seconds: float = attrs.field(default=30.0, validator=_POS)
    position_mismatch_syncs: int = attrs.field(default=3, validator=_positive)
    max_order_error_rate: float = attrs.field(default=0.5, validator=_POS)


@attrs.frozen
class TimersConfig:
    """Every period and deadline, in seconds."""

    reconcile_interval: float = attrs.field(default=60.0, validator=_POS)
    protection_window: float = attrs.field(default=60.0, validator=_NONNEG)
    snapshot_grace: float = attrs.field(default=5.0, validator=_NONNEG)
    heartbeat_interval: float = attrs.field(default=5.0, validator=_POS)
    ws_ping_interval: float = attrs.field(default=10.0, validator=_POS)
    ws_stale: float = attrs.field(default=30.0, validator=_POS)
    market_data_stale: float = attrs.field(default=30.0, validator=_POS)
    position_sync_interval: float = attrs.field(default=15.0, validator=_POS)
    shutdown_grace: float = attrs.field(default=10.0, validator=_POS)


@attrs.frozen
class LedgerConfig:
    """The SQLite ledger (relative paths are relative to the working directory)."""

    path: Path = Path("aqbot-ledger.sqlite3")
    synchronous: str = attrs.field(default="FULL", validator=_one_of(SYNC_MODES))
    # Where the SQLite writes run: a worker thread of the bot's process, or a child process.
    writer: str = attrs.field(default="process", validator=_one_of(LEDGER_WRITERS))


@attrs.frozen
class AlertsConfig:
    """Alert sinks. The Telegram bot token is a secret: ``AQBOT_TELEGRAM_TOKEN`` or the key file."""

    telegram_chat_id: str | None = None
    telegram_api_base: str = attrs.field(default="https://api.telegram.org", validator=_url("https", "http"))
    webhook_url: str | None = attrs.field(default=None, validator=_url("https", "http"))
    dedup_window: float = attrs.field(default=300.0, validator=_NONNEG)
    rate_per_minute: float = attrs.field(default=20.0, validator=_POS)
    burst: int = attrs.field(default=5, validator=_positive)
    queue_size: int = attrs.field(default=100, validator=_positive)
    delivery_timeout: float = attrs.field(default=10.0, validator=_POS)
    reconnect_storm_gaps: int = attrs.field(default=5, validator=_positive)
    reconnect_storm_window: float = attrs.field(default=300.0, validator=_POS)
    refusal_storm_count: int = attrs.field(default=20, validator=_positive)
    refusal_storm_window: float = attrs.field(default=60.0, validator=_POS)


@attrs.frozen
class MetricsConfig:
    """The Prometheus endpoint (off unless ``enabled``)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = attrs.field(default=9464, validator=_port)


@attrs.frozen
class LoggingConfig:
    level: str = attrs.field(default="INFO", validator=_one_of(LOG_LEVELS))
    json_lines: bool = False


@attrs.frozen
class Config:
    """The whole configuration. ``credentials``/``telegram_token`` come from env or key file, never TOML."""

    endpoints: EndpointsConfig = EndpointsConfig()
    account: AccountConfig = AccountConfig()
    markets: tuple[MarketConfig, ...] = ()
    limits: LimitsConfig = LimitsConfig()
    strategy: StrategyConfig = StrategyConfig()
    halt: HaltConfig = HaltConfig()
    timers: TimersConfig = TimersConfig()
    ledger: LedgerConfig = LedgerConfig()
    alerts: AlertsConfig = AlertsConfig()
    metrics: MetricsConfig = MetricsConfig()
    logging: LoggingConfig = LoggingConfig()
    dry_run: bool = False
    credentials: Credentials | None = None
    telegram_token: Secret | None = None

    def max_position_for(self, market: MarketConfig) -> Decimal:
        """The per-token share cap of ``market``'s two tokens (its override, else the global one)."""
        return market.max_position if market.max_position is not None else self.limits.max_position

    def max_notional_for(self, market: MarketConfig) -> Decimal:
        """The pUSD notional cap of ``market`` (its override, else ``limits.max_market_notional``)."""
        return market.max_notional if market.max_notional is not None else self.limits.max_market_notional

    def strategy_for(self, market: MarketConfig) -> StrategyConfig:
        """``strategy`` with ``market``'s overrides applied."""
        overrides = {
            name: getattr(market, name)
            for name in ("half_spread_ticks", "size", "skew_per_share")
            if getattr(market, name) is not None
        }
        return attrs.evolve(self.strategy, **overrides)
