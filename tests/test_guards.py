"""Numbers are reported only where they mean something: too few tracks, classes or a model
worse than the mean are said in words; "best" follows the dataset's task."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.helpers.real_data import needs_shared
from tests.helpers.synthetic_data import FEW_TRACKS, make_run

from moodflow.evaluation.protocols import InsufficientData, check_folds, make_folds
from moodflow.report.run import write_report
from moodflow.train.run import train_and_evaluate


def _train(store, prepared, out, model="ridge", protocol=None, **limits):
    return train_and_evaluate(store_path=store, prepared_dir=prepared, feature_set="synthetic", model_name=model,
                              model_config={}, protocol=protocol or {"kind": "kfold", "folds": 3}, seed=0,
                              out_dir=out, jobs=1, **limits)


def _report(models_dir, reports_dir, models=("ridge",)):
    params = {"dataset": {"name": "synthetic"}, "features": {"sets": ["synthetic"]},
              "train": {"models": list(models), "protocol": {"kind": "kfold", "folds": 3}, "seed": 0}}
    return write_report(params, models_dir, reports_dir)


def test_folds_refuse_more_folds_than_tracks_or_than_a_class_has():
    ids = np.array([f"t{i}" for i in range(8)])
    with pytest.raises(InsufficientData, match="10-fold CV needs at least 10 labelled tracks .* has 8"):
        make_folds(ids, kind="kfold", folds=10)
    classes = np.array([0, 0, 0, 0, 0, 1, 1, 1])
    with pytest.raises(InsufficientData, match="class 1 has 3"):
        make_folds(ids, kind="stratified", folds=4, classes=classes)
    run = make_folds(ids, kind="stratified", folds=3, classes=classes)
    with pytest.raises(InsufficientData, match="trains on 2 tracks of class 1, fewer than train.min_per_class"):
        check_folds(run, min_train=1, min_test=1, classes=dict(zip(ids, classes)), min_per_class=3)


def test_a_tiny_run_reports_insufficient_data_not_numbers(tmp_path):
    store, prepared = make_run(tmp_path, n_tracks=6, dynamic=False)
    assert _train(store, prepared, tmp_path / "models/synthetic/ridge") == {}  # default guards: 20 / 5
    manifest = json.loads((tmp_path / "models/synthetic/ridge/model.json").read_text())
    assert manifest["status"].startswith("insufficient data: fold r0f0 trains on 4 tracks, fewer than "
                                         "train.min_train (20)")
    assert not list((tmp_path / "models/synthetic/ridge").glob("*.skops"))
    report = _report(tmp_path / "models", tmp_path / "reports")
    assert report["synthetic"]["ridge"] == {"status": manifest["status"]} and report["best"] == {}
    md = (tmp_path / "reports/comparison.md").read_text()
    assert "## Not scored" in md and "synthetic/ridge: insufficient data" in md
    assert "No run was scored." in md and "best model: none" in md


def test_no_model_is_best_when_every_r2_is_below_zero(tmp_path):
    store, prepared = make_run(tmp_path, n_tracks=24, dynamic=False)
    labels = pd.read_csv(prepared / "labels_static.csv")
    rng = np.random.default_rng(1)  # labels unrelated to the features
    labels[["valence", "arousal"]] = rng.normal(size=(len(labels), 2))
    labels.to_csv(prepared / "labels_static.csv", index=False)
    metrics = _train(store, prepared, tmp_path / "models/synthetic/ridge", **FEW_TRACKS)
    assert all(metrics["static"][t]["r2"] < 0 for t in ("valence", "arousal"))
    report = _report(tmp_path / "models", tmp_path / "reports")
    assert report["best"] == {}
    assert "no model's held-out R² is above 0" in (tmp_path / "reports/comparison.md").read_text()


def test_classification_names_a_best_by_macro_f1_and_scores_are_probabilities(tmp_path):
    store, prepared = make_run(tmp_path, n_tracks=40, task="classification", dynamic=False)
    for model in ("svm", "ridge"):
        _train(store, prepared, tmp_path / f"models/synthetic/{model}", model=model,
               protocol={"kind": "stratified", "folds": 3}, **FEW_TRACKS)
    report = _report(tmp_path / "models", tmp_path / "reports", models=("svm", "ridge"))
    f1 = {m: report["synthetic"][m]["classification"]["quadrant"]["macro_f1"] for m in ("svm", "ridge")}
    winner = max(f1, key=f1.get)
    assert report["best"] == {**report["best"], "feature_set": "synthetic", "model": winner, "task": "classification",
                              "metric": "macro_f1", "score": pytest.approx(f1[winner], abs=1e-6)}
    for model in ("svm", "ridge"):
        rows = pd.read_csv(tmp_path / f"models/synthetic/{model}/predictions.csv")
        scores = rows[[f"score_Q{i}" for i in range(1, 5)]].to_numpy()
        assert np.allclose(scores.sum(axis=1), 1.0) and (scores >= 0).all()
        argmax = np.array([f"Q{i + 1}" for i in np.argmax(scores, axis=1)])
        assert (argmax == rows["y_pred"].to_numpy()).all()  # the class saved is the scores' argmax


@needs_shared
def test_a_six_song_folder_reports_insufficient_data(tmp_path, shared_data):
    """A folder of the six emoMusic clips with its own labels: the default guards refuse to
    score it (4 or 5 training tracks a fold), through the real decode/extract path."""
    from moodflow.decode.run import decode_dataset
    from moodflow.extract.run import extract_store
    from moodflow.prepare.run import prepare_dataset

    clips = shared_data / "emoMusic/clips_45seconds"
    labels = pd.read_csv(shared_data / "emoMusic/annotations/static_annotations.csv", skipinitialspace=True)
    labels.columns = [c.strip() for c in labels.columns]
    ids = sorted(p.stem for p in clips.glob("*.mp3"))
    table = labels[labels["song_id"].astype(str).isin(ids)]
    csv = tmp_path / "labels.csv"
    pd.DataFrame({"track_id": table["song_id"].astype(str), "valence": table["mean_valence"],
                  "arousal": table["mean_arousal"]}).to_csv(csv, index=False)
    prepare_dataset({"name": "folder", "root": str(clips), "folder": {"labels": str(csv), "scale": [1, 9]}},
                    tmp_path / "prepared")
    decode_dataset(tmp_path / "prepared", tmp_path / "audio.h5", tmp_path / "errors.csv", sample_rate=16000)
    extract_store(name="chroma", config={"kind": "stft"}, grid={}, audio_path=tmp_path / "audio.h5",
                  prepared_dir=tmp_path / "prepared", out_path=tmp_path / "chroma.h5", dataset="folder", workers=1)
    metrics = train_and_evaluate(store_path=tmp_path / "chroma.h5", prepared_dir=tmp_path / "prepared",
                                 feature_set="chroma", model_name="ridge", model_config={}, out_dir=tmp_path / "m",
                                 protocol={"kind": "kfold", "folds": 5}, seed=0)
    assert metrics == {}
    status = json.loads((tmp_path / "m/model.json").read_text())["status"]
    assert status == "insufficient data: fold r0f0 trains on 4 tracks, fewer than train.min_train (20)"


@needs_shared
def test_fourq_records_a_best_classifier_and_predict_uses_it(tmp_path, shared_data):
    """4Q quadrants from its 20 real clips: the report names the classifier with the best macro
    F1 as ``best``, and ``moodflow predict``'s default model is that one, giving a quadrant that
    is the argmax of its class probabilities."""
    from moodflow.decode.run import decode_dataset
    from moodflow.extract.run import extract_store
    from moodflow.app.predict import Predictor, best_model_dir
    from moodflow.prepare.run import prepare_dataset

    prepare_dataset({"name": "fourq", "root": str(shared_data / "4Q")}, tmp_path / "prepared")
    decode_dataset(tmp_path / "prepared", tmp_path / "audio.h5", tmp_path / "errors.csv", sample_rate=16000)
    extract_store(name="chroma", config={"kind": "stft"}, grid={}, audio_path=tmp_path / "audio.h5",
                  prepared_dir=tmp_path / "prepared", out_path=tmp_path / "chroma.h5", dataset="fourq", workers=1)
    for model in ("svm", "ridge"):
        train_and_evaluate(store_path=tmp_path / "chroma.h5", prepared_dir=tmp_path / "prepared", feature_set="chroma",
                           model_name=model, model_config={}, protocol={"kind": "stratified", "folds": 2}, seed=0,
                           out_dir=tmp_path / f"models/chroma/{model}", jobs=1, **FEW_TRACKS)
    params = {"dataset": {"name": "fourq"}, "features": {"sets": ["chroma"]},
              "train": {"models": ["svm", "ridge"], "protocol": {"kind": "stratified", "folds": 2}, "seed": 0}}
    report = write_report(params, tmp_path / "models", tmp_path / "reports")
    best = report["best"]
    assert best["task"] == "classification" and best["metric"] == "macro_f1" and best["model"] in ("svm", "ridge")
    folder = best_model_dir(tmp_path / "reports", tmp_path / "models")
    assert folder == tmp_path / "models/chroma" / best["model"]
    clip = sorted((shared_data / "4Q/MER_audio_taffc_dataset/Q2").glob("*.mp3"))[0]
    pred = Predictor(folder).predict_file(clip)
    scores = pred.class_scores
    assert pred.predicted_class == max(scores, key=scores.get) and sum(scores.values()) == pytest.approx(1.0)
