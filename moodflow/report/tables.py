"""Tables of the comparison report, all recomputed from the models' predictions.csv.

A *run* is one model folder ``models/<set>/<model>/``. :func:`our_rows` gives one row per
(set, model, task, target, metric) with mean ± std over folds, recomputed with
:func:`moodflow.evaluation.summary.metrics_from_predictions`; :func:`comparison_rows` puts
each published number for the dataset beside our best number for the same key, on the
paper's label scale, saying whether protocol and scale match.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from moodflow.evaluation.cross import CROSS
from moodflow.evaluation.significance import fold_sizes
from moodflow.evaluation.summary import metrics_from_predictions
from moodflow.report.references import (
    LOWER_IS_BETTER, SCALE_DEPENDENT, describe_protocol, protocol_matches, rescale, same_scale, scale_name,
)

log = logging.getLogger(__name__)

TASK_METRICS = {
    "static": ("r2", "rmse", "pearson"),
    "dynamic": ("r2", "rmse", "pearson", "rmse_song", "pearson_song", "kendall_tau"),
    "classification": ("macro_f1", "weighted_f1", "weighted_pr_f1", "accuracy"),
    "tagging": ("pr_auc", "roc_auc", "pr_auc_micro"),
}


@dataclass
class Run:
    """One trained model folder with its manifest, predictions and recomputed metrics."""

    feature_set: str
    model: str
    folder: Path
    manifest: dict[str, Any]
    predictions: pd.DataFrame
    metrics: dict[str, Any]
    baseline: pd.DataFrame | None = None  # baseline_predictions.csv: + column `baseline` (the predictor)
    diverged: dict[tuple[str, str], list[dict[str, str]]] = field(default_factory=dict)  # (task, target) -> folds
    fold_sizes: dict[str, tuple[int, int]] = field(default_factory=dict)  # fold key -> (n_train, n_test)

    @property
    def classes(self) -> list[str] | None:
        return [str(c) for c in (self.manifest.get("label_spec") or {}).get("classes") or []] or None

    @property
    def status(self) -> str:
        """``ok``, or why nothing was scored (``insufficient data: …``, ``no labels: …``)."""
        return str(self.manifest.get("status", "ok"))

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def unlabelled(self) -> bool:
        """Refused because the dataset has no labels at all (extraction-only)."""
        return self.status.startswith("no labels")

    def scale(self, task: str, target: str | None = None) -> tuple[float, float] | None:
        """Label range of ``task``'s targets, or of one ``target`` with a scale of its own
        (None for classes and tags)."""
        spec = self.manifest.get("label_spec") or {}
        own = (spec.get("target_scales") or {}).get(target) if target else None
        if own and task in ("static", "dynamic"):
            return tuple(own)
        if task == "dynamic" and spec.get("dynamic_scale"):
            return tuple(spec["dynamic_scale"])
        if task in ("static", "dynamic") and spec.get("task", "regression") == "regression" and spec.get("scale"):
            return tuple(spec["scale"])
        return None


def load_runs(feature_sets: list[str], models: list[str], models_dir: str | Path) -> list[Run]:
    """Every listed (set, model) folder that holds model.json and predictions.csv (runs that
    were refused too: see :attr:`Run.status`)."""
    runs = []
    for fset in feature_sets:
        for model in models:
            folder = Path(models_dir) / fset / model
            if not (folder / "model.json").exists() or not (folder / "predictions.csv").exists():
                log.warning("report: %s has no model.json/predictions.csv; left out", folder)
                continue
            from moodflow.core.schema import read_json_file  # checked: it may come from `dvc pull`

            manifest = read_json_file(folder / "model.json", "model")
            preds = read_predictions(folder / "predictions.csv")
            if (manifest.get("protocol") or {}).get("kind") == "cross":  # headline: the cross folds only
                preds = preds[preds["fold"].astype(str).str.startswith(CROSS)].reset_index(drop=True)
            sizes = {**fold_sizes(preds), **_fold_sizes(manifest, "repeat" in preds.columns)}  # before any drop
            diverged = _diverged(folder / "metrics.json")
            preds = drop_diverged(preds, diverged)
            baseline = _baseline(folder / "baseline_predictions.csv", diverged)
            if baseline is not None and (manifest.get("protocol") or {}).get("kind") == "cross":
                baseline = baseline[baseline["fold"].astype(str).str.startswith(CROSS)].reset_index(drop=True)
            classes = [str(c) for c in (manifest.get("label_spec") or {}).get("classes") or []] or None
            runs.append(Run(fset, model, folder, manifest, preds, metrics_from_predictions(preds, classes), baseline,
                            diverged, sizes))
    return runs


_KEY_COLUMNS = {"track_id": str, "fold": str, "repeat": str, "target": str, "task": str}


def read_predictions(path: Path) -> pd.DataFrame:
    """A predictions table (``task`` defaults to static; ``repeat`` optional)."""
    preds = pd.read_csv(path, dtype=_KEY_COLUMNS)
    if "task" not in preds.columns:
        preds["task"] = "static"
    return preds


def _baseline(path: Path, diverged: dict) -> pd.DataFrame | None:
    """The trivial predictors' rows (same columns as predictions.csv + ``baseline``), or None."""
    if not path.exists():
        return None
    table = read_predictions(path)
    missing = {"track_id", "fold", "target", "y_true", "y_pred", "baseline"} - set(table.columns)
    if missing:
        log.warning("report: %s lacks columns %s; its trivial predictors are left out", path, sorted(missing))
        return None
    table["baseline"] = table["baseline"].astype(str)
    return drop_diverged(table, diverged)


def _diverged(path: Path) -> dict[tuple[str, str], list[dict[str, str]]]:
    """Folds the trainer marked diverged, per (task, target): ``{"fold", "reason"}`` (``repeat``)."""
    from moodflow.core.schema import read_json_file  # checked: it may come from `dvc pull`

    raw = read_json_file(path, "model_metrics") if path.exists() else {}
    out: dict[tuple[str, str], list[dict[str, str]]] = {}
    for task, per_target in (raw.items() if isinstance(raw, dict) else []):
        if task == "datasets" or not isinstance(per_target, dict):
            continue
        for target, entry in per_target.items():
            marks = entry.get("diverged") if isinstance(entry, dict) else None
            if isinstance(marks, list):
                folds = [{k: str(m[k]) for k in ("fold", "reason", "repeat") if k in m}
                         for m in marks if isinstance(m, dict) and "fold" in m]
                if folds:
                    out[(task, str(target))] = folds
    return out


def drop_diverged(preds: pd.DataFrame, diverged: dict[tuple[str, str], list[dict[str, str]]]) -> pd.DataFrame:
    """The rows of every (task, target) without its diverged folds (its numbers are over the others)."""
    if not diverged or not len(preds):
        return preds
    drop = pd.Series(False, index=preds.index)
    for (task, target), marks in diverged.items():
        rows = (preds["task"] == task) & ((preds["target"] == target) | (task == "tagging"))
        for mark in marks:
            hit = rows & (preds["fold"] == mark["fold"])
            if "repeat" in mark and "repeat" in preds.columns:
                hit &= preds["repeat"] == mark["repeat"]
            drop |= hit
    return preds[~drop]


def _fold_sizes(manifest: dict[str, Any], with_repeat: bool) -> dict[str, tuple[int, int]]:
    """Per-fold (n_train, n_test) wherever model.json lists them (entries with fold, n_train, n_test)."""
    out: dict[str, tuple[int, int]] = {}

    def walk(node: Any, depth: int) -> None:
        if depth > 6:
            return
        if isinstance(node, dict):
            if {"fold", "n_train", "n_test"} <= set(node):
                try:
                    key = f"{node['repeat']}/{node['fold']}" if with_repeat and "repeat" in node else str(node["fold"])
                    out.setdefault(key, (int(node["n_train"]), int(node["n_test"])))
                except (TypeError, ValueError):
                    pass
                return
            for value in node.values():
                walk(value, depth + 1)
        elif isinstance(node, list):
            for value in node:
                walk(value, depth + 1)

    walk(manifest, 0)
    return out


def protocol_of(run: Run) -> dict[str, Any]:
    """The protocol as run: recorded by training (kind, folds, repeats, split coverage), or read
    from the fold names of the predictions (``r<rep>f<fold>``) for older model folders."""
    recorded = (run.manifest.get("protocol_run") or {}).get("static") or (run.manifest.get("protocol_run") or {}).get("dynamic")
    if recorded:
        out = {k: recorded.get(k) for k in ("kind", "folds", "repeats", "test_coverage")}
        if recorded.get("grouped"):
            out["group"] = (run.manifest.get("protocol") or {}).get("group")
        return out
    folds = sorted(set(run.predictions["fold"].astype(str)))
    if folds == ["split"]:
        return {"kind": "split", "folds": 1, "repeats": 1}
    repeats = {f.split("f")[0] for f in folds}
    kind = (run.manifest.get("protocol") or {}).get("kind", "auto")
    if kind not in ("kfold", "stratified"):
        kind = "stratified" if run.manifest.get("task") == "classification" else "kfold"
    return {"kind": kind, "folds": len(folds) // max(len(repeats), 1), "repeats": len(repeats)}


def our_rows(runs: list[Run]) -> pd.DataFrame:
    """One row per (set, model, task, target, metric): mean, std, n_folds, label scale."""
    rows = []
    for run in runs:
        if not run.ok:
            continue
        for task, per_target in run.metrics.items():
            for target, m in per_target.items():
                for metric in TASK_METRICS.get(task, ()):
                    if metric not in m:
                        continue
                    rows.append({
                        "set": run.feature_set, "model": run.model, "task": task, "target": target,
                        "metric": metric, "mean": m[metric], "std": m.get(f"{metric}_std", np.nan),
                        "n_folds": m.get("n_folds"), "scale": scale_name(run.scale(task, target)),
                    })
    return pd.DataFrame(rows, columns=["set", "model", "task", "target", "metric", "mean", "std", "n_folds", "scale"])


def _closeness(ref: pd.Series, feature_set: str, model: str) -> tuple[int, str]:
    """How near our (set, model) is to the paper's features and model: rank (lower = nearer), words."""
    family, paper_model = ref.get("feature_family") or "", ref.get("model_family") or ""
    same_features = bool(family) and family in feature_set.split("+")
    same_model = bool(paper_model) and paper_model == model
    if same_features and same_model:
        return 0, "same features and model"
    if same_features:
        return 1, f"same features; {model}, not {paper_model or 'the paper’s model'}"
    if same_model:
        return 2, f"same model; {feature_set}, not {family or 'the paper’s features'}"
    return 3, f"other features and model ({feature_set}/{model})"


def comparison_rows(ours: pd.DataFrame, refs: pd.DataFrame, protocol: dict[str, Any]) -> pd.DataFrame:
    """Each published number beside our number of the same task, target, metric and protocol
    kind, from the run closest to the paper's features and model (the best of equally close
    ones); the closeness, both label scales and the protocols are stated in words. A row with
    no such run of ours says why in ``no_counterpart`` instead of showing a number.

    Our value (and std) is expressed on the paper's label scale: RMSE-like metrics are rescaled
    by the ratio of the ranges, the others are scale-free.
    """
    out = []
    for _, ref in refs.iterrows():
        row = {
            "id": ref["id"], "task": ref["task"], "target": ref["target"], "metric": ref["metric"],
            "paper": float(ref["value"]), "paper_std": ref["std"], "paper_scale": ref["scale"],
            "features": ref["features"], "paper_model": ref["model"], "source": ref["source"],
            "protocol": ref["protocol"], "note": ref["note"], "ours": np.nan, "ours_std": np.nan, "ours_from": "",
            "ours_native": np.nan, "ours_low": np.nan, "ours_high": np.nan, "ours_tracks": 0,
            "closeness": "", "our_scale": "", "scales": "", "no_counterpart": "",
        }
        ok, why = protocol_matches(ref, protocol)
        row["protocol_match"], row["protocol_note"] = ok, why
        mine = ours[(ours["task"] == ref["task"]) & (ours["target"] == ref["target"])
                    & (ours["metric"] == ref["metric"])].dropna(subset=["mean"])
        paper_kind = ref["protocol_kind"] or "unknown"
        if not len(mine):
            row["no_counterpart"] = f"no run of ours has {ref['task']} {ref['target']} {ref['metric']}"
        elif paper_kind != protocol.get("kind"):
            row["no_counterpart"] = (f"protocol differs (paper: {ref['protocol'] or paper_kind}; ours: "
                                     f"{describe_protocol(protocol)})")
        else:
            ranked = [(_closeness(ref, r["set"], r["model"]), i) for i, r in mine.iterrows()]
            nearest = min(rank for (rank, _), _ in ranked)
            near = mine.loc[[i for (rank, _), i in ranked if rank == nearest]]
            best = near.loc[near["mean"].idxmin() if ref["metric"] in LOWER_IS_BETTER else near["mean"].idxmax()]
            row["ours_from"] = f"{best['set']}/{best['model']}"
            row["closeness"] = _closeness(ref, best["set"], best["model"])[1] + (
                f" (best of {len(near)})" if len(near) > 1 else "")
            row["our_scale"] = best["scale"]
            row["ours"] = rescale(best["mean"], ref["metric"], best["scale"] or None, ref["scale"] or None)
            row["ours_std"] = rescale(best["std"], ref["metric"], best["scale"] or None, ref["scale"] or None)
            row["ours_native"] = best["mean"]
            row["ours_low"], row["ours_high"] = best.get("low", np.nan), best.get("high", np.nan)
            row["ours_tracks"] = int(best.get("tracks", 0) or 0)
            row["scales"] = _scales(ref["metric"], ref["scale"], best["scale"], row["ours"], best["mean"])
        out.append(row)
    return pd.DataFrame(out)


def _scales(metric: str, paper: str, ours: str, converted: float, native: float) -> str:
    """Both label scales in words, and what was converted."""
    if not paper and not ours:
        return "no label scale (classes/tags)"
    paper_txt, ours_txt = paper or "not stated", ours or "not stated"
    if paper and ours and same_scale(paper, ours):
        return f"both {paper}"
    if metric.removesuffix("_std") in SCALE_DEPENDENT and paper and ours and native and converted != native:
        return f"paper {paper_txt}, ours {ours_txt}: our {metric} × {converted / native:g} to the paper's scale"
    return f"paper {paper_txt}, ours {ours_txt} ({metric} is scale-free)"


def example_songs(predictions: pd.DataFrame, n: int = 3) -> list[str]:
    """Up to ``n`` songs with dynamic predictions (the first by id, deterministic)."""
    dyn = predictions[predictions["task"] == "dynamic"]
    return sorted(dyn["track_id"].unique())[:n]
