"""k nearest neighbours on scaled features: regression, classes and multi-label tags."""

from __future__ import annotations

from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

from moodflow.models import MODELS
from moodflow.models.sklearn_model import SklearnModel


@MODELS.register("knn")
class KNNModel(SklearnModel):
    name = "knn"
    multioutput_native = True

    def estimator(self):
        kwargs = dict(
            n_neighbors=int(self.params.get("n_neighbors", 10)),
            weights=self.params.get("weights", "distance"),
            metric=self.params.get("metric", "minkowski"),
            # brute force keeps no KD/ball tree, whose types the safe loader does not trust
            algorithm=self.params.get("algorithm", "brute"),
        )
        if self.kind == "regression":
            return KNeighborsRegressor(**kwargs)
        return KNeighborsClassifier(**kwargs)
