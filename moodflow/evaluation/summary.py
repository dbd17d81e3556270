"""From held-out predictions to ``metrics.json``: every reported number is recomputed here
from the prediction table alone (see crossval.py for its columns).

Each metric is computed per fold; the summary holds its mean over folds (and repeats),
``<metric>_std`` (population std over folds), ``n_folds`` and ``n_tracks``.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd

from moodflow.evaluation.metrics import (
    classification_metrics, confusion, dynamic_metrics, regression_metrics, tagging_metrics,
)


def _aggregate(per_fold: list[dict[str, float]], n_tracks: int) -> dict[str, float]:
    table = pd.DataFrame(per_fold)
    entry: dict[str, float] = {}
    for metric in table.columns:
        entry[metric] = float(table[metric].mean())
        entry[f"{metric}_std"] = float(table[metric].std(ddof=0))
    entry["n_folds"] = int(len(table))
    entry["n_tracks"] = int(n_tracks)
    return entry


def _per_target(rows: pd.DataFrame, fn: Callable[[pd.DataFrame], dict[str, float]]) -> dict[str, Any]:
    out = {}
    for target, group in rows.groupby("target", sort=False):
        per_fold = [fn(g) for _, g in group.groupby("fold", sort=False)]
        out[str(target)] = _aggregate(per_fold, group["track_id"].nunique())
    return out


def summarise_static(rows: pd.DataFrame) -> dict[str, Any]:
    """Per target: R², RMSE, Pearson r."""
    return _per_target(rows, lambda g: regression_metrics(g["y_true"].astype(float), g["y_pred"].astype(float)))


def summarise_dynamic(rows: pd.DataFrame) -> dict[str, Any]:
    """Per target: per-song RMSE / r / Kendall's tau averaged over songs; pooled R², RMSE, r."""
    out = _per_target(rows, lambda g: dynamic_metrics(
        g["track_id"].to_numpy(), g["y_true"].astype(float), g["y_pred"].astype(float)))
    for target, group in rows.groupby("target", sort=False):
        out[str(target)]["n_frames"] = int(group.groupby("fold").size().mean())
    return out


def summarise_classification(rows: pd.DataFrame, classes: list[str]) -> dict[str, Any]:
    """Per class column: macro F1, weighted F1, accuracy."""
    return _per_target(rows, lambda g: classification_metrics(
        g["y_true"].astype(str), g["y_pred"].astype(str), classes))


def summarise_tagging(rows: pd.DataFrame) -> dict[str, Any]:
    """Under ``tags``: macro PR-AUC and ROC-AUC over tags, micro PR-AUC."""
    per_fold = []
    for _, g in rows.groupby("fold", sort=False):
        wide_true = g.pivot(index="track_id", columns="target", values="y_true").astype(float)
        wide_score = g.pivot(index="track_id", columns="target", values="y_pred").astype(float)
        per_fold.append(tagging_metrics(wide_true.to_numpy(), wide_score[wide_true.columns].to_numpy()))
    return {"tags": _aggregate(per_fold, rows["track_id"].nunique())}


def confusion_table(rows: pd.DataFrame, classes: list[str]) -> pd.DataFrame:
    """Confusion counts summed over folds and divided by the number of repeats (each track
    counted once per repeat, as the 4Q authors print it). Rows true, columns predicted."""
    n_repeats = max(1, len({str(f).split("f")[0] for f in rows["fold"].unique()}))
    counts = confusion(rows["y_true"].astype(str), rows["y_pred"].astype(str), classes) / n_repeats
    return pd.DataFrame(counts, index=pd.Index(classes, name="true"), columns=classes)


def metrics_from_predictions(predictions: pd.DataFrame, classes: list[str] | None = None) -> dict[str, Any]:
    """The ``metrics.json`` dict of a prediction table (all tasks it holds)."""
    out: dict[str, Any] = {}
    task = predictions["task"] if "task" in predictions.columns else pd.Series("static", index=predictions.index)
    if (task == "static").any():
        out["static"] = summarise_static(predictions[task == "static"])
    if (task == "dynamic").any():
        out["dynamic"] = summarise_dynamic(predictions[task == "dynamic"])
    if (task == "classification").any():
        rows = predictions[task == "classification"]
        if classes is None:
            classes = [c.removeprefix("score_") for c in rows.columns if c.startswith("score_")]
        out["classification"] = summarise_classification(rows, classes)
    if (task == "tagging").any():
        out["tagging"] = summarise_tagging(predictions[task == "tagging"])
    return out


def nan_to_none(obj: Any) -> Any:
    """NaN → None so metrics.json stays valid JSON."""
    if isinstance(obj, dict):
        return {k: nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, float) and np.isnan(obj):
        return None
    return obj
