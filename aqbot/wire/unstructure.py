"""Ordered unstructure functions, generated per class (the encode half of the converter).

cattrs' own ``make_dict_unstructure_fn`` emits fields with ``omit_if_default`` *after* all the others, which
would change the key order and so the bytes the L2 HMAC signs. This module generates, per class, a small
function that visits the fields in declaration order, omits ``None`` (unless the field must be encoded as
``null``), applies each field's unstructure hook, and can insert a constant discriminator key (``"type"``).
Generated source (like cattrs does) keeps the per-event cost low for the simulator, which encodes every
market and user event it emits.
"""

from __future__ import annotations

import logging
import typing
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import cattrs

logger = logging.getLogger(__name__)

_PLAIN = frozenset({str, int, bool, str | None, int | None, bool | None})


def _resolve(tp: Any, bindings: Mapping[Any, Any]) -> Any:
    """Substitute a generic class's type variables (only the ``tuple[T, ...]`` form is used here)."""
    if isinstance(tp, typing.TypeVar):
        return bindings.get(tp, tp)
    if typing.get_origin(tp) is tuple and bindings:
        args = tuple(_resolve(a, bindings) if a is not Ellipsis else a for a in typing.get_args(tp))
        return tuple.__class_getitem__(args)
    return tp


def _field_hook(conv: cattrs.Converter, tp: Any, ov: Any) -> Callable[[Any], Any] | None:
    if ov is not None and ov.unstruct_hook is not None:
        hook: Callable[[Any], Any] = ov.unstruct_hook
        return hook
    if tp in _PLAIN:
        return None
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    inner = args[0] if type(None) in typing.get_args(tp) and len(args) == 1 else tp
    hook = conv.get_unstructure_hook(inner)
    return hook


def ordered_unstructure_fn(
    conv: cattrs.Converter,
    cl: Any,
    *,
    overrides: Mapping[str, Any],
    keep_null: frozenset[str],
    constant: tuple[str, str, str | None] | None,
) -> Callable[[Any], dict[str, Any]]:
    """Build ``unstructure(obj) -> dict`` for attrs class ``cl`` (or a parametrized generic of one).

    Args:
        conv: the converter that supplies per-type hooks.
        cl: the class.
        overrides: per-field ``rename``/``unstruct_hook`` overrides.
        keep_null: optional fields encoded as ``null`` when ``None`` (others are omitted).
        constant: ``(key, value, after)``: insert ``key: value`` after the key ``after`` (first if ``None``).
    """
    origin = typing.get_origin(cl) or cl
    bindings = dict(zip(getattr(origin, "__parameters__", ()), typing.get_args(cl), strict=False))
    hints = typing.get_type_hints(origin)
    namespace: dict[str, Any] = {}
    lines = ["def unstructure(obj):", "    out = {}"]
    if constant is not None and constant[2] is None:
        lines.append(f"    out[{constant[0]!r}] = {constant[1]!r}")
    for i, f in enumerate(attrs.fields(origin)):
        ov = overrides.get(f.name)
        key = ov.rename if ov is not None and ov.rename else f.name
        hook = _field_hook(conv, _resolve(hints[f.name], bindings), ov)
        value = "v"
        if hook is not None:
            namespace[f"h{i}"] = hook
            value = f"h{i}(v)"
        lines.append(f"    v = obj.{f.name}")
        if f.default is None and f.name not in keep_null:
            lines.append(f"    if v is not None: out[{key!r}] = {value}")
        elif f.default is None or _is_optional(hints[f.name]):
            lines.append(f"    out[{key!r}] = None if v is None else {value}")
        else:
            lines.append(f"    out[{key!r}] = {value}")
        if constant is not None and constant[2] == key:
            lines.append(f"    out[{constant[0]!r}] = {constant[1]!r}")
    lines.append("    return out")
    exec(compile("\n".join(lines), f"<aqbot.wire unstructure {origin.__qualname__}>", "exec"), namespace)
    fn: Callable[[Any], dict[str, Any]] = namespace["unstructure"]
    return fn


def _is_optional(tp: object) -> bool:
    return type(None) in typing.get_args(tp)
