"""Every JSON file moodflow reads back, checked on load in one place.

``bundle.json`` (a bundle's header), ``model.json`` (a model folder's manifest), ``metrics.json``
(a model folder's scores; ``reports/metrics.json``, the run's), ``dataset.json`` (the prepared
dataset) and ``network.json`` (a neural model's architecture) may come from someone else (a
bundle, ``dvc pull``). Before parsing, a file's size and its nesting depth are bounded (100 000
nested brackets are refused, never a ``RecursionError``); parsing refuses duplicate keys and
the non-standard ``NaN``/``Infinity`` constants and numbers that overflow to infinity (naming
the field); then
the value is checked against its schema (types, ranges, required keys). Every refusal is one
:class:`SchemaError` line naming the file and the field: ``bundle.json: format_version: must be
an integer (got str 'abc')``.

Readers get back the plain parsed value (dicts and lists), so only its shape is promised here;
what a field means stays documented where it is written. The schemas themselves are in
:mod:`moodflow.core.schema_files`.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from moodflow.core.errors import SchemaError, value_kind

MAX_JSON_BYTES = 16 << 20  # model.json of a 56-tag model with its metrics is ~100 kB
MAX_DEPTH = 32
BUNDLE_FORMAT_VERSION = 1  # moodflow.app.bundle writes this one
MODEL_FORMAT_VERSION = 3  # moodflow.train.run writes this one (a test keeps the two equal)


# -- parsing --------------------------------------------------------------------------------
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


def json_depth(data: bytes) -> int:
    """The deepest nesting of ``[``/``{`` in JSON text (brackets inside strings do not count)."""
    import numpy as np

    codes = np.frombuffer(_STRING.sub(b'""', data), dtype=np.uint8)
    step = ((codes == ord("[")) | (codes == ord("{"))).astype(np.int64) - ((codes == ord("]")) | (codes == ord("}")))
    return int(np.cumsum(step).max(initial=0))


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {key!r} appears twice")
        out[key] = value
    return out


def parse_json(data: bytes | str, source: str, *, max_bytes: int = MAX_JSON_BYTES,
               max_depth: int = MAX_DEPTH) -> Any:
    """``data`` parsed as strict JSON, once its size and depth are within bounds."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if len(data) > max_bytes:
        raise SchemaError(f"{source}: {len(data):,} bytes, more than the {max_bytes:,} this file may have")
    depth = json_depth(data)
    if depth > max_depth:
        raise SchemaError(f"{source}: nested {depth} levels deep, more than the {max_depth} this file may have")
    try:
        text = data.decode("utf-8-sig")
        value = json.loads(text, object_pairs_hook=_no_duplicates)
    except UnicodeDecodeError as exc:
        raise SchemaError(f"{source}: not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise SchemaError(f"{source}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:
        raise SchemaError(f"{source}: not valid JSON ({' '.join(str(exc).split())[:200]})") from None
    where = _non_finite(value)
    if where is not None:
        raise SchemaError(f"{source}: {where or '(top)'}: must be a finite number (got NaN, Infinity or a number "
                          "too large for a float, such as 1e400)")
    return value


def _non_finite(value: Any, where: str = "") -> str | None:
    """The field of the first NaN/infinite number in ``value`` (depth already bounded), or None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else where
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _non_finite(item, f"{where}.{key}" if where else str(key))
        if found is not None:
            return found
    return None


def read_json_file(path: str | Path, kind: str, *, source: str | None = None, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """The JSON file ``path`` parsed and checked against the schema ``kind`` (see :data:`SCHEMAS`);
    its size is checked before a byte is read."""
    path = Path(path)
    source = source or str(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise SchemaError(f"{source}: {size:,} bytes, more than the {max_bytes:,} this file may have")
    with open(path, "rb") as fh:
        data = fh.read(max_bytes + 1)
    return check(parse_json(data, source, max_bytes=max_bytes), kind, source)


def check(value: Any, kind: str, source: str) -> Any:
    """``value`` when it fits the schema ``kind``, else :class:`SchemaError` naming ``source`` and the field."""
    from moodflow.core.schema_files import SCHEMAS

    schema = SCHEMAS[kind]
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        if not isinstance(value, dict):
            raise SchemaError(f"{source}: must be a JSON object (got {value_kind(value)})")
        _check_version(value, kind, source)
        try:
            schema.model_validate(value)
        except ValidationError as exc:
            raise SchemaError(f"{source}: {_first_error(exc, value)}") from None
    else:
        schema(value, source)
    return value


# -- messages -------------------------------------------------------------------------------
def _at(value: Any, loc: tuple) -> Any:
    for part in loc:
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            return None
    return value


_MESSAGES = [  # pydantic's wording → ours
    (r"^Field required", "missing (required)"),
    (r"^Input should be a valid (integer|string|number|dictionary|list|boolean)(?: or instance of \w+)?",
     "must be {article} {0}"),
    (r"^Input should be a finite number", "must be a finite number"),
    (r"^Input should be ", "must be "),
    (r"^Value error, ", ""),
]


def _first_error(exc: ValidationError, value: Any) -> str:
    err = exc.errors(include_url=False)[0]
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in ("function-after", "function-plain")))
    field = ".".join(str(p) for p in loc) or "(top)"
    message = err["msg"]
    for pattern, replacement in _MESSAGES:
        match = re.match(pattern, message)
        if match:
            words = {"integer": "integer", "string": "string", "number": "number", "dictionary": "object",
                     "list": "list", "boolean": "true/false"}
            groups = [words.get(g, g) for g in match.groups()]
            article = "an" if groups and groups[0][0] in "aeiou" else "a"
            message = replacement.format(*groups, article=article) + message[match.end():]
            break
    if err["type"] not in ("missing", "value_error"):
        message += f" (got {value_kind(_at(value, loc))})"
    return f"{field}: {message}"


def _version_check(value: Any, newest: int, what: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"must be an integer (got {value_kind(value)})")
    if value < 1:
        raise ValueError(f"must be 1 or more (got {value})")
    if value > newest:
        raise ValueError(f"{value} is newer than this moodflow reads ({newest}); upgrade moodflow to read this {what}")


def _check_version(value: dict[str, Any], kind: str, source: str) -> None:
    """A version from the future is refused first: its other fields may mean something else."""
    newest = {"bundle": BUNDLE_FORMAT_VERSION, "model": MODEL_FORMAT_VERSION}.get(kind)
    if newest is None or "format_version" not in value:
        return
    try:
        _version_check(value["format_version"], newest, {"bundle": "bundle", "model": "model"}[kind])
    except ValueError as exc:
        raise SchemaError(f"{source}: format_version: {exc}") from None
