"""XGBoost (gradient-boosted trees): regression, classes and multi-label tags.

The scikit-learn preprocessing (imputer, scaler, optional PCA) is saved with skops and the
booster in XGBoost's own UBJSON format (``model.ubj``), never pickle. Loading checks the
booster's trees against the preprocessing's output width before XGBoost reads it
(:mod:`moodflow.models.xgb_check`). ``device: auto`` uses
CUDA when torch sees a GPU.

At corpus size (1,000 tracks × 6,373 ComParE features) the cost is in the histogram split
search, which grows with ``max_bin`` × features per node: 32 bins instead of XGBoost's 256
and early stopping on an inner validation split of the training rows (grouped by song for
frames, stratified for classes) cut one fold of a 1,000 × 6,373, 4-class problem from
~900 s to 86 s on the loaded development machine (docs/performance.md, "Training at corpus
size", with the held-out scores). The preprocessing is fitted on all training rows; the booster
on the inner training part, and then (``refit``) once more on all training rows for the best
number of rounds: without the refit, 4Q's macro F1 lost 1.4 points.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from sklearn.pipeline import Pipeline

from moodflow.core.config import setting
from moodflow.models import MODELS
from moodflow.models.sklearn_model import SklearnConfig, SklearnModel

PREPROCESS_FILE = "preprocess.skops"
BOOSTER_FILE = "model.ubj"


@dataclass
class XGBoostConfig(SklearnConfig):
    """``train.xgboost``."""

    n_estimators: int = setting(300, min=1)  # boosting rounds at most
    max_depth: int = setting(4, min=1)  # depth of each tree
    learning_rate: float = setting(0.05, gt=0.0)  # shrinkage of each round
    subsample: float = setting(0.8, gt=0.0, max=1.0)  # training rows sampled per round
    colsample_bytree: float = setting(0.5, gt=0.0, max=1.0)  # features sampled per tree
    reg_lambda: float = setting(1.0, min=0.0)  # L2 penalty on leaf weights
    max_bin: int = setting(32, min=2)  # histogram bins per feature (XGBoost's default: 256)
    early_stopping_rounds: int = setting(20, min=0)  # stop after this many rounds without gain; 0 = all rounds
    validation_fraction: float = setting(0.15, gt=0.0, max=0.5)  # inner validation part of the training rows
    refit: bool = True  # after early stopping, refit on all training rows for the best number of rounds
    device: str = setting("auto", choices=("auto", "cpu", "cuda"))  # auto = CUDA when available


MIN_ROWS_FOR_EARLY_STOPPING = 20


@MODELS.register
class XGBoostModel(SklearnModel):
    name = "xgboost"
    block_weighting = False  # a tree does not see a column's scale
    packages = ("xgboost",)
    Config = XGBoostConfig
    multioutput_native = True
    default_search = {"max_depth": [2, 4, 6], "learning_rate": [0.03, 0.1], "colsample_bytree": [0.3, 0.7]}

    def _xgb_kwargs(self) -> dict[str, Any]:
        from moodflow.core.device import resolve_device  # imports torch: only when used

        c = self.config
        return dict(
            n_estimators=c.n_estimators, max_depth=c.max_depth, learning_rate=c.learning_rate,
            subsample=c.subsample, colsample_bytree=c.colsample_bytree, reg_lambda=c.reg_lambda,
            max_bin=c.max_bin, tree_method="hist", device=resolve_device(c.device, f"train.{self.name}.device"), random_state=self.seed,
            n_jobs=self.n_jobs,
        )

    def estimator(self):
        from xgboost import XGBClassifier, XGBRegressor

        if self.kind == "regression":
            return XGBRegressor(**self._xgb_kwargs())
        return XGBClassifier(**self._xgb_kwargs())

    def fit(self, X: np.ndarray, Y: np.ndarray, groups: np.ndarray | None = None) -> "XGBoostModel":
        """Preprocessing on all rows; the booster with early stopping on an inner validation part."""
        pipe = self.build()
        pre, est = Pipeline(pipe.steps[:-1]), pipe.steps[-1][1]
        Xt = pre.fit_transform(X)
        split = self._inner_split(Y, groups)
        tr = np.arange(len(Y)) if split is None else split[0]
        est.set_params(base_score=self._base_score(np.asarray(Y)[tr]))
        if split is None:
            est.fit(Xt, Y)
        else:
            tr, va = split
            est.set_params(early_stopping_rounds=self.config.early_stopping_rounds)
            est.fit(Xt[tr], Y[tr], eval_set=[(Xt[va], Y[va])], verbose=False)
            if self.config.refit:  # the rows held out for stopping also teach the final booster
                est = self.build().steps[-1][1]
                est.set_params(n_estimators=int(pipe.steps[-1][1].best_iteration) + 1,
                               base_score=self._base_score(np.asarray(Y)))
                est.fit(Xt, Y)
        self.pipeline = Pipeline([*pre.steps, ("model", est)])
        return self

    def _base_score(self, Y: np.ndarray) -> float | list[float]:
        """The boosting's starting value, computed here: XGBoost's own estimate (a threaded
        reduction) differed in the 7th digit between 1 and 2 threads on some row counts, and with
        it every tree. Regression: each target's mean; classes and tags: 0.5 (XGBoost 1.x's)."""
        if self.kind not in ("regression", "dynamic"):
            return 0.5
        means = np.asarray(Y, dtype=np.float64).reshape(len(Y), -1).mean(axis=0)
        return float(means[0]) if len(means) == 1 else [float(m) for m in means]

    def _inner_split(self, Y: np.ndarray, groups: np.ndarray | None) -> tuple[np.ndarray, np.ndarray] | None:
        """(train rows, validation rows), seeded; None where early stopping is off or cannot apply
        (too few rows, a class too small to appear on both sides)."""
        c = self.config
        n = len(Y)
        if not c.early_stopping_rounds or n < MIN_ROWS_FOR_EARLY_STOPPING:
            return None
        from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit, StratifiedShuffleSplit

        rows = np.zeros((n, 1))
        if groups is not None:
            if len(np.unique(groups)) < 4:
                return None
            splitter = GroupShuffleSplit(n_splits=1, test_size=c.validation_fraction, random_state=self.seed)
            return next(splitter.split(rows, groups=groups))
        if self.kind == "classification":
            y = np.asarray(Y).ravel()
            _, counts = np.unique(y, return_counts=True)
            n_val = int(np.ceil(c.validation_fraction * n))
            if counts.min() < 2 or n_val < len(counts) or n - n_val < len(counts):
                return None
            splitter = StratifiedShuffleSplit(n_splits=1, test_size=c.validation_fraction, random_state=self.seed)
            return next(splitter.split(rows, y))
        return next(ShuffleSplit(n_splits=1, test_size=c.validation_fraction, random_state=self.seed).split(rows))

    def save(self, folder: Path) -> None:
        from moodflow.models.safe_load import dump_skops

        assert self.pipeline is not None, "fit first"
        dump_skops(Pipeline(self.pipeline.steps[:-1]), Path(folder) / PREPROCESS_FILE)
        self.pipeline.steps[-1][1].save_model(Path(folder) / BOOSTER_FILE)

    @classmethod
    def load(cls, folder: Path, task: str, config: Mapping[str, Any], **data: Any) -> "XGBoostModel":
        from moodflow.models.safe_load import load_skops
        from moodflow.models.sklearn_check import check_fitted
        from moodflow.models.xgb_check import read_booster

        model = cls(task, config, **data)
        pre = load_skops(Path(folder) / PREPROCESS_FILE)
        booster = read_booster(Path(folder) / BOOSTER_FILE, n_features=check_fitted(pre))
        est = model.estimator()
        est.load_model(booster)
        model.pipeline = Pipeline([*pre.steps, ("model", est)])
        return model

