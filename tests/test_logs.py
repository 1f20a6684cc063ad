"""Logging: JSON lines, and proof that credentials never reach the log stream."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from decimal import Decimal

import pytest

from aqbot.config import load_config
from aqbot.logs import NOISY_LOGGERS, configure_logging

# Never registered anywhere before load_config runs below (so value redaction is what is tested).
PK = "0x" + "d1" * 32
API_SECRET = "bG9nLXRlc3Qtc2VjcmV0LXZhbHVlLTAxMjM0NTY3ODk="
PASSPHRASE = "e7" * 32
ENV = {
    "AQBOT_PRIVATE_KEY": PK,
    "AQBOT_API_KEY": "0c6f1b1e-aaaa-4bbb-8ccc-ddddeeeeffff",
    "AQBOT_API_SECRET": API_SECRET,
    "AQBOT_API_PASSPHRASE": PASSPHRASE,
}
SECRETS = (PK, PK[2:], API_SECRET, PASSPHRASE)

log = logging.getLogger("aqbot.tests.logs")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)


def test_json_lines_fields(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging("INFO", json_lines=True, stream=out)
    log.info("placed %s shares", Decimal("12.5"), extra={"token": "123", "price": Decimal("0.57")})
    log.debug("hidden")
    (line,) = out.getvalue().splitlines()
    record = json.loads(line)
    assert record["level"] == "INFO"
    assert record["logger"] == "aqbot.tests.logs"
    assert record["msg"] == "placed 12.5 shares"
    assert record["token"] == "123"
    assert record["price"] == "0.57"
    assert record["ts"].endswith("+00:00")


def test_noisy_libraries_are_quiet_unless_debug(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging("INFO", json_lines=False, stream=out)
    logging.getLogger("httpx2").info("HTTP Request: GET https://x.test")
    assert out.getvalue() == ""
    configure_logging("DEBUG", json_lines=False, stream=out)
    logging.getLogger("httpx2").info("HTTP Request: GET https://x.test")
    assert "HTTP Request" in out.getvalue()


def test_reconfiguring_replaces_the_handler(restore_logging: None) -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("INFO", json_lines=False, stream=first)
    configure_logging(logging.WARNING, json_lines=False, stream=second)
    log.warning("once")
    log.info("filtered")
    assert first.getvalue() == ""
    assert second.getvalue().count("once") == 1
    assert "WARNING aqbot.tests.logs: once" in second.getvalue()
    assert "filtered" not in second.getvalue()


class LeakyError(Exception):
    pass


@pytest.mark.parametrize("json_lines", [True, False])
def test_credentials_never_reach_the_log(restore_logging: None, json_lines: bool) -> None:
    out = io.StringIO()
    configure_logging("DEBUG", json_lines=json_lines, stream=out)
    config = load_config(None, ENV)  # registers every credential for redaction
    assert config.credentials is not None
    creds = config.credentials
    log.info("config: %r", config)
    log.info("config str: %s", config)
    log.info("credentials %s %r", creds, creds)
    log.warning("oops, revealed: %s / %s / %s", PK, API_SECRET, PASSPHRASE)  # a bug that leaks on purpose
    log.info("extra", extra={"passphrase": PASSPHRASE, "nested": {"k": API_SECRET}})
    try:
        raise LeakyError(f"signing failed for key {creds.private_key.reveal()} secret={API_SECRET}")
    except LeakyError:
        log.exception("signing failed")
    try:
        local_secret = PASSPHRASE  # noqa: F841  (tracebacks never print locals, but be sure)
        raise ValueError(PASSPHRASE)
    except ValueError as exc:
        log.error("failed: %r", exc, exc_info=True, stack_info=True)
    text = out.getvalue()
    assert "signing failed" in text
    assert "LeakyError" in text
    assert "Traceback" in text
    assert "***" in text
    for secret in SECRETS:
        assert secret not in text, secret[:6]
