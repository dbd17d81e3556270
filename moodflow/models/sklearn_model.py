"""Shared base for scikit-learn models, saved with skops (never pickle).

Every model is one pipeline: median imputation → standard scaling → optional PCA
(``pca: <n or variance fraction>``) → estimator, so scalers and PCA are fitted on the training
rows of a fold only. Model selection (``search``, ``train.tune``) happens around ``fit``, inside
each training fold (``moodflow.train.tuning``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Mapping

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.impute import SimpleImputer
from sklearn.multioutput import MultiOutputRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from moodflow.core.config import setting
from moodflow.models.base import Model, SearchSettings

MODEL_FILE = "model.skops"


@dataclass
class SklearnConfig(SearchSettings):
    """Settings every scikit-learn model takes (beside its own)."""

    pca: float | None = setting(None, gt=0.0)  # components (≥ 1) or a variance fraction (< 1); null = none


class SklearnModel(Model):
    """Imputer → scaler → (optional PCA) → estimator; one estimator per regression target
    where the estimator is single-output."""

    Config: ClassVar[type] = SklearnConfig
    multioutput_native: ClassVar[bool] = False
    block_weighting: ClassVar[bool] = True

    def __init__(self, task: str, config: Mapping[str, Any] | Any = None, seed: int = 0, **data: Any):
        super().__init__(task, config, seed, **data)
        self.pipeline: Pipeline | None = None

    def estimator(self) -> BaseEstimator:
        """The final estimator for ``self.kind`` with ``self.config``."""
        raise NotImplementedError

    def preprocessing(self) -> list[tuple[str, Any]]:
        """The steps before the estimator."""
        steps: list[tuple[str, Any]] = [
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            ("scale", StandardScaler()),
        ]
        pca = self.config.pca
        if pca:
            from sklearn.decomposition import PCA

            n = int(pca) if pca >= 1 else float(pca)
            steps.append(("pca", PCA(n_components=n, random_state=self.seed)))
        return steps

    def build(self) -> Pipeline:
        est = self.estimator()
        if self.kind == "regression" and not self.multioutput_native:
            est = MultiOutputRegressor(est)
        return Pipeline([*self.preprocessing(), ("model", est)])

    def fit(self, X: np.ndarray, Y: np.ndarray, groups: np.ndarray | None = None) -> "SklearnModel":
        if not self.weights_blocks():
            self.pipeline = self.build().fit(X, Y)
            return self
        pipeline = self.build()
        pipeline.steps[-1][1].fit(self.fit_preprocessing(pipeline, X, Y), Y)
        self.pipeline = pipeline
        return self

    def weights_blocks(self) -> bool:
        """Whether this fit scales each store's standardised columns (``block_weight: equal``)."""
        return (type(self).block_weighting and self.block_weight == "equal" and bool(self.blocks)
                and len(self.blocks) > 1)

    def fit_preprocessing(self, pipeline: Pipeline, X: np.ndarray, Y: Any = None) -> np.ndarray:
        """Fit every step before the estimator on (X, Y) and return what the estimator receives.
        With block weighting the fitted scaler's ``scale_`` is multiplied by √(columns of the
        column's store) before the later steps are fitted: a plain StandardScaler that outputs
        each store's standardised columns times 1/√(its columns), fitted on these rows only."""
        if not self.weights_blocks():
            return Pipeline(pipeline.steps[:-1]).fit_transform(X, Y)
        from moodflow.models.blocks import block_scale

        names = [name for name, _ in pipeline.steps]
        at = names.index("scale") + 1
        upto = Pipeline(pipeline.steps[:at])
        upto.fit(X, Y)
        scaler = pipeline.steps[at - 1][1]
        scaler.scale_ = scaler.scale_ * block_scale(self.blocks, X.shape[1])
        Xt = upto.transform(X)
        rest = pipeline.steps[at:-1]
        return Pipeline(rest).fit_transform(Xt, Y) if rest else Xt

    def predict(self, X: np.ndarray) -> np.ndarray:
        assert self.pipeline is not None, "fit or load first"
        if self.kind == "regression":
            return np.asarray(self.pipeline.predict(X)).reshape(len(X), -1)
        return class_scores(self.pipeline, X, self.kind)

    def n_inputs(self) -> int | None:
        return None if self.pipeline is None else int(self.pipeline.n_features_in_)

    def save(self, folder: Path) -> None:
        from moodflow.models.safe_load import dump_skops

        dump_skops(self.pipeline, Path(folder) / MODEL_FILE)

    @classmethod
    def load(cls, folder: Path, task: str, config: Mapping[str, Any], **data: Any) -> "SklearnModel":
        from moodflow.models.safe_load import load_skops

        model = cls(task, config, **data)
        model.pipeline = load_skops(Path(folder) / MODEL_FILE)
        return model


def class_scores(estimator: Any, X: np.ndarray, kind: str = "classification") -> np.ndarray:
    """(n, C) class or (n, K) tag probabilities.

    Estimators with ``predict_proba`` give theirs. An SVM without Platt scaling gives decision
    values: for classes, sklearn's one-vs-rest transform of the one-vs-one votes (votes plus a
    confidence in (-1/3, 1/3) that breaks ties) through a softmax; for tags, each tag's decision
    value through a logistic. These are monotone maps of the SVM's own decision, not calibrated
    probabilities (``probability: true`` gives Platt's); the class predicted is their argmax.
    """
    if hasattr(estimator, "predict_proba"):
        proba = estimator.predict_proba(X)
        if isinstance(proba, list):  # native multi-label estimators: one (n, 2) array per tag
            classes = estimator.classes_ if hasattr(estimator, "classes_") else [None] * len(proba)
            cols = []
            for p, cls in zip(proba, classes):
                if p.shape[1] > 1:
                    cols.append(p[:, 1])
                else:  # the tag was constant in training
                    only = np.ravel(cls)[0] if cls is not None else 0
                    cols.append(np.full(len(X), float(only)))
            return np.column_stack(cols)
        return np.asarray(proba)
    scores = np.asarray(estimator.decision_function(X), dtype=np.float64)
    if kind == "tagging":
        return 1.0 / (1.0 + np.exp(-scores.reshape(len(X), -1)))
    if scores.ndim == 1:
        scores = np.column_stack([-scores, scores])
    scores = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(scores)
    return exp / exp.sum(axis=1, keepdims=True)
