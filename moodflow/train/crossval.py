"""Cross-validation loops: fit a fresh model on each fold's training tracks, predict the
held-out tracks, and return every held-out prediction as a long table.

Prediction tables (one row per held-out value; see docs/models.md):

- ``static``: task, track_id, fold, target, y_true, y_pred
- ``classification``: task, track_id, fold, target (the class column), y_true, y_pred (class
  names), score_<class> per class
- ``tagging``: task, track_id, fold, target (the tag), y_true (0/1), y_pred (the score)
- ``dynamic``: task, track_id, time_s, fold, target, y_true, y_pred

Folds come from :func:`moodflow.evaluation.protocols.make_folds` and are sets of track ids,
so frames of one song never straddle train and test.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import pandas as pd

from moodflow.evaluation.protocols import Fold
from moodflow.models.base import ModelRecipe


def _rows(fold: Fold, index: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    tr = np.array([index[t] for t in fold.train], dtype=np.int64)
    te = np.array([index[t] for t in fold.test], dtype=np.int64)
    return tr, te


def column_rows(task: str, fold: str, track_ids: np.ndarray, columns: list[str], Y: np.ndarray,
                P: np.ndarray) -> pd.DataFrame:
    """Prediction rows of one fold: one row per (track, column) — regression targets or tags."""
    return pd.concat([
        pd.DataFrame({
            "task": task, "track_id": track_ids, "fold": fold, "target": column,
            "y_true": Y[:, k], "y_pred": P[:, k],
        })
        for k, column in enumerate(columns)
    ], ignore_index=True)


def _cv_columns(kind: str, task: str, recipe: ModelRecipe, X: np.ndarray, Y: np.ndarray,
                track_ids: np.ndarray, columns: list[str], folds: Iterable[Fold], seed: int) -> pd.DataFrame:
    index = {t: i for i, t in enumerate(track_ids)}
    out = []
    for fold in folds:
        tr, te = _rows(fold, index)
        pred = recipe.new(kind, seed).fit(X[tr], Y[tr]).predict(X[te])
        out.append(column_rows(task, fold.name, track_ids[te], columns, Y[te], pred))
    return pd.concat(out, ignore_index=True)


def cv_regression(
    recipe: ModelRecipe, X: np.ndarray, Y: np.ndarray, track_ids: np.ndarray,
    targets: list[str], folds: Iterable[Fold], seed: int = 0,
) -> pd.DataFrame:
    """Static valence/arousal: X (n, F), Y (n, k)."""
    return _cv_columns("regression", "static", recipe, X, Y, track_ids, targets, folds, seed)


def classification_rows(
    fold: str, track_ids: np.ndarray, target: str, classes: list[str], y: np.ndarray,
    pred: np.ndarray, scores: np.ndarray,
) -> pd.DataFrame:
    """Prediction rows of one fold: class names plus one score column per class."""
    names = np.asarray(classes, dtype=object)
    frame = pd.DataFrame({
        "task": "classification", "track_id": track_ids, "fold": fold, "target": target,
        "y_true": names[y], "y_pred": names[pred],
    })
    for c, name in enumerate(classes):
        frame[f"score_{name}"] = scores[:, c]
    return frame


def cv_classification(
    recipe: ModelRecipe, X: np.ndarray, y: np.ndarray, track_ids: np.ndarray,
    classes: list[str], folds: Iterable[Fold], seed: int = 0, target: str = "class",
) -> pd.DataFrame:
    """Single-label classes: X (n, F), y (n,) class ids into ``classes``."""
    index = {t: i for i, t in enumerate(track_ids)}
    out = []
    for fold in folds:
        tr, te = _rows(fold, index)
        model = recipe.new("classification", seed).fit(X[tr], y[tr])
        scores = model.predict(X[te])
        pred = model.predict_classes(X[te])
        out.append(classification_rows(fold.name, track_ids[te], target, classes, y[te], pred, scores))
    return pd.concat(out, ignore_index=True)


def cv_tagging(
    recipe: ModelRecipe, X: np.ndarray, Y: np.ndarray, track_ids: np.ndarray,
    tags: list[str], folds: Iterable[Fold], seed: int = 0,
) -> pd.DataFrame:
    """Multi-label tags: X (n, F), Y (n, K) in {0, 1}."""
    return _cv_columns("tagging", "tagging", recipe, X, Y, track_ids, tags, folds, seed)


def cv_dynamic(
    recipe: ModelRecipe, X: list[np.ndarray], Y: list[np.ndarray],
    times: list[np.ndarray], track_ids: np.ndarray, targets: list[str], folds: Iterable[Fold],
    seed: int = 0,
) -> pd.DataFrame:
    """Per-frame labels: per song i, X[i] (T_i, F), Y[i] (T_i, k), times[i] (T_i,).

    Sequence models get whole songs; the others get frames as samples, with each frame's
    song as its group (inner splits never cut a song either).
    """
    index = {t: i for i, t in enumerate(track_ids)}
    out = []
    for fold in folds:
        tr, te = _rows(fold, index)
        model = recipe.new("dynamic", seed)
        if model.sequence_input:
            model.fit([X[i] for i in tr], [Y[i] for i in tr])
            preds = model.predict([X[i] for i in te])
        else:
            groups = np.concatenate([np.full(len(X[i]), i) for i in tr])
            model.fit(np.concatenate([X[i] for i in tr]), np.concatenate([Y[i] for i in tr]), groups=groups)
            flat = model.predict(np.concatenate([X[i] for i in te]))
            preds = np.split(flat, np.cumsum([len(X[i]) for i in te])[:-1])
        for i, pred in zip(te, preds):
            for k, target in enumerate(targets):
                out.append(pd.DataFrame({
                    "task": "dynamic", "track_id": track_ids[i], "time_s": times[i], "fold": fold.name,
                    "target": target, "y_true": Y[i][:, k], "y_pred": np.asarray(pred)[:, k],
                }))
    return pd.concat(out, ignore_index=True)


def cv_multitask(
    recipe: ModelRecipe, X: np.ndarray, labels: dict[str, np.ndarray],
    names: dict[str, Any], track_ids: np.ndarray, folds: Iterable[Fold], seed: int = 0,
) -> pd.DataFrame:
    """One network on every label kind at once (see models/multitask.py).

    ``labels`` is keyed by kind (regression (n, k) NaN-missing, classification (n,) -1-missing,
    tagging (n, K) NaN-missing); ``names`` gives ``regression``: target names,
    ``classification``: (class column, classes), ``tagging``: tag names. Each kind is scored
    on the held-out tracks that have that label.
    """
    index = {t: i for i, t in enumerate(track_ids)}
    task = next(iter(labels))
    out = []
    for fold in folds:
        tr, te = _rows(fold, index)
        model = recipe.new(task, seed)
        model.fit(X[tr], {k: v[tr] for k, v in labels.items()})
        pred = model.predict_all(X[te])
        if "regression" in labels:
            Y = labels["regression"][te]
            for k, target in enumerate(names["regression"]):
                ok = ~np.isnan(Y[:, k])
                out.append(column_rows("static", fold.name, track_ids[te][ok], [target], Y[ok, k:k + 1],
                                       pred["regression"][ok, k:k + 1]))
        if "classification" in labels:
            column, classes = names["classification"]
            y = labels["classification"][te]
            ok = y >= 0
            scores = pred["classification"]
            out.append(classification_rows(fold.name, track_ids[te][ok], column, classes, y[ok],
                                           np.argmax(scores[ok], axis=1), scores[ok]))
        if "tagging" in labels:
            Y = labels["tagging"][te]
            ok = ~np.any(np.isnan(Y), axis=1)
            out.append(column_rows("tagging", fold.name, track_ids[te][ok], names["tagging"], Y[ok],
                                   pred["tagging"][ok]))
    return pd.concat(out, ignore_index=True)
