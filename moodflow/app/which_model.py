"""Which model ``moodflow predict`` and ``Predictor()`` use when none is named, and what they say.

The last run's best model (``reports/metrics.json`` → ``best``) only when it was trained on a
real dataset: the demo's model learned from synthetic clips, so after ``make run`` the default
is mood tags only, with one note on how to get valence/arousal. A toy model named explicitly is
used, labelled toy in every output and warned about once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from moodflow.app.errors import PredictError
from moodflow.datasets import is_synthetic

TOY_BANNER = ("toy model: trained on moodflow's synthetic demo clips, not on real music; train on a real "
              "dataset, see README.md 'Pointing it at a real dataset' and docs/datasets.md")
HOW_TO_GET_VALENCE_AROUSAL = (
    "for valence/arousal, train on a real dataset (README.md, 'Pointing it at a real dataset') or name a trained "
    "model (`moodflow predict --model NAME.moodflow …`; Python: `Predictor('NAME.moodflow')`)")


class PredictorNote(UserWarning):
    """What a :class:`Predictor` says once when it is made: mood tags only (and how to get
    valence/arousal), or a toy model named explicitly."""


class _LastRunsBest:
    """``Predictor()``'s default model: the last run's best, if it was trained on a real dataset."""

    def __repr__(self) -> str:
        return "DEFAULT_MODEL"


DEFAULT_MODEL: Any = _LastRunsBest()


def best_model_dir(reports_dir: str | Path = "reports", models_dir: str | Path = "models") -> Path:
    """``models/<set>/<model>`` named by ``best`` in the last run's ``reports/metrics.json``."""
    path = Path(reports_dir) / "metrics.json"
    if not path.exists():
        raise PredictError(f"{path}: not found; run the pipeline (`dvc repro`) first or pass --model DIR")
    from moodflow.core.schema import read_json_file

    best = read_json_file(path, "run_metrics").get("best") or {}  # names one folder each, never a path
    if not best.get("feature_set") or not best.get("model"):
        raise PredictError(f"{path}: no 'best' model recorded (did any static model train?); pass --model DIR")
    folder = Path(models_dir) / best["feature_set"] / best["model"]
    if not (folder / "model.json").exists():
        raise PredictError(f"{folder}: the best model of {path} is missing; run `dvc repro` or pass --model DIR")
    return folder


def default_model(reports_dir: str | Path = "reports", models_dir: str | Path = "models"
                  ) -> tuple[Path | None, str]:
    """(the last run's best model folder, "") when it was trained on a real dataset, else
    (None, why not): no run here, no best model, or the synthetic demo's toy model."""
    from moodflow.models.io import read_manifest

    metrics = Path(reports_dir) / "metrics.json"
    if not metrics.is_file():
        return None, f"no trained model here ({metrics} not found)"
    try:
        folder = best_model_dir(reports_dir, models_dir)
        dataset = read_manifest(folder).get("dataset")
    except (PredictError, OSError, ValueError) as exc:
        return None, str(exc)
    if is_synthetic(dataset):
        return None, (f"the last run's best model ({folder}) is the demo's toy, trained on synthetic clips "
                      f"(`--model {folder}` shows its valence/arousal, labelled toy)")
    return folder, ""
