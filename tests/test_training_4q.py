"""Reproduce the 4Q paper (Panda et al., TAFFC 2018): F1 76.4 % with an RBF SVM (C=8,
gamma=2^-9) on the authors' top-100 features, 20 x 10-fold stratified CV — run through
moodflow's own svm model, protocol, CV loop and metrics (benchmarks/reproduce_4q.py). Their F1
is the harmonic mean of weighted precision and recall (``weighted_pr_f1``)."""

import sys
from pathlib import Path

import pytest

from tests.helpers.real_data import SHARED, needs_shared

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

pytestmark = needs_shared


def test_4q_macro_f1_matches_paper():
    from reproduce_4q import reproduce
    from moodflow.evaluation.summary import metrics_from_predictions

    res = reproduce(SHARED, repeats=20, folds=10, seed=1)
    m = res["metrics"]
    assert m["n_folds"] == 200 and m["n_tracks"] == 900
    assert abs(m["macro_f1"] - 0.764) <= 0.015, m["macro_f1"]
    # the authors' metric: their script prints F1 76.51 % above accuracy 76.20 %; so does ours,
    # while the mean of per-class F1s reads below accuracy
    assert abs(m["weighted_pr_f1"] - 0.7651) <= 0.01, m["weighted_pr_f1"]
    assert abs(m["accuracy"] - 0.7620) <= 0.01, m["accuracy"]
    assert m["weighted_pr_f1"] > m["accuracy"] > m["macro_f1"]
    assert 0.02 < m["macro_f1_std"] < 0.07  # the authors report sd 4.01 points over the 200 folds
    # every track predicted once per repetition, and the reported number recomputes from them
    assert len(res["predictions"]) == 900 * 20
    again = metrics_from_predictions(res["predictions"], ["Q1", "Q2", "Q3", "Q4"])["classification"]["quadrant"]
    assert again["macro_f1"] == pytest.approx(m["macro_f1"])
    # Q2 (-V+A) is the easiest quadrant and Q3/Q4 are most confused, as in the paper
    cm = res["confusion"]
    assert cm.loc["Q2", "Q2"] > cm.loc["Q3", "Q3"] and cm.loc["Q3", "Q4"] > cm.loc["Q3", "Q2"]


def test_selection_optimism_picks_the_best_grid_point_on_the_reported_folds():
    """The benchmark's optimistic row is the grid maximum, nested tuning runs on the same folds,
    and the authors' settings score as reproduce_4q scores them."""
    from reproduce_4q import reproduce
    from selection_optimism import selection_optimism

    res = selection_optimism(SHARED, repeats=1, folds=5, seed=1, C=[2.0, 8.0], gamma=[2.0**-9, 2.0**-7],
                             nested=True, search_folds=3)
    assert res["folds"] == 5 and len(res["grid"]) == 4
    for metric, best in res["best_on_reported_folds"].items():
        assert best[metric] == max(row[metric] for row in res["grid"])
        assert 0.5 < res["nested"][metric] < 1.0
    authors = next(row for row in res["grid"] if row["C"] == 8.0 and row["gamma"] == 2.0**-9)
    assert authors["macro_f1"] == pytest.approx(res["authors"]["macro_f1"])
    again = reproduce(SHARED, repeats=1, folds=5, seed=1)["metrics"]
    assert again["weighted_pr_f1"] == pytest.approx(res["authors"]["weighted_pr_f1"])


REFERENCE_FOLDS = Path(__file__).parent / "reference" / "4q_caret_folds_seed1.csv.gz"


def test_on_the_authors_folds_moodflow_equals_e1071():
    """The authors' own folds (caret createFolds, set.seed(1), 20 x 10; written by
    benchmarks/crosscheck_4q_e1071.R with R 4.2.2, caret 6.0-93, e1071 1.7-13). On them e1071
    printed weighted_pr_f1 76.51 % ± 4.01 (the authors' script's 'F1 macro weighted', to the
    digit), accuracy 76.20 %, macro F1 76.12 %; moodflow's svm must give the same."""
    from reproduce_4q import reproduce

    m = reproduce(SHARED, folds_csv=REFERENCE_FOLDS)["metrics"]
    assert m["n_folds"] == 200
    assert m["weighted_pr_f1"] == pytest.approx(0.7651, abs=5e-4)
    assert m["weighted_pr_f1_std"] == pytest.approx(0.0401, abs=5e-4)
    assert m["accuracy"] == pytest.approx(0.7620, abs=5e-4)
    assert m["macro_f1"] == pytest.approx(0.7612, abs=5e-4)


def test_folds_csv_must_hold_out_every_clip_once(tmp_path):
    import pandas as pd
    from reproduce_4q import folds_from_csv, load_4q

    _, _, ids, _ = load_4q(SHARED)
    bad = tmp_path / "folds.csv"
    pd.DataFrame({"repeat_": 1, "fold": 1, "song": ids[:-1]}).to_csv(bad, index=False)
    with pytest.raises(ValueError, match="does not hold out each of the 900 clips exactly once"):
        folds_from_csv(bad, ids)
