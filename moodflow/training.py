"""Stage two: train one model on one feature store, evaluate it, save it with its predictions.

Output folder ``models/<set>/<model>/``::

    model.json        manifest: model kind, tasks, targets, label spec (names, scale), feature
                      set + its store config, protocol, metrics, package versions
    model.skops …     the static model's weights (format chosen by the model; never pickle)
    dynamic/          the dynamic model's weights, when a dynamic model was trained
    predictions.csv   every held-out prediction: task, track_id, time_s (dynamic), fold,
                      target, y_true, y_pred (+ score_<class> for classification)
    metrics.json      {"static"|"dynamic"|"classification"|"tagging": {target: {metric: mean,
                      metric_std, n_folds, n_tracks}}}
    confusion.csv     classification only: confusion counts per repetition

Which tasks run: the dataset's static task (``LabelSpec.task``) whenever the model supports
it (the multitask model trains on every label kind the dataset has); the dynamic task when
the dataset has dynamic labels, ``dynamic`` is true (``train.dynamic``) and the model
supports it. See docs/models.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from moodflow.atomic import atomic_path, write_json
from moodflow.datasets.base import LabelSpec, PreparedDataset
from moodflow.dynamic import dynamic_data
from moodflow.evaluation.crossval import (
    cv_classification, cv_dynamic, cv_multitask, cv_regression, cv_tagging,
)
from moodflow.evaluation.protocols import make_folds
from moodflow.evaluation.summary import confusion_table, metrics_from_predictions, nan_to_none
from moodflow.models import MODELS
from moodflow.store import FeatureStore
from moodflow.versions import package_versions

log = logging.getLogger(__name__)
FORMAT_VERSION = 2


@dataclass
class StaticData:
    """Aligned static features and labels: X (n, F), Y (n, k), track ids (n,).

    ``labels`` holds every label kind the dataset has (for the multitask model), keyed by
    kind, with NaN / -1 where a track lacks that label.
    """

    track_ids: np.ndarray
    X: np.ndarray
    Y: np.ndarray
    targets: list[str]
    labels: dict[str, np.ndarray] = field(default_factory=dict)


def _label_kinds(spec: LabelSpec, columns: pd.Index) -> dict[str, list[str]]:
    kinds = {}
    if spec.static_targets and all(t in columns for t in spec.static_targets):
        kinds["regression"] = list(spec.static_targets)
    if spec.class_column and spec.class_column in columns and spec.classes:
        kinds["classification"] = [spec.class_column]
    if spec.tags and all(t in columns for t in spec.tags):
        kinds["tagging"] = list(spec.tags)
    return kinds


def static_data(store: FeatureStore, prepared: PreparedDataset, all_kinds: bool = False) -> StaticData:
    """Join the store's static vectors with the static labels on track id.

    Tracks that failed extraction (NaN row) or lack the main task's label (any label, with
    ``all_kinds``) are left out (and logged).
    """
    spec = prepared.spec
    labels = prepared.static_labels.drop_duplicates("track_id").set_index("track_id")
    kinds = _label_kinds(spec, labels.columns)
    main = spec.task
    if main not in kinds:
        raise ValueError(f"{prepared.name}: labels_static.csv lacks the {main} columns the label spec names")
    targets = kinds[main]
    have = labels[targets].notna().all(axis=1)
    if all_kinds:
        have = labels[[c for cols in kinds.values() for c in cols]].notna().any(axis=1)
    X_all = store.static()
    store_ids = np.asarray(store.ids)
    ok = ~np.all(np.isnan(X_all), axis=1) & np.isin(store_ids, labels.index[have].to_numpy())
    dropped = len(store_ids) - int(ok.sum())
    if dropped:
        log.info("%d of %d tracks have no features or no label and are left out", dropped, len(store_ids))
    ids = store_ids[ok]
    rows = labels.loc[ids]
    out: dict[str, np.ndarray] = {}
    for kind, cols in kinds.items():
        if kind == "classification":
            classes = [str(c) for c in spec.classes]
            values = rows[cols[0]]
            unknown = sorted({str(v) for v in values.dropna()} - set(classes))
            if unknown:
                raise ValueError(f"{prepared.name}: classes {unknown[:5]} are not in the label spec {classes}")
            out[kind] = np.array([classes.index(str(v)) if pd.notna(v) else -1 for v in values], dtype=np.int64)
        else:
            out[kind] = rows[cols].to_numpy(dtype=np.float64)
    return StaticData(ids, X_all[ok].astype(np.float64), out[main], targets, out if all_kinds else {main: out[main]})


def _folds(ids: np.ndarray, protocol: dict[str, Any], splits, seed: int, classes=None):
    return make_folds(
        ids, kind=protocol.get("kind", "auto"), folds=int(protocol.get("folds", 5)),
        repeats=int(protocol.get("repeats", 1)), seed=seed, splits=splits, classes=classes,
    )


def cross_validate(
    model_name: str, model_params: dict[str, Any], data: StaticData, spec: LabelSpec,
    protocol: dict[str, Any], splits: pd.DataFrame | None, seed: int,
) -> pd.DataFrame:
    """Held-out predictions of the static task (all label kinds for a multitask model)."""
    classes = data.labels.get("classification")
    folds = _folds(data.track_ids, protocol, splits, seed, classes if spec.task == "classification" else None)
    if MODELS.get(model_name).multitask:
        names = {"regression": list(spec.static_targets), "classification": (spec.class_column, list(spec.classes)),
                 "tagging": list(spec.tags)}
        main = {spec.task: data.labels[spec.task]}
        labels = {**main, **{k: v for k, v in data.labels.items() if k != spec.task}}
        return cv_multitask(model_name, model_params, data.X, labels, names, data.track_ids, folds, seed)
    if spec.task == "regression":
        return cv_regression(model_name, model_params, data.X, data.Y, data.track_ids, data.targets, folds, seed)
    if spec.task == "classification":
        return cv_classification(model_name, model_params, data.X, data.Y, data.track_ids,
                                 [str(c) for c in spec.classes], folds, seed, target=spec.class_column)
    return cv_tagging(model_name, model_params, data.X, data.Y, data.track_ids, data.targets, folds, seed)


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
    dynamic: bool = False,
) -> dict[str, Any]:
    """Cross-validate every task that applies, refit on all labelled tracks, and write the
    model folder atomically. Returns the metrics (as written to metrics.json)."""
    prepared = PreparedDataset.read(prepared_dir)
    spec = prepared.spec
    model_cls = MODELS.get(model_name)
    params = dict(model_params or {})
    dynamic = bool(params.pop("dynamic", dynamic))
    run_dynamic = bool(dynamic) and prepared.dynamic_labels is not None and "dynamic" in model_cls.tasks
    run_static = spec.task in model_cls.tasks
    if not (run_static or run_dynamic):
        raise ValueError(
            f"model {model_name!r} does none of this run's tasks: static {spec.task}"
            f"{', dynamic' if dynamic and prepared.dynamic_labels is not None else ''} (it does {sorted(model_cls.tasks)})"
        )
    with FeatureStore(store_path) as store:
        store.check(feature_set)  # a store made by another extractor is refused, not mixed in
        store_attrs, feature_names, frame_shape = store.attrs, store.feature_names, store.frame_shape
        if len(frame_shape) == 2:
            params.setdefault("input_shape", list(frame_shape))
        if spec.task == "classification":
            params.setdefault("n_classes", len(spec.classes))
        static = static_data(store, prepared, all_kinds=model_cls.multitask) if run_static else None
        dyn = None
        if run_dynamic:
            dyn = dynamic_data(store, prepared.dynamic_labels, list(spec.dynamic_targets))
    parts, tasks = [], {}
    if static is not None:
        if len(static.track_ids) == 0:
            raise ValueError(f"{store_path}: no track has both features and labels")
        parts.append(cross_validate(model_name, params, static, spec, protocol, prepared.splits, seed))
        final = model_cls(spec.task, params, seed=seed)
        final.fit(static.X, static.labels if model_cls.multitask else static.Y)
        tasks["static"] = {"task": spec.task, "path": ".", "targets": static.targets, "n_tracks": len(static.track_ids),
                           "label_kinds": sorted(static.labels)}
    final_dyn = None
    if dyn is not None:
        if len(dyn.track_ids) == 0:
            raise ValueError(f"{store_path}: no song has frames aligned to its dynamic labels")
        folds = _folds(dyn.track_ids, protocol, prepared.splits, seed)
        parts.append(cv_dynamic(model_name, params, dyn.X, dyn.Y, dyn.times, dyn.track_ids, dyn.targets, folds, seed))
        final_dyn = model_cls("dynamic", params, seed=seed)
        if final_dyn.sequence_input:
            final_dyn.fit(dyn.X, dyn.Y)
        else:
            groups = np.concatenate([np.full(len(x), i) for i, x in enumerate(dyn.X)])
            final_dyn.fit(np.concatenate(dyn.X), np.concatenate(dyn.Y), groups=groups)
        tasks["dynamic"] = {"task": "dynamic", "path": "dynamic", "targets": dyn.targets,
                            "n_tracks": len(dyn.track_ids), "n_frames": dyn.n_frames}
    predictions = pd.concat(parts, ignore_index=True)
    cols = ["task", "track_id", "time_s", "fold", "target", "y_true", "y_pred"]
    predictions = predictions.reindex(columns=cols + [c for c in predictions.columns if c not in cols])
    metrics = nan_to_none(metrics_from_predictions(predictions, [str(c) for c in spec.classes] or None))
    manifest = {
        "format": "moodflow.model",
        "format_version": FORMAT_VERSION,
        "model": model_name,
        "model_class": f"{model_cls.__module__}.{model_cls.__qualname__}",
        "model_kind": "neural" if model_cls.neural else "classical",
        "params": params,
        "task": spec.task,
        "tasks": tasks,
        "targets": static.targets if static is not None else dyn.targets,
        "label_spec": spec.to_dict(),
        "dataset": prepared.name,
        "feature_set": feature_set,
        "feature_extractor": store_attrs.get("extractor"),
        "feature_config": store_attrs.get("config"),
        "feature_sample_rate": int(store_attrs.get("sample_rate", 0)),
        "feature_names_sha": _names_digest(feature_names),
        "n_features": len(feature_names),
        "frame_shape": list(frame_shape),
        "protocol": protocol,
        "seed": seed,
        "metrics": metrics,
        "versions": package_versions(),
    }
    with atomic_path(out_dir) as tmp:
        tmp.mkdir(parents=True)
        if static is not None:
            final.save(tmp)
        if final_dyn is not None:
            (tmp / "dynamic").mkdir()
            final_dyn.save(tmp / "dynamic")
        predictions.to_csv(tmp / "predictions.csv", index=False)
        if "classification" in metrics:
            rows = predictions[predictions["task"] == "classification"]
            confusion_table(rows, [str(c) for c in spec.classes]).to_csv(tmp / "confusion.csv")
        write_json(tmp / "metrics.json", metrics)
        write_json(tmp / "model.json", manifest)
    return metrics


def _names_digest(names: list[str]) -> str:
    import hashlib

    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]
