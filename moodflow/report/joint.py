"""The report's joint-training table, in the shape of Music2Emo's: rows are training regimes
(Music2Emo alone on each dataset, Music2Emo on all four, and each of our joint runs), columns
are datasets × metric; every number of ours is on its dataset's own scale and recomputed from the
run's predictions.csv."""

from __future__ import annotations

from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from moodflow.evaluation.joint import per_dataset_metrics
from moodflow.report.document import Paragraph, Plain, Row, Section, Table
from moodflow.report.tables import Run, read_predictions

# (section of a dataset's metrics, target, metric, column title)
_COLUMNS = [("static", "valence", "r2", "V R²"), ("static", "arousal", "r2", "A R²"),
            ("tagging", "tags", "pr_auc", "PR-AUC"), ("tagging", "tags", "roc_auc", "ROC-AUC")]


def load_joint_references() -> pd.DataFrame:
    """Music2Emo's published single-dataset and joint (J+D+E+P) numbers."""
    with resources.files("moodflow.report").joinpath("references_joint.csv").open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, dtype={"value": float})


def _value(metrics: dict[str, Any], section: str, target: str, metric: str) -> float:
    m = (metrics.get(section) or {}).get(target) or {}  # tagging: one macro summary, target "tags"
    value = m.get(metric)
    return float(value) if value is not None else np.nan


def joint_section(runs: list[Run], refs: pd.DataFrame | None = None) -> Section | None:
    """The "Joint training" section for the joint runs among ``runs`` (None when none)."""
    joint = [r for r in runs if r.ok and (r.manifest.get("members") or {})
             and (r.manifest.get("protocol") or {}).get("kind") != "cross"]  # cross runs: their own section
    if not joint:
        return None
    refs = load_joint_references() if refs is None else refs
    described = {name: m for r in joint for name, m in r.manifest["members"].items()}
    members = list(described)
    columns = []
    for name in members:
        for section, target, metric, title in _COLUMNS:
            labelled = described[name].get("static_targets") if section == "static" else described[name].get("tags")
            has_ours = section == "static" and target in (labelled or []) or section == "tagging" and bool(labelled)
            has_ref = ((refs["dataset"] == name) & (refs["target"] == target) & (refs["metric"] == metric)).any()
            if has_ours or has_ref:
                columns.append((name, section, target, metric, f"{name} {title}"))
    rows = []
    for training, group in refs[refs["dataset"].isin(members)].groupby("training", sort=False):
        by = {(g.dataset, g.target, g.metric): g.value for g in group.itertuples()}
        rows.append(Row([f"{group['system'].iloc[0]}, {training} (published)"]
                        + [_cell(by.get((n, t, m), np.nan)) for n, _, t, m, _ in columns]))
    for run in joint:
        scores = _scores(run)
        label = f"ours: {run.feature_set}/{run.model}, {'+'.join(run.manifest['members'])} joint"
        rows.append(Row([label] + [_cell(_value(scores.get(n, {}), s, t, m), scores.get(n, {}).get("status"),
                                         _tracks(scores.get(n, {}), s, t)) for n, s, t, m, _ in columns]))
        taught = run.folder / "teacher_predictions.csv"
        if taught.exists():  # distillation: the per-dataset teachers of the same folds, beside the student
            scores = per_dataset_metrics(read_predictions(taught), run.manifest["members"],
                                         int((run.manifest.get("train_settings") or {}).get("min_test", 5)))
            rows.append(Row([f"ours: {run.feature_set}/{run.model}, teachers (one per dataset, same folds)"]
                            + [_cell(_value(scores.get(n, {}), s, t, m), scores.get(n, {}).get("status"),
                                     _tracks(scores.get(n, {}), s, t)) for n, s, t, m, _ in columns]))
    intro = Paragraph([
        "One model trained on every dataset of the experiment at once (labels on one training scale, "
        "docs/datasets.md), each dataset scored alone on its own held-out tracks and on its own label "
        "scale, beside Music2Emo's table (Kang & Herremans 2025). Published rows use Music2Emo's fixed "
        "splits and MERT + chord/key features; ours use this run's protocol and features, with the number "
        "of held-out tracks in brackets (n)."])
    return Section(["Joint training"], 2, [intro, Table(["training"] + [c[4] for c in columns], rows)])


def _tracks(metrics: dict[str, Any], section: str, target: str) -> int:
    m = (metrics.get(section) or {}).get(target) or {}
    return int(m.get("n_tracks") or 0)


def _scores(run: Run) -> dict[str, Any]:
    """Per-dataset metrics recomputed from the run's predictions (never read back from JSON)."""
    return per_dataset_metrics(run.predictions, run.manifest["members"],
                               int((run.manifest.get("train_settings") or {}).get("min_test", 5)))


def _cell(value: float, status: str | None = None, tracks: int = 0) -> list | Plain:
    if status:
        return ["— (", str(status), ")"]
    if not np.isfinite(value):
        return Plain("—")
    return Plain(f"{value:.3f}" + (f" (n {tracks})" if tracks else ""))
