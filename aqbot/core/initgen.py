"""Generated ``__init__`` methods for the core's hot frozen attrs dict classes (``slots=False``).

:func:`aqbot.core.facts._dict_init` (facts and commands) and :func:`aqbot.core.events._dict_literal_init`
(the events built per user-channel frame) differ only in the body that stores the fields; the signature
(attrs' parameters, in field order, with their defaults) is built here, once per class, as attrs builds its
own ``__init__``.
"""

from __future__ import annotations

import types
from collections.abc import Callable

import attrs


def compile_init(cls: type, body: str, scope: dict[str, object]) -> Callable[..., None]:
    """``def __init__(self, <cls's attrs fields, defaults included>):`` followed by ``body`` (indented
    lines), compiled with ``scope`` as its globals."""
    params = []
    for a in attrs.fields(cls):
        if a.default is attrs.NOTHING:
            params.append(a.name)
        else:  # (every default of these classes is an immutable value, never a factory)
            scope[f"_default_{a.name}"] = a.default
            params.append(f"{a.name}=_default_{a.name}")
    exec(f"def __init__(self, {', '.join(params)}):\n{body}", scope)
    init = scope["__init__"]
    assert isinstance(init, types.FunctionType)
    init.__qualname__, init.__module__ = f"{cls.__qualname__}.__init__", cls.__module__
    return init
