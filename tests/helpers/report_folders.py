"""Model folders as the train stage writes them (model.json, predictions.csv, metrics.json and
baseline_predictions.csv: the trivial predictors on the same folds), made from held-out
predictions a test chooses, so report tests can set a model's skill exactly (e.g. chance)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from moodflow.evaluation.summary import metrics_from_predictions, nan_to_none


def cv_folds(track_ids: list[str], folds: int, repeats: int, seed: int = 0,
             strata: list[str] | None = None) -> list[tuple[str, np.ndarray]]:
    """(fold name ``r<rep>f<k>``, test tracks) of repeated (stratified) k-fold CV."""
    from sklearn.model_selection import KFold, StratifiedKFold

    ids = np.asarray(track_ids, dtype=str)
    out = []
    for r in range(repeats):
        if strata is not None:
            splitter = StratifiedKFold(folds, shuffle=True, random_state=seed + r).split(ids, strata)
        else:
            splitter = KFold(folds, shuffle=True, random_state=seed + r).split(ids)
        out += [(f"r{r}f{k}", ids[test]) for k, (_, test) in enumerate(splitter)]
    return out


def classification_folder(folder: Path, labels: dict[str, str], classes: list[str], folds, *,
                          predict, seed: int = 0, dataset: str = "folder", feature_set: str = "synthetic",
                          model: str = "svm", class_column: str = "quadrant", target: str | None = None,
                          diverged: list[dict] | None = None) -> pd.DataFrame:
    """A classifier's folder: ``predict(track_id, fold, rng)`` gives its class for each held-out
    track; the baselines are the training fold's majority class and a class-prior random guess."""
    rng = np.random.default_rng(seed)
    target = target or class_column
    rows, base = [], []
    for name, test in folds:
        train = [t for t in labels if t not in set(test)]
        counts = pd.Series([labels[t] for t in train]).value_counts().reindex(classes, fill_value=0)
        majority = str(counts.idxmax())
        prior = (counts / counts.sum()).to_numpy()
        for t in test:
            common = {"task": "classification", "track_id": t, "time_s": np.nan, "fold": name, "target": target,
                      "y_true": labels[t]}
            pred = predict(t, name, rng)
            rows.append({**common, "y_pred": pred, **{f"score_{c}": float(c == pred) for c in classes}})
            base.append({**common, "y_pred": majority, **{f"score_{c}": float(c == majority) for c in classes},
                         "baseline": "majority"})
            guess = str(rng.choice(classes, p=prior))
            base.append({**common, "y_pred": guess, **{f"score_{c}": float(p) for c, p in zip(classes, prior)},
                         "baseline": "prior"})
    spec = {"task": "classification", "class_column": class_column, "classes": classes, "static_targets": [],
            "tags": [], "dynamic_targets": [], "target_scales": {}, "scale": None, "scale_name": ""}
    protocol = {"kind": "stratified", "folds": len({n.split("f")[1] for n, _ in folds}),
                "repeats": len({n.split("f")[0] for n, _ in folds})}
    return _write(folder, pd.DataFrame(rows), pd.DataFrame(base), spec, protocol, dataset, feature_set, model,
                  classes, diverged, "classification", target)


def regression_folder(folder: Path, labels: pd.DataFrame, folds, *, predict, seed: int = 0, dataset: str = "folder",
                      feature_set: str = "synthetic", model: str = "ridge", scale=(1.0, 9.0),
                      diverged: dict[str, list[dict]] | None = None, kind: str = "kfold") -> pd.DataFrame:
    """A regressor's folder: ``labels`` indexed by track id, one column per target;
    ``predict(track_id, target, truth, fold, rng)``; the baseline is the training fold's mean."""
    rng = np.random.default_rng(seed)
    rows, base = [], []
    for name, test in folds:
        train = labels.drop(index=list(test))
        for t in test:
            for target in labels.columns:
                common = {"task": "static", "track_id": t, "time_s": np.nan, "fold": name, "target": target,
                          "y_true": float(labels.loc[t, target])}
                rows.append({**common, "y_pred": float(predict(t, target, labels.loc[t, target], name, rng))})
                base.append({**common, "y_pred": float(train[target].mean()), "baseline": "mean"})
    spec = {"task": "regression", "static_targets": list(labels.columns), "classes": [], "class_column": None,
            "tags": [], "dynamic_targets": [], "target_scales": {}, "scale": list(scale),
            "scale_name": f"{scale[0]:g}-{scale[1]:g}"}
    protocol = ({"kind": "split", "folds": 1, "repeats": 1} if kind == "split" else
                {"kind": kind, "folds": len({n.split("f")[1] for n, _ in folds}),
                 "repeats": len({n.split("f")[0] for n, _ in folds})})
    return _write(folder, pd.DataFrame(rows), pd.DataFrame(base), spec, protocol, dataset, feature_set, model,
                  None, diverged, "static", None)


def _write(folder: Path, preds: pd.DataFrame, base: pd.DataFrame, spec: dict, protocol: dict, dataset: str,
           feature_set: str, model: str, classes, diverged, section: str, target: str | None) -> pd.DataFrame:
    folder.mkdir(parents=True, exist_ok=True)
    preds.to_csv(folder / "predictions.csv", index=False)
    base.to_csv(folder / "baseline_predictions.csv", index=False)
    metrics = nan_to_none(metrics_from_predictions(preds, classes))
    if diverged:
        marks = diverged if isinstance(diverged, dict) else {target: diverged}
        for tgt, folds in marks.items():
            metrics[section][tgt]["diverged"] = folds
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
    manifest = {"status": "ok", "dataset": dataset, "feature_set": feature_set, "model": model,
                "task": spec["task"], "label_spec": spec, "feature_sample_rate": 22050,
                "protocol": {"kind": protocol["kind"]}, "protocol_run": {"static": protocol}}
    (folder / "model.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return preds


def report_params(sets: list[str], models: list[str], dataset: str = "folder", seed: int = 0) -> dict:
    return {"dataset": {"name": dataset}, "features": {"sets": sets},
            "train": {"models": models, "seed": seed, "protocol": {"kind": "auto"}, "combine": {"base": [], "add": []}}}
