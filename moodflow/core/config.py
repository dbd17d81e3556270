"""Typed settings: a dataclass per params.yaml section, validated by pydantic in one place.

Every registered class (dataset adapter, feature extractor, model) and every stage section
declares its settings as a plain ``@dataclass`` whose defaults are the documented defaults
(params.yaml repeats them; a test keeps the two equal); :func:`setting` adds a range, choices
and a meaning to a field. :func:`build` turns a params.yaml mapping into that dataclass through
a pydantic v2 schema derived from the dataclass (``extra="forbid"``, constrained numbers), and
refuses, in one line naming the key, the value and what is allowed:

- an unknown key, with a "did you mean" (``train.svm.c`` → ``C``);
- a value of the wrong type (``folds: five``, ``sample_rate: 22050.7``);
- a value outside the range or the choices a field declares with :func:`setting`;
- a number that is not finite (``.nan``, ``.inf``) or beyond :data:`MAGNITUDE` where the
  field declares no bound of its own (``1e308``): every number has a range.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from typing import Annotated, Any, Literal, Mapping, TypeVar, Union

from moodflow.core.errors import SettingsError, did_you_mean

C = TypeVar("C")
_MISSING = dataclasses.MISSING
# The bound of every number whose field declares none: far beyond any real setting, far below
# what overflows a float64 computation (a window of 1e308 s, a learning rate of 1e300).
MAGNITUDE = 1e12


def setting(default: Any = _MISSING, *, default_factory: Any = _MISSING, min: float | None = None,
            max: float | None = None, gt: float | None = None, choices: tuple | None = None,
            doc: str = "") -> Any:
    """A dataclass field with a range (``min``/``max`` inclusive, ``gt`` exclusive), allowed
    ``choices`` and a meaning (``doc``, shown in docs/params.md), checked by :func:`build`."""
    meta = {"min": min, "max": max, "gt": gt, "choices": choices, "doc": doc}
    if default_factory is not _MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def bounds(meta: Mapping[str, Any]) -> tuple[str, float, str, float]:
    """(``">"`` or ``"≥"``, low, ``"≤"``, high) of a number field with ``meta`` (setting())."""
    if meta.get("gt") is not None:
        low = (">", meta["gt"])
    else:
        low = ("≥", meta["min"] if meta.get("min") is not None else -MAGNITUDE)
    return (*low, "≤", meta["max"] if meta.get("max") is not None else MAGNITUDE)


def range_text(meta: Mapping[str, Any]) -> str:
    """``> 0 and ≤ 60``: the valid range of a number field, for messages and docs."""
    lo_op, lo, hi_op, hi = bounds(meta)
    return f"{lo_op} {_number_text(lo)} and {hi_op} {_number_text(hi)}"


def _number_text(value: float) -> str:
    if abs(value) == MAGNITUDE:
        return "-1e12" if value < 0 else "1e12"
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


# --- the pydantic schema of a settings dataclass -------------------------------------------

def _pydantic():
    import pydantic  # imported on first use: a stage that builds no settings never pays for it

    return pydantic


def _refuse(kind: str, *refused: type):
    from pydantic_core import PydanticCustomError

    def check(value: Any) -> Any:
        if isinstance(value, refused):  # pydantic's lax mode would read True as 1, "3" as 3
            raise PydanticCustomError(kind, "wrong type")
        return value

    return _pydantic().BeforeValidator(check)


def _number(base: type, meta: Mapping[str, Any]) -> Any:
    p = _pydantic()
    lo_op, lo, _, hi = bounds(meta)
    if base is int:
        lo, hi = (int(v) if abs(v) == MAGNITUDE else v for v in (lo, hi))
        refuse = _refuse("int_type", bool, str)  # YAML gives a number; a string is a typo
    else:
        refuse = _refuse("float_type", bool)  # strings stay: YAML 1.1 reads 1e-3 as a string
    limits = {"gt" if lo_op == ">" else "ge": lo, "le": hi}
    return Annotated[base, refuse, p.Field(allow_inf_nan=False, **limits)]


def _annotation(hint: Any, meta: Mapping[str, Any]) -> Any:
    """The pydantic annotation of a field typed ``hint`` with ``setting()`` metadata ``meta``."""
    p = _pydantic()
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any or hint is type(None):
        return hint
    if origin in (Union, types.UnionType):
        members = Union[tuple(_annotation(a, meta) for a in args)]  # type: ignore[valid-type]
        # the first member that fits, in the declared order: `float | str` reads YAML's "1e-3" as a number
        several = len([a for a in args if a is not type(None)]) > 1  # X | None is no union to pydantic
        return Annotated[members, p.Field(union_mode="left_to_right")] if several else members
    if origin is Literal:
        return hint
    if meta.get("choices") and hint in (str, int, float):
        return Literal[tuple(meta["choices"])]  # type: ignore[return-value]
    if hint is bool:
        return Annotated[bool, p.Strict()]
    if hint in (int, float):
        return _number(hint, meta)
    if hint is str:
        return Annotated[str, p.Strict()]
    if origin is tuple:
        if args and args[-1] is not Ellipsis:
            return tuple[tuple(_annotation(a, meta) for a in args)]  # type: ignore[misc]
        return tuple[_annotation(args[0] if args else Any, meta), ...]  # type: ignore[misc]
    if origin is list or hint is list:
        return list[_annotation(args[0] if args else Any, meta)]  # type: ignore[misc]
    if origin is dict or hint is dict:
        return dict[str, _annotation(args[1] if len(args) == 2 else Any, meta)]  # type: ignore[misc]
    if dataclasses.is_dataclass(hint):
        return _typed_dict(hint)
    return Any


@functools.cache
def _typed_dict(cls: type) -> Any:
    """A TypedDict mirroring dataclass ``cls`` (every key optional, unknown keys refused)."""
    from typing_extensions import TypedDict

    hints = typing.get_type_hints(cls)
    fields = {f.name: _annotation(hints.get(f.name, Any), f.metadata) for f in dataclasses.fields(cls) if f.init}
    td = TypedDict(f"{cls.__name__}Settings", fields, total=False)  # type: ignore[operator]
    td.__pydantic_config__ = _pydantic().ConfigDict(extra="forbid")  # type: ignore[attr-defined]
    return td


@functools.cache
def _adapter(cls: type) -> Any:
    return _pydantic().TypeAdapter(_typed_dict(cls))


# --- pydantic's errors as moodflow's one line ------------------------------------------------

_BOUND_ERRORS = {"greater_than_equal", "less_than_equal", "greater_than", "finite_number"}


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _bound(value: float) -> str:
    return _number_text(value) if abs(value) == MAGNITUDE else str(value)


def _not_finite(value: Any) -> bool:
    try:
        return not math.isfinite(float(value))
    except (TypeError, ValueError, OverflowError):
        return False


def _type_name(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if hint is type(None):
        return "null"
    if origin is Literal:
        return " | ".join(map(str, typing.get_args(hint)))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(hint))
    if origin in (list, tuple) or hint in (list, tuple):
        return "a list"
    if origin is dict or hint is dict or dataclasses.is_dataclass(hint):
        return "a mapping"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(
        hint, getattr(hint, "__name__", str(hint)))


def _locate(cls: type, loc: tuple) -> tuple[list, Any, Mapping[str, Any], type | None]:
    """(path of keys, hint, field metadata, enclosing dataclass) of the value an error is about.

    The walk stops at a union: its members' errors together make one message about the field.
    """
    path: list = []
    hint: Any = cls
    meta: Mapping[str, Any] = {}
    owner = None
    for part in loc:
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin in (Union, types.UnionType):
            members = [a for a in args if a is not type(None)]
            if len(members) > 1:
                break
            hint = members[0]
            origin, args = typing.get_origin(hint), typing.get_args(hint)
        if dataclasses.is_dataclass(hint):
            owner = hint
            fields = {f.name: f for f in dataclasses.fields(hint)}
            path.append(part)
            if part not in fields:
                return path, None, {}, owner
            hint, meta = typing.get_type_hints(hint).get(part, Any), fields[part].metadata
        elif origin in (list, tuple, dict):
            path.append(part)
            hint = args[0] if origin is list else args[-1] if origin is dict else (
                args[0] if args[-1] is Ellipsis else args[int(part)] if isinstance(part, int) and part < len(args) else Any)
        else:
            break
    return path, hint, meta, owner


def _given(values: Any, path: list) -> Any:
    for part in path:
        try:
            values = values[part]
        except (KeyError, IndexError, TypeError):
            return None
    return values


def _message(cls: type, where: str, values: Any, errors: list[dict[str, Any]]) -> str:
    path, hint, meta, owner = _locate(cls, errors[0]["loc"])
    key = ".".join([where, *map(str, path)])
    mine = [e for e in errors if _locate(cls, e["loc"])[0] == path]
    raw = _given(values, path)
    given = _show(raw)
    if hint is None:  # a key the dataclass does not have
        valid = [f.name for f in dataclasses.fields(owner) if f.init] if owner else []
        return f"{key}: unknown setting{did_you_mean(str(path[-1]), valid)}; valid: {', '.join(valid) or 'none'}"
    bound = next((e for e in mine if e["type"] in _BOUND_ERRORS), None)
    if bound is not None:
        kind, ctx, valid = bound["type"], bound.get("ctx") or {}, f"; valid: {range_text(meta)}"
        if kind == "finite_number" or _not_finite(bound["input"]):  # pydantic tests nan > 0 first
            return f"{key}: {given} is not a finite number{valid}"
        if kind == "greater_than":
            return f"{key}: {given} must be greater than {ctx['gt']:g}{valid}"
        if kind == "greater_than_equal":
            return f"{key}: {given} is below the minimum {_bound(ctx['ge'])}{valid}"
        return f"{key}: {given} is above the maximum {_bound(ctx['le'])}{valid}"
    options = meta.get("choices") or (typing.get_args(hint) if typing.get_origin(hint) is Literal else None)
    if options and all(e["type"] == "literal_error" for e in mine):
        return (f"{key}: {given} is not allowed{did_you_mean(str(raw), map(str, options))}; "
                f"valid: {', '.join(map(str, options))}")
    if typing.get_origin(hint) is tuple and any(e["type"] in ("missing", "too_long") for e in mine):
        return f"{key}: {given} needs {len(typing.get_args(hint))} values"
    return f"{key}: {given} is not {_type_name(hint)}"


# --- building settings -----------------------------------------------------------------------

def _plain(values: Any) -> Any:
    """A params mapping (possibly a tracked :class:`moodflow.core.params.Params`) as plain data."""
    if isinstance(values, Mapping):
        return {k: _plain(v) for k, v in values.items()}
    if isinstance(values, (list, tuple)):
        return [_plain(v) for v in values]
    return values


def _instance(hint: Any, value: Any, where: str) -> Any:
    """Validated data of type ``hint`` with nested settings dicts made into their dataclasses."""
    if isinstance(value, dict):
        if dataclasses.is_dataclass(hint):
            return _construct(hint, value, where)
        if typing.get_origin(hint) in (Union, types.UnionType):
            classes = [a for a in typing.get_args(hint) if dataclasses.is_dataclass(a)]
            if len(classes) == 1:
                return _construct(classes[0], value, where)
    return value


def _construct(cls: type[C], data: Mapping[str, Any], where: str) -> C:
    hints = typing.get_type_hints(cls)
    kwargs = {k: _instance(hints.get(k, Any), v, f"{where}.{k}") for k, v in data.items()}
    try:
        return cls(**kwargs)
    except SettingsError:
        raise
    except (TypeError, ValueError) as exc:  # the dataclass's own checks (__post_init__)
        raise SettingsError(f"{where}: {exc}") from None


def build(cls: type[C], values: Mapping[str, Any] | C | None, where: str) -> C:
    """``cls`` (a dataclass) from a params.yaml mapping; SettingsError on any bad key or value.

    ``where`` is the dotted params.yaml key of the section (``train.svm``), used in messages.
    An instance of ``cls`` is returned as it is; keys not given keep their defaults.
    """
    if isinstance(values, cls):
        return values
    if values is None:
        values = {}
    if not isinstance(values, Mapping):
        raise SettingsError(f"{where}: expected a mapping of settings, got {_show(values)}")
    values = _plain(values)
    try:
        data = _adapter(cls).validate_python(values)
    except _pydantic().ValidationError as exc:
        raise SettingsError(_message(cls, where, values, exc.errors())) from None
    return _construct(cls, data, where)


def defaults(cls: type) -> dict[str, Any]:
    """The default settings of ``cls`` as plain values (what params.yaml lists)."""
    return to_dict(cls())


def to_dict(config: Any) -> dict[str, Any]:
    """A settings dataclass as plain values (tuples as lists), e.g. for JSON provenance."""

    def plain(v: Any) -> Any:
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return {k: plain(v) for k, v in dataclasses.asdict(config).items()}


def build_section(cls: type[C], values: Mapping[str, Any] | None, where: str,
                  registered: list[str]) -> tuple[C, dict[str, Any]]:
    """A section holding its own settings (``cls``) beside one subsection per registered name
    (``features`` holds ``sets``, ``workers`` … and one subsection per feature set).

    Returns the settings and the subsections as plain dicts, keyed by name.
    """
    values = dict(values or {})
    subsections = {k: dict(values.pop(k) or {}) for k in list(values) if k in registered}
    fields = [f.name for f in dataclasses.fields(cls)]
    for key in values:
        if key not in fields:
            valid = ", ".join(fields + sorted(registered))
            raise SettingsError(f"{where}.{key}: unknown setting{did_you_mean(str(key), fields + list(registered))}; "
                                f"valid: {valid}")
    return build(cls, values, where), subsections


def build_from(cls: type[C], section: Mapping[str, Any], where: str, only: tuple[str, ...] | None = None) -> C:
    """``cls`` from just its own keys of ``section`` (or those in ``only``), so that a tracked
    params section (:class:`moodflow.core.params.Params`) records exactly the keys used."""
    names = only or tuple(f.name for f in dataclasses.fields(cls) if f.init)
    values = {}
    for name in names:
        if name in section:
            value = section[name]
            values[name] = value.to_dict() if hasattr(value, "to_dict") else value
    return build(cls, values, where)
