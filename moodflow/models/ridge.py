"""Ridge regression (logistic regression for classes/tags): the linear baseline.

``alpha: auto`` (the default) chooses the L2 strength from the training data of each fit, over
:data:`ALPHAS` (a log grid, 10⁻² … 10⁶ in half decades), so it holds up on thousands of
correlated features and a few hundred tracks, where any constant is either too weak (the fit
interpolates and explodes on unseen data) or too strong:

- regression, one row per track: efficient leave-one-out (scikit-learn's ``RidgeCV``: one
  decomposition gives every alpha's LOO error), each target its own alpha;
- regression on frames (dynamic labels, ``groups`` = songs): LOO over frames would leave a
  frame's neighbours of the same song in training, so each alpha is scored by
  ``search_folds``-fold group CV over songs instead (one SVD per fold gives every alpha);
- classes and tags: logistic regression, C = 1 / alpha, chosen by ``search_folds``-fold
  (stratified) CV on the log-loss (scikit-learn's ``LogisticRegressionCV``; one alpha shared by
  all tags). Not free like the LOO path: about ``search_folds`` extra fits along the path.

``clip: true`` (the default) first clips every feature to the range it had in training (a
``MinMaxScaler(clip=True)`` before the standard scaling, which leaves the training data's
scaled values exactly as they were): a linear model then never extrapolates from a value it
never saw — a feature nearly constant in the training genres but not in a held-out one would
otherwise reach hundreds of standard deviations and the prediction thousands (measured:
benchmarks/defaults.py, docs/models.md). Trees are unaffected by such a clip, kernels and
neighbours bounded anyway, so only the linear model has it.

The model saved is a plain ``Ridge`` / ``LogisticRegression`` with the chosen strength;
:meth:`RidgeModel.selection` lists every alpha's inner score, which the training code writes to
``tuning.csv`` beside the fold (``settings`` ``{"alpha": …, "target": …}``). A number for
``alpha`` fixes it, as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.multiclass import OneVsRestClassifier

from moodflow.core.config import setting
from moodflow.models import MODELS
from moodflow.models.sklearn_model import SklearnConfig, SklearnModel

ALPHAS = tuple(float(a) for a in np.logspace(-2, 6, 17))
PATIENCE = 3  # logistic path: alphas without a better held-out loss before it stops


@dataclass
class RidgeConfig(SklearnConfig):
    """``train.ridge``: L2 strength (logistic regression: C = 1 / alpha); ``auto`` chooses it
    inside each training fold (efficient leave-one-out for regression)."""

    alpha: float | Literal["auto"] = setting("auto", gt=0.0)  # L2 penalty (classes: C = 1 / alpha); auto: chosen inside each training fold
    clip: bool = True  # clip each feature to its training range before scaling (no extrapolation)


@MODELS.register
class RidgeModel(SklearnModel):
    name = "ridge"
    Config = RidgeConfig
    default_search = {"alpha": [0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0]}
    multioutput_native = True

    def estimator(self, alpha: Any = None):
        if alpha is None:
            alpha = 1.0 if self.config.alpha == "auto" else self.config.alpha  # auto: a placeholder until fit
        if self.kind == "regression":
            return Ridge(alpha=alpha)
        clf = LogisticRegression(C=1.0 / alpha, max_iter=2000)
        return clf if self.kind == "classification" else OneVsRestClassifier(clf)

    def preprocessing(self) -> list[tuple[str, Any]]:
        steps = super().preprocessing()
        if self.config.clip:  # after the imputer (NaN in, none out), before the scaler
            from sklearn.preprocessing import MinMaxScaler

            steps.insert(1, ("clip", MinMaxScaler(clip=True)))
        return steps

    def fit(self, X: np.ndarray, Y: np.ndarray, groups: np.ndarray | None = None) -> "RidgeModel":
        self._selection: list[dict[str, Any]] = []
        if self.config.alpha != "auto":
            return super().fit(X, Y, groups)
        pipeline = self.build()
        Xt = self.fit_preprocessing(pipeline, X, Y)  # fits the pipeline's own steps
        if self.kind == "regression":
            alpha, scores = (grouped_alphas(Xt, Y, groups, self.config.search_folds) if groups is not None
                             else loo_alphas(Xt, Y))
        else:
            alpha, scores = logistic_alpha(Xt, Y, self.kind, self.config.search_folds, self.seed)
        pipeline.steps[-1] = ("model", self.estimator(alpha).fit(Xt, Y))
        self.pipeline = pipeline
        per_target = np.atleast_1d(alpha)
        for k in range(scores.shape[1]):  # every alpha's inner score; regression: per target (its index)
            best = per_target[min(k, len(per_target) - 1)]
            for j, a in enumerate(ALPHAS):
                settings = {"alpha": a, "target": k} if self.kind == "regression" else {"alpha": a}
                self._selection.append({"settings": settings, "inner_score": float(scores[j, k]),
                                        "chosen": bool(a == best)})
        return self

    def selection(self) -> list[dict[str, Any]]:
        """Every alpha tried by the last fit with ``alpha: auto``: settings, inner score, chosen."""
        return list(getattr(self, "_selection", []))


def _targets(Y: np.ndarray) -> np.ndarray:
    return np.asarray(Y, dtype=np.float64).reshape(len(Y), -1)


def loo_alphas(X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray | float, np.ndarray]:
    """Each target's alpha with the best leave-one-out error (RidgeCV's closed form), and the
    LOO R² of every (alpha, target): (n_alphas, n_targets)."""
    from sklearn.linear_model import RidgeCV

    Y = _targets(Y)
    cv = RidgeCV(alphas=ALPHAS, alpha_per_target=True, store_cv_results=True).fit(X, Y)
    errors = np.asarray(cv.cv_results_).reshape(len(Y), Y.shape[1], len(ALPHAS)).mean(axis=0).T
    spread = np.maximum(Y.var(axis=0), np.finfo(float).tiny)
    alpha = np.asarray(cv.alpha_, dtype=np.float64).reshape(-1)
    return (alpha if len(alpha) > 1 else float(alpha[0])), 1.0 - errors / spread


def grouped_alphas(X: np.ndarray, Y: np.ndarray, groups: np.ndarray, n_folds: int) -> tuple[np.ndarray | float,
                                                                                                np.ndarray]:
    """Each target's alpha with the best pooled R² over ``n_folds``-fold group CV (songs whole):
    one SVD of each fold's centred training rows gives the ridge solution for every alpha."""
    from sklearn.model_selection import GroupKFold

    Y = _targets(Y)
    n_groups = len(np.unique(groups))
    sse = np.zeros((len(ALPHAS), Y.shape[1]))
    truth = []
    for tr, va in GroupKFold(n_splits=max(2, min(n_folds, n_groups))).split(X, Y, groups):
        x_mean, y_mean = X[tr].mean(axis=0), Y[tr].mean(axis=0)
        U, s, Vt = np.linalg.svd(X[tr] - x_mean, full_matrices=False)
        uty = U.T @ (Y[tr] - y_mean)
        projected = (X[va] - x_mean) @ Vt.T
        for j, a in enumerate(ALPHAS):
            pred = projected @ ((s / (s ** 2 + a))[:, None] * uty) + y_mean
            sse[j] += ((Y[va] - pred) ** 2).sum(axis=0)
        truth.append(Y[va])
    held = np.concatenate(truth)
    sst = np.maximum(((held - held.mean(axis=0)) ** 2).sum(axis=0), np.finfo(float).tiny)
    r2 = 1.0 - sse / sst
    alpha = np.array([ALPHAS[j] for j in np.argmax(r2, axis=0)])  # ties: the weaker alpha first in the grid
    return (alpha if len(alpha) > 1 else float(alpha[0])), r2


def logistic_alpha(X: np.ndarray, y: np.ndarray, kind: str, n_folds: int, seed: int) -> tuple[float, np.ndarray]:
    """One alpha (1 / C) for the logistic regression of classes (or every tag), by the mean
    held-out log-loss of ``n_folds``-fold stratified CV. The path runs from the strongest alpha,
    each fold's fit warm-started from the last, and stops once the loss has not improved for
    :data:`PATIENCE` alphas (weakly regularised fits are the slow ones; alphas not reached score
    NaN). Scores (n_alphas, 1) are the mean loss's negative."""
    from sklearn.metrics import log_loss
    from sklearn.model_selection import StratifiedKFold

    columns = [np.asarray(y).ravel()] if kind == "classification" else list(np.asarray(y).T)
    runs = []  # per label column: its folds and one warm-started classifier per fold
    for labels in columns:
        classes, counts = np.unique(labels, return_counts=True)
        if len(counts) >= 2 and counts.min() >= 2:  # else (a tag constant in training, a lone class): no CV
            folds = StratifiedKFold(max(2, min(n_folds, int(counts.min()))), shuffle=True, random_state=seed)
            runs.append([(labels, classes, tr, va, LogisticRegression(max_iter=2000, warm_start=True))
                         for tr, va in folds.split(X, labels)])
    mean = np.full(len(ALPHAS), np.nan)
    if not runs:
        return 1.0, mean[:, None]
    best, since = np.inf, 0
    for j in range(len(ALPHAS) - 1, -1, -1):
        per_column = []
        for run in runs:
            loss = 0.0
            for labels, classes, tr, va, clf in run:
                clf.set_params(C=1.0 / ALPHAS[j]).fit(X[tr], labels[tr])
                proba = np.zeros((len(va), len(classes)))  # a class missing from this training split: 0
                proba[:, np.searchsorted(classes, clf.classes_)] = clf.predict_proba(X[va])
                loss += log_loss(labels[va], proba, labels=classes) * len(va)
            per_column.append(loss / len(run[0][0]))
        mean[j] = float(np.mean(per_column))
        best, since = (mean[j], 0) if mean[j] < best - 1e-9 else (best, since + 1)
        if since >= PATIENCE:
            break
    return ALPHAS[int(np.nanargmin(mean))], -mean[:, None]
