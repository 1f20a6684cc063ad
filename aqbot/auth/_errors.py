"""Errors raised by :mod:`aqbot.auth` (local until the lead folds them into :mod:`aqbot.errors`)."""

from __future__ import annotations

import logging

from aqbot.errors import AqbotError

logger = logging.getLogger(__name__)


class InvalidSignature(AqbotError):
    """A signature or signed header set is malformed or does not recover to a key.

    Raised by the recovery helpers the simulator uses; never carries key material.
    """


class InvalidOrderSpec(AqbotError, ValueError):
    """A price, size, tick or field cannot be turned into a signable order.

    A caller bug, not a remote fault.
    """
