"""Random forest: regression (multi-output natively), classes and multi-label tags."""

from __future__ import annotations

from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

from moodflow.models import MODELS
from moodflow.models.sklearn_model import SklearnModel


@MODELS.register("random_forest")
class RandomForestModel(SklearnModel):
    name = "random_forest"
    multioutput_native = True

    def estimator(self):
        depth = self.params.get("max_depth")
        kwargs = dict(
            n_estimators=int(self.params.get("n_estimators", 300)),
            max_depth=int(depth) if depth else None,
            min_samples_leaf=int(self.params.get("min_samples_leaf", 1)),
            max_features=self.params.get("max_features", "sqrt"),
            random_state=self.seed,
            n_jobs=int(self.params.get("n_jobs", 1)),
        )
        if self.kind == "regression":
            return RandomForestRegressor(**kwargs)
        return RandomForestClassifier(**kwargs)
