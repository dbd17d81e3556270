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

    n_estimators: int = setting(300, min=1)
    max_depth: int | None = setting(None, min=1)
    min_samples_leaf: int = setting(2, min=1)
    max_features: float | str = "sqrt"  # a fraction of the features, or sqrt | log2
    n_jobs: int = 1


@MODELS.register("random_forest")
class RandomForestModel(SklearnModel):
    name = "random_forest"
    Config = RandomForestConfig
    multioutput_native = True

    def estimator(self):
        c = self.config
        kwargs = dict(
            n_estimators=c.n_estimators, max_depth=c.max_depth, min_samples_leaf=c.min_samples_leaf,
            max_features=c.max_features, random_state=self.seed, n_jobs=c.n_jobs,
        )
        if self.kind == "regression":
            return RandomForestRegressor(**kwargs)
        return RandomForestClassifier(**kwargs)
