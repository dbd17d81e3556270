"""Which features a model listens to, measured on held-out folds only.

**Permutation importance**: on each fold's test tracks, the drop in the fold's score (R² per
target, macro F1 for classes, macro average precision for tags) when one unit of features is
shuffled across those tracks (the same row permutation for every column of the unit, so
correlated columns move together), ``repeats`` times. Units are read from the store's feature
groups (``family/descriptor``: ``MFCC/mfcc[3]``, ``chroma mean/C``, ``layers/layer05``):

- ``family`` level — every first component (MFCC, spectral shape, voice quality …);
- ``feature`` level — every column when the set has at most ``max_features`` columns, else
  every descriptor (the second component: a ComParE LLD with its delta and all its functionals);
  a store without groups and with more columns than that gets no permutation importance.

All permuted copies of a fold are predicted in a few large batches, so the cost is a handful
of model calls per fold, not one per feature.

**XGBoost contributions**: for an XGBoost model, the mean absolute SHAP contribution of every
column on the fold's test tracks (XGBoost's exact ``pred_contribs``), ``method: contribs``.

``importance.csv``: method, level, name, target, mean, std, n (values: folds × repeats).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import zlib

import numpy as np
import pandas as pd

from moodflow.train.problems import ClassesProblem, ColumnsProblem, MultitaskProblem, Problem

COLUMNS = ["method", "level", "name", "target", "mean", "std", "n"]
_BATCH_CELLS = 4_000_000  # float64 cells per prediction batch (~32 MB)


def _score_columns(problem: Problem, rows: np.ndarray, pred: Any) -> dict[str, float]:
    """The fold's score per reported target (higher is better)."""
    from sklearn.metrics import r2_score

    if isinstance(problem, MultitaskProblem):
        main = problem.main
        sub = (ClassesProblem(problem.X, problem.labels["classification"], problem.track_ids,
                              problem.names["classification"][1], problem.names["classification"][0])
               if main == "classification" else
               ColumnsProblem(main, problem.X, problem.labels[main], problem.track_ids, problem.names[main]))
        return _score_columns(sub, rows, pred[main])
    if isinstance(problem, ClassesProblem):
        return {problem.target: problem.score(rows, pred)}
    if problem.kind == "regression":
        Y = problem.Y[rows]
        return {t: float(r2_score(Y[:, k], pred[:, k])) for k, t in enumerate(problem.columns)}
    return {"tags": problem.score(rows, pred)}


@dataclass
class Explainer:
    """Importance settings and the store's feature names and groups (``family/descriptor``)."""

    names: list[str]
    groups: list[str] | None
    repeats: int = 3
    max_features: int = 300
    seed: int = 0

    def units(self) -> dict[str, dict[str, np.ndarray]]:
        """Column indices of every unit, by level."""
        out: dict[str, dict[str, list[int]]] = {"family": {}, "feature": {}}
        per_feature = len(self.names) <= self.max_features
        if not per_feature and not self.groups:  # nothing to group the columns by: too many to shuffle one by one
            return {}
        for j, name in enumerate(self.names):
            group = self.groups[j] if self.groups else name
            family, _, descriptor = group.partition("/")
            if self.groups:
                out["family"].setdefault(family, []).append(j)
            out["feature"].setdefault(name if per_feature else (descriptor or family), []).append(j)
        return {level: {k: np.asarray(v) for k, v in units.items()} for level, units in out.items() if units}

    def explain(self, model: Any, problem: Problem, rows: np.ndarray, fold: str) -> list[dict[str, Any]]:
        """Raw importance values of one fold's model on its test ``rows`` (see the module docstring)."""
        if not isinstance(problem, (ColumnsProblem, ClassesProblem, MultitaskProblem)) or len(rows) < 2:
            return []
        out = self._permutation(model, problem, rows, fold) if self.units() else []
        if type(model).__name__ == "XGBoostModel":
            targets = problem.columns if isinstance(problem, ColumnsProblem) and problem.kind == "regression" else None
            out += _contributions(model, problem.X[rows], self.names, targets, fold)
        return out

    def _permutation(self, model, problem, rows, fold) -> list[dict[str, Any]]:
        X = np.asarray(problem.X[rows], dtype=np.float64)
        base = _score_columns(problem, rows, problem.predict(model, rows))
        rng = np.random.default_rng([self.seed, zlib.crc32(fold.encode())])  # str hash() is salted per process
        jobs = []  # (level, unit name, permuted copy)
        for level, units in self.units().items():
            for name, cols in units.items():
                for _ in range(self.repeats):
                    perm = rng.permutation(len(X))
                    copy = X.copy()
                    copy[:, cols] = X[perm][:, cols]
                    jobs.append((level, name, copy))
        per_batch = max(1, _BATCH_CELLS // max(X.size, 1))
        out = []
        for start in range(0, len(jobs), per_batch):
            batch = jobs[start:start + per_batch]
            stacked = np.concatenate([c for _, _, c in batch])
            pred = _predict_stacked(model, problem, stacked)
            for k, (level, name, _) in enumerate(batch):
                part = _slice(pred, k * len(X), (k + 1) * len(X))
                scores = _score_columns(_with_X(problem, rows), np.arange(len(rows)), part)
                out += [{"method": "permutation", "level": level, "name": name, "target": t, "fold": fold,
                         "value": base[t] - s} for t, s in scores.items()]
        return out


def _predict_stacked(model, problem, X):
    return model.predict_all(X) if isinstance(problem, MultitaskProblem) else np.asarray(model.predict(X))


def _slice(pred, a, b):
    return {k: v[a:b] for k, v in pred.items()} if isinstance(pred, dict) else pred[a:b]


def _with_X(problem: Problem, rows: np.ndarray) -> Problem:
    """The problem restricted to ``rows`` (labels only matter for scoring)."""
    if isinstance(problem, ClassesProblem):
        return ClassesProblem(problem.X[rows], problem.y[rows], problem.track_ids[rows], problem.classes, problem.target)
    if isinstance(problem, MultitaskProblem):
        return MultitaskProblem(problem.X[rows], {k: v[rows] for k, v in problem.labels.items()}, problem.names,
                                problem.track_ids[rows], problem.main)
    return ColumnsProblem(problem.kind, problem.X[rows], problem.Y[rows], problem.track_ids[rows], problem.columns)


def _contributions(model, X: np.ndarray, names: list[str], targets: list[str] | None,
                   fold: str) -> list[dict[str, Any]]:
    """Mean |SHAP contribution| per column on ``X``; per target for regression, else averaged
    over the classes or tags (target ``all``)."""
    import xgboost as xgb

    pre = model.pipeline[:-1]
    booster = model.pipeline.steps[-1][1].get_booster()
    contribs = np.abs(np.asarray(booster.predict(xgb.DMatrix(pre.transform(X)), pred_contribs=True)))
    per_feature = contribs.mean(axis=0)  # (F+1,) or (outputs, F+1); the last column is the bias
    if per_feature.ndim == 1:
        per_feature = per_feature[None, :]
    out = []
    labels = targets if targets and len(targets) == len(per_feature) else None
    for k, row in enumerate(per_feature if labels else [per_feature.mean(axis=0)]):
        target = labels[k] if labels else "all"
        out += [{"method": "contribs", "level": "feature", "name": n, "target": target, "fold": fold,
                 "value": float(v)} for n, v in zip(names, row[:-1])]
    return out


def summarise(raw: list[dict[str, Any]]) -> pd.DataFrame:
    """importance.csv: mean, std and count over folds × repeats, largest first per target."""
    if not raw:
        return pd.DataFrame(columns=COLUMNS)
    table = pd.DataFrame(raw)
    grouped = table.groupby(["method", "level", "name", "target"], sort=False)["value"]
    out = grouped.agg(mean="mean", std=lambda v: float(np.std(v)), n="size").reset_index()
    return out.sort_values(["method", "level", "target", "mean", "name"], ascending=[True, True, True, False, True],
                           kind="mergesort").reset_index(drop=True)[COLUMNS]
