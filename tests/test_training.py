"""train_and_evaluate end to end on synthetic stores: every task, metrics recomputed from
predictions.csv, models reloaded from their manifest alone."""

import json

import numpy as np
import pandas as pd
import pytest

from tests.helpers.synthetic_data import make_run  # noqa: E402

from moodflow.evaluation.summary import metrics_from_predictions, nan_to_none  # noqa: E402
from moodflow.models.io import load_model, read_manifest  # noqa: E402
from moodflow.train.run import train_and_evaluate  # noqa: E402
from tests.helpers.synthetic_data import FEW_TRACKS

PROTOCOL = {"kind": "kfold", "folds": 3, "repeats": 2}


def _train(tmp_path, task, model, params=None, dynamic=True, **kw):
    store, prepared = make_run(tmp_path / "data", task=task, n_tracks=24, **kw)
    out = tmp_path / "models" / model
    metrics = train_and_evaluate(**FEW_TRACKS, store_path=store, prepared_dir=prepared, feature_set="synthetic", model_name=model,
                                 model_config=params or {}, protocol=PROTOCOL, seed=0, out_dir=out, dynamic=dynamic)
    return out, metrics, store


def _same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], dict):
            _same(a[k], b[k])
        elif a[k] is None:
            assert b[k] is None
        else:
            assert a[k] == pytest.approx(b[k], rel=1e-9, abs=1e-12), k


def test_static_and_dynamic_regression(tmp_path):
    out, metrics, store = _train(tmp_path, "regression", "ridge", {"alpha": 1.0})
    assert set(metrics) == {"static", "dynamic"}
    assert metrics["static"]["valence"]["n_folds"] == 6 and metrics["static"]["valence"]["n_tracks"] == 24
    dyn = metrics["dynamic"]["arousal"]
    assert dyn["r2"] > 0.9 and dyn["kendall_tau"] > 0.5  # labels follow the frame at the same time
    assert {"rmse_song", "pearson_song", "rmse", "pearson", "r2_std"} <= set(dyn)
    preds = pd.read_csv(out / "predictions.csv", dtype={"track_id": str})
    d = preds[preds["task"] == "dynamic"]
    assert d["time_s"].min() == pytest.approx(15.0)  # aligned by time, labels start at 15 s
    for _, fold in d.groupby("fold"):  # a song's frames never straddle train and test
        assert fold.groupby("track_id")["time_s"].count().min() > 1
    _same(json.loads((out / "metrics.json").read_text()), nan_to_none(metrics_from_predictions(preds)))
    manifest = read_manifest(out)
    assert manifest["tasks"]["dynamic"]["path"] == "dynamic" and manifest["feature_extractor"] == "synthetic"
    assert manifest["versions"]["scikit-learn"] and manifest["label_spec"]["scale_name"] == "-1..1"
    from moodflow.stores.feature_store import FeatureStore

    with FeatureStore(store) as st:
        X = st.static()
        frames, _, _ = st.frames(st.ids[0])
    assert load_model(out).predict(X).shape == (24, 2)
    assert load_model(out, "dynamic").predict(frames).shape == (len(frames), 2)


def test_dynamic_alignment_is_by_time_not_index(tmp_path):
    """Labels starting at 15.5 s (PMEmo) must still meet their own frames."""
    _, metrics, _ = _train(tmp_path, "regression", "ridge", {"alpha": 1.0}, label_start_s=15.5)
    assert metrics["dynamic"]["valence"]["r2"] > 0.9


def test_classification_writes_confusion_and_recomputes(tmp_path):
    out, metrics, _ = _train(tmp_path, "classification", "svm", {"C": 10.0}, dynamic=False)
    assert set(metrics) == {"classification"}
    m = metrics["classification"]["quadrant"]
    assert {"macro_f1", "accuracy", "weighted_f1", "macro_f1_std"} <= set(m)
    preds = pd.read_csv(out / "predictions.csv", dtype={"track_id": str})
    assert {"score_Q1", "score_Q4"} <= set(preds.columns)
    _same(json.loads((out / "metrics.json").read_text()), nan_to_none(metrics_from_predictions(preds, ["Q1", "Q2", "Q3", "Q4"])))
    confusion = pd.read_csv(out / "confusion.csv", index_col=0)
    assert confusion.to_numpy().sum() == pytest.approx(24)  # per repetition
    assert read_manifest(out)["model_kind"] == "classical"


@pytest.mark.parametrize("model,params", [("xgboost", {"n_estimators": 20}), ("mlp", {"epochs": 15, "hidden": 16, "device": "cpu"})])
def test_tagging_recomputes(tmp_path, model, params):
    out, metrics, _ = _train(tmp_path, "tagging", model, params, dynamic=False)
    assert {"pr_auc", "roc_auc"} <= set(metrics["tagging"]["tags"])
    preds = pd.read_csv(out / "predictions.csv", dtype={"track_id": str})
    _same(json.loads((out / "metrics.json").read_text()), nan_to_none(metrics_from_predictions(preds)))
    X = np.random.default_rng(0).normal(size=(3, 6))
    assert load_model(out).predict(X).shape == (3, 2)


def test_seq_and_multitask_through_training(tmp_path):
    out, metrics, _ = _train(tmp_path, "multitask", "seq", {"epochs": 5, "hidden": 8, "device": "cpu"})
    assert set(metrics) == {"dynamic"} and read_manifest(out)["model_kind"] == "neural"
    assert not (out / "model.skops").exists() and (out / "dynamic" / "model.safetensors").exists()
    out, metrics, _ = _train(tmp_path / "mt", "multitask", "multitask", {"epochs": 5, "hidden": 8, "device": "cpu"})
    assert set(metrics) == {"static", "classification", "tagging"}  # multitask does not do dynamic
    assert read_manifest(out)["tasks"]["static"]["label_kinds"] == ["classification", "regression", "tagging"]


def test_model_without_the_task_is_refused(tmp_path):
    with pytest.raises(ValueError, match="does none of this run's tasks"):
        _train(tmp_path, "classification", "seq", dynamic=False)


def test_store_of_another_extractor_is_refused(tmp_path):
    from moodflow.stores.feature_store import StoreMismatchError

    store, prepared = make_run(tmp_path)
    with pytest.raises(StoreMismatchError, match="extractor"):
        train_and_evaluate(**FEW_TRACKS, store_path=store, prepared_dir=prepared, feature_set="compare", model_name="ridge",
                           model_config={}, protocol={"folds": 3}, seed=0, out_dir=tmp_path / "m")
    assert not (tmp_path / "m").exists()
