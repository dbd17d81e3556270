"""Reproduce the 4Q paper (Panda et al., TAFFC 2018): macro F1 76.4 % with an RBF SVM
(C=8, gamma=2^-9) on the authors' top-100 features, 20 x 10-fold stratified CV — run through
moodflow's own svm model, protocol, CV loop and metrics (benchmarks/reproduce_4q.py)."""

import sys
from pathlib import Path

import pytest

from real_data import SHARED, needs_shared

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

pytestmark = needs_shared


def test_4q_macro_f1_matches_paper():
    from reproduce_4q import reproduce
    from moodflow.evaluation.summary import metrics_from_predictions

    res = reproduce(SHARED, repeats=20, folds=10, seed=1)
    m = res["metrics"]
    assert m["n_folds"] == 200 and m["n_tracks"] == 900
    assert abs(m["macro_f1"] - 0.764) <= 0.015, m["macro_f1"]
    assert abs(m["weighted_f1"] - 0.7651) <= 0.015
    assert 0.02 < m["macro_f1_std"] < 0.07  # the authors report sd 4.01 points over the 200 folds
    # every track predicted once per repetition, and the reported number recomputes from them
    assert len(res["predictions"]) == 900 * 20
    again = metrics_from_predictions(res["predictions"], ["Q1", "Q2", "Q3", "Q4"])["classification"]["quadrant"]
    assert again["macro_f1"] == pytest.approx(m["macro_f1"])
    # Q2 (-V+A) is the easiest quadrant and Q3/Q4 are most confused, as in the paper
    cm = res["confusion"]
    assert cm.loc["Q2", "Q2"] > cm.loc["Q3", "Q3"] and cm.loc["Q3", "Q4"] > cm.loc["Q3", "Q2"]
