"""Support vector machines: SVR (RBF) for valence/arousal, SVC for classes and tags.

Classes are predicted by the SVM's own (one-vs-one) decision, as libsvm/e1071 do; scores are
decision values unless ``probability: true`` asks for Platt-scaled probabilities (5× slower).
"""

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
        gamma = gamma if isinstance(gamma, str) else float(gamma)
        if self.kind == "regression":
            return SVR(kernel=kernel, C=C, gamma=gamma, epsilon=float(self.params.get("epsilon", 0.1)))
        extra = {"probability": True} if self.params.get("probability") else {}
        clf = SVC(kernel=kernel, C=C, gamma=gamma, random_state=self.seed, **extra)
        return clf if self.kind == "classification" else OneVsRestClassifier(clf)
