"""The facts' and commands' own ``__init__`` (:func:`aqbot.core.facts._dict_init`) against attrs' own."""

from __future__ import annotations

import typing
from decimal import Decimal

import attrs
import pytest

from aqbot.core import facts
from aqbot.core.facts import Command, Fact

CLASSES = [*typing.get_args(Fact), *typing.get_args(Command)]


def _reference(cls: type) -> type:
    """The same record with attrs' generated (frozen, slotted) ``__init__``, as the facts had before."""
    fields = {a.name: attrs.field(default=a.default) for a in attrs.fields(cls)}
    return attrs.make_class(cls.__name__, fields, frozen=True, slots=True)


def test_every_fact_and_command_has_the_dict_init() -> None:
    assert len(CLASSES) == 18
    for cls in CLASSES:
        init = cls.__init__
        assert init.__code__.co_names == ("__dict__",), cls
        assert "__slots__" not in vars(cls), cls
        assert init.__module__ == facts.__name__, cls
        assert init.__qualname__ == f"{cls.__qualname__}.__init__", cls


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_dict_init_builds_what_attrs_init_builds(cls: type) -> None:
    fields = attrs.fields(cls)
    ref = _reference(cls)
    values = [Decimal(i) / 4 if i % 2 else f"value {i}" for i in range(len(fields))]
    mine, theirs = cls(*values), ref(*values)
    assert repr(mine) == repr(theirs)
    named = {a.name: v for a, v in zip(fields, values, strict=True)}
    assert attrs.asdict(mine) == attrs.asdict(theirs) == named
    by_name = cls(**named)
    assert by_name == mine
    assert hash(by_name) == hash(mine)
    assert repr(by_name) == repr(mine)
    assert mine.__dict__ == named  # (nothing else is stored)
    assert cls(*values[:-1], "other") != mine
    required = sum(a.default is attrs.NOTHING for a in fields)
    if required < len(fields):  # the defaults are attrs'
        assert repr(cls(*values[:required])) == repr(ref(*values[:required]))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(mine, fields[0].name, "changed")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        delattr(mine, fields[0].name)
    with pytest.raises(TypeError):
        cls(*values, "one too many")
    with pytest.raises(TypeError):
        cls(*values[: required - 1])
    with pytest.raises(TypeError):
        cls(*values, **{fields[0].name: values[0]})
