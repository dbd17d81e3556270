"""Loading saved scikit-learn pipelines with skops, trusting only known types.

skops refuses every type outside its own default list unless the caller trusts it. Trusting
whole package prefixes (``numpy.``) is not safe: a crafted file can name any *function* of a
trusted package (``numpy.testing._private.utils.runstring`` runs ``exec``) as the constructor
of a node, and skops calls it with arguments from the file. So a type is trusted only when it
is on :data:`TRUSTED_TYPES`, or is a *class* from scikit-learn/XGBoost deriving from
``sklearn.base.BaseEstimator`` (estimators and transformers: their constructors only store
parameters). Functions are never trusted, whatever their module.
"""

from __future__ import annotations

import importlib
from pathlib import Path

# Packages whose estimator classes may appear in a moodflow pipeline.
TRUSTED_PREFIXES = ("sklearn.", "xgboost.")

# Non-estimator types our pipelines hold (checked with every model in tests/test_safe_models.py).
TRUSTED_TYPES = frozenset({
    "numpy.dtype",
    "numpy.random.mtrand.RandomState",
    "numpy.random._generator.Generator",
    "numpy.random._mt19937.MT19937",
    "numpy.random._pcg64.PCG64",
    "numpy.random.bit_generator.SeedSequence",
    "sklearn.tree._tree.Tree",
    "xgboost.core.Booster",
    "builtins.slice",
    "builtins.float",
    "builtins.int",
    "builtins.bool",
    "builtins.str",
})


class UntrustedModelError(ValueError):
    """A model file holds types moodflow does not trust, or is not a skops file at all."""


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
    """Load a skops file, refusing it if it names any type outside the trusted set."""
    import zipfile

    import skops.io as sio

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: model file not found")
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as fh:
            head = fh.read(2)
        kind = " (it is a pickle)" if head[:1] == b"\x80" else ""
        raise UntrustedModelError(f"{path}: not a skops model file{kind}; refusing to load it")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # noqa: BLE001
        raise UntrustedModelError(f"{path}: unreadable model file ({exc})") from None
    bad = [t for t in untrusted if not is_trusted(t)]
    if bad:
        raise UntrustedModelError(f"{path}: refusing to load untrusted types {bad}")
    try:
        return sio.load(path, trusted=untrusted)
    except Exception as exc:  # noqa: BLE001 - a malformed file is the file's problem
        raise UntrustedModelError(f"{path}: malformed model file ({type(exc).__name__}: {exc})") from None
