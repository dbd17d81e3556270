"""Support vector machines: SVR (RBF) for valence/arousal, SVC for classes and tags."""

from __future__ import annotations

from sklearn.multiclass import OneVsRestClassifier
from sklearn.svm import SVC, SVR

from moodflow.models import MODELS
from moodflow.models.sklearn_model import SklearnModel


@MODELS.register("svm")
class SVMModel(SklearnModel):
    name = "svm"

    def estimator(self):
        kernel = self.params.get("kernel", "rbf")
        C = float(self.params.get("C", 1.0))
        gamma = self.params.get("gamma", "scale")
        if self.task == "regression":
            return SVR(kernel=kernel, C=C, gamma=gamma, epsilon=float(self.params.get("epsilon", 0.1)))
        clf = SVC(kernel=kernel, C=C, gamma=gamma, probability=True, random_state=self.seed)
        return clf if self.task == "classification" else OneVsRestClassifier(clf)
