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
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from moodflow.core.atomic import atomic_path, write_json
from moodflow.core.config import build, to_dict
from moodflow.core.versions import package_versions
from moodflow.evaluation.protocols import make_folds
from moodflow.evaluation.summary import confusion_table, metrics_from_predictions, nan_to_none
from moodflow.models import MODELS
from moodflow.models.base import ModelRecipe
from moodflow.stores.feature_store import FeatureStore
from moodflow.stores.prepared import LabelSpec, PreparedDataset
from moodflow.train.crossval import cv_classification, cv_dynamic, cv_multitask, cv_regression, cv_tagging
from moodflow.train.data import StaticData, dynamic_data, static_data
from moodflow.train.settings import ProtocolSettings

log = logging.getLogger(__name__)
FORMAT_VERSION = 2


def _folds(ids: np.ndarray, protocol: ProtocolSettings, splits, seed: int, classes=None):
    return make_folds(ids, kind=protocol.kind, folds=protocol.folds, repeats=protocol.repeats, seed=seed,
                      splits=splits, classes=classes)


def cross_validate(
    recipe: ModelRecipe, data: StaticData, spec: LabelSpec, protocol: ProtocolSettings,
    splits: pd.DataFrame | None, seed: int,
) -> pd.DataFrame:
    """Held-out predictions of the static task (all label kinds for a multitask model)."""
    classes = data.labels.get("classification")
    folds = _folds(data.track_ids, protocol, splits, seed, classes if spec.task == "classification" else None)
    if recipe.cls.multitask:
        names = {"regression": list(spec.static_targets), "classification": (spec.class_column, list(spec.classes)),
                 "tagging": list(spec.tags)}
        main = {spec.task: data.labels[spec.task]}
        labels = {**main, **{k: v for k, v in data.labels.items() if k != spec.task}}
        return cv_multitask(recipe, data.X, labels, names, data.track_ids, folds, seed)
    if spec.task == "regression":
        return cv_regression(recipe, data.X, data.Y, data.track_ids, data.targets, folds, seed)
    if spec.task == "classification":
        return cv_classification(recipe, data.X, data.Y, data.track_ids,
                                 [str(c) for c in spec.classes], folds, seed, target=spec.class_column)
    return cv_tagging(recipe, data.X, data.Y, data.track_ids, data.targets, folds, seed)


def train_and_evaluate(
    *,
    store_path: str | Path,
    prepared_dir: str | Path,
    feature_set: str,
    model_name: str,
    model_config: Mapping[str, Any] | None,
    protocol: Mapping[str, Any] | ProtocolSettings | None,
    seed: int,
    out_dir: str | Path,
    dynamic: bool = False,
) -> dict[str, Any]:
    """Cross-validate every task that applies, refit on all labelled tracks, and write the
    model folder atomically. Returns the metrics (as written to metrics.json).

    ``model_config`` is ``train.<model_name>``, ``protocol`` ``train.protocol`` and ``dynamic``
    ``train.dynamic`` (all checked against their typed settings first).
    """
    model_cls = MODELS.get(model_name)
    config = build(model_cls.Config, model_config, f"train.{model_name}")
    protocol = build(ProtocolSettings, protocol, "train.protocol")
    prepared = PreparedDataset.read(prepared_dir)
    spec = prepared.spec
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
        recipe = ModelRecipe(
            model_name, config, input_shape=list(frame_shape) if len(frame_shape) == 2 else None,
            n_classes=len(spec.classes) if spec.task == "classification" else None,
        )
        static = static_data(store, prepared, all_kinds=model_cls.multitask) if run_static else None
        dyn = None
        if run_dynamic:
            dyn = dynamic_data(store, prepared.dynamic_labels, list(spec.dynamic_targets))
    parts, tasks = [], {}
    if static is not None:
        if len(static.track_ids) == 0:
            raise ValueError(f"{store_path}: no track has both features and labels")
        parts.append(cross_validate(recipe, static, spec, protocol, prepared.splits, seed))
        final = recipe.new(spec.task, seed)
        final.fit(static.X, static.labels if model_cls.multitask else static.Y)
        tasks["static"] = {"task": spec.task, "path": ".", "targets": static.targets, "n_tracks": len(static.track_ids),
                           "label_kinds": sorted(static.labels)}
    final_dyn = None
    if dyn is not None:
        if len(dyn.track_ids) == 0:
            raise ValueError(f"{store_path}: no song has frames aligned to its dynamic labels")
        folds = _folds(dyn.track_ids, protocol, prepared.splits, seed)
        parts.append(cv_dynamic(recipe, dyn.X, dyn.Y, dyn.times, dyn.track_ids, dyn.targets, folds, seed))
        final_dyn = recipe.new("dynamic", seed)
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
        "params": to_dict(config),
        "data": {"input_shape": recipe.input_shape, "n_classes": recipe.n_classes},
        "task": spec.task,
        "tasks": tasks,
        "targets": static.targets if static is not None else dyn.targets,
        "label_spec": spec.to_dict(),
        "dataset": prepared.name,
        "feature_set": feature_set,
        "feature_extractor": store_attrs.get("extractor"),
        "feature_extractor_version": store_attrs.get("extractor_version"),
        "feature_config": store_attrs.get("config"),
        "feature_sample_rate": int(store_attrs.get("sample_rate", 0)),
        "feature_names_sha": _names_digest(feature_names),
        "n_features": len(feature_names),
        "frame_shape": list(frame_shape),
        "protocol": to_dict(protocol),
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
