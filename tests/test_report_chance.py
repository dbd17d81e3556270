"""The report against chance: the trivial predictors first in every table, a model that does
not beat them flagged and never named best, significance between models, intervals and track
counts, diverged folds. Model folders are written by the test (tests/helpers/report_folders.py)
in the train stage's format, so the skill of each model is exactly what the test says."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from moodflow.evaluation.significance import corrected_interval, fold_scores, holdout_ratio
from moodflow.report.run import write_report

from tests.helpers.report_folders import classification_folder, cv_folds, regression_folder, report_params

CLASSES = ["Q1", "Q2", "Q3", "Q4"]


def _quadrants(n=80):
    ids = [f"t{i:03d}" for i in range(n)]
    return ids, {t: CLASSES[i % 4] for i, t in enumerate(ids)}


def _skilled(labels, p):
    return lambda t, fold, rng: labels[t] if rng.random() < p else str(rng.choice(CLASSES))


def test_a_model_at_chance_is_flagged_and_never_best(tmp_path):
    ids, labels = _quadrants()
    folds = cv_folds(ids, 5, 2, strata=[labels[t] for t in ids])
    classification_folder(tmp_path / "models/synthetic/svm", labels, CLASSES, folds, model="svm",
                          predict=lambda t, f, rng: "Q1")  # accuracy 0.25 on 4 balanced classes, macro F1 0.1
    classification_folder(tmp_path / "models/synthetic/ridge", labels, CLASSES, folds, model="ridge",
                          predict=_skilled(labels, 0.8))
    report = write_report(report_params(["synthetic"], ["svm", "ridge"]), tmp_path / "models", tmp_path / "reports")
    svm = report["synthetic"]["svm"]["classification"]["quadrant"]
    assert svm["accuracy"] == pytest.approx(0.25) and svm["beats_chance"] is False and svm["n_tracks"] == 80
    assert report["synthetic"]["ridge"]["classification"]["quadrant"]["beats_chance"] is True
    best = report["best"]
    assert best["model"] == "ridge" and best["beats_chance"] is True and best["runner_up"] == "synthetic/svm"
    assert best["significant_lead"] is True and best["lead_low"] > 0 and best["low"] < best["score"] < best["high"]
    baseline = report["synthetic"]["baseline"]["classification"]["quadrant"]
    assert baseline["predictor"] in ("majority", "prior") and baseline["n_tracks"] == 80
    md = (tmp_path / "reports/comparison.md").read_text()
    table = [line for line in md.splitlines() if line.startswith("| synthetic |")]
    assert table[0].startswith("| synthetic | baseline (majority) | quadrant | 80 |")  # baselines first
    assert table[1].startswith("| synthetic | baseline (prior) | quadrant | 80 |")
    svm_row = next(line for line in table if line.startswith("| synthetic | svm |"))
    assert "| no better than chance; vs baseline (majority) macro_f1 " in svm_row and "vs baseline (prior)" in svm_row
    assert "no better than chance" not in next(line for line in table if line.startswith("| synthetic | ridge |"))
    assert "- best model (macro F1): synthetic/ridge " in md and "significant: it is better than synthetic/svm" in md
    html = (tmp_path / "reports/comparison.html").read_text()
    assert '<tr class="flagged"><td>synthetic</td><td>svm</td>' in html
    sig = pd.read_csv(tmp_path / "reports/significance.csv")
    chance = sig[(sig["model"] == "synthetic/svm") & (sig["role"] == "chance")]
    assert set(chance["versus"]) == {"baseline (majority)", "baseline (prior)"}
    assert (chance["verdict"] == "no significant difference (the interval includes 0)").all()
    vs_best = sig[sig["role"] == "best"].iloc[0]
    assert vs_best["versus"] == "synthetic/ridge (best)" and vs_best["high"] < 0 and vs_best["method"] == "corrected t"
    assert vs_best["verdict"] == "synthetic/ridge (best) is better than synthetic/svm" and vs_best["units"] == 10


def test_no_best_when_every_model_is_at_chance(tmp_path):
    ids, labels = _quadrants()
    folds = cv_folds(ids, 5, 2, strata=[labels[t] for t in ids])
    classification_folder(tmp_path / "models/synthetic/svm", labels, CLASSES, folds, model="svm",
                          predict=lambda t, f, rng: "Q1")
    classification_folder(tmp_path / "models/synthetic/ridge", labels, CLASSES, folds, model="ridge",
                          predict=lambda t, f, rng: str(rng.choice(CLASSES)))  # a random guess: accuracy ≈ 0.25
    report = write_report(report_params(["synthetic"], ["svm", "ridge"]), tmp_path / "models", tmp_path / "reports")
    assert report["best"] == {}
    md = (tmp_path / "reports/comparison.md").read_text()
    assert "- best model: none — no model is significantly better than chance" in md
    assert md.count("| no better than chance") == 2


def _va(n=60, seed=0):
    rng = np.random.default_rng(seed)
    ids = [f"s{i:03d}" for i in range(n)]
    return pd.DataFrame({"valence": rng.uniform(1, 9, n), "arousal": rng.uniform(1, 9, n)}, index=ids)


def test_intervals_tracks_and_the_mean_baseline_in_cross_validation(tmp_path):
    labels = _va()
    folds = cv_folds(list(labels.index), 5, 2)
    preds = regression_folder(tmp_path / "models/synthetic/ridge", labels, folds, model="ridge",
                              predict=lambda t, target, y, f, rng: y + rng.normal(0, 0.8))
    regression_folder(tmp_path / "models/synthetic/svm", labels, folds, model="svm",
                      predict=lambda t, target, y, f, rng: 5 + rng.normal(0, 0.2))  # ignores the music
    report = write_report(report_params(["synthetic"], ["ridge", "svm"]), tmp_path / "models", tmp_path / "reports")
    assert report["best"]["model"] == "ridge" and report["synthetic"]["svm"]["valence"]["beats_chance"] is False
    assert report["synthetic"]["baseline"]["valence"]["predictor"] == "mean"
    assert report["synthetic"]["baseline"]["valence"]["r2"] < 0.05
    # every number of the table is the fold mean with the corrected interval of its fold scores
    scores = fold_scores(preds, "static", "valence", "r2")
    iv = corrected_interval(scores.to_numpy(), holdout_ratio(preds))
    md = (tmp_path / "reports/comparison.md").read_text()
    assert f"| synthetic | ridge | valence | 60 | {iv.value:.3f} [{iv.low:.3f}, {min(iv.high, 1):.3f}] |" in md
    assert "| synthetic | baseline (mean) | valence | 60 |" in md
    assert md.index("baseline (mean) | valence") < md.index("| synthetic | ridge | valence")


def test_a_single_split_is_tested_by_a_seeded_paired_bootstrap(tmp_path):
    labels = _va(80, seed=1)
    split = [("split", np.array(labels.index[:40]))]
    for model, noise in (("ridge", 0.7), ("svm", 0.9)):
        regression_folder(tmp_path / f"models/synthetic/{model}", labels, split, model=model, kind="split",
                          predict=lambda t, target, y, f, rng, s=noise: y + rng.normal(0, s))
    params = report_params(["synthetic"], ["ridge", "svm"])
    report = write_report(params, tmp_path / "models", tmp_path / "reports")
    sig = pd.read_csv(tmp_path / "reports/significance.csv")
    assert set(sig["method"]) == {"paired bootstrap"} and set(sig["units"]) == {40} and set(sig["tracks"]) == {40}
    assert (sig[sig["role"] == "chance"]["low"] > 0).all()  # both beat the training mean
    assert report["best"]["model"] == "ridge" and "significant_lead" in report["best"]
    first = {p.name: p.read_bytes() for p in (tmp_path / "reports").glob("*.*")}
    write_report(params, tmp_path / "models", tmp_path / "reports")  # seeded: the same bytes again
    assert {p.name: p.read_bytes() for p in (tmp_path / "reports").glob("*.*")} == first


def test_diverged_folds_are_flagged_with_their_reason_and_left_out(tmp_path):
    ids, labels = _quadrants()
    folds = cv_folds(ids, 5, 2, strata=[labels[t] for t in ids])
    preds = classification_folder(tmp_path / "models/synthetic/mlp", labels, CLASSES, folds, model="mlp",
                                  predict=_skilled(labels, 0.7),
                                  diverged=[{"fold": "r1f3", "reason": "loss became NaN at epoch 4"}])
    report = write_report(report_params(["synthetic"], ["mlp"]), tmp_path / "models", tmp_path / "reports")
    entry = report["synthetic"]["mlp"]["classification"]["quadrant"]
    kept = fold_scores(preds[preds["fold"] != "r1f3"], "classification", "quadrant", "macro_f1", CLASSES)
    assert entry["macro_f1"] == pytest.approx(kept.mean(), abs=1e-6) and entry["diverged_folds"] == 1
    md = (tmp_path / "reports/comparison.md").read_text()
    assert "diverged in fold r1f3 (loss became NaN at epoch 4): means over the other folds" in md
    sig = pd.read_csv(tmp_path / "reports/significance.csv")
    assert set(sig["units"]) == {9}


def test_without_saved_baselines_the_report_says_chance_was_not_checked(tmp_path):
    ids, labels = _quadrants()
    folds = cv_folds(ids, 5, 1, strata=[labels[t] for t in ids])
    classification_folder(tmp_path / "models/synthetic/svm", labels, CLASSES, folds, model="svm",
                          predict=_skilled(labels, 0.9))
    (tmp_path / "models/synthetic/svm/baseline_predictions.csv").unlink()  # a folder trained before baselines
    report = write_report(report_params(["synthetic"], ["svm"]), tmp_path / "models", tmp_path / "reports")
    assert report["best"]["beats_chance"] is None and "baseline" not in report["synthetic"]
    md = (tmp_path / "reports/comparison.md").read_text()
    assert "no score is checked against chance" in md and "(not checked against chance" in md
    assert json.loads((tmp_path / "reports/metrics.json").read_text()) == report
