"""Ridge regression (logistic regression for classes/tags): the linear baseline."""

from __future__ import annotations

from dataclasses import dataclass

from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.multiclass import OneVsRestClassifier

from moodflow.core.config import setting
from moodflow.models import MODELS
from moodflow.models.sklearn_model import SklearnConfig, SklearnModel


@dataclass
class RidgeConfig(SklearnConfig):
    """``train.ridge``: L2 strength (logistic regression: C = 1 / alpha)."""

    alpha: float = setting(100.0, gt=0.0)  # L2 penalty (classes: logistic regression with C = 1 / alpha)


@MODELS.register
class RidgeModel(SklearnModel):
    name = "ridge"
    Config = RidgeConfig
    default_search = {"alpha": [0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0]}
    multioutput_native = True

    def estimator(self):
        alpha = self.config.alpha
        if self.kind == "regression":
            return Ridge(alpha=alpha)
        clf = LogisticRegression(C=1.0 / alpha, max_iter=2000)
        return clf if self.kind == "classification" else OneVsRestClassifier(clf)
