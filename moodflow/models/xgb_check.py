"""Validating an XGBoost model file before XGBoost reads it.

XGBoost's C++ predictor trusts the indices in a model file: a child index beyond the tree or a
split feature beyond the input row is an out-of-bounds memory read (a segfault, or garbage).
:func:`read_booster` parses the file itself (UBJSON, XGBoost's binary JSON, or plain JSON) with
a strict reader, checks every tree against the model's declared shape and returns the bytes
for XGBoost to load, so XGBoost only ever parses bytes that were checked (no second read of
the file). Only what moodflow trains is accepted: a ``gbtree`` booster of numerical splits
with scalar leaves.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np

from moodflow.models.safe_load import UntrustedModelError, weight_problem
from moodflow.models.tree_check import check_tree_arrays

MAX_NODES = 1 << 24  # per tree
MAX_TREES = 1 << 20
MAX_FEATURES = 1 << 24
_DEPTH = 64
_NO_PARENT = 2147483647  # XGBoost's parent of the root
_SCALARS = {b"i": ">i1", b"U": ">u1", b"I": ">i2", b"l": ">i4", b"L": ">i8", b"d": ">f4", b"D": ">f8"}


class _UBJ:
    """A strict UBJSON reader for what XGBoost writes: no no-op or high-precision markers,
    no duplicate keys, every length checked against the bytes left."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def _take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError(f"ends early (at byte {self.pos}, {n} more needed)")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def _scalar(self, marker: bytes) -> Any:
        dtype = np.dtype(_SCALARS[marker])
        value = np.frombuffer(self._take(dtype.itemsize), dtype=dtype)[0]
        return float(value) if dtype.kind == "f" else int(value)

    def _count(self) -> int:
        marker = self._take(1)
        if marker not in _SCALARS or marker in (b"d", b"D"):
            raise ValueError(f"byte {self.pos - 1}: a length must be an integer, not {marker!r}")
        n = self._scalar(marker)
        if n < 0:
            raise ValueError(f"byte {self.pos}: negative length {n}")
        return n

    def value(self, depth: int = 0, marker: bytes | None = None) -> Any:
        if depth > _DEPTH:
            raise ValueError("nested too deeply")
        marker = marker or self._take(1)
        if marker in _SCALARS:
            return self._scalar(marker)
        if marker == b"S":
            return self._take(self._count()).decode("utf-8")
        if marker == b"C":
            return self._take(1).decode("ascii")
        if marker in (b"T", b"F"):
            return marker == b"T"
        if marker == b"Z":
            return None
        if marker == b"[":
            return self._array(depth)
        if marker == b"{":
            return self._object(depth)
        raise ValueError(f"byte {self.pos - 1}: unexpected marker {marker!r}")

    def _header(self) -> tuple[bytes | None, int | None]:
        kind = count = None
        if self.data[self.pos:self.pos + 1] == b"$":
            self.pos += 1
            kind = self._take(1)
            if self.data[self.pos:self.pos + 1] != b"#":
                raise ValueError(f"byte {self.pos}: a typed container needs a count")
        if self.data[self.pos:self.pos + 1] == b"#":
            self.pos += 1
            count = self._count()
        return kind, count

    def _array(self, depth: int) -> Any:
        kind, count = self._header()
        if kind in _SCALARS:
            dtype = np.dtype(_SCALARS[kind])
            raw = self._take(count * dtype.itemsize)
            return np.frombuffer(raw, dtype=dtype).astype(dtype.newbyteorder("="))
        if kind is not None:
            raise ValueError(f"byte {self.pos}: typed array of {kind!r} is not supported")
        out = []
        if count is not None:
            if count > len(self.data) - self.pos:
                raise ValueError(f"byte {self.pos}: array of {count} items in {len(self.data) - self.pos} bytes")
            return [self.value(depth + 1) for _ in range(count)]
        while self.data[self.pos:self.pos + 1] != b"]":
            out.append(self.value(depth + 1))
        self.pos += 1
        return out

    def _object(self, depth: int) -> dict[str, Any]:
        kind, count = self._header()
        if kind is not None:
            raise ValueError(f"byte {self.pos}: typed objects are not supported")
        out: dict[str, Any] = {}
        while (len(out) < count) if count is not None else self.data[self.pos:self.pos + 1] != b"}":
            key = self._take(self._count()).decode("utf-8")
            if key in out:
                raise ValueError(f"byte {self.pos}: key {key!r} appears twice")
            out[key] = self.value(depth + 1)
        if count is None:
            self.pos += 1
        return out


def parse_model(data: bytes) -> dict[str, Any]:
    """An XGBoost model file's content (UBJSON or JSON; lists of numbers as numpy arrays)."""
    if data[:1] == b"{" and data[1:2] in (b'"', b" ", b"\n", b"\r", b"\t", b"}"):
        def pairs(items):
            keys = [k for k, _ in items]
            if len(set(keys)) != len(keys):
                raise ValueError(f"a key appears twice in {sorted(keys)}")
            return dict(items)

        return _numeric_lists(json.loads(data.decode("utf-8"), object_pairs_hook=pairs))
    reader = _UBJ(data)
    model = reader.value()
    if reader.pos != len(data):
        raise ValueError(f"{len(data) - reader.pos} bytes after the end of the model")
    if not isinstance(model, dict):
        raise ValueError("not an XGBoost model (the top level is not an object)")
    return model


def _numeric_lists(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _numeric_lists(v) for k, v in node.items()}
    if isinstance(node, list):
        if node and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in node):
            return np.asarray(node)
        return [_numeric_lists(v) for v in node]
    return node


def _get(node: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            raise ValueError(f"no {'.'.join(keys)}")
        node = node[key]
    return node


def _int(value: Any, what: str, lo: int, hi: int) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValueError(f"{what} is {value!r}, not an integer") from None
    if not lo <= number <= hi:
        raise ValueError(f"{what} is {number}, outside [{lo}, {hi}]")
    return number


def _int_array(values: Any) -> np.ndarray | None:
    """``values`` (a typed array or a list of integers) as int64, or None."""
    if isinstance(values, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        values = np.asarray(values, dtype=np.int64)
    if not isinstance(values, np.ndarray) or values.ndim != 1 or values.dtype.kind not in "iu":
        return None
    return values.astype(np.int64)


def _ints(tree: dict, key: str, n: int, where: str) -> np.ndarray:
    values = _int_array(tree.get(key))
    if values is None:
        raise ValueError(f"{where}.{key} is not a list of integers")
    if len(values) != n:
        raise ValueError(f"{where}.{key} has {len(values)} entries for {n} nodes")
    return values


def _check_tree(tree: Any, where: str, num_feature: int) -> None:
    if not isinstance(tree, dict):
        raise ValueError(f"{where} is not an object")
    param = _get(tree, "tree_param")
    n = _int(param.get("num_nodes"), f"{where}.num_nodes", 1, MAX_NODES)
    if _int(param.get("num_feature"), f"{where}.num_feature", 0, MAX_FEATURES) != num_feature:
        raise ValueError(f"{where}.num_feature {param.get('num_feature')} differs from the model's {num_feature}")
    if _int(param.get("num_deleted", 0), f"{where}.num_deleted", 0, MAX_NODES) != 0:
        raise ValueError(f"{where} has deleted nodes")
    if _int(param.get("size_leaf_vector", 1), f"{where}.size_leaf_vector", 0, MAX_NODES) > 1:
        raise ValueError(f"{where} has vector leaves (multi_strategy), which moodflow does not train")
    left, right = _ints(tree, "left_children", n, where), _ints(tree, "right_children", n, where)
    parents, feature = _ints(tree, "parents", n, where), _ints(tree, "split_indices", n, where)
    _ints(tree, "default_left", n, where)
    split_type = _ints(tree, "split_type", n, where)
    for key in ("split_conditions", "base_weights", "loss_changes", "sum_hessian"):
        values = tree.get(key)
        if not isinstance(values, np.ndarray) or values.shape != (n,):
            raise ValueError(f"{where}.{key} does not hold one number per node ({n})")
        problem = weight_problem(f"{where}.{key}", values) if key in ("split_conditions", "base_weights") else None
        if problem:
            raise ValueError(problem)
    if np.any(split_type != 0) or any(len(np.atleast_1d(tree.get(k, []))) for k in (
            "categories", "categories_nodes", "categories_segments", "categories_sizes")):
        raise ValueError(f"{where} has categorical splits, which moodflow does not train")
    if n > 1 and left[0] == -1:
        raise ValueError(f"{where}: {n} nodes but the root is a leaf")
    inner = check_tree_arrays(left, right, feature, n, num_feature, where)
    if len(inner):
        children = np.concatenate([left[inner], right[inner]])
        if np.any(parents[children] != np.concatenate([inner, inner])):
            raise ValueError(f"{where}: parents do not match children")
    if parents[0] not in (_NO_PARENT, -1):
        raise ValueError(f"{where}: the root has a parent")


def check_model(model: dict[str, Any], n_features: int | None) -> None:
    """Refuse (ValueError) a model that is not a gbtree of valid trees with ``n_features`` inputs."""
    learner = _get(model, "learner")
    param = _get(learner, "learner_model_param")
    num_feature = _int(param.get("num_feature"), "num_feature", 1, MAX_FEATURES)
    if n_features is not None and num_feature != n_features:
        raise ValueError(f"the booster takes {num_feature} features but its preprocessing gives {n_features}")
    num_class = _int(param.get("num_class", 0), "num_class", 0, 1 << 16)
    num_target = _int(param.get("num_target", 1), "num_target", 1, 1 << 16)
    base = [v for v in str(param.get("base_score", "0")).strip("[]").split(",") if v.strip()]
    try:
        problem = weight_problem("base_score", np.asarray([float(v) for v in base], dtype=np.float64))
    except ValueError:
        problem = f"base_score {str(param.get('base_score'))[:40]!r} is not a number"
    if problem:
        raise ValueError(problem)
    booster = _get(learner, "gradient_booster")
    if booster.get("name") != "gbtree":
        raise ValueError(f"booster {booster.get('name')!r} is not gbtree, the only kind moodflow trains")
    gbtree = _get(booster, "model")
    trees = gbtree.get("trees")
    if not isinstance(trees, list) or len(trees) > MAX_TREES:
        raise ValueError("no list of trees")
    if _int(_get(gbtree, "gbtree_model_param", "num_trees"), "num_trees", 0, MAX_TREES) != len(trees):
        raise ValueError(f"num_trees differs from the {len(trees)} trees the file holds")
    info = _int_array(gbtree.get("tree_info"))
    groups = max(num_class, num_target, 1)
    if info is None or info.shape != (len(trees),) or np.any(info < 0) or np.any(info >= groups):
        raise ValueError(f"tree_info does not give each of the {len(trees)} trees an output below {groups}")
    indptr = _int_array(gbtree.get("iteration_indptr", []))
    if indptr is None:
        raise ValueError("iteration_indptr is not a list of integers")
    if len(indptr):
        if indptr[0] != 0 or indptr[-1] != len(trees) or np.any(np.diff(indptr) < 0):
            raise ValueError("iteration_indptr does not cover the trees")
    for i, tree in enumerate(trees):
        _check_tree(tree, f"tree {i}", num_feature)
    for key in ("feature_names", "feature_types"):
        names = learner.get(key, [])
        if len(names) not in (0, num_feature):
            raise ValueError(f"{key} lists {len(names)} names for {num_feature} features")


def read_booster(path: str | Path, n_features: int | None = None) -> bytearray:
    """The bytes of the XGBoost model at ``path`` once checked (UntrustedModelError otherwise)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: model file not found")
    data = path.read_bytes()
    try:
        check_model(parse_model(data), n_features)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, struct.error) as exc:
        raise UntrustedModelError(f"{path}: refusing to load this XGBoost model: {exc}") from None
    return bytearray(data)
