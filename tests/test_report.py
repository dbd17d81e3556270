"""The report stage: references, rescaling, comparison tables, figures, DVC plots offline."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from moodflow.evaluation.significance import corrected_interval, fold_scores, holdout_ratio
from moodflow.evaluation.summary import metrics_from_predictions
from moodflow.report.references import load_references, parse_scale, protocol_matches, references_for, rescale
from moodflow.report.tables import comparison_rows

from tests.helpers.pipeline_helpers import copy_tree, dvc


def test_references_table_is_complete():
    refs = load_references()
    assert {"pmemo", "deam", "emomusic", "fourq", "jamendo"} <= set(refs["dataset"])
    assert refs["value"].notna().all()
    m2e = references_for("emomusic", refs)
    assert m2e[(m2e["id"] == "m2e-emomusic") & (m2e["target"] == "valence")]["value"].item() == pytest.approx(0.5957)
    assert references_for("demo", refs).empty


def test_rmse_rescaling_follows_the_label_range():
    assert parse_scale("-1..1") == (-1.0, 1.0) and parse_scale("1-9") == (1.0, 9.0)
    assert rescale(0.1, "rmse", "0-1", "-1..1") == pytest.approx(0.2)
    assert rescale(0.1, "rmse", "0-1", "1-9") == pytest.approx(0.8)
    assert rescale(0.8, "rmse_song", "1-9", "0-1") == pytest.approx(0.1)
    assert rescale(0.55, "r2", "1-9", "0-1") == 0.55  # scale-free
    with pytest.raises(ValueError, match="label scale"):
        parse_scale("1 to 9")


def _ours(rows):
    base = {"task": "static", "std": 0.01, "n_folds": 10, "scale": "1-9"}
    return pd.DataFrame([{**base, **r} for r in rows])


def test_comparison_pairs_like_with_like_and_says_how_close():
    refs = references_for("pmemo")
    ours = _ours([
        {"set": "chroma", "model": "ridge", "target": "arousal", "metric": "rmse", "mean": 0.40},  # better, not alike
        {"set": "compare", "model": "svm", "target": "arousal", "metric": "rmse", "mean": 0.96},
        {"set": "compare", "model": "ridge", "target": "arousal", "metric": "rmse", "mean": 1.20},
        {"set": "compare", "model": "svm", "target": "valence", "metric": "r2", "mean": 0.5},
    ])
    comp = comparison_rows(ours, refs, {"kind": "kfold", "folds": 10, "repeats": 1}).set_index(["id", "target", "metric"])
    svr = comp.loc[("pmemo-repo-cv-svr", "arousal", "rmse")]
    assert svr["ours_from"] == "compare/svm" and svr["closeness"] == "same features and model"
    assert svr["ours"] == pytest.approx(0.12)  # 0.96 on 1-9 is 0.12 on 0-1
    assert svr["scales"] == "paper 0-1, ours 1-9: our rmse × 0.125 to the paper's scale"
    ridge = comp.loc[("pmemo-repo-cv-ridge", "arousal", "rmse")]
    assert ridge["ours_from"] == "compare/ridge" and ridge["ours"] == pytest.approx(0.15)
    rf = comp.loc[("pmemo-repo-cv-rf", "arousal", "rmse")]  # no forest ran: the nearest is a compare model
    assert rf["ours_from"] == "compare/svm" and rf["closeness"].startswith("same features; svm, not random_forest")
    # a paper with another protocol gets no number of ours, and says why
    mlr = comp.loc[("pmemo-paper-mlr", "arousal", "rmse")]
    assert np.isnan(mlr["ours"]) and mlr["no_counterpart"].startswith("protocol differs")
    # scale-free metrics state both scales truthfully (the automl paper is on -1..1)
    automl = comp.loc[("pmemo-automl", "valence", "r2")]
    assert automl["no_counterpart"].startswith("protocol differs")
    automl_kfold = comparison_rows(ours, refs, {"kind": "stratified", "folds": 5, "repeats": 1}).set_index(
        ["id", "target", "metric"]).loc[("pmemo-automl", "valence", "r2")]
    assert automl_kfold["ours"] == pytest.approx(0.5)
    assert automl_kfold["scales"] == "paper -1..1, ours 1-9 (r2 is scale-free)"
    ok, why = protocol_matches(refs[refs["id"] == "m2e-pmemo"].iloc[0], {"kind": "kfold", "folds": 10, "repeats": 1})
    assert not ok and "split" in why


def test_split_matches_only_at_full_coverage():
    ref = references_for("emomusic").iloc[0]
    assert protocol_matches(ref, {"kind": "split", "test_coverage": 0.99})[0]
    ok, why = protocol_matches(ref, {"kind": "split", "test_coverage": 1 / 125})
    assert not ok and "1% of the published test set" in why


@pytest.fixture(scope="module")
def repo(demo_tree, tmp_path_factory):
    return copy_tree(demo_tree / "repo", tmp_path_factory.mktemp("report") / "repo")


def test_report_outputs(repo):
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    mean_r2 = {(s, m): (metrics[s][m]["valence"]["r2"] + metrics[s][m]["arousal"]["r2"]) / 2
               for s in ("compare", "chroma") for m in ("ridge", "svm")}
    (best_set, best_model), best_r2 = max(mean_r2.items(), key=lambda kv: kv[1])
    assert metrics["best"] == {**metrics["best"], "feature_set": best_set, "model": best_model, "task": "regression",
                               "metric": "r2", "score": pytest.approx(best_r2, abs=1e-6)}
    assert metrics["best"]["low"] < metrics["best"]["score"] < metrics["best"]["high"]
    assert isinstance(metrics["best"]["significant_lead"], bool) and metrics["best"]["runner_up"]
    md = (repo / "reports/comparison.md").read_text()
    assert "No published number exists for the demo dataset" in md
    assert "- feature sets: compare, chroma" in md and "- models: ridge, svm" in md and "5-fold CV" in md
    assert "## Explanations" in md and "![importance_compare_ridge](figures/importance_compare-ridge.png)" in md
    html = (repo / "reports/comparison.html").read_text()
    assert "data:image/png;base64," in html and "<script" not in html and "http" not in html
    for name in ("va_plane", "r2_bars"):
        assert (repo / f"reports/figures/{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plot = pd.read_csv(repo / "reports/plots/predictions.csv", dtype={"track_id": str})
    assert list(plot.columns) == ["set", "model", "target", "track_id", "fold", "y_true", "y_pred"]


def test_every_reported_number_is_recomputable(repo):
    """metrics.json and the comparison table come from predictions.csv alone."""
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    preds = pd.read_csv(repo / "models/chroma/ridge/predictions.csv", dtype={"track_id": str, "fold": str})
    again = metrics_from_predictions(preds)["static"]
    md = (repo / "reports/comparison.md").read_text()
    for target in ("valence", "arousal"):
        for metric in ("r2", "rmse", "pearson"):
            assert metrics["chroma"]["ridge"][target][metric] == pytest.approx(again[target][metric], abs=1e-6)
        # the table: mean over folds [corrected resampled t interval], after the held-out track count
        iv = corrected_interval(fold_scores(preds, "static", target, "r2").to_numpy(), holdout_ratio(preds))
        assert iv.value == pytest.approx(again[target]["r2"], abs=1e-12)
        cells = f"{iv.value:.3f} [{iv.low:.3f}, {min(iv.high, 1.0):.3f}]"
        assert f"| chroma | ridge | {target} | {again[target]['n_tracks']} | {cells} |" in md


def test_dvc_plots_offline(repo, tmp_path):
    shown = json.loads(dvc(repo, "plots", "show", "--json").stdout)["data"]
    assert any(k.endswith("reports/plots/predictions.csv") for k in shown)
    out = tmp_path / "html"
    dvc(repo, "plots", "show", "reports/figures", "-o", str(out))
    page = (out / "index.html").read_text()
    assert "<img" in page and "<script" not in page  # images only: no CDN needed
