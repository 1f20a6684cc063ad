"""The check shared by ``test_core_facts`` and ``test_core_events``: a class whose ``__init__`` is generated
by :mod:`aqbot.core.initgen` builds what attrs' own frozen, slotted ``__init__`` builds."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest


def attrs_reference(cls: type) -> type:
    """The same record with attrs' generated (frozen, slotted) ``__init__``, as the class had before."""
    fields = {a.name: attrs.field(default=a.default) for a in attrs.fields(cls)}
    return attrs.make_class(cls.__name__, fields, frozen=True, slots=True)


def check_init_against_attrs(cls: type) -> None:
    """Same repr, fields, equality, hash, defaults, ``evolve``, frozenness and argument errors."""
    fields = attrs.fields(cls)
    ref = attrs_reference(cls)
    values = [Decimal(i) / 4 if i % 2 else f"value {i}" for i in range(len(fields))]
    mine, theirs = cls(*values), ref(*values)
    assert repr(mine) == repr(theirs)
    named = {a.name: v for a, v in zip(fields, values, strict=True)}
    assert attrs.asdict(mine) == attrs.asdict(theirs) == named
    by_name = cls(**named)
    assert by_name == mine
    assert hash(by_name) == hash(mine)
    assert repr(by_name) == repr(mine)
    assert list(vars(mine).items()) == list(named.items())  # nothing else is stored, in field order
    assert cls(*values[:-1], "other") != mine
    assert hash(cls(*values[:-1], "other")) != hash(mine)
    required = sum(a.default is attrs.NOTHING for a in fields)
    if required < len(fields):  # the defaults are attrs'
        assert repr(cls(*values[:required])) == repr(ref(*values[:required]))
    assert attrs.evolve(mine) == mine
    assert attrs.evolve(mine, **{fields[0].name: "other"}) == cls("other", *values[1:])
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
    with pytest.raises(TypeError):
        cls(*values[:required], unknown=1)


def check_generated_init(cls: type, module: str, names: tuple[str, ...]) -> None:
    """``cls.__init__`` is the generated one: it reads only ``names`` (no attrs helpers), the class has no
    slots, and the function is named and placed as the class's own."""
    init = cls.__init__
    assert init.__code__.co_names == names, cls
    assert "__slots__" not in vars(cls), cls
    assert init.__module__ == module, cls
    assert init.__qualname__ == f"{cls.__qualname__}.__init__", cls
