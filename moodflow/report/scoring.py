"""Intervals, the chance baseline and significance for the report (moodflow.evaluation.significance).

Each prediction table (a model's ``predictions.csv``, or one trivial predictor's rows of
``baseline_predictions.csv``) becomes :class:`Scores`: every metric per CV fold (mean and
corrected resampled t interval), or, for a single split, on the whole test set and on seeded
bootstrap resamples of its tracks (percentile interval). Two Scores on the same folds (or the
same test tracks) give a :class:`~moodflow.evaluation.significance.Comparison`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from moodflow.evaluation.significance import (
    BOOTSTRAP_RESAMPLES, Comparison, Interval, bootstrap_indices, bootstrap_interval, bootstrap_metrics,
    corrected_interval, corrected_resampled_ttest, fold_keys, holdout_ratio, paired_bootstrap, resample_counts,
)
from moodflow.evaluation.summary import metrics_from_predictions

# the metric each task is judged by (best model, chance, significance)
HEADLINE = {"static": "r2", "dynamic": "r2", "classification": "macro_f1", "tagging": "pr_auc"}
_COUNTS = ("n_folds", "n_tracks", "n_frames", "n_tags")
Key = tuple  # (task, target, metric)


def _flatten(summary: dict[str, Any]) -> dict[Key, float]:
    out: dict[Key, float] = {}
    for task, per_target in summary.items():
        for target, metrics in (per_target or {}).items():
            for metric, value in (metrics or {}).items():
                if metric.endswith("_std") or metric in _COUNTS or not isinstance(value, (int, float)):
                    continue
                out[(task, str(target), metric)] = float(value) if value is not None else np.nan
    return out


@dataclass
class Scores:
    """Every metric of one prediction table, per unit: CV folds, or bootstrap resamples of a split."""

    kind: str  # "folds" | "bootstrap"
    observed: dict  # Key -> the reported value (mean over folds, or on the whole test set)
    units: pd.DataFrame  # index: fold key / resample number; columns: Keys
    tracks: dict  # (task, target) -> distinct held-out tracks
    test_sets: dict = field(default_factory=dict)  # fold key -> frozenset of test tracks (folds)
    track_list: tuple = ()  # bootstrap: the resampled tracks, sorted
    ratio: float | None = None  # folds: mean n_test / n_train

    def value(self, key: Key) -> float:
        return float(self.observed.get(key, np.nan))

    def interval(self, key: Key) -> Interval:
        if key not in self.units.columns:
            return Interval(self.value(key), np.nan, np.nan, "", 0)
        if self.kind == "folds":
            found = corrected_interval(self.units[key].to_numpy(), self.ratio or 0.0)
        else:
            found = bootstrap_interval(self.value(key), self.units[key].to_numpy(), len(self.track_list))
        return found.clipped(key[2])

    def with_mean(self, keys: list[Key], name: Key) -> "Scores":
        """A copy with one more column: the mean of ``keys`` per unit (e.g. R² over targets)."""
        present = [k for k in keys if k in self.units.columns]
        units = self.units.copy()
        units[name] = units[present].mean(axis=1, skipna=False) if present else np.nan
        observed = dict(self.observed)
        observed[name] = float(np.mean([self.value(k) for k in keys])) if present else np.nan
        return Scores(self.kind, observed, units, self.tracks, self.test_sets, self.track_list, self.ratio)


def _units_frame(values: dict[Any, dict[Key, float]]) -> pd.DataFrame:
    frame = pd.DataFrame.from_dict(values, orient="index")
    frame.columns = pd.Index(list(frame.columns), tupleize_cols=False)
    return frame


def _tracks(predictions: pd.DataFrame) -> dict[tuple[str, str], int]:
    out = {}
    for (task, target), g in predictions.groupby(["task", "target"], sort=False):
        out[(task, "tags" if task == "tagging" else str(target))] = int(g["track_id"].nunique())
    return out


def score_predictions(predictions: pd.DataFrame, classes: list[str] | None, *, seed: int = 0,
                      fold_sizes: dict[str, tuple[int, int]] | None = None,
                      resamples: int = BOOTSTRAP_RESAMPLES) -> Scores:
    """Scores of one prediction table (columns as predictions.csv)."""
    keys = fold_keys(predictions)
    units = sorted(set(keys))
    if len(units) >= 2:
        per_fold = {k: _flatten(metrics_from_predictions(g, classes)) for k, g in predictions.groupby(keys, sort=True)}
        frame = _units_frame(per_fold)
        observed = {k: float(np.nanmean(frame[k].to_numpy())) if frame[k].notna().any() else np.nan
                    for k in frame.columns}
        test_sets = {k: frozenset(g["track_id"]) for k, g in predictions.groupby(keys, sort=True)}
        return Scores("folds", observed, frame, _tracks(predictions), test_sets,
                      ratio=holdout_ratio(predictions, fold_sizes))
    observed = _flatten(metrics_from_predictions(predictions, classes))
    tracks = tuple(sorted(set(predictions["track_id"])))
    counts = resample_counts(bootstrap_indices(len(tracks), resamples=resamples, seed=seed))
    resampled = bootstrap_metrics(predictions, classes, tracks, counts)
    return Scores("bootstrap", observed, resampled, _tracks(predictions), track_list=tracks)


def compare(a: Scores, b: Scores, key: Key) -> tuple[Comparison | None, str]:
    """A − B on ``key`` over the same folds or test tracks, or None with the reason."""
    if key not in a.units.columns or key not in b.units.columns:
        return None, "not scored by both"
    if a.kind != b.kind:
        return None, "one is cross-validated, the other a single split"
    if a.kind == "folds":  # the folds both scored (a fold one of them marked diverged is left out)
        common = [k for k in a.units.index if k in b.units.index]
        if any(a.test_sets.get(k) != b.test_sets.get(k) for k in common):
            return None, "not on the same folds (their test tracks differ)"
        x, y = a.units[key].loc[common].to_numpy(float), b.units[key].loc[common].to_numpy(float)
        keep = np.isfinite(x) & np.isfinite(y)
        if keep.sum() < 2:
            return None, "fewer than 2 folds scored by both"
        return corrected_resampled_ttest(x[keep], y[keep], a.ratio or 0.0), ""
    if a.track_list != b.track_list:
        return None, "not on the same test tracks"
    try:
        return paired_bootstrap(a.value(key), b.value(key), a.units[key].to_numpy(), b.units[key].to_numpy(),
                                len(a.track_list)), ""
    except ValueError as exc:
        return None, str(exc)
