"""aqbot's exception tree. Every library error is translated once, at the boundary, into one of these.

* AqbotError                      base of everything aqbot raises on purpose
  + ConfigError                   bad configuration; carries the field path and a one-line reason
  + SecretsError                  credentials missing or unsafe (never carries the secret itself)
  + WireError                     an exchange payload that does not decode (remote fault)
  + ExchangeError                 the exchange answered, and the answer is a failure
    - AuthError                   401 / invalid API key / bad L1 headers
    - RateLimited                 429; carries ``retry_after`` seconds when the server gave one
    - ExchangeUnavailable         425 restart, 503 trading disabled or cancel-only
    - OrderRejected               a definitive "this order does not rest" (4xx with body, success=false)
  + TransportError                no usable answer (timeout, connection reset): outcome UNKNOWN
  + LedgerError                   the ledger could not be written or read
  + InvariantViolation            aqbot's own bug (an illegal state transition, a broken limit); halts

Expected failures (a disconnect, a 5xx on a read) are handled inside the task that sees them.
Anything else propagates and the nursery cancels its siblings.
"""

from __future__ import annotations


class AqbotError(Exception):
    """Base class of every error aqbot raises on purpose."""


class ConfigError(AqbotError):
    """A configuration value is missing or invalid.

    ``str(err)`` is one line: ``<field path>: <problem>``.
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class SecretsError(AqbotError):
    """Credentials are missing, unreadable or stored unsafely. Never carries a secret value."""


class WireError(AqbotError):
    """An exchange payload could not be decoded. ``path`` names where, ``raw`` is a short excerpt."""

    def __init__(self, message: str, *, path: str = "$", raw: str = "") -> None:
        super().__init__(f"{message} @ {path}" if path else message)
        self.path = path
        self.raw = raw


class ExchangeError(AqbotError):
    """The exchange answered with a failure."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AuthError(ExchangeError):
    """Authentication was refused (401, invalid API key, invalid L1 headers)."""


class RateLimited(ExchangeError):
    """HTTP 429. ``retry_after`` is the server's hint in seconds, when it sent one."""

    def __init__(self, message: str, *, status: int | None = 429, retry_after: float | None = None) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class ExchangeUnavailable(ExchangeError):
    """425 (engine restart), 503 (trading disabled / cancel-only), or the post-only window."""


class OrderRejected(ExchangeError):
    """The exchange definitively refused an order: it does not rest and will never fill."""

    def __init__(self, message: str, *, status: int | None = None, order_id: str = "") -> None:
        super().__init__(message, status=status)
        self.order_id = order_id


class TransportError(AqbotError):
    """No usable answer arrived (timeout, reset, protocol error). What the exchange did is UNKNOWN."""


class LedgerError(AqbotError):
    """The ledger could not be written or read."""


class InvariantViolation(AqbotError):
    """aqbot's own bookkeeping broke a rule (an illegal transition, a limit breach). Halts quoting."""
