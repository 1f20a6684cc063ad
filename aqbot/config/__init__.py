"""aqbot's configuration: TOML, structured by cattrs into frozen attrs classes, validated.

Public API::

    load_config(path, env) -> Config          # file (None: the shipped default) + credentials from env
    config_from_toml(text, *, source) -> Config
    config_from_dict(data) -> Config          # no I/O, credentials None
    require_credentials(config) -> None       # SecretsError unless credentials are present
    default_config_path() -> Path

Every key is documented in ``docs/config.md``.
"""

from aqbot.config._load import (
    EXCHANGE_HEARTBEAT_DEADLINE as EXCHANGE_HEARTBEAT_DEADLINE,
)
from aqbot.config._load import (
    config_from_dict as config_from_dict,
)
from aqbot.config._load import (
    config_from_toml as config_from_toml,
)
from aqbot.config._load import (
    default_config_path as default_config_path,
)
from aqbot.config._load import (
    load_config as load_config,
)
from aqbot.config._load import (
    require_credentials as require_credentials,
)
from aqbot.config._model import (
    AccountConfig as AccountConfig,
)
from aqbot.config._model import (
    AlertsConfig as AlertsConfig,
)
from aqbot.config._model import (
    Config as Config,
)
from aqbot.config._model import (
    EndpointsConfig as EndpointsConfig,
)
from aqbot.config._model import (
    HaltConfig as HaltConfig,
)
from aqbot.config._model import (
    LedgerConfig as LedgerConfig,
)
from aqbot.config._model import (
    LimitsConfig as LimitsConfig,
)
from aqbot.config._model import (
    LoggingConfig as LoggingConfig,
)
from aqbot.config._model import (
    MarketConfig as MarketConfig,
)
from aqbot.config._model import (
    MetricsConfig as MetricsConfig,
)
from aqbot.config._model import (
    StrategyConfig as StrategyConfig,
)
from aqbot.config._model import (
    TimersConfig as TimersConfig,
)
