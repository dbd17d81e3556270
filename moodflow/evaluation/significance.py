"""Is model A better than model B, or than chance, on the same held-out data?

- (Repeated) k-fold CV: the corrected resampled t-test (Nadeau & Bengio 2003, as used for
  repeated k-fold by Bouckaert & Frank 2004). Folds share training data, so the fold scores are
  correlated and the plain paired t-test's variance ``s²/n`` is far too small; the corrected
  variance is ``(1/n + n_test/n_train) · s²`` over the ``n = k·r`` fold differences, with a t
  distribution of ``n − 1`` degrees of freedom. Switched off (``corrected=False``) it is the
  paired t-test (``scipy.stats.ttest_rel``).
- A single split: a paired bootstrap over the test tracks (both models scored on the same
  resampled tracks, seeded), percentile interval, two-sided p from the share of resampled
  differences on the other side of 0.

Every result carries the mean difference, its 95 % interval and p; :attr:`Comparison.better`
says "A is better than B" only when the interval excludes 0. The fold scores themselves come
from :func:`moodflow.evaluation.summary.metrics_from_predictions` (see :func:`fold_scores`), so a
test compares exactly the numbers the report shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from moodflow.evaluation.summary import metrics_from_predictions

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 1000
LOWER_IS_BETTER = frozenset({"rmse", "rmse_song"})
# the values a metric can take: an interval is clipped to them (a symmetric t interval of a mean
# F1 near 1 would otherwise reach past 1)
METRIC_RANGE = {"r2": (-np.inf, 1.0), "rmse": (0.0, np.inf), "rmse_song": (0.0, np.inf), "pearson": (-1.0, 1.0),
                "pearson_song": (-1.0, 1.0), "kendall_tau": (-1.0, 1.0), "macro_f1": (0.0, 1.0),
                "weighted_f1": (0.0, 1.0), "weighted_pr_f1": (0.0, 1.0), "accuracy": (0.0, 1.0), "pr_auc": (0.0, 1.0),
                "roc_auc": (0.0, 1.0), "pr_auc_micro": (0.0, 1.0)}


@dataclass(frozen=True)
class Comparison:
    """A − B on the same data: mean difference, its interval, p, and how it was tested."""

    difference: float
    low: float
    high: float
    p: float
    method: str  # "corrected t" | "paired t" | "paired bootstrap"
    n: int  # folds (t-tests) or test tracks (bootstrap)
    dof: int | None = None
    t: float | None = None

    @property
    def significant(self) -> bool:
        """The interval excludes 0."""
        return bool(self.low > 0 or self.high < 0)

    def better(self, lower_is_better: bool = False) -> int:
        """+1 when A is significantly better than B, −1 when worse, 0 when not distinguishable."""
        if not self.significant:
            return 0
        sign = 1 if self.difference > 0 else -1
        return -sign if lower_is_better else sign


@dataclass(frozen=True)
class Interval:
    """A mean (or a statistic) with its 95 % interval and what it rests on."""

    value: float
    low: float
    high: float
    method: str
    n: int

    def clipped(self, metric: str) -> "Interval":
        """The interval within the values ``metric`` can take."""
        lo, hi = METRIC_RANGE.get(metric, (-np.inf, np.inf))
        return Interval(self.value, float(np.clip(self.low, lo, hi)), float(np.clip(self.high, lo, hi)),
                        self.method, self.n)


def _t_quantile(dof: int, confidence: float) -> float:
    return float(stats.t.ppf(0.5 + confidence / 2, dof))


def corrected_resampled_ttest(a: Sequence[float], b: Sequence[float], test_train_ratio: float, *,
                              corrected: bool = True, confidence: float = CONFIDENCE) -> Comparison:
    """Paired fold scores ``a`` and ``b`` (same folds, same order) of k-fold CV repeated r times.

    ``test_train_ratio``: n_test / n_train of a fold (mean over the folds). With
    ``corrected=False`` the variance is the paired t-test's ``s²/n``.
    """
    d = np.asarray(a, float) - np.asarray(b, float)
    if d.ndim != 1 or len(d) < 2 or not np.all(np.isfinite(d)):
        raise ValueError(f"need ≥ 2 finite paired fold scores, got {len(d)}")
    if not (np.isfinite(test_train_ratio) and test_train_ratio >= 0):
        raise ValueError(f"n_test/n_train must be ≥ 0, got {test_train_ratio}")
    n = len(d)
    mean = float(d.mean())
    factor = 1.0 / n + (float(test_train_ratio) if corrected else 0.0)
    se = float(np.sqrt(factor * d.var(ddof=1)))
    dof = n - 1
    method = "corrected t" if corrected else "paired t"
    if se == 0.0:  # every fold differs by the same amount: no spread to test against
        p = 1.0 if mean == 0 else 0.0
        return Comparison(mean, mean, mean, p, method, n, dof, None)
    t = mean / se
    half = _t_quantile(dof, confidence) * se
    p = float(2 * stats.t.sf(abs(t), dof))
    return Comparison(mean, mean - half, mean + half, p, method, n, dof, float(t))


def corrected_interval(scores: Sequence[float], test_train_ratio: float, *,
                       confidence: float = CONFIDENCE) -> Interval:
    """Mean of one model's fold scores with the corrected resampled t interval."""
    x = np.asarray(scores, float)
    x = x[np.isfinite(x)]
    if len(x) < 2:
        value = float(x[0]) if len(x) else float("nan")
        return Interval(value, float("nan"), float("nan"), "corrected t", len(x))
    se = float(np.sqrt((1.0 / len(x) + test_train_ratio) * x.var(ddof=1)))
    half = _t_quantile(len(x) - 1, confidence) * se
    return Interval(float(x.mean()), float(x.mean() - half), float(x.mean() + half), "corrected t", len(x))


def bootstrap_indices(n: int, *, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> np.ndarray:
    """(resamples, n) indices into the n test tracks, the same for every model (paired)."""
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def bootstrap_scores(score: Callable[[np.ndarray], float], indices: np.ndarray) -> np.ndarray:
    """``score`` (a function of track indices) on every resample."""
    return np.array([score(rows) for rows in indices], dtype=float)


def paired_bootstrap(observed_a: float, observed_b: float, resampled_a: np.ndarray, resampled_b: np.ndarray,
                     n_tracks: int, *, confidence: float = CONFIDENCE) -> Comparison:
    """A − B from both models' scores on the same bootstrap resamples of the test tracks.

    Percentile interval; two-sided p = 2 · min(share ≤ 0, share ≥ 0) with the add-one rule (never
    0). Resamples where either score is undefined (e.g. R² of constant labels) are left out.
    """
    d = np.asarray(resampled_a, float) - np.asarray(resampled_b, float)
    d = d[np.isfinite(d)]
    if len(d) < 10:
        raise ValueError(f"only {len(d)} bootstrap resamples gave a score")
    alpha = (1 - confidence) / 2
    low, high = np.quantile(d, [alpha, 1 - alpha])
    below, above = (1 + np.sum(d <= 0)) / (len(d) + 1), (1 + np.sum(d >= 0)) / (len(d) + 1)
    p = float(min(1.0, 2 * min(below, above)))
    return Comparison(float(observed_a - observed_b), float(low), float(high), p, "paired bootstrap", int(n_tracks))


def bootstrap_interval(observed: float, resampled: np.ndarray, n: int, *, confidence: float = CONFIDENCE) -> Interval:
    """A statistic on the test set with its percentile bootstrap interval."""
    r = np.asarray(resampled, float)
    r = r[np.isfinite(r)]
    if len(r) < 10:
        return Interval(float(observed), float("nan"), float("nan"), "bootstrap", n)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(r, [alpha, 1 - alpha])
    return Interval(float(observed), float(low), float(high), "bootstrap", n)


# -- scores of saved predictions -------------------------------------------------------------------
def fold_keys(predictions: pd.DataFrame) -> pd.Series:
    """The CV unit of each row: ``fold``, or ``repeat``/``fold`` when a ``repeat`` column exists."""
    fold = predictions["fold"].astype(str)
    if "repeat" in predictions.columns:
        return predictions["repeat"].astype(str) + "/" + fold
    return fold


def score_of(rows: pd.DataFrame, task: str, target: str, metric: str, classes: list[str] | None) -> float:
    """One number: ``metric`` of ``target`` (``tags`` for tagging) on these prediction rows,
    computed by metrics_from_predictions (so it is the number the report's tables average)."""
    if not len(rows):
        return float("nan")
    summary = metrics_from_predictions(rows.assign(task=task), classes)
    entry = (summary.get(task) or {}).get(target) or {}
    value = entry.get(metric)
    return float(value) if value is not None else float("nan")


def fold_scores(rows: pd.DataFrame, task: str, target: str, metric: str,
                classes: list[str] | None = None) -> pd.Series:
    """``metric`` per CV fold (index: the fold key), on rows of one task (all targets for tagging)."""
    if task != "tagging":
        rows = rows[rows["target"].astype(str) == str(target)]
    keys = fold_keys(rows)
    out = {key: score_of(g, task, target, metric, classes) for key, g in rows.groupby(keys, sort=True)}
    return pd.Series(out, dtype=float)


def fold_sizes(rows: pd.DataFrame) -> dict[str, tuple[int, int]]:
    """(n_train, n_test) per fold key from a CV prediction table: the tracks a fold tests, and the
    other tracks its repeat tests (every track is tested once per repeat)."""
    keys = fold_keys(rows)
    if "repeat" in rows.columns:
        repeat_of = rows["repeat"].astype(str)
    else:
        repeat_of = rows["fold"].astype(str).str.split("f").str[0]
    per_repeat = rows.groupby(repeat_of.to_numpy())["track_id"].nunique()
    out = {}
    for key, g in rows.groupby(keys, sort=True):
        n_test = int(g["track_id"].nunique())
        out[str(key)] = (int(per_repeat.get(repeat_of.loc[g.index[0]], 0)) - n_test, n_test)
    return out


def holdout_ratio(rows: pd.DataFrame, sizes: dict[str, tuple[int, int]] | None = None) -> float:
    """Mean n_test/n_train over the folds of ``rows``: from ``sizes`` (fold key → (n_train,
    n_test), as the model folder records them) where given, else from the predictions."""
    known = dict(fold_sizes(rows))
    known.update({k: v for k, v in (sizes or {}).items() if k in known})
    ratios = [n_test / n_train for n_train, n_test in known.values() if n_train > 0]
    if not ratios:
        raise ValueError("cannot tell the folds' training sizes")
    return float(np.mean(ratios))


# -- the metrics of bootstrap resamples, vectorised ------------------------------------------------
# A resample is a count per test track (how often it was drawn). Static and dynamic metrics and
# the classification metrics are sums over tracks, so all resamples are one matrix product of
# the counts with per-track statistics; per-song dynamic metrics are per-song values averaged with
# the counts as weights. The definitions are those of moodflow.evaluation.metrics (a test checks
# that the all-ones resample gives metrics_from_predictions' numbers); tagging calls
# tagging_metrics on each resample.
def resample_counts(draws: np.ndarray) -> np.ndarray:
    """(resamples, n) draws of track indices → (resamples, n) counts."""
    counts = np.zeros(draws.shape, dtype=float)
    np.add.at(counts, (np.repeat(np.arange(draws.shape[0]), draws.shape[1]), draws.ravel()), 1.0)
    return counts


def _sums(rows: pd.DataFrame, position: dict[str, int], n: int) -> np.ndarray:
    """Per track: count, Σy, Σp, Σy², Σp², Σyp, Σ(y−p)² of its rows (zeros for absent tracks)."""
    y, p = rows["y_true"].to_numpy(float), rows["y_pred"].to_numpy(float)
    where = rows["track_id"].map(position).to_numpy()
    out = np.zeros((n, 7))
    for col, values in enumerate((np.ones_like(y), y, p, y * y, p * p, y * p, (y - p) ** 2)):
        np.add.at(out[:, col], where, values)
    return out


def _pooled(sums: np.ndarray) -> dict[str, np.ndarray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        n, sy, sp, syy, spp, syp, sres = sums.T
        ss_y, ss_p = syy - sy * sy / n, spp - sp * sp / n
        tiny = 1e-12 * np.maximum(syy, 1e-300)
        r2 = np.where(ss_y > tiny, 1.0 - sres / ss_y, np.nan)
        r = np.where((ss_y > tiny) & (ss_p > 1e-12 * np.maximum(spp, 1e-300)),
                     (syp - sy * sp / n) / np.sqrt(ss_y * ss_p), np.nan)
        return {"r2": r2, "rmse": np.sqrt(sres / n), "pearson": np.where(n >= 2, r, np.nan)}


def _classification(rows: pd.DataFrame, classes: list[str], position: dict[str, int], n: int,
                    counts: np.ndarray) -> dict[str, np.ndarray]:
    k = len(classes)
    index = {str(c): i for i, c in enumerate(classes)}
    t = rows["y_true"].astype(str).map(index).to_numpy()
    p = rows["y_pred"].astype(str).map(index).to_numpy()
    where = rows["track_id"].map(position).to_numpy()
    cells = np.zeros((n, k * k + 1))  # the confusion cells, and the rows counted by accuracy
    known = ~(pd.isna(t) | pd.isna(p))
    np.add.at(cells, (where[known], (t[known] * k + p[known]).astype(int)), 1.0)
    np.add.at(cells[:, -1], where, 1.0)
    total = counts @ cells
    conf = total[:, :-1].reshape(-1, k, k)
    tp = np.diagonal(conf, axis1=1, axis2=2)
    support, predicted = conf.sum(axis=2), conf.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
        weight = support / support.sum(axis=1, keepdims=True)
        pw, rw = (weight * precision).sum(axis=1), (weight * recall).sum(axis=1)
        return {"macro_f1": f1.mean(axis=1), "weighted_f1": (weight * f1).sum(axis=1),
                "weighted_pr_f1": np.where(pw + rw > 0, 2 * pw * rw / (pw + rw), 0.0),
                "accuracy": tp.sum(axis=1) / total[:, -1]}


def _dynamic(rows: pd.DataFrame, position: dict[str, int], n: int, counts: np.ndarray) -> dict[str, np.ndarray]:
    from moodflow.evaluation.metrics import kendall_tau, pearson, rmse

    out = _pooled(counts @ _sums(rows, position, n))
    per_song = np.full((n, 3), np.nan)
    for track, g in rows.groupby("track_id", sort=False):
        y, p = g["y_true"].to_numpy(float), g["y_pred"].to_numpy(float)
        per_song[position[track]] = (rmse(y, p), pearson(y, p), kendall_tau(y, p))
    for col, name in enumerate(("rmse_song", "pearson_song", "kendall_tau")):
        ok = np.isfinite(per_song[:, col])
        weights = counts[:, ok]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[name] = (weights @ per_song[ok, col]) / weights.sum(axis=1)
    return out


def _tagging(rows: pd.DataFrame, position: dict[str, int], counts: np.ndarray) -> dict[str, np.ndarray]:
    from moodflow.evaluation.metrics import tagging_metrics

    truth = rows.pivot(index="track_id", columns="target", values="y_true").astype(float)
    score = rows.pivot(index="track_id", columns="target", values="y_pred").astype(float)[truth.columns]
    at = np.array([position[t] for t in truth.index])
    found: dict[str, list[float]] = {"pr_auc": [], "roc_auc": [], "pr_auc_micro": []}
    for weights in counts[:, at]:
        rows_drawn = np.repeat(np.arange(len(at)), weights.astype(int))
        m = tagging_metrics(truth.to_numpy()[rows_drawn], score.to_numpy()[rows_drawn])
        for name in found:
            found[name].append(m[name])
    return {name: np.array(v) for name, v in found.items()}


def bootstrap_metrics(predictions: pd.DataFrame, classes: list[str] | None, tracks: Sequence[str],
                      counts: np.ndarray) -> pd.DataFrame:
    """Every metric of ``predictions`` on each resample: rows resamples, columns (task, target, metric)
    as metrics_from_predictions names them. ``counts``: (resamples, len(tracks)) draws per track."""
    position = {t: i for i, t in enumerate(tracks)}
    n = len(tracks)
    columns: dict[tuple, np.ndarray] = {}
    task = predictions["task"] if "task" in predictions.columns else pd.Series("static", index=predictions.index)
    for kind in ("static", "dynamic", "classification"):
        rows = predictions[task == kind]
        for target, g in rows.groupby("target", sort=False):
            if kind == "static":
                found = _pooled(counts @ _sums(g, position, n))
            elif kind == "dynamic":
                found = _dynamic(g, position, n, counts)
            else:
                names = classes or [c.removeprefix("score_") for c in g.columns if c.startswith("score_")]
                found = _classification(g, names, position, n, counts)
            columns.update({(kind, str(target), metric): v for metric, v in found.items()})
    if (task == "tagging").any():
        columns.update({("tagging", "tags", m): v for m, v in _tagging(predictions[task == "tagging"], position,
                                                                        counts).items()})
    frame = pd.DataFrame(columns, index=pd.RangeIndex(counts.shape[0]))
    frame.columns = pd.Index(list(columns), tupleize_cols=False)
    return frame
