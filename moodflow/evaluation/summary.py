"""From held-out predictions to ``metrics.json``: every reported number is recomputed here
from the prediction table alone (see crossval.py for its columns).

Each metric is computed per fold; the summary holds its mean over folds (and repeats),
``<metric>_std`` (population std over folds), ``n_folds`` and ``n_tracks``.

A regression fold whose predictions leave the label scale by more than the scale's width (or
are not finite) has *diverged* (:func:`divergence`): it is listed under the target's
``diverged`` (``[{"fold", "reason"}]``) and left out of that target's means, std, ``n_folds``
and ``n_tracks``, so a −4,000 is reported as what it is instead of averaged into a mean (with
every fold diverged only ``n_folds`` 0, ``n_tracks`` 0 and ``diverged`` remain). The scale is
the dataset's (``scales``) or, when it declares none, the range of the target's true values.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

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


Scales = Mapping[str, "tuple[float, float] | None"]


def divergence(y_pred: pd.Series, scale: tuple[float, float]) -> str:
    """Why a fold's predictions have diverged ("" when they have not): outside ``scale`` by more
    than its width, or not finite."""
    values = y_pred.to_numpy(dtype=float)
    if not np.isfinite(values).all():
        return f"{int((~np.isfinite(values)).sum())} predictions are not finite"
    low, high = float(scale[0]), float(scale[1])
    width = high - low
    lo, hi = float(values.min()), float(values.max())
    if width > 0 and (lo < low - width or hi > high + width):
        return (f"predictions {lo:.4g} … {hi:.4g} leave the label scale {low:g}–{high:g} by more than its width "
                f"({width:g})")
    return ""


def _per_target(rows: pd.DataFrame, fn: Callable[[pd.DataFrame], dict[str, float]],
                scales: Scales | None = None) -> dict[str, Any]:
    out = {}
    for target, group in rows.groupby("target", sort=False):
        scale = None
        if scales is not None:
            truth = group["y_true"].astype(float)
            scale = scales.get(str(target)) or (float(truth.min()), float(truth.max()))
        kept, diverged = [], []
        for fold, g in group.groupby("fold", sort=False):
            reason = divergence(g["y_pred"].astype(float), scale) if scale is not None else ""
            if reason:
                diverged.append({"fold": str(fold), "reason": reason})
            else:
                kept.append(g)
        if kept:
            entry = _aggregate([fn(g) for g in kept], pd.concat(kept)["track_id"].nunique())
        else:
            entry = {"n_folds": 0, "n_tracks": 0}
        if diverged:
            entry["diverged"] = diverged
        out[str(target)] = entry
    return out


def summarise_static(rows: pd.DataFrame, scales: Scales | None = None) -> dict[str, Any]:
    """Per target: R², RMSE, Pearson r (over the folds that did not diverge)."""
    return _per_target(rows, lambda g: regression_metrics(g["y_true"].astype(float), g["y_pred"].astype(float)),
                       scales if scales is not None else {})


def summarise_dynamic(rows: pd.DataFrame, scales: Scales | None = None) -> dict[str, Any]:
    """Per target: per-song RMSE / r / Kendall's tau averaged over songs; pooled R², RMSE, r
    (over the folds that did not diverge)."""
    out = _per_target(rows, lambda g: dynamic_metrics(
        g["track_id"].to_numpy(), g["y_true"].astype(float), g["y_pred"].astype(float)),
        scales if scales is not None else {})
    for target, group in rows.groupby("target", sort=False):
        gone = {d["fold"] for d in out[str(target)].get("diverged", [])}
        kept = group[~group["fold"].astype(str).isin(gone)]
        if len(kept):
            out[str(target)]["n_frames"] = int(kept.groupby("fold").size().mean())
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


def metrics_from_predictions(predictions: pd.DataFrame, classes: list[str] | None = None,
                             scales: Mapping[str, Scales] | None = None) -> dict[str, Any]:
    """The ``metrics.json`` dict of a prediction table (all tasks it holds). ``scales``:
    ``{"static"|"dynamic": {target: (low, high)}}``, the label scales the divergence guard uses
    (a target without one: the range of its true values)."""
    out: dict[str, Any] = {}
    scales = scales or {}
    task = predictions["task"] if "task" in predictions.columns else pd.Series("static", index=predictions.index)
    if (task == "static").any():
        out["static"] = summarise_static(predictions[task == "static"], scales.get("static"))
    if (task == "dynamic").any():
        out["dynamic"] = summarise_dynamic(predictions[task == "dynamic"], scales.get("dynamic"))
    if (task == "classification").any():
        rows = predictions[task == "classification"]
        if classes is None:
            classes = [c.removeprefix("score_") for c in rows.columns if c.startswith("score_")]
        out["classification"] = summarise_classification(rows, classes)
    if (task == "tagging").any():
        out["tagging"] = summarise_tagging(predictions[task == "tagging"])
    return out


def label_scales(label_spec: Any) -> dict[str, dict[str, tuple[float, float] | None]]:
    """``{"static"|"dynamic": {target: (low, high)}}`` of a :class:`LabelSpec` (or model.json's
    ``label_spec``): what :func:`metrics_from_predictions` needs to recompute metrics.json exactly."""
    from moodflow.stores.prepared import LabelSpec

    spec = LabelSpec.from_dict(label_spec) if isinstance(label_spec, Mapping) else label_spec
    return {"static": {t: spec.scale_of(t) for t in spec.static_targets},
            "dynamic": {t: spec.scale_of(t, dynamic=True) for t in spec.dynamic_targets}}


def nan_to_none(obj: Any) -> Any:
    """NaN → None so metrics.json stays valid JSON."""
    if isinstance(obj, dict):
        return {k: nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, float) and np.isnan(obj):
        return None
    return obj
