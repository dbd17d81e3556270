"""Shared base for scikit-learn models, saved with skops (never pickle).

Every model is one pipeline: median imputation → standard scaling → optional PCA
(``pca: <n or variance fraction>``) → estimator, so scalers and PCA are fitted on the training
rows of a fold only. ``search: {param: [values…]}`` runs a grid search with inner
cross-validation (``search_folds``, grouped by song when groups are given) inside ``fit``,
i.e. inside each training fold, and refits the best setting on the whole training fold.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Mapping

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.impute import SimpleImputer
from sklearn.multioutput import MultiOutputRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from moodflow.core.config import setting
from moodflow.models.base import Model

MODEL_FILE = "model.skops"
_SCORING = {"regression": "r2", "classification": "f1_macro", "tagging": "average_precision"}


@dataclass
class SklearnConfig:
    """Settings every scikit-learn model takes (beside its own)."""

    pca: float | None = setting(None, gt=0.0)  # components (≥ 1) or a variance fraction (< 1); null = none
    search: dict[str, list] = setting(default_factory=dict)  # {param: [values…]}: grid search inside each training fold
    search_folds: int = setting(3, min=2)


class SklearnModel(Model):
    """Imputer → scaler → (optional PCA) → estimator; one estimator per regression target
    where the estimator is single-output."""

    Config: ClassVar[type] = SklearnConfig
    multioutput_native: ClassVar[bool] = False

    def __init__(self, task: str, config: Mapping[str, Any] | Any = None, seed: int = 0, **data: Any):
        super().__init__(task, config, seed, **data)
        self.pipeline: Pipeline | None = None
        self.best_params_: dict[str, Any] | None = None

    def estimator(self) -> BaseEstimator:
        """The final estimator for ``self.kind`` with ``self.config``."""
        raise NotImplementedError

    def preprocessing(self) -> list[tuple[str, Any]]:
        """The steps before the estimator."""
        steps: list[tuple[str, Any]] = [
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            ("scale", StandardScaler()),
        ]
        pca = self.config.pca
        if pca:
            from sklearn.decomposition import PCA

            n = int(pca) if pca >= 1 else float(pca)
            steps.append(("pca", PCA(n_components=n, random_state=self.seed)))
        return steps

    def build(self) -> Pipeline:
        est = self.estimator()
        if self.kind == "regression" and not self.multioutput_native:
            est = MultiOutputRegressor(est)
        return Pipeline([*self.preprocessing(), ("model", est)])

    def fit(self, X: np.ndarray, Y: np.ndarray, groups: np.ndarray | None = None) -> "SklearnModel":
        pipeline = self.build()
        grid = self.config.search
        if grid:
            pipeline = self._search(pipeline, grid, X, Y, groups)
        else:
            pipeline.fit(X, Y)
        self.pipeline = pipeline
        return self

    def _search(self, pipeline: Pipeline, grid: dict[str, list], X, Y, groups) -> Pipeline:
        from sklearn.model_selection import GridSearchCV, GroupKFold, KFold, StratifiedKFold

        names = pipeline.get_params()
        param_grid = {}
        for key, values in grid.items():
            for full in (f"model__{key}", f"model__estimator__{key}", key):
                if full in names:
                    param_grid[full] = list(values)
                    break
            else:
                raise ValueError(f"train.{self.name}.search: {key!r} is not a parameter of the {self.name} pipeline")
        n = self.config.search_folds
        if groups is not None:
            cv = GroupKFold(n_splits=min(n, len(np.unique(groups))))
        elif self.kind == "classification":
            cv = StratifiedKFold(n_splits=n, shuffle=True, random_state=self.seed)
        else:
            cv = KFold(n_splits=n, shuffle=True, random_state=self.seed)
        search = GridSearchCV(pipeline, param_grid, scoring=_SCORING[self.kind], cv=cv, refit=True, n_jobs=1)
        search.fit(X, Y, groups=groups)
        self.best_params_ = {k.split("__")[-1]: v for k, v in search.best_params_.items()}
        return search.best_estimator_

    def predict(self, X: np.ndarray) -> np.ndarray:
        assert self.pipeline is not None, "fit or load first"
        if self.kind == "regression":
            return np.asarray(self.pipeline.predict(X)).reshape(len(X), -1)
        return class_scores(self.pipeline, X)

    def predict_classes(self, X: np.ndarray) -> np.ndarray:
        assert self.pipeline is not None, "fit or load first"
        return np.asarray(self.pipeline.predict(X)).astype(np.int64)

    def n_inputs(self) -> int | None:
        return None if self.pipeline is None else int(self.pipeline.n_features_in_)

    def save(self, folder: Path) -> None:
        from moodflow.models.safe_load import dump_skops

        dump_skops(self.pipeline, Path(folder) / MODEL_FILE)

    @classmethod
    def load(cls, folder: Path, task: str, config: Mapping[str, Any], **data: Any) -> "SklearnModel":
        from moodflow.models.safe_load import load_skops

        model = cls(task, config, **data)
        model.pipeline = load_skops(Path(folder) / MODEL_FILE)
        return model


def class_scores(estimator: Any, X: np.ndarray) -> np.ndarray:
    """(n, C) class or (n, K) tag scores: probabilities when the estimator has them, else
    decision values (an SVM without Platt scaling)."""
    if hasattr(estimator, "predict_proba"):
        proba = estimator.predict_proba(X)
        if isinstance(proba, list):  # native multi-label estimators: one (n, 2) array per tag
            classes = estimator.classes_ if hasattr(estimator, "classes_") else [None] * len(proba)
            cols = []
            for p, cls in zip(proba, classes):
                if p.shape[1] > 1:
                    cols.append(p[:, 1])
                else:  # the tag was constant in training
                    only = np.ravel(cls)[0] if cls is not None else 0
                    cols.append(np.full(len(X), float(only)))
            return np.column_stack(cols)
        return np.asarray(proba)
    scores = np.asarray(estimator.decision_function(X))
    if scores.ndim == 1:
        scores = np.column_stack([-scores, scores])
    return scores
