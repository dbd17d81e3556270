"""k nearest neighbours on scaled features: regression, classes and multi-label tags.

A training set smaller than ``n_neighbors`` (a tiny fold, an inner tuning split) uses all its
rows as the neighbours instead of failing."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

from moodflow.core.config import setting
from moodflow.models import MODELS
from moodflow.models.sklearn_model import SklearnConfig, SklearnModel


@dataclass
class KNNConfig(SklearnConfig):
    """``train.knn``."""

    n_neighbors: int = setting(7, min=1)  # neighbours averaged
    # neighbours weighted by inverse distance or equally
    weights: str = setting("distance", choices=("distance", "uniform"))
    metric: str = "minkowski"  # scikit-learn distance metric
    # brute force keeps no KD/ball tree, whose types the safe loader does not trust
    algorithm: str = setting("brute", choices=("brute",))


@MODELS.register
class KNNModel(SklearnModel):
    name = "knn"
    Config = KNNConfig
    default_search = {"n_neighbors": [3, 5, 7, 11, 15], "weights": ["uniform", "distance"]}
    multioutput_native = True

    def fit(self, X: np.ndarray, Y: np.ndarray, groups: np.ndarray | None = None) -> "KNNModel":
        self._rows = len(X)
        return super().fit(X, Y, groups)

    def estimator(self):
        c = self.config
        k = min(c.n_neighbors, getattr(self, "_rows", c.n_neighbors))
        kwargs = dict(n_neighbors=k, weights=c.weights, metric=c.metric, algorithm=c.algorithm)
        if self.kind == "regression":
            return KNeighborsRegressor(**kwargs)
        return KNeighborsClassifier(**kwargs)
