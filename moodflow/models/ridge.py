"""Ridge regression (logistic regression for classes/tags): the linear baseline."""

from __future__ import annotations

from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.multiclass import OneVsRestClassifier

from moodflow.models import MODELS
from moodflow.models.sklearn_model import SklearnModel


@MODELS.register("ridge")
class RidgeModel(SklearnModel):
    name = "ridge"
    multioutput_native = True

    def estimator(self):
        alpha = float(self.params.get("alpha", 1.0))
        if self.kind == "regression":
            return Ridge(alpha=alpha)
        clf = LogisticRegression(C=1.0 / alpha, max_iter=2000)
        return clf if self.kind == "classification" else OneVsRestClassifier(clf)
