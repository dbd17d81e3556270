"""Crafting hostile model files for the tests: edit the arrays of a real skops file, write
UBJSON the way XGBoost reads it. Nothing crafted here is ever run by the tests; the loaders
must refuse it."""

from __future__ import annotations

import io
import json
import struct
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

_TYPED = {"int32": b"l", "int64": b"L", "uint8": b"U", "int8": b"i", "int16": b"I", "float32": b"d", "float64": b"D"}


def _nodes(node: Any, out: list) -> list:
    if isinstance(node, dict):
        out.append(node)
        for value in node.values():
            _nodes(value, out)
    elif isinstance(node, list):
        for value in node:
            _nodes(value, out)
    return out


def edit_skops_array(src: Path, dst: Path, owner: str, attribute: str, edit: Callable[[np.ndarray], np.ndarray],
                     which: int = 0) -> None:
    """Copy skops file ``src`` to ``dst`` with ``edit`` applied to the array ``attribute`` of the
    ``which``-th object of class ``owner`` (``Tree``: its ``nodes``; an estimator: an attribute)."""
    with zipfile.ZipFile(src) as z:
        files = {n: z.read(n) for n in z.namelist()}
    schema = json.loads(files["schema.json"])
    owners = [n for n in _nodes(schema, []) if n.get("__class__") == owner]
    state = owners[which]["content"]["content"]
    name = state[attribute]["file"]
    array = np.load(io.BytesIO(files[name]), allow_pickle=False)
    buffer = io.BytesIO()
    np.save(buffer, edit(array.copy()), allow_pickle=False)
    files[name] = buffer.getvalue()
    with zipfile.ZipFile(dst, "w") as z:
        for n, data in files.items():
            z.writestr(n, data)


def _int(n: int) -> bytes:
    return b"L" + struct.pack(">q", n)


def ubjson(obj: Any) -> bytes:
    """UBJSON bytes of ``obj`` (numpy arrays as typed arrays, as XGBoost writes them)."""
    if isinstance(obj, dict):
        return b"{" + b"".join(_int(len(k.encode())) + k.encode() + ubjson(v) for k, v in obj.items()) + b"}"
    if isinstance(obj, np.ndarray):
        big = obj.astype(obj.dtype.newbyteorder(">"))
        return b"[$" + _TYPED[obj.dtype.name] + b"#" + _int(len(obj)) + big.tobytes()
    if isinstance(obj, (list, tuple)):
        return b"[#" + _int(len(obj)) + b"".join(ubjson(v) for v in obj)
    if isinstance(obj, bool):
        return b"T" if obj else b"F"
    if isinstance(obj, int):
        return _int(obj)
    if isinstance(obj, float):
        return b"d" + struct.pack(">f", obj)
    if isinstance(obj, str):
        return b"S" + _int(len(obj.encode())) + obj.encode()
    raise TypeError(type(obj))
