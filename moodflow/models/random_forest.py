"""Random forest: regression (multi-output natively), classes and multi-label tags."""

from __future__ import annotations

from dataclasses import dataclass

from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

from moodflow.core.config import setting
from moodflow.models import MODELS
from moodflow.models.sklearn_model import SklearnConfig, SklearnModel


@dataclass
class RandomForestConfig(SklearnConfig):
    """``train.random_forest``."""

    n_estimators: int = setting(300, min=1)  # trees
    max_depth: int | None = setting(None, min=1)  # null = grown until leaves are pure
    min_samples_leaf: int = setting(1, min=1)  # training rows a leaf needs
    max_features: float | str | None = None  # a fraction, sqrt | log2; null = sklearn's own (1.0 regression, sqrt classes)


@MODELS.register
class RandomForestModel(SklearnModel):
    name = "random_forest"
    block_weighting = False  # a tree does not see a column's scale
    Config = RandomForestConfig
    multioutput_native = True
    default_search = {"max_features": [0.33, 1.0, "sqrt"], "min_samples_leaf": [1, 3, 5]}

    def estimator(self):
        c = self.config
        kwargs = dict(n_estimators=c.n_estimators, max_depth=c.max_depth, min_samples_leaf=c.min_samples_leaf,
                      random_state=self.seed, n_jobs=self.n_jobs)  # trees are seeded one by one: any n_jobs, same forest
        if c.max_features is not None:
            kwargs["max_features"] = c.max_features
        if self.kind == "regression":
            return RandomForestRegressor(**kwargs)
        return RandomForestClassifier(**kwargs)
