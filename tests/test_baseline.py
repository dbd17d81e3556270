"""The trivial predictor of every task, on exactly the model's folds (baseline_predictions.csv),
and each fold's size in model.json (the corrected resampled t-test needs n_test / n_train)."""

import json

import numpy as np
import pandas as pd
import pytest

from tests.helpers.synthetic_data import FEW_TRACKS, make_run

from moodflow.train.run import train_and_evaluate

PROTOCOL = {"kind": "kfold", "folds": 3, "repeats": 2}


def _train(tmp_path, task, model, params, *, dynamic=False, jobs=1, protocol=PROTOCOL, n_tracks=24):
    store, prepared = make_run(tmp_path / "data", task=task, n_tracks=n_tracks, dynamic=dynamic)
    out = tmp_path / "models" / model
    train_and_evaluate(**FEW_TRACKS, store_path=store, prepared_dir=prepared, feature_set="synthetic",
                       model_name=model, model_config=params, protocol=protocol, seed=3, out_dir=out,
                       dynamic=dynamic, jobs=jobs, importance={"repeats": 0})
    read = lambda name: pd.read_csv(out / name, dtype={"track_id": str, "fold": str})  # noqa: E731
    return out, read("predictions.csv"), read("baseline_predictions.csv")


def _training_rows(preds: pd.DataFrame, fold: str) -> pd.DataFrame:
    """The rows of a fold's training tracks: tracks the same repeat's other folds held out."""
    repeat = fold.split("f")[0]
    return preds[preds["fold"].str.startswith(repeat + "f") & (preds["fold"] != fold)]


def _same_shape(preds, base, kinds):
    assert list(base.columns) == [*preds.columns, "baseline"]
    assert sorted(base["baseline"].unique()) == sorted(kinds)
    for kind in kinds:
        rows = base[base["baseline"] == kind]
        assert rows.groupby("fold").size().to_dict() == preds[preds["task"].isin(rows["task"].unique())] \
            .groupby("fold").size().to_dict()
        assert sorted(zip(rows["fold"], rows["track_id"], rows["target"])) == sorted(
            zip(*[preds.loc[preds["task"].isin(rows["task"].unique()), c] for c in ("fold", "track_id", "target")]))


def test_regression_mean_of_each_training_fold_static_and_dynamic(tmp_path):
    out, preds, base = _train(tmp_path, "regression", "ridge", {"alpha": 1.0}, dynamic=True)
    _same_shape(preds, base, ["mean"])
    for task in ("static", "dynamic"):
        rows, model_rows = base[base["task"] == task], preds[preds["task"] == task]
        for (fold, target), got in rows.groupby(["fold", "target"]):
            train = _training_rows(model_rows[model_rows["target"] == target], fold)
            assert got["y_pred"].to_numpy() == pytest.approx(train["y_true"].mean(), rel=1e-12)
            assert got["y_true"].tolist() == model_rows[(model_rows["fold"] == fold)
                                                        & (model_rows["target"] == target)]["y_true"].tolist()
    manifest = json.loads((out / "model.json").read_text())
    for part in ("static", "dynamic"):
        sizes = manifest["protocol_run"][part]["fold_sizes"]
        assert [s["fold"] for s in sizes] == ["r0f0", "r0f1", "r0f2", "r1f0", "r1f1", "r1f2"]
        held_out = preds[preds["task"] == part].groupby("fold")["track_id"].nunique()
        assert all(s["n_test"] == held_out[s["fold"]] and s["n_train"] + s["n_test"] == 24 for s in sizes)


def test_classification_majority_and_a_reproducible_prior_guess(tmp_path):
    protocol = {"kind": "stratified", "folds": 3, "repeats": 2}
    _, preds, base = _train(tmp_path / "one", "classification", "ridge", {"alpha": 1.0}, protocol=protocol,
                            n_tracks=60)
    _same_shape(preds, base, ["majority", "prior"])
    scores = [c for c in base.columns if c.startswith("score_")]
    majority = base[base["baseline"] == "majority"]
    for fold, got in majority.groupby("fold"):
        shares = _training_rows(preds, fold)["y_true"].value_counts(normalize=True)
        assert got["y_pred"].nunique() == 1 and shares[got["y_pred"].iloc[0]] == shares.max()
        first = got.iloc[0]
        assert [first[f"score_{c}"] for c in shares.index] == pytest.approx(shares.to_numpy())
    prior = base[base["baseline"] == "prior"]
    assert (prior[scores].sum(axis=1) == 1).all() and prior[scores].isin([0.0, 1.0]).all().all()
    assert prior["y_pred"].nunique() > 1  # a random guess, not the majority again
    assert (prior[scores].to_numpy().argmax(axis=1) == [scores.index(f"score_{c}") for c in prior["y_pred"]]).all()
    again = _train(tmp_path / "two", "classification", "ridge", {"alpha": 1.0}, protocol=protocol, n_tracks=60,
                   jobs=2)[2]
    pd.testing.assert_frame_equal(base, again)  # seeded by the run's seed and the fold: any number of cores


def test_tagging_prevalence_and_multitask_kinds(tmp_path):
    _, preds, base = _train(tmp_path / "tags", "tagging", "ridge", {"alpha": 1.0})
    _same_shape(preds, base, ["prevalence"])
    for (fold, tag), got in base.groupby(["fold", "target"]):
        train = _training_rows(preds[preds["target"] == tag], fold)
        assert got["y_pred"].to_numpy() == pytest.approx(train["y_true"].mean())
    _, preds, base = _train(tmp_path / "mt", "multitask", "multitask",
                            {"epochs": 3, "hidden": 8, "device": "cpu"})
    _same_shape(preds[preds["task"] == "static"], base[base["baseline"] == "mean"], ["mean"])
    assert base.groupby("baseline")["task"].unique().map(list).to_dict() == {
        "majority": ["classification"], "mean": ["static"], "prevalence": ["tagging"], "prior": ["classification"]}
