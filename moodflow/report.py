"""The report stage: gather every model's metrics into reports/metrics.json (the DVC metric).

Keys name the feature set, model, target and metric: ``compare.svm.valence.r2``. Static
targets sit directly under the model; other tasks under their task name
(``compare.seq.dynamic.arousal.kendall_tau``, ``provided.svm.classification.macro_f1``).
``best`` names the model with the highest mean static R² over targets.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from moodflow.atomic import write_json

log = logging.getLogger(__name__)
_HEADLINE = ("r2", "rmse", "pearson", "kendall_tau", "macro_f1", "accuracy", "pr_auc", "roc_auc")


def _headline(entry: dict[str, Any]) -> dict[str, Any]:
    """Keep the metric means and their stds; drop counts and nested tables."""
    return {
        k: round(float(v), 6)
        for k, v in entry.items()
        if isinstance(v, (int, float)) and (k in _HEADLINE or k.removesuffix("_std") in _HEADLINE or k.startswith(_HEADLINE))
    }


def collect_metrics(feature_sets: list[str], models: list[str], models_dir: str | Path) -> dict[str, Any]:
    """Nested metrics of every listed (set, model) pair that has a metrics.json."""
    out: dict[str, Any] = {}
    for feature_set in feature_sets:
        for model in models:
            path = Path(models_dir) / feature_set / model / "metrics.json"
            if not path.exists():
                log.warning("no metrics for %s/%s (%s missing)", feature_set, model, path)
                continue
            raw = json.loads(path.read_text())
            entry: dict[str, Any] = {}
            for target, metrics in (raw.get("static") or {}).items():
                entry[target] = _headline(metrics)
            for task, per_target in raw.items():
                if task == "static" or not isinstance(per_target, dict):
                    continue
                if all(isinstance(v, dict) for v in per_target.values()):
                    entry[task] = {t: _headline(m) for t, m in per_target.items()}
                else:
                    entry[task] = _headline(per_target)
            out.setdefault(feature_set, {})[model] = entry
    return out


def best_static_model(metrics: dict[str, Any]) -> dict[str, Any] | None:
    """The (set, model) with the highest mean static R² over its targets."""
    best = None
    for feature_set, models in metrics.items():
        for model, entry in models.items():
            r2s = [m["r2"] for m in entry.values() if isinstance(m, dict) and "r2" in m and "r2_std" in m]
            if not r2s:
                continue
            score = sum(r2s) / len(r2s)
            if best is None or score > best["mean_r2"]:
                best = {"feature_set": feature_set, "model": model, "mean_r2": round(score, 6)}
    return best


def write_report(params: dict[str, Any], models_dir: str | Path = "models", reports_dir: str | Path = "reports") -> dict[str, Any]:
    """Write reports/metrics.json for the feature sets and models listed in params."""
    metrics = collect_metrics(params["features"]["sets"], params["train"]["models"], models_dir)
    best = best_static_model(metrics)
    report = {**metrics, "best": best or {}}
    write_json(Path(reports_dir) / "metrics.json", report)
    return report
