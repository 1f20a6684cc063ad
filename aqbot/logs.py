"""Logging setup: one stream handler, plain or JSON-lines, with secret redaction on the handler.

``configure_logging`` owns exactly one handler on the root logger (it replaces the one it installed
before, and leaves any other handler alone, so pytest's ``caplog`` keeps working). The
:class:`aqbot.secrets.RedactingFilter` sits on that handler: every record that reaches the stream has
its message, traceback, stack and extra fields redacted first.

Below DEBUG, the chatty libraries in :data:`NOISY_LOGGERS` (one line per HTTP request) are held at
WARNING; at DEBUG they log everything (still redacted).

JSON lines: one object per record, ``{"ts", "level", "logger", "msg", ...extra fields, "exc"?,
"stack"?}``. ``ts`` is wall-clock ISO 8601 UTC (a label, never used for scheduling). Extra fields are
the ``extra={...}`` keys of the call; values that JSON cannot hold (``Decimal``, enums) become strings.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import logging
from decimal import Decimal
from typing import TextIO

from aqbot.secrets import RedactingFilter, Secret

log = logging.getLogger(__name__)

# LogRecord attributes that are not "extra" fields (computed once from a blank record).
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("n", logging.INFO, "p", 1, "m", None, None)).keys()
    | {"message", "asctime", "taskName"}
)
# Libraries that log every request/frame at INFO/DEBUG; held at WARNING unless aqbot runs at DEBUG.
NOISY_LOGGERS = ("httpx2", "httpcore2", "trio-websocket", "hpack", "h2")
# Plain-text format: wall time, level, logger, message.
PLAIN_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def _json_default(value: object) -> object:
    if isinstance(value, Decimal | Secret):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    return repr(value)


class JsonLinesFormatter(logging.Formatter):
    """Formats each record as one JSON object on one line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD_ATTRS and name not in out:
                out[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exc"] = record.exc_text
        if record.stack_info:
            out["stack"] = record.stack_info
        return json.dumps(out, default=_json_default, ensure_ascii=False)


class _AqbotHandler(logging.StreamHandler[TextIO]):
    """Marks the handler ``configure_logging`` installed, so a second call replaces it."""


def configure_logging(level: str | int, json_lines: bool, stream: TextIO) -> RedactingFilter:
    """Install aqbot's handler on the root logger and set the root level.

    Args:
        level: a level name (``"INFO"``) or number.
        json_lines: one JSON object per line instead of plain text.
        stream: where records go (``sys.stderr`` in production, a ``StringIO`` in tests).

    Returns:
        The redaction filter installed on the handler.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _AqbotHandler):
            root.removeHandler(handler)
            handler.close()
    handler = _AqbotHandler(stream)
    handler.setFormatter(JsonLinesFormatter() if json_lines else logging.Formatter(PLAIN_FORMAT))
    redactor = RedactingFilter()
    handler.addFilter(redactor)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    quiet = root.level > logging.DEBUG
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING if quiet else logging.NOTSET)
    return redactor
