"""Support vector machines: SVR (RBF) for valence/arousal, SVC for classes and tags.

Classes are predicted by the SVM's own (one-vs-one) decision, as libsvm/e1071 do; scores are
decision values unless ``probability: true`` asks for Platt-scaled probabilities (5× slower).
"""

from __future__ import annotations

from dataclasses import dataclass

from sklearn.multiclass import OneVsRestClassifier
from sklearn.svm import SVC, SVR

from moodflow.core.config import setting
from moodflow.models import MODELS
from moodflow.models.sklearn_model import SklearnConfig, SklearnModel


@dataclass
class SVMConfig(SklearnConfig):
    """``train.svm``."""

    C: float = setting(1.0, gt=0.0)  # inverse regularisation strength
    gamma: float | str = "scale"  # a number, or scale | auto
    epsilon: float = setting(0.1, min=0.0)  # SVR only
    kernel: str = setting("rbf", choices=("rbf", "linear", "poly", "sigmoid"))  # scikit-learn SVM kernel
    probability: bool = False  # classes/tags: Platt-scaled probabilities as scores

    def __post_init__(self) -> None:
        if isinstance(self.gamma, str) and self.gamma not in ("scale", "auto"):
            from moodflow.core.errors import SettingsError

            raise SettingsError(f"train.svm.gamma: {self.gamma!r} is not a number, scale or auto")


@MODELS.register
class SVMModel(SklearnModel):
    name = "svm"
    Config = SVMConfig
    default_search = {"C": [0.1, 1.0, 8.0, 32.0, 128.0], "gamma": ["scale", 0.0001, 0.001953125, 0.01]}

    def estimator(self):
        c = self.config
        if self.kind == "regression":
            return SVR(kernel=c.kernel, C=c.C, gamma=c.gamma, epsilon=c.epsilon)
        extra = {"probability": True} if c.probability else {}
        clf = SVC(kernel=c.kernel, C=c.C, gamma=c.gamma, random_state=self.seed, **extra)
        return clf if self.kind == "classification" else OneVsRestClassifier(clf)
