"""The significance statistics (moodflow.evaluation.significance): a hand-computed case, scipy's
t distribution and paired t-test, the paired bootstrap, and fold scores from saved predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from moodflow.evaluation.significance import (
    bootstrap_indices, bootstrap_scores, corrected_interval, corrected_resampled_ttest, fold_scores, fold_sizes,
    paired_bootstrap, holdout_ratio,
)
from moodflow.evaluation.summary import metrics_from_predictions

A = [0.80, 0.70, 0.90, 0.60, 0.75]
B = [0.70, 0.72, 0.80, 0.55, 0.70]


def test_corrected_t_by_hand():
    """5-fold CV (n_test/n_train = 1/4). d = A − B = [0.10, −0.02, 0.10, 0.05, 0.05]:
    mean 0.056; squared deviations 0.001936, 0.005776, 0.001936, 0.000036, 0.000036 sum to
    0.00972, so s² = 0.00972 / 4 = 0.00243. Corrected variance (1/5 + 1/4) · s² = 0.0010935,
    se = 0.0330681, t = 0.056 / 0.0330681 = 1.69347 with 4 dof; t(0.975, 4) = 2.7764 (tables),
    interval 0.056 ± 2.7764 · 0.0330681 = [−0.03581, 0.14781]: includes 0, so no verdict.
    Uncorrected: se = √(0.00243 / 5) = 0.0220454, t = 2.54021."""
    c = corrected_resampled_ttest(A, B, 0.25)
    assert c.difference == pytest.approx(0.056)
    assert c.t == pytest.approx(1.69347, abs=1e-5) and c.dof == 4 and c.n == 5
    assert (c.low, c.high) == (pytest.approx(-0.03581, abs=1e-4), pytest.approx(0.14781, abs=1e-4))
    assert not c.significant and c.better() == 0
    plain = corrected_resampled_ttest(A, B, 0.25, corrected=False)
    assert plain.t == pytest.approx(2.54021, abs=1e-5)
    assert plain.method == "paired t" and c.method == "corrected t"


@pytest.mark.parametrize("n,ratio,seed", [(5, 0.25, 0), (10, 1 / 9, 1), (200, 1 / 9, 2), (30, 0.5, 3)])
def test_against_scipy(n, ratio, seed):
    rng = np.random.default_rng(seed)
    a = 0.7 + 0.05 * rng.standard_normal(n)
    b = a - 0.01 + 0.03 * rng.standard_normal(n)
    # switched off, the correction leaves scipy's paired t-test: statistic, p and interval
    plain = corrected_resampled_ttest(a, b, ratio, corrected=False)
    ref = stats.ttest_rel(a, b)
    assert plain.t == pytest.approx(ref.statistic, rel=1e-12)
    assert plain.p == pytest.approx(ref.pvalue, rel=1e-9)
    ci = ref.confidence_interval(0.95)
    assert (plain.low, plain.high) == (pytest.approx(ci.low, rel=1e-9), pytest.approx(ci.high, rel=1e-9))
    # corrected: the same t scaled by √((1/n) / (1/n + ratio)), p and quantile from scipy.stats.t
    c = corrected_resampled_ttest(a, b, ratio)
    assert c.t == pytest.approx(ref.statistic * np.sqrt((1 / n) / (1 / n + ratio)), rel=1e-12)
    assert c.p == pytest.approx(2 * stats.t.sf(abs(c.t), n - 1), rel=1e-12)
    se = np.sqrt((1 / n + ratio) * np.var(a - b, ddof=1))
    q = stats.t.ppf(0.975, n - 1)
    assert (c.low, c.high) == (pytest.approx(np.mean(a - b) - q * se), pytest.approx(np.mean(a - b) + q * se))
    assert c.p > plain.p  # the correction only ever widens


def test_interval_of_one_model_and_degenerate_cases():
    iv = corrected_interval(A, 0.25)
    s2 = np.var(A, ddof=1)
    half = stats.t.ppf(0.975, 4) * np.sqrt((1 / 5 + 0.25) * s2)
    assert (iv.value, iv.low, iv.high) == (pytest.approx(0.75), pytest.approx(0.75 - half), pytest.approx(0.75 + half))
    assert iv.clipped("macro_f1").high <= 1.0 and corrected_interval([0.98, 0.99, 1.0], 0.5).clipped("accuracy").high == 1
    same = corrected_resampled_ttest(A, A, 0.25)  # identical models: difference 0, p 1
    assert same.difference == 0 and same.p == 1 and not same.significant
    shifted = corrected_resampled_ttest(np.array(A) + 0.1, A, 0.25)  # better by exactly 0.1 on every fold
    assert shifted.low == shifted.high == pytest.approx(0.1) and shifted.better() == 1
    with pytest.raises(ValueError, match="≥ 2"):
        corrected_resampled_ttest([0.5], [0.4], 0.25)


def test_paired_bootstrap_is_seeded_and_paired():
    rng = np.random.default_rng(0)
    y = rng.standard_normal(120)
    good, noisy = y + 0.3 * rng.standard_normal(120), y + 1.2 * rng.standard_normal(120)
    mse = lambda pred: (lambda rows: -float(np.mean((y[rows] - pred[rows]) ** 2)))  # noqa: E731 - higher is better
    idx = bootstrap_indices(len(y), resamples=500, seed=7)
    assert (idx == bootstrap_indices(len(y), resamples=500, seed=7)).all()  # seeded: same resamples
    full = np.arange(len(y))
    c = paired_bootstrap(mse(good)(full), mse(noisy)(full), bootstrap_scores(mse(good), idx),
                         bootstrap_scores(mse(noisy), idx), len(y))
    assert c.method == "paired bootstrap" and c.n == 120 and c.better() == 1 and c.p < 0.01
    assert c.low < c.difference < c.high
    tie = paired_bootstrap(0.0, 0.0, bootstrap_scores(mse(good), idx), bootstrap_scores(mse(good), idx), len(y))
    assert (tie.low, tie.high, tie.p) == (0.0, 0.0, 1.0) and not tie.significant
    # a paired test sees a small, consistent difference that unpaired spreads would hide
    slightly = good - 0.02 * np.sign(good - y)
    c2 = paired_bootstrap(mse(slightly)(full), mse(good)(full), bootstrap_scores(mse(slightly), idx),
                          bootstrap_scores(mse(good), idx), len(y))
    assert c2.better() == 1


def _predictions(n_tracks=40, folds=4, repeats=3, seed=0):
    rng = np.random.default_rng(seed)
    ids = np.array([f"t{i:02d}" for i in range(n_tracks)])
    y = rng.normal(5, 1, n_tracks)
    rows = []
    for r in range(repeats):
        order = rng.permutation(n_tracks)
        for k in range(folds):
            for i in order[k::folds]:
                rows.append({"task": "static", "track_id": ids[i], "time_s": np.nan, "fold": f"r{r}f{k}",
                             "target": "valence", "y_true": y[i], "y_pred": y[i] + rng.normal(0, 0.5)})
    return pd.DataFrame(rows)


def test_fold_scores_are_the_reported_numbers():
    preds = _predictions()
    per_fold = fold_scores(preds, "static", "valence", "r2")
    summary = metrics_from_predictions(preds)["static"]["valence"]
    assert len(per_fold) == 12 and per_fold.mean() == pytest.approx(summary["r2"], rel=1e-12)
    assert per_fold.std(ddof=0) == pytest.approx(summary["r2_std"], rel=1e-9)
    assert set(fold_sizes(preds).values()) == {(30, 10)} and holdout_ratio(preds) == pytest.approx(1 / 3)
    # a `repeat` column makes (repeat, fold) the unit; sizes from model.json win where given
    with_repeat = preds.assign(repeat=preds["fold"].str[1], fold=preds["fold"].str[3])
    assert list(fold_scores(with_repeat, "static", "valence", "r2").round(12)) == list(per_fold.round(12))
    assert holdout_ratio(with_repeat, {"0/0": (20, 10)}) == pytest.approx((0.5 + 11 / 3) / 12)


def _all_tasks(n=30, seed=0):
    """A single-split prediction table with every task: static, dynamic, classification, tagging."""
    rng = np.random.default_rng(seed)
    rows = []
    classes = ["calm", "sad", "happy"]
    for i in range(n):
        t = f"x{i:02d}"
        base = {"track_id": t, "fold": "split", "time_s": np.nan}
        for target in ("valence", "arousal"):
            y = rng.uniform(1, 9)
            rows.append({**base, "task": "static", "target": target, "y_true": y, "y_pred": y + rng.normal(0, 1)})
        for step in range(int(rng.integers(3, 8))):
            y = rng.normal()
            rows.append({**base, "task": "dynamic", "target": "arousal", "time_s": 15 + 0.5 * step, "y_true": y,
                         "y_pred": y + rng.normal(0, 0.7)})
        truth = classes[i % 3]
        rows.append({**base, "task": "classification", "target": "mood", "y_true": truth,
                     "y_pred": truth if rng.random() < 0.6 else str(rng.choice(classes))})
        for tag in ("epic", "dark", "fun"):
            rows.append({**base, "task": "tagging", "target": tag, "y_true": float(rng.random() < 0.4),
                         "y_pred": float(rng.random())})
    return pd.DataFrame(rows), classes


def test_vectorised_resample_metrics_are_the_metric_code():
    """The bootstrap scores each resample without pandas; its numbers must be metrics_from_predictions'
    — on the full set (every count 1) and on a resample that draws tracks twice (as separate tracks)."""
    from moodflow.evaluation.significance import bootstrap_metrics, resample_counts

    preds, classes = _all_tasks()
    tracks = sorted(set(preds["track_id"]))
    draw = np.array([[i % 10 for i in range(len(tracks))]])  # tracks 0..9, each three times
    table = bootstrap_metrics(preds, classes, tracks, np.vstack([np.ones(len(tracks)), resample_counts(draw)]))
    copies = []
    for k, i in enumerate(draw[0]):
        copies.append(preds[preds["track_id"] == tracks[i]].assign(track_id=f"copy{k}"))
    for row, frame in ((0, preds), (1, pd.concat(copies, ignore_index=True))):
        expected = metrics_from_predictions(frame, classes)
        checked = 0
        for (task, target, metric), values in table.items():
            want = expected[task][target][metric]
            assert values[row] == pytest.approx(want, rel=1e-9, abs=1e-12), (row, task, target, metric)
            checked += 1
        assert checked == 3 + 3 + 6 + 4 + 3
