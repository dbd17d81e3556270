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


# -- bundles ---------------------------------------------------------------------------------------
def bundle_members(path: Path) -> list[tuple[str, bytes]]:
    """A bundle's members in archive order, (name, bytes)."""
    with zipfile.ZipFile(path) as z:
        return [(info.filename, z.read(info)) for info in z.infolist()]


def write_zip(dst: Path, members: list[tuple[str | zipfile.ZipInfo, bytes]]) -> Path:
    """A ZIP of ``members`` in order (deflated; duplicates and odd names written as given)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name": on purpose
        with zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for name, data in members:
                z.writestr(name, data)
    return dst


def craft_bundle(src: Path, dst: Path, *, meta: Callable[[dict], Any] | None = None,
                 model: Callable[[dict], Any] | None = None, raw_meta: bytes | None = None,
                 raw_model: bytes | None = None, extra: list[tuple[str | zipfile.ZipInfo, bytes]] = (),
                 rehash: bool = True) -> Path:
    """``src`` rewritten: ``model``/``meta`` edit model.json/bundle.json in place (or ``raw_*``
    replace their bytes), ``extra`` members are appended, and (``rehash``) bundle.json lists the
    new SHA-256 of every member, so only the check under test can refuse it."""
    import hashlib

    members = dict(bundle_members(src))
    if model is not None:
        manifest = json.loads(members["model.json"])
        model(manifest)
        members["model.json"] = json.dumps(manifest).encode()
    if raw_model is not None:
        members["model.json"] = raw_model
    header = json.loads(members["bundle.json"])
    if rehash:
        header["files"] = {n: hashlib.sha256(d).hexdigest() for n, d in members.items() if n != "bundle.json"}
        for name, data in extra:
            name = name.filename if isinstance(name, zipfile.ZipInfo) else name
            header["files"].setdefault(name, hashlib.sha256(data).hexdigest())
    if meta is not None:
        meta(header)
    members["bundle.json"] = raw_meta if raw_meta is not None else json.dumps(header).encode()
    return write_zip(dst, [*members.items(), *extra])


def set_member_sizes(path: Path, name: str, size: int) -> None:
    """Make the local and central headers of member ``name`` declare ``size`` uncompressed bytes
    (a header that lies: the deflated data inflates to something else)."""
    data = bytearray(path.read_bytes())
    raw = name.encode()
    local = data.find(b"PK\x03\x04" + b"")
    while local != -1:
        n_len, x_len = struct.unpack_from("<HH", data, local + 26)
        if bytes(data[local + 30:local + 30 + n_len]) == raw:
            struct.pack_into("<I", data, local + 22, size)
        local = data.find(b"PK\x03\x04", local + 4)
    central = data.find(b"PK\x01\x02")
    while central != -1:
        n_len = struct.unpack_from("<H", data, central + 28)[0]
        if bytes(data[central + 46:central + 46 + n_len]) == raw:
            struct.pack_into("<I", data, central + 24, size)
        central = data.find(b"PK\x01\x02", central + 4)
    path.write_bytes(bytes(data))
