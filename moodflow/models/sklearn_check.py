"""Checking a loaded scikit-learn pipeline before it predicts anything.

skops restores only trusted types, but the *values* of a file are whatever its author wrote.
scikit-learn's compiled code (tree traversal, libsvm) trusts its indices: a tree node whose
child or feature index lies outside the tree or the input row, or a libsvm model whose support
counts do not match its arrays, is an out-of-bounds memory read at ``predict`` (a segfault, or
silently wrong numbers). :func:`check_fitted` walks a loaded pipeline and refuses (ValueError)
any estimator moodflow does not know how to check, and any index, size, dtype or width that
does not fit the model's own declared shape. It returns the width the pipeline's last
transformer produces (the width a final estimator, or an XGBoost booster, must take).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from moodflow.models.tree_check import check_tree_arrays

MAX_FEATURES = 1 << 24
MAX_NODES = 1 << 26
_KERNELS = ("linear", "poly", "rbf", "sigmoid")


def _array(obj: Any, name: str, shape: tuple, *, kinds: str = "f", where: str) -> np.ndarray:
    """``obj.<name>`` as an ndarray of ``shape`` (None: any size) and a dtype kind in ``kinds``."""
    value = getattr(obj, name, None)
    if not isinstance(value, np.ndarray) or value.dtype.kind not in kinds:
        raise ValueError(f"{where}.{name} is not a numeric array")
    if len(value.shape) != len(shape) or any(s is not None and s != v for s, v in zip(shape, value.shape)):
        want = ", ".join("?" if s is None else str(s) for s in shape)
        raise ValueError(f"{where}.{name} has shape {value.shape}, expected ({want}{',' if len(shape) == 1 else ''})")
    return value


def _width(est: Any, where: str) -> int:
    n = getattr(est, "n_features_in_", None)
    if not isinstance(n, (int, np.integer)) or not 1 <= int(n) <= MAX_FEATURES:
        raise ValueError(f"{where}.n_features_in_ is {n!r}, not a feature count")
    return int(n)


def _check_width(est: Any, width: int | None, where: str) -> int:
    n = _width(est, where)
    if width is not None and n != width:
        raise ValueError(f"{where} takes {n} features but receives {width}")
    return n


def check_tree(tree: Any, n_features: int, n_outputs: int, where: str) -> None:
    """Every node index and feature index of a fitted ``sklearn.tree._tree.Tree``."""
    from sklearn.tree._tree import Tree

    if type(tree) is not Tree:
        raise ValueError(f"{where} is a {type(tree).__name__}, not a tree")
    n, capacity = int(tree.node_count), int(tree.capacity)
    # node_count beyond the allocated nodes would make every array below read past the end
    if not 1 <= n <= min(capacity, MAX_NODES):
        raise ValueError(f"{where}: node_count {n} but {capacity} nodes are stored")
    if int(tree.n_features) != n_features or int(tree.n_outputs) != n_outputs:
        raise ValueError(f"{where}: a tree of {tree.n_features} features and {tree.n_outputs} outputs "
                         f"in a model of {n_features} features and {n_outputs} outputs")
    check_tree_arrays(tree.children_left, tree.children_right, tree.feature, n, n_features, where)
    if tree.value.shape[:2] != (n, n_outputs):
        raise ValueError(f"{where}: values of shape {tree.value.shape} for {n} nodes")


def _forest(est: Any, width: int | None, where: str) -> int:
    n = _check_width(est, width, where)
    trees = getattr(est, "estimators_", None)
    if not isinstance(trees, list) or not trees:
        raise ValueError(f"{where}.estimators_ is not a list of trees")
    for i, sub in enumerate(trees):
        _tree_estimator(sub, n, f"{where}.estimators_[{i}]")
    return n


def _tree_estimator(est: Any, width: int | None, where: str) -> int:
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    if type(est) not in (DecisionTreeClassifier, DecisionTreeRegressor):
        raise ValueError(f"{where} is a {type(est).__name__}, not a decision tree")
    n = _check_width(est, width, where)
    n_outputs = getattr(est, "n_outputs_", None)
    if not isinstance(n_outputs, (int, np.integer)) or not 1 <= n_outputs <= 1 << 16:
        raise ValueError(f"{where}.n_outputs_ is {n_outputs!r}")
    check_tree(getattr(est, "tree_", None), n, int(n_outputs), f"{where}.tree_")
    return n


def _libsvm(est: Any, width: int | None, where: str) -> int:
    n = _check_width(est, width, where)
    if est.kernel not in _KERNELS or getattr(est, "_sparse", True) is not False:
        raise ValueError(f"{where}: kernel {est.kernel!r} (dense {_KERNELS} only)")
    classifier = est._impl in ("c_svc", "nu_svc")
    sv = _array(est, "support_vectors_", (None, n), where=where)
    if sv.dtype != np.float64 or not sv.flags.c_contiguous:
        raise ValueError(f"{where}.support_vectors_ is not a C-ordered float64 array")
    n_sv = len(sv)
    shape_fit = getattr(est, "shape_fit_", None)
    if not (isinstance(shape_fit, tuple) and len(shape_fit) == 2 and shape_fit[1] == n and shape_fit[0] >= 1):
        raise ValueError(f"{where}.shape_fit_ is {shape_fit!r}")
    support = _array(est, "support_", (n_sv,), kinds="i", where=where)
    n_support = _array(est, "_n_support", (None,), kinds="i", where=where)
    if support.dtype != np.int32 or n_support.dtype != np.int32:
        raise ValueError(f"{where}: support indices are not int32")
    if np.any(support < 0) or np.any(support >= shape_fit[0]):
        raise ValueError(f"{where}.support_ indexes outside the {shape_fit[0]} training rows")
    n_class = len(n_support) if classifier else 2
    if len(n_support) != n_class or n_class < 2 or np.any(n_support < 0) or (classifier and n_support.sum() != n_sv):
        raise ValueError(f"{where}: _n_support {n_support.tolist()} does not match {n_sv} support vectors")
    pairs = n_class * (n_class - 1) // 2 if classifier else 1
    for name, shape in (("_dual_coef_", (n_class - 1 if classifier else 1, n_sv)), ("_intercept_", (pairs,))):
        if _array(est, name, shape, where=where).dtype != np.float64:
            raise ValueError(f"{where}.{name} is not float64")
    for name in ("_probA", "_probB"):
        if len(_array(est, name, (None,), where=where)) not in (0, pairs):
            raise ValueError(f"{where}.{name} has the wrong length")
    for name in ("_gamma", "coef0"):
        if not np.isfinite(float(getattr(est, name))):
            raise ValueError(f"{where}.{name} is not finite")
    if not 0 <= int(est.degree) <= 100:
        raise ValueError(f"{where}.degree is {est.degree}")
    if classifier and len(getattr(est, "classes_", ())) != n_class:
        raise ValueError(f"{where}: {len(est.classes_)} classes for {n_class} libsvm classes")
    return n


def _knn(est: Any, width: int | None, where: str) -> int:
    n = _check_width(est, width, where)
    if est._fit_method != "brute" or est._tree is not None:
        raise ValueError(f"{where}: only brute-force neighbours are accepted")
    fit_x = _array(est, "_fit_X", (None, n), where=where)
    if est.n_samples_fit_ != len(fit_x) or len(est._y) != len(fit_x):
        raise ValueError(f"{where}: n_samples_fit_ {est.n_samples_fit_} for {len(fit_x)} stored rows")
    if not 1 <= int(est.n_neighbors) <= len(fit_x) or not isinstance(est.effective_metric_, str):
        raise ValueError(f"{where}: n_neighbors {est.n_neighbors} for {len(fit_x)} rows")
    return n


def _linear(est: Any, width: int | None, where: str) -> int:
    n = _check_width(est, width, where)
    coef = getattr(est, "coef_", None)
    if not isinstance(coef, np.ndarray) or coef.ndim not in (1, 2) or coef.shape[-1] != n or coef.dtype.kind != "f":
        raise ValueError(f"{where}.coef_ does not have {n} columns")
    return n


def _meta(est: Any, width: int | None, where: str) -> int:
    """MultiOutputRegressor / OneVsRestClassifier: every fitted sub-estimator takes the same input."""
    n = _check_width(est, width, where)
    subs = getattr(est, "estimators_", None)
    if not isinstance(subs, list) or not subs:
        raise ValueError(f"{where}.estimators_ is not a list of estimators")
    for i, sub in enumerate(subs):
        check_step(sub, n, f"{where}.estimators_[{i}]")
    return n


def _imputer(est: Any, width: int | None, where: str) -> int:
    n = _check_width(est, width, where)
    stats = _array(est, "statistics_", (n,), where=where)
    if getattr(est, "indicator_", None) is not None:
        raise ValueError(f"{where}: missing-value indicators are not accepted")
    return n if est.keep_empty_features else int(np.sum(~np.isnan(stats)))


def _scaler(est: Any, width: int | None, where: str) -> int:
    n = _check_width(est, width, where)
    for name in ("mean_", "scale_"):
        if getattr(est, name, None) is not None:
            _array(est, name, (n,), where=where)
    return n


def _minmax(est: Any, width: int | None, where: str) -> int:
    n = _check_width(est, width, where)
    for name in ("min_", "scale_", "data_min_", "data_max_"):
        _array(est, name, (n,), where=where)
    return n


def _pca(est: Any, width: int | None, where: str) -> int:
    n = _check_width(est, width, where)
    k = _array(est, "components_", (None, n), where=where).shape[0]
    _array(est, "mean_", (n,), where=where)
    _array(est, "explained_variance_", (k,), where=where)
    if not 1 <= k <= n:
        raise ValueError(f"{where}: {k} components of {n} features")
    return k


def _checks() -> dict[type, Callable[[Any, int | None, str], int]]:
    from sklearn.decomposition import PCA
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.multioutput import MultiOutputClassifier, MultiOutputRegressor
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
    from sklearn.preprocessing import MinMaxScaler, StandardScaler
    from sklearn.svm import SVC, SVR
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    return {
        SimpleImputer: _imputer, StandardScaler: _scaler, MinMaxScaler: _minmax, PCA: _pca,
        Ridge: _linear, LinearRegression: _linear, LogisticRegression: _linear,
        SVR: _libsvm, SVC: _libsvm,
        RandomForestRegressor: _forest, RandomForestClassifier: _forest,
        DecisionTreeRegressor: _tree_estimator, DecisionTreeClassifier: _tree_estimator,
        KNeighborsRegressor: _knn, KNeighborsClassifier: _knn,
        MultiOutputRegressor: _meta, MultiOutputClassifier: _meta, OneVsRestClassifier: _meta,
    }


def check_step(est: Any, width: int | None, where: str) -> int:
    """Check one fitted estimator; returns the width it outputs (transformers) or takes."""
    check = _checks().get(type(est))
    if check is None:
        raise ValueError(f"{where}: moodflow cannot check a fitted {type(est).__module__}.{type(est).__qualname__}")
    try:
        return check(est, width, where)
    except (AttributeError, TypeError) as exc:
        raise ValueError(f"{where}: incomplete {type(est).__name__} ({exc})") from None


def check_fitted(obj: Any) -> int:
    """Refuse a pipeline (or single estimator) that cannot safely predict; returns the width of
    what its last step receives or, for a pipeline of transformers only, outputs."""
    from sklearn.pipeline import Pipeline

    if type(obj) is not Pipeline:
        return check_step(obj, None, type(obj).__name__)
    steps = getattr(obj, "steps", None)
    if not isinstance(steps, list) or not steps:
        raise ValueError("the pipeline has no steps")
    width = None
    for i, step in enumerate(steps):
        if not (isinstance(step, tuple) and len(step) == 2 and isinstance(step[0], str)):
            raise ValueError(f"pipeline step {i} is not a (name, estimator) pair")
        where = f"step {step[0]!r}"
        if i == len(steps) - 1 and not hasattr(step[1], "transform"):
            check_step(step[1], width, where)
        else:
            width = check_step(step[1], width, where)
    return width
