"""The learning problems of a training run, indexed by track: how to fit a model on some tracks,
predict others, turn predictions into the rows of predictions.csv, and score them (for tuning).

Rows are always tracks (songs), so every split made of rows — outer folds, inner tuning folds,
early-stopping validation — keeps a song's frames on one side.

Prediction tables (one row per held-out value; see docs/models.md):

- ``static``: task, track_id, fold, target, y_true, y_pred
- ``classification``: task, track_id, fold, target (the class column), y_true, y_pred (class
  names), score_<class> per class (probabilities; ``y_pred`` is their argmax)
- ``tagging``: task, track_id, fold, target (the tag), y_true (0/1), y_pred (the score)
- ``dynamic``: task, track_id, time_s, fold, target, y_true, y_pred
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from moodflow.models.base import Model


def column_rows(task: str, fold: str, track_ids: np.ndarray, columns: list[str], Y: np.ndarray,
                P: np.ndarray) -> pd.DataFrame:
    """Prediction rows of one fold: one row per (track, column) — regression targets or tags."""
    return pd.concat([
        pd.DataFrame({"task": task, "track_id": track_ids, "fold": fold, "target": column,
                      "y_true": Y[:, k], "y_pred": P[:, k]})
        for k, column in enumerate(columns)
    ], ignore_index=True)


def classification_rows(fold: str, track_ids: np.ndarray, target: str, classes: list[str], y: np.ndarray,
                        scores: np.ndarray) -> pd.DataFrame:
    """Prediction rows of one fold: class names (the argmax of the scores) plus the scores."""
    names = np.asarray(classes, dtype=object)
    frame = pd.DataFrame({"task": "classification", "track_id": track_ids, "fold": fold, "target": target,
                          "y_true": names[y], "y_pred": names[np.argmax(scores, axis=1)]})
    for c, name in enumerate(classes):
        frame[f"score_{name}"] = scores[:, c]
    return frame


def _r2(Y: np.ndarray, P: np.ndarray) -> float:
    from sklearn.metrics import r2_score

    return float(r2_score(Y, P))


class Problem:
    """Base: ``track_ids`` (n,); subclasses hold the arrays and know their model kind."""

    kind: str  # the Model task: regression | classification | tagging | dynamic
    track_ids: np.ndarray
    stratify: np.ndarray | None = None  # class ids for stratified inner folds
    # (n,) True where a track's regression targets are derived (moodflow.stores.derived): trained
    # on, never scored — left out of score() and of the held-out rows importance is measured on
    unscored: np.ndarray | None = None

    def scored_rows(self, rows: np.ndarray) -> np.ndarray:
        """``rows`` without the tracks whose targets are derived."""
        return rows if self.unscored is None else rows[~self.unscored[rows]]

    @property
    def class_names(self) -> list[str] | None:
        """The names of the class ids in ``stratify`` (None without classes)."""
        return None

    def fit(self, model: Model, rows: np.ndarray) -> Model:
        raise NotImplementedError

    def predict(self, model: Model, rows: np.ndarray) -> Any:
        raise NotImplementedError

    def rows(self, fold: str, rows: np.ndarray, pred: Any) -> pd.DataFrame:
        raise NotImplementedError

    def score(self, rows: np.ndarray, pred: Any) -> float:
        """Higher is better (R², macro F1, macro average precision)."""
        raise NotImplementedError

    def attention_rows(self, model: Model, rows: np.ndarray, fold: str) -> list[dict[str, Any]]:
        """Per held-out frame, the attention a sequence model gave it (none for other problems)."""
        return []

    def teacher_rows(self, model: Model, rows: np.ndarray, fold: str) -> pd.DataFrame | None:
        """Held-out rows of a distilled model's teachers (moodflow.models.distill); None for others."""
        return None


@dataclass
class ColumnsProblem(Problem):
    """Static regression (X (n, F), Y (n, k) targets) or multi-label tagging (Y (n, K) 0/1)."""

    kind: str
    X: np.ndarray
    Y: np.ndarray
    track_ids: np.ndarray
    columns: list[str]

    def fit(self, model, rows):
        return model.fit(self.X[rows], self.Y[rows])

    def predict(self, model, rows):
        return np.asarray(model.predict(self.X[rows]))

    def rows(self, fold, rows, pred):
        task = "static" if self.kind == "regression" else "tagging"
        return column_rows(task, fold, self.track_ids[rows], self.columns, self.Y[rows], pred)

    def score(self, rows, pred):
        if self.kind == "regression":
            if self.unscored is None:
                return _r2(self.Y[rows], pred)
            keep = ~self.unscored[rows]
            return _r2(self.Y[rows][keep], np.asarray(pred)[keep]) if keep.sum() >= 2 else 0.0
        from sklearn.metrics import average_precision_score

        Y = self.Y[rows]
        keep = Y.sum(axis=0) > 0
        return float(average_precision_score(Y[:, keep], pred[:, keep], average="macro")) if keep.any() else 0.0


@dataclass
class ClassesProblem(Problem):
    """Single-label classes: X (n, F), y (n,) class ids into ``classes``."""

    X: np.ndarray
    y: np.ndarray
    track_ids: np.ndarray
    classes: list[str]
    target: str
    kind: str = "classification"

    def __post_init__(self) -> None:
        self.stratify = self.y

    @property
    def class_names(self) -> list[str] | None:
        return list(self.classes)

    def fit(self, model, rows):
        return model.fit(self.X[rows], self.y[rows])

    def predict(self, model, rows):
        return np.asarray(model.predict(self.X[rows]))

    def rows(self, fold, rows, pred):
        return classification_rows(fold, self.track_ids[rows], self.target, self.classes, self.y[rows], pred)

    def score(self, rows, pred):
        from sklearn.metrics import f1_score

        return float(f1_score(self.y[rows], np.argmax(pred, axis=1), labels=list(range(len(self.classes))),
                              average="macro", zero_division=0))


@dataclass
class MultitaskProblem(Problem):
    """One network on every label kind at once (models/multitask.py): ``labels`` keyed by kind
    (regression (n, k) NaN-missing, classification (n,) -1-missing, tagging (n, K) NaN-missing);
    ``names``: regression target names, (class column, classes), tag names. Each kind is scored
    on the held-out tracks that have that label; ``main`` is the kind tuning optimises."""

    X: np.ndarray
    labels: dict[str, np.ndarray]
    names: dict[str, Any]
    track_ids: np.ndarray
    main: str

    @property
    def kind(self) -> str:  # type: ignore[override]
        return self.main

    members: np.ndarray | None = None  # a joint run: each track's dataset (teachers of distillation)

    def fit(self, model, rows):
        labels = {k: v[rows] for k, v in self.labels.items()}
        if self.members is not None:
            return model.fit(self.X[rows], labels, members=self.members[rows])
        return model.fit(self.X[rows], labels)

    def predict(self, model, rows):
        return model.predict_all(self.X[rows])

    def teacher_rows(self, model, rows, fold):
        if self.members is None or not getattr(model, "teachers", None):
            return None
        pred = model.predict_teachers(self.X[rows], self.members[rows])
        full = {k: pred[k] if k in pred else np.full((len(rows), (len(self.names["classification"][1])
                                                                  if k == "classification" else v.shape[1])), np.nan)
                for k, v in self.labels.items()}
        table = self.rows(fold, rows, full)
        scores = [c for c in table.columns if c.startswith("score_")]
        numeric = table["task"] != "classification"
        have = np.where(numeric, pd.to_numeric(table["y_pred"], errors="coerce").notna(),
                        table[scores].notna().all(axis=1) if scores else False)
        return table[have].reset_index(drop=True)

    def rows(self, fold, rows, pred):
        ids, out = self.track_ids[rows], []
        if "regression" in self.labels:
            Y = self.labels["regression"][rows]
            for k, target in enumerate(self.names["regression"]):
                ok = ~np.isnan(Y[:, k])
                out.append(column_rows("static", fold, ids[ok], [target], Y[ok, k:k + 1],
                                       pred["regression"][ok, k:k + 1]))
        if "classification" in self.labels:
            column, classes = self.names["classification"]
            y = self.labels["classification"][rows]
            ok = y >= 0
            out.append(classification_rows(fold, ids[ok], column, classes, y[ok], pred["classification"][ok]))
        if "tagging" in self.labels:
            Y = self.labels["tagging"][rows]
            ok = ~np.any(np.isnan(Y), axis=1)
            out.append(column_rows("tagging", fold, ids[ok], self.names["tagging"], Y[ok], pred["tagging"][ok]))
        return pd.concat(out, ignore_index=True)

    def score(self, rows, pred):
        labels = self.labels[self.main][rows]
        if self.main == "classification":
            ok = labels >= 0
            sub = ClassesProblem(self.X[rows][ok], labels[ok], self.track_ids[rows][ok], self.names["classification"][1],
                                 self.names["classification"][0])
            return sub.score(np.arange(int(ok.sum())), pred["classification"][ok])
        ok = ~np.any(np.isnan(labels), axis=1)
        if self.main == "regression" and self.unscored is not None:
            ok &= ~self.unscored[rows]
        if self.main == "regression" and self.unscored is not None and ok.sum() < 2:
            return 0.0
        sub = ColumnsProblem(self.main, self.X[rows][ok], labels[ok], self.track_ids[rows][ok], [])
        return sub.score(np.arange(int(ok.sum())), pred[self.main][ok])


@dataclass
class DynamicProblem(Problem):
    """Per-frame labels: per song i, X[i] (T_i, F), Y[i] (T_i, k), times[i] (T_i,). Sequence
    models get whole songs; the others see frames as samples, each frame's song as its group."""

    X: list[np.ndarray]
    Y: list[np.ndarray]
    times: list[np.ndarray]
    track_ids: np.ndarray
    targets: list[str]
    kind: str = "dynamic"

    def fit(self, model, rows):
        if model.sequence_input:
            return model.fit([self.X[i] for i in rows], [self.Y[i] for i in rows])
        groups = np.concatenate([np.full(len(self.X[i]), i) for i in rows])
        return model.fit(np.concatenate([self.X[i] for i in rows]), np.concatenate([self.Y[i] for i in rows]),
                         groups=groups)

    def predict(self, model, rows):
        if model.sequence_input:
            return model.predict([self.X[i] for i in rows])
        flat = model.predict(np.concatenate([self.X[i] for i in rows]))
        return np.split(np.asarray(flat), np.cumsum([len(self.X[i]) for i in rows])[:-1])

    def rows(self, fold, rows, pred):
        out = []
        for i, p in zip(rows, pred):
            for k, target in enumerate(self.targets):
                out.append(pd.DataFrame({"task": "dynamic", "track_id": self.track_ids[i], "time_s": self.times[i],
                                         "fold": fold, "target": target, "y_true": self.Y[i][:, k],
                                         "y_pred": np.asarray(p)[:, k]}))
        return pd.concat(out, ignore_index=True)

    def score(self, rows, pred):
        return _r2(np.concatenate([self.Y[i] for i in rows]), np.concatenate([np.asarray(p) for p in pred]))

    def attention_rows(self, model, rows, fold):
        weights = model.attention([self.X[i] for i in rows]) if hasattr(model, "attention") else None
        if weights is None:
            return []
        return [{"track_id": self.track_ids[i], "fold": fold, "time_s": float(t), "weight": float(w)}
                for i, ws in zip(rows, weights) for t, w in zip(self.times[i], ws)]
