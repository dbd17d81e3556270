import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import average_precision_score, f1_score, precision_score, r2_score, recall_score

from moodflow.evaluation.metrics import (
    classification_metrics, dynamic_metrics, regression_metrics, tagging_metrics,
)


def test_regression_metrics_match_references():
    rng = np.random.default_rng(0)
    y = rng.normal(size=50)
    p = y + rng.normal(scale=0.5, size=50)
    m = regression_metrics(y, p)
    assert m["r2"] == pytest.approx(r2_score(y, p))
    assert m["rmse"] == pytest.approx(np.sqrt(np.mean((y - p) ** 2)))
    assert m["pearson"] == pytest.approx(stats.pearsonr(y, p)[0])


def test_classification_macro_f1_counts_every_class():
    y = np.array(["a", "a", "b", "b", "c"])
    p = np.array(["a", "b", "b", "b", "a"])
    m = classification_metrics(y, p, ["a", "b", "c", "d"])
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["macro_f1"] == pytest.approx(f1_score(y, p, labels=["a", "b", "c", "d"], average="macro", zero_division=0))
    assert m["macro_f1"] < f1_score(y, p, average="macro")  # the absent class d counts as 0


def test_weighted_pr_f1_is_the_harmonic_mean_of_weighted_precision_and_recall():
    # by hand: a (2 true, 2 said, 1 hit), b (2 true, 3 said, 2 hits), c (1 true, never said)
    y = np.array(["a", "a", "b", "b", "c"])
    p = np.array(["a", "b", "b", "b", "a"])
    precision = 2 / 5 * 1 / 2 + 2 / 5 * 2 / 3 + 1 / 5 * 0
    recall = 2 / 5 * 1 / 2 + 2 / 5 * 1 + 1 / 5 * 0  # = accuracy
    m = classification_metrics(y, p, ["a", "b", "c"])
    assert recall == pytest.approx(m["accuracy"])
    assert m["weighted_pr_f1"] == pytest.approx(2 * precision * recall / (precision + recall))
    # and scikit-learn's weighted precision and recall agree on random 4-class folds, where it
    # reads above the mean of per-class F1s
    rng = np.random.default_rng(1)
    for _ in range(20):
        y = rng.choice(list("wxyz"), 90)
        p = np.where(rng.random(90) < 0.7, y, rng.choice(list("wxyz"), 90))
        pw = precision_score(y, p, average="weighted", zero_division=0)
        rw = recall_score(y, p, average="weighted")
        m = classification_metrics(y, p, list("wxyz"))
        assert m["weighted_pr_f1"] == pytest.approx(2 * pw * rw / (pw + rw))
        assert m["weighted_pr_f1"] >= m["weighted_f1"] - 1e-12
    assert classification_metrics(np.array(["a"]), np.array(["b"]), ["a", "b"])["weighted_pr_f1"] == 0.0


def test_tagging_skips_tags_without_positives():
    y = np.array([[1, 0], [0, 0], [1, 0], [0, 0]])
    s = np.array([[0.9, 0.1], [0.2, 0.3], [0.4, 0.2], [0.5, 0.9]])
    m = tagging_metrics(y, s)
    assert m["n_tags"] == 1
    assert m["pr_auc"] == pytest.approx(average_precision_score(y[:, 0], s[:, 0]))
    assert m["roc_auc"] == pytest.approx(0.75)


def test_dynamic_metrics_average_over_songs_and_pool():
    ids = np.array(["a"] * 4 + ["b"] * 4)
    y = np.array([0.0, 1, 2, 3, 0, 1, 2, 3])
    p = np.array([0.0, 1, 2, 3, 3, 2, 1, 0])  # song a perfect, song b reversed
    m = dynamic_metrics(ids, y, p)
    assert m["kendall_tau"] == pytest.approx(0.0)  # (1 + -1) / 2
    assert m["pearson_song"] == pytest.approx(0.0)
    assert m["rmse_song"] == pytest.approx((0 + np.sqrt(np.mean((y[4:] - p[4:]) ** 2))) / 2)
    assert m["r2"] == pytest.approx(r2_score(y, p))
