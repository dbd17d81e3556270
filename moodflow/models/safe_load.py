"""Saving and loading scikit-learn pipelines with skops: byte-reproducible files, and loading
that trusts only known types.

skops names each array file and memo entry after ``id(obj)`` (a memory address) and stamps
zip entries with the wall clock, so two identical fits give different bytes. :func:`dump_skops`
renumbers the ids in the order they appear in the schema and writes the zip with fixed times,
so the same pipeline always gives the same file (DVC then sees the same hash).

skops refuses every type outside its own default list unless the caller trusts it. Trusting
whole package prefixes (``numpy.``) is not safe: a crafted file can name any *function* of a
trusted package (``numpy.testing._private.utils.runstring`` runs ``exec``) as the constructor
of a node, and skops calls it with arguments from the file. So a type is trusted only when it
is on :data:`TRUSTED_TYPES`, or is a *class* from scikit-learn/XGBoost deriving from
``sklearn.base.BaseEstimator`` (estimators and transformers: their constructors only store
parameters). Functions are never trusted, whatever their module.

Trusted types are not enough: a file of trusted types can still hold a tree whose node indices
point outside the tree, which scikit-learn's compiled code follows at ``predict`` (a segfault).
So every loaded pipeline is also checked, before anything predicts with it, by
:func:`moodflow.models.sklearn_check.check_fitted` (indices, sizes, dtypes, widths).

Every number a model predicts with must be finite and of a size training can give
(|x| <= :data:`MAX_WEIGHT`): a NaN, an infinity or 1e308 in a weight would predict NaN/inf for
every song. :func:`weight_problem` is that check for every weight format moodflow saves: the
fitted arrays of a scikit-learn pipeline (:func:`check_finite_fitted`), the trees of an
XGBoost booster (``xgb_check``) and the tensors of a safetensors file (``torch_common``).
"""

from __future__ import annotations

import importlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

from moodflow.core.errors import MoodflowError

# Packages whose estimator classes may appear in a moodflow pipeline.
TRUSTED_PREFIXES = ("sklearn.", "xgboost.")

# Largest uncompressed skops file accepted (a zip bomb is refused before anything is read).
MAX_SKOPS_BYTES = 4 << 30

# Non-estimator types our pipelines hold (checked with every model in tests/test_safe_models.py).
TRUSTED_TYPES = frozenset({
    "numpy.dtype",
    "numpy.random.mtrand.RandomState",
    "numpy.random._generator.Generator",
    "numpy.random._mt19937.MT19937",
    "numpy.random._pcg64.PCG64",
    "numpy.random.bit_generator.SeedSequence",
    "sklearn.tree._tree.Tree",
    "builtins.slice",
    "builtins.float",
    "builtins.int",
    "builtins.bool",
    "builtins.str",
})


def skops_io():
    """``skops.io``, imported without its start-up scan of scikit-learn.

    On import skops lists every scikit-learn estimator (``sklearn.utils.all_estimators``, which
    imports every sklearn module, and with torch installed sklearn's torch array-API shim): 2-3 s
    of a classical model's cold start. That list only seeds skops' *default* trusted types, which
    moodflow never uses (:func:`load_skops` passes its own), so the scan is skipped.
    """
    import sys

    if "skops.io" in sys.modules:
        return sys.modules["skops.io"]
    import sklearn.utils

    original = getattr(sklearn.utils, "all_estimators", None)
    sklearn.utils.all_estimators = lambda *args, **kwargs: []
    try:
        import skops.io as sio
    finally:
        if original is not None:
            sklearn.utils.all_estimators = original
    return sio


class UntrustedModelError(MoodflowError, ValueError):
    """A model file holds types moodflow does not trust, or is not a skops file at all."""


# Larger than any weight, scaler statistic or leaf value training gives (features and labels are
# far below it; a variance of 1e30 would need feature values of 1e15), far below float overflow.
MAX_WEIGHT = 1e30


def weight_problem(name: str, values: Any) -> str | None:
    """Why the weights ``values`` cannot be predicted with (NaN, infinity, absurd size), or None."""
    import numpy as np

    array = np.asarray(values)
    if array.dtype.kind not in "fc" or array.size == 0:
        return None
    finite = np.isfinite(array)
    if not finite.all():
        n = int((~finite).sum())
        return f"{name} holds {n} non-finite value{'s' if n > 1 else ''} (NaN or infinity)"
    peak = float(np.abs(array).max())
    if peak > MAX_WEIGHT:
        return f"{name} holds a value of magnitude {peak:.3g}, beyond any trained weight ({MAX_WEIGHT:g})"
    return None


def _fitted_values(obj: Any, where: str, depth: int = 0):
    """(name, array or number) of every fitted attribute of an estimator, pipeline or tree."""
    import numpy as np
    from sklearn.base import BaseEstimator
    from sklearn.pipeline import Pipeline

    if depth > 8:
        return
    if isinstance(obj, Pipeline):
        for step, est in obj.steps:
            yield from _fitted_values(est, f"{where}.{step}" if where else step, depth + 1)
        return
    if type(obj).__name__ == "Tree" and hasattr(obj, "threshold"):
        yield f"{where}.threshold", obj.threshold
        yield f"{where}.value", obj.value
        return
    if isinstance(obj, (list, tuple)):
        for i, item in enumerate(obj):
            yield from _fitted_values(item, f"{where}[{i}]", depth + 1)
        return
    if isinstance(obj, (np.ndarray, float, np.floating)):
        if isinstance(obj, np.ndarray) and obj.dtype == object:
            for i, item in enumerate(obj.ravel()):
                yield from _fitted_values(item, f"{where}[{i}]", depth + 1)
        else:
            yield where, obj
        return
    if isinstance(obj, BaseEstimator):
        for key, value in vars(obj).items():
            # fitted state (``coef_``, ``_dual_coef_``, ``tree_``), not the settings the estimator was made with
            if (key.endswith("_") or key.startswith("_")) and not key.startswith("__"):
                yield from _fitted_values(value, f"{where}.{key}" if where else key, depth + 1)


def check_finite_fitted(obj: Any) -> None:
    """Refuse (ValueError) a fitted pipeline with a non-finite or absurd weight."""
    for name, values in _fitted_values(obj, ""):
        problem = weight_problem(name, values)
        if problem:
            raise ValueError(problem)


def is_trusted(type_name: str) -> bool:
    """Whether a fully qualified type name from a skops file may be loaded."""
    if type_name in TRUSTED_TYPES:
        return True
    if not type_name.startswith(TRUSTED_PREFIXES):
        return False
    module_name, _, attr = type_name.rpartition(".")
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError):
        return False
    from sklearn.base import BaseEstimator

    return isinstance(obj, type) and issubclass(obj, BaseEstimator)


def load_skops(path: Path):
    """Load a skops file, refusing it if it names any type outside the trusted set or if what it
    holds could not safely predict (:func:`moodflow.models.sklearn_check.check_fitted`)."""
    sio = skops_io()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: model file not found")
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as fh:
            head = fh.read(2)
        kind = " (it is a pickle)" if head[:1] == b"\x80" else ""
        raise UntrustedModelError(f"{path}: not a skops model file{kind}; refusing to load it")
    try:
        with zipfile.ZipFile(path) as z:
            size = sum(info.file_size for info in z.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise UntrustedModelError(f"{path}: unreadable model file ({exc})") from None
    if size > MAX_SKOPS_BYTES:
        raise UntrustedModelError(f"{path}: unpacks to {size / 2**30:.1f} GiB (limit {MAX_SKOPS_BYTES >> 30} GiB); refusing it")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # noqa: BLE001
        raise UntrustedModelError(f"{path}: unreadable model file ({exc})") from None
    bad = [t for t in untrusted if not is_trusted(t)]
    if bad:
        raise UntrustedModelError(f"{path}: refusing to load untrusted types {bad}")
    try:
        obj = sio.load(path, trusted=untrusted)
    except Exception as exc:  # noqa: BLE001 - a malformed file is the file's problem
        raise UntrustedModelError(f"{path}: malformed model file ({type(exc).__name__}: {exc})") from None
    from moodflow.models.sklearn_check import check_fitted

    try:
        check_fitted(obj)
        check_finite_fitted(obj)
    except ValueError as exc:
        raise UntrustedModelError(f"{path}: refusing this model: {exc}") from None
    return obj


_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def _renumber(node: Any, ids: dict[int, int], files: dict[str, str]) -> None:
    if isinstance(node, dict):
        if "__id__" in node:
            node["__id__"] = ids.setdefault(node["__id__"], len(ids))
        if node.get("type") == "numpy" and "file" in node:
            node["file"] = files.setdefault(node["file"], f"{len(files)}.npy")
        for value in node.values():
            _renumber(value, ids, files)
    elif isinstance(node, list):
        for value in node:
            _renumber(value, ids, files)


def dump_skops(obj: Any, path: str | Path) -> None:
    """Write ``obj`` as a skops file whose bytes depend only on ``obj`` (see the module docstring)."""
    sio = skops_io()
    with zipfile.ZipFile(io.BytesIO(sio.dumps(obj))) as src:
        schema = json.loads(src.read("schema.json"))
        arrays = {name: src.read(name) for name in src.namelist() if name != "schema.json"}
    files: dict[str, str] = {}
    _renumber(schema, {}, files)
    entries = {"schema.json": json.dumps(schema, sort_keys=True, indent=1).encode()}
    entries.update({new: arrays[old] for old, new in files.items()})
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as out:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            out.writestr(info, entries[name])
