"""Typed settings: a dataclass per params.yaml section, built and checked in one place.

Every registered class (dataset adapter, feature extractor, model) and every stage section
declares its settings as a dataclass whose defaults are the documented defaults (params.yaml
repeats them; a test keeps the two equal). :func:`build` turns a params.yaml mapping into that
dataclass and refuses, in one line naming the key, the value and what is allowed:

- an unknown key, with a "did you mean" (``train.svm.c`` → ``C``);
- a value of the wrong type (``folds: five``, ``sample_rate: 22050.7``);
- a value outside the range or the choices a field declares with :func:`setting`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal, Mapping, TypeVar, Union

from moodflow.core.errors import SettingsError, did_you_mean

C = TypeVar("C")
_MISSING = dataclasses.MISSING


def setting(default: Any = _MISSING, *, default_factory: Any = _MISSING, min: float | None = None,
            max: float | None = None, gt: float | None = None, choices: tuple | None = None,
            doc: str = "") -> Any:
    """A dataclass field with range / choice checks applied by :func:`build`."""
    meta = {"min": min, "max": max, "gt": gt, "choices": choices, "doc": doc}
    if default_factory is not _MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _convert(value: Any, hint: Any, key: str) -> Any:
    """``value`` as type ``hint`` or a SettingsError naming ``key``."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(value, option, key)
            except SettingsError as exc:
                errors.append(exc)
        allowed = " or ".join(_type_name(o) for o in options)
        raise SettingsError(f"{key}: {_show(value)} is not {allowed}")
    if origin is Literal:
        allowed = typing.get_args(hint)
        if value in allowed:
            return value
        raise SettingsError(f"{key}: {_show(value)} is not allowed{did_you_mean(str(value), map(str, allowed))}; "
                            f"valid: {', '.join(map(str, allowed))}")
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise SettingsError(f"{key}: {_show(value)} is not true or false")
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
            raise SettingsError(f"{key}: {_show(value)} is not an integer")
        return int(value)
    if hint is float:
        if isinstance(value, str):  # YAML reads 1e-3 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SettingsError(f"{key}: {_show(value)} is not a number")
        return float(value)
    if hint is str:
        if isinstance(value, str):
            return value
        raise SettingsError(f"{key}: {_show(value)} is not a string")
    if origin in (list, tuple) or hint in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise SettingsError(f"{key}: {_show(value)} is not a list")
        args = typing.get_args(hint)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise SettingsError(f"{key}: {_show(value)} needs {len(args)} values")
            return tuple(_convert(v, a, f"{key}.{i}") for i, (v, a) in enumerate(zip(value, args)))
        item = args[0] if args else Any
        items = [_convert(v, item, f"{key}.{i}") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict or hint is dict:
        if not isinstance(value, Mapping):
            raise SettingsError(f"{key}: {_show(value)} is not a mapping")
        args = typing.get_args(hint)
        item = args[1] if len(args) == 2 else Any
        return {str(k): _convert(v, item, f"{key}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(hint):
        return build(hint, value, key)
    return value


def _type_name(hint: Any) -> str:
    if hint is type(None):
        return "null"
    if typing.get_origin(hint) is Literal:
        return " | ".join(map(str, typing.get_args(hint)))
    return {int: "an integer", float: "a number", str: "a string", bool: "true/false"}.get(
        hint, getattr(hint, "__name__", str(hint)))


def _check_range(value: Any, meta: Mapping[str, Any], key: str, given: Any) -> None:
    """Range checks of ``value``; messages show the value as ``given`` in params.yaml."""
    if value is None or isinstance(value, (str, bool)) or not isinstance(value, (int, float)):
        return
    if meta.get("min") is not None and value < meta["min"]:
        raise SettingsError(f"{key}: {given} is below the minimum {meta['min']}")
    if meta.get("max") is not None and value > meta["max"]:
        raise SettingsError(f"{key}: {given} is above the maximum {meta['max']}")
    if meta.get("gt") is not None and value <= meta["gt"]:
        raise SettingsError(f"{key}: {given} must be greater than {meta['gt']:g}")


def build(cls: type[C], values: Mapping[str, Any] | C | None, where: str) -> C:
    """``cls`` (a dataclass) from a params.yaml mapping; SettingsError on any bad key or value.

    ``where`` is the dotted params.yaml key of the section (``train.svm``), used in messages.
    An instance of ``cls`` is returned as it is.
    """
    if isinstance(values, cls):
        return values
    if values is None:
        values = {}
    if not isinstance(values, Mapping):
        raise SettingsError(f"{where}: expected a mapping of settings, got {_show(values)}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for key in values:
        if key not in fields:
            valid = ", ".join(fields) or "none"
            raise SettingsError(f"{where}.{key}: unknown setting{did_you_mean(str(key), fields)}; valid: {valid}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, value in values.items():
        key = f"{where}.{name}"
        converted = _convert(value, hints.get(name, Any), key)
        meta = fields[name].metadata
        if meta.get("choices") and converted not in meta["choices"]:
            raise SettingsError(f"{key}: {_show(value)} is not allowed{did_you_mean(str(value), map(str, meta['choices']))}; "
                                f"valid: {', '.join(map(str, meta['choices']))}")
        _check_range(converted, meta, key, value)
        kwargs[name] = converted
    try:
        return cls(**kwargs)
    except SettingsError:
        raise
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{where}: {exc}") from None


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
    (``features`` holds ``sets``, ``workers`` … and ``chroma``, ``compare`` …).

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
