"""XGBoost (gradient-boosted trees): regression, classes and multi-label tags.

The scikit-learn preprocessing (imputer, scaler, optional PCA) is saved with skops and the
booster in XGBoost's own UBJSON format (``model.ubj``), never pickle. Loading checks the
booster's trees against the preprocessing's output width before XGBoost reads it
(:mod:`moodflow.models.xgb_check`). ``device: auto`` uses
CUDA when torch sees a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from sklearn.pipeline import Pipeline

from moodflow.core.config import setting
from moodflow.models import MODELS
from moodflow.models.sklearn_model import SklearnConfig, SklearnModel

PREPROCESS_FILE = "preprocess.skops"
BOOSTER_FILE = "model.ubj"


@dataclass
class XGBoostConfig(SklearnConfig):
    """``train.xgboost``."""

    n_estimators: int = setting(300, min=1)
    max_depth: int = setting(4, min=1)
    learning_rate: float = setting(0.05, gt=0.0)
    subsample: float = setting(0.8, gt=0.0, max=1.0)
    colsample_bytree: float = setting(0.5, gt=0.0, max=1.0)
    reg_lambda: float = setting(1.0, min=0.0)
    device: str = setting("auto", choices=("auto", "cpu", "cuda"))


@MODELS.register("xgboost")
class XGBoostModel(SklearnModel):
    name = "xgboost"
    Config = XGBoostConfig
    multioutput_native = True
    default_search = {"max_depth": [2, 4, 6], "learning_rate": [0.03, 0.1], "colsample_bytree": [0.3, 0.7]}

    def _xgb_kwargs(self) -> dict[str, Any]:
        from moodflow.models.torch_common import resolve_device  # imports torch: only when used

        c = self.config
        return dict(
            n_estimators=c.n_estimators, max_depth=c.max_depth, learning_rate=c.learning_rate,
            subsample=c.subsample, colsample_bytree=c.colsample_bytree, reg_lambda=c.reg_lambda,
            tree_method="hist", device=str(resolve_device(c.device)), random_state=self.seed, n_jobs=self.n_jobs,
        )

    def estimator(self):
        from xgboost import XGBClassifier, XGBRegressor

        if self.kind == "regression":
            return XGBRegressor(**self._xgb_kwargs())
        return XGBClassifier(**self._xgb_kwargs())

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

