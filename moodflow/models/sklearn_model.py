"""Shared base for scikit-learn models, saved with skops (never pickle)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.impute import SimpleImputer
from sklearn.multioutput import MultiOutputRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from moodflow.models.base import Model

MODEL_FILE = "model.skops"


class SklearnModel(Model):
    """Imputer → scaler → (optional PCA) → estimator; one estimator per regression target
    where the estimator is single-output."""

    multioutput_native: ClassVar[bool] = False

    def __init__(self, task: str, params: dict[str, Any] | None = None, seed: int = 0):
        super().__init__(task, params, seed)
        self.pipeline: Pipeline | None = None

    def estimator(self) -> BaseEstimator:
        """The final estimator for ``self.task`` with ``self.params``."""
        raise NotImplementedError

    def build(self) -> Pipeline:
        steps: list[tuple[str, Any]] = [
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            ("scale", StandardScaler()),
        ]
        pca = self.params.get("pca")
        if pca:
            from sklearn.decomposition import PCA

            steps.append(("pca", PCA(n_components=pca, random_state=self.seed)))
        est = self.estimator()
        if self.task == "regression" and not self.multioutput_native:
            est = MultiOutputRegressor(est)
        steps.append(("model", est))
        return Pipeline(steps)

    def fit(self, X: np.ndarray, Y: np.ndarray, groups: np.ndarray | None = None) -> "SklearnModel":
        self.pipeline = self.build()
        self.pipeline.fit(X, Y)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        assert self.pipeline is not None, "fit or load first"
        if self.task == "regression":
            out = self.pipeline.predict(X)
            return out.reshape(len(X), -1)
        if self.task == "classification":
            return self.pipeline.predict_proba(X)
        proba = self.pipeline.predict_proba(X)
        if isinstance(proba, list):
            return np.column_stack([p[:, 1] if p.shape[1] > 1 else np.zeros(len(X)) for p in proba])
        return proba

    def save(self, folder: Path) -> None:
        import skops.io as sio

        sio.dump(self.pipeline, Path(folder) / MODEL_FILE)

    @classmethod
    def load(cls, folder: Path, task: str, params: dict[str, Any]) -> "SklearnModel":
        from moodflow.models.safe_load import load_skops

        model = cls(task, params)
        model.pipeline = load_skops(Path(folder) / MODEL_FILE)
        return model
