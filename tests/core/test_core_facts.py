"""The facts' and commands' own ``__init__`` (:func:`aqbot.core.facts._dict_init`) against attrs' own."""

from __future__ import annotations

import typing

import pytest
from init_checks import check_generated_init, check_init_against_attrs

from aqbot.core import facts
from aqbot.core.facts import Command, Fact

CLASSES = [*typing.get_args(Fact), *typing.get_args(Command)]


def test_every_fact_and_command_has_the_dict_init() -> None:
    assert len(CLASSES) == 18
    for cls in CLASSES:
        check_generated_init(cls, facts.__name__, ("__dict__",))


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_dict_init_builds_what_attrs_init_builds(cls: type) -> None:
    check_init_against_attrs(cls)
