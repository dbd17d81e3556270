"""XGBoost (gradient-boosted trees): regression, classes and multi-label tags.

The scikit-learn preprocessing (imputer, scaler, optional PCA) is saved with skops and the
booster in XGBoost's own UBJSON format (``model.ubj``), never pickle. ``device: auto`` uses
CUDA when torch sees a GPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from moodflow.models import MODELS
from moodflow.models.sklearn_model import SklearnModel

PREPROCESS_FILE = "preprocess.skops"
BOOSTER_FILE = "model.ubj"


@MODELS.register("xgboost")
class XGBoostModel(SklearnModel):
    name = "xgboost"
    multioutput_native = True

    def _xgb_kwargs(self) -> dict[str, Any]:
        from moodflow.models.torch_common import resolve_device  # imports torch: only when used

        return dict(
            n_estimators=int(self.params.get("n_estimators", 300)),
            max_depth=int(self.params.get("max_depth", 4)),
            learning_rate=float(self.params.get("learning_rate", 0.05)),
            subsample=float(self.params.get("subsample", 0.8)),
            colsample_bytree=float(self.params.get("colsample_bytree", 0.5)),
            reg_lambda=float(self.params.get("reg_lambda", 1.0)),
            tree_method="hist",
            device=str(resolve_device(str(self.params.get("device", "auto")))),
            random_state=self.seed,
            n_jobs=int(self.params.get("n_jobs", 1)),
        )

    def estimator(self):
        from xgboost import XGBClassifier, XGBRegressor

        if self.kind == "regression":
            return XGBRegressor(**self._xgb_kwargs())
        return XGBClassifier(**self._xgb_kwargs())

    def save(self, folder: Path) -> None:
        import skops.io as sio

        assert self.pipeline is not None, "fit first"
        sio.dump(Pipeline(self.pipeline.steps[:-1]), Path(folder) / PREPROCESS_FILE)
        self.pipeline.steps[-1][1].save_model(Path(folder) / BOOSTER_FILE)

    @classmethod
    def load(cls, folder: Path, task: str, params: dict[str, Any]) -> "XGBoostModel":
        from moodflow.models.safe_load import load_skops

        model = cls(task, params)
        pre = load_skops(Path(folder) / PREPROCESS_FILE)
        est = model.estimator()
        est.load_model(Path(folder) / BOOSTER_FILE)
        model.pipeline = Pipeline([*pre.steps, ("model", est)])
        return model

    def predict_classes(self, X: np.ndarray) -> np.ndarray:
        return np.argmax(self.predict(X), axis=1)
