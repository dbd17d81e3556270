"""Stage two: train one model on one feature store, evaluate it, save it with its predictions.

Output folder ``models/<set>/<model>/``::

    model.json        manifest: model kind, task, targets, label scale, feature set + its
                      store config, protocol, metrics, package versions
    model.skops …     the weights (format chosen by the model; never pickle)
    predictions.csv   every held-out prediction: track_id, fold, target, y_true, y_pred
    metrics.json      metrics (mean and std over folds)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from moodflow.atomic import atomic_path, write_json
from moodflow.datasets.base import LabelSpec, PreparedDataset
from moodflow.evaluation.metrics import regression_metrics
from moodflow.evaluation.protocols import make_folds
from moodflow.models import MODELS
from moodflow.models.base import Model
from moodflow.store import FeatureStore
from moodflow.versions import package_versions

log = logging.getLogger(__name__)


@dataclass
class StaticData:
    """Aligned static features and labels: X (n, F), Y (n, k), track ids (n,)."""

    track_ids: np.ndarray
    X: np.ndarray
    Y: np.ndarray
    targets: list[str]


def static_data(store: FeatureStore, prepared: PreparedDataset) -> StaticData:
    """Join the store's static vectors with the static labels on track id.

    Tracks that failed extraction (NaN row) or have no label are left out (and logged).
    """
    spec = prepared.spec
    labels = prepared.static_labels.set_index("track_id")
    if spec.task == "regression":
        targets = list(spec.static_targets)
    elif spec.task == "classification":
        targets = [spec.class_column]
    else:
        targets = list(spec.tags)
    labels = labels[targets].dropna()
    X_all = store.static()
    ok = ~np.all(np.isnan(X_all), axis=1)
    store_ids = np.asarray(store.ids)
    keep = ok & np.isin(store_ids, labels.index.to_numpy())
    dropped = len(store_ids) - int(keep.sum())
    if dropped:
        log.info("%d of %d tracks have no features or no label and are left out", dropped, len(store_ids))
    ids = store_ids[keep]
    Y = labels.loc[ids].to_numpy()
    if spec.task == "classification":
        Y = np.array([spec.classes.index(str(v)) for v in Y[:, 0]])
    return StaticData(ids, X_all[keep].astype(np.float64), Y.astype(np.float64) if spec.task != "classification" else Y, targets)


def cross_validate(
    model_name: str,
    model_params: dict[str, Any],
    data: StaticData,
    spec: LabelSpec,
    protocol: dict[str, Any],
    splits: pd.DataFrame | None,
    seed: int,
) -> pd.DataFrame:
    """Held-out predictions of every fold, long format (track_id, fold, target, y_true, y_pred)."""
    model_cls = MODELS.get(model_name)
    index = {t: i for i, t in enumerate(data.track_ids)}
    rows = []
    folds = make_folds(
        data.track_ids,
        kind=protocol.get("kind", "auto"),
        folds=int(protocol.get("folds", 5)),
        repeats=int(protocol.get("repeats", 1)),
        seed=seed,
        splits=splits,
        classes=data.Y if spec.task == "classification" else None,
    )
    for fold in folds:
        tr = np.array([index[t] for t in fold.train])
        te = np.array([index[t] for t in fold.test])
        model: Model = model_cls(spec.task, model_params, seed=seed)
        model.fit(data.X[tr], data.Y[tr])
        pred = model.predict(data.X[te])
        if spec.task == "regression":
            for k, target in enumerate(data.targets):
                rows.append(pd.DataFrame({
                    "track_id": data.track_ids[te], "fold": fold.name, "target": target,
                    "y_true": data.Y[te, k], "y_pred": pred[:, k],
                }))
        else:
            raise NotImplementedError(f"task {spec.task} is not trained yet")
    return pd.concat(rows, ignore_index=True)


def summarise(predictions: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per target: each metric's mean over folds, its std (``<metric>_std``) and the pooled value."""
    out: dict[str, dict[str, float]] = {}
    for target, group in predictions.groupby("target", sort=False):
        per_fold = pd.DataFrame([
            regression_metrics(g["y_true"], g["y_pred"]) for _, g in group.groupby("fold", sort=False)
        ])
        entry: dict[str, float] = {}
        for metric in per_fold.columns:
            entry[metric] = float(per_fold[metric].mean())
            entry[f"{metric}_std"] = float(per_fold[metric].std(ddof=0))
        entry["n_folds"] = int(len(per_fold))
        entry["n_tracks"] = int(group["track_id"].nunique())
        out[str(target)] = entry
    return out


def train_and_evaluate(
    *,
    store_path: str | Path,
    prepared_dir: str | Path,
    feature_set: str,
    model_name: str,
    model_params: dict[str, Any],
    protocol: dict[str, Any],
    seed: int,
    out_dir: str | Path,
) -> dict[str, Any]:
    """Cross-validate, refit on all labelled tracks, and write the model folder atomically."""
    prepared = PreparedDataset.read(prepared_dir)
    with FeatureStore(store_path) as store:
        data = static_data(store, prepared)
        store_attrs = store.attrs
        feature_names = store.feature_names
    if len(data.track_ids) == 0:
        raise ValueError(f"{store_path}: no track has both features and labels")
    predictions = cross_validate(model_name, model_params, data, prepared.spec, protocol, prepared.splits, seed)
    metrics = {"static": summarise(predictions)}
    model = MODELS.get(model_name)(prepared.spec.task, model_params, seed=seed).fit(data.X, data.Y)
    manifest = {
        "format": "moodflow.model",
        "format_version": 1,
        "model": model_name,
        "params": model_params,
        "task": prepared.spec.task,
        "targets": data.targets,
        "label_spec": prepared.spec.to_dict(),
        "dataset": prepared.name,
        "feature_set": feature_set,
        "feature_extractor": store_attrs.get("extractor"),
        "feature_config": store_attrs.get("config"),
        "feature_sample_rate": int(store_attrs.get("sample_rate", 0)),
        "n_features": len(feature_names),
        "protocol": protocol,
        "seed": seed,
        "metrics": metrics,
        "versions": package_versions(),
    }
    with atomic_path(out_dir) as tmp:
        tmp.mkdir(parents=True)
        model.save(tmp)
        predictions.to_csv(tmp / "predictions.csv", index=False)
        write_json(tmp / "metrics.json", metrics)
        write_json(tmp / "model.json", manifest)
    return metrics
