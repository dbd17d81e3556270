"""The emotify adapter on a miniature in the authors' layout, and genre-grouped CV through the
trainer and the report."""

import json
import logging

import numpy as np
import pandas as pd
import pytest

from tests.helpers.minis.emotify import write_emotify
from tests.helpers.synthetic_data import store_for_prepared

from moodflow.datasets import DATASETS
from moodflow.datasets.emotify import GEMS
from moodflow.prepare.run import prepare_dataset
from moodflow.report.run import write_report
from moodflow.train.run import train_and_evaluate


@pytest.fixture(scope="module")
def emotify(tmp_path_factory):
    root = tmp_path_factory.mktemp("emotify")
    shares = write_emotify(root, per_genre=8)
    return root, shares


def test_header_with_spaces_shares_dominant_and_genre(emotify):
    root, shares = emotify
    assert (root / "data.csv").read_text().startswith("track id, genre, amazement, solemnity,")
    prepared = DATASETS.get("emotify")(root, {}).load(None)
    labels = prepared.static_labels.set_index("track_id")
    assert list(labels.columns) == [*GEMS, "dominant"]
    assert len(labels) == 32 and labels.index[:2].tolist() == ["1", "2"] and "301" in labels.index
    for tid in ("1", "108", "205", "308"):
        np.testing.assert_allclose(labels.loc[tid, GEMS].to_numpy(float), shares[tid])
        assert labels.loc[tid, "dominant"] == GEMS[int(np.argmax(shares[tid]))]
    manifest = prepared.manifest.set_index("track_id")
    assert manifest.loc["108", "audio_path"].endswith("emotifymusic/rock/8.mp3")
    assert manifest.loc["301", "genre"] == "pop" and manifest.loc["205", "genre"] == "electronic"
    assert manifest.loc["1", "n_ratings"] == 6
    spec = prepared.spec
    assert spec.task == "regression" and spec.static_targets == GEMS and spec.scale == (0.0, 1.0)
    assert spec.class_column == "dominant" and set(spec.classes) <= set(GEMS)


def test_bad_ratings_are_dropped_with_one_warning_each(tmp_path, caplog):
    write_emotify(tmp_path, per_genre=2, raters=2)
    text = (tmp_path / "data.csv").read_text()
    text += "401, pop, 1, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 30, male, English\n"  # id beyond 400
    text += "2, rock, 1, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 30, male, English\n"  # 2 is classical
    text += "101, rock, 2, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 30, male, English\n"  # not 0/1
    (tmp_path / "data.csv").write_text(text)
    with caplog.at_level(logging.WARNING, logger="moodflow.datasets"):
        prepared = DATASETS.get("emotify")(tmp_path, {}).load(None)
    assert "outside 1-400" in caplog.text and "contradicts" in caplog.text and "other than 0/1" in caplog.text
    assert len(prepared.static_labels) == 8


def test_prepare_trains_by_genre_and_reports_nine_gems_targets(emotify, tmp_path):
    root, _ = emotify
    prepared_dir = tmp_path / "prepared"
    prepare_dataset({"name": "emotify", "root": str(root)}, prepared_dir)
    store = store_for_prepared(prepared_dir, tmp_path / "store.h5", noise=0.05, n_noise=0)
    metrics = train_and_evaluate(
        store_path=store, prepared_dir=prepared_dir, feature_set="synthetic", model_name="ridge",
        model_config={"alpha": 1.0}, out_dir=tmp_path / "models/synthetic/ridge",
        protocol={"kind": "kfold", "folds": 4, "group": "genre"}, importance={"repeats": 0})
    assert sorted(metrics["static"]) == sorted(GEMS)
    predictions = pd.read_csv(tmp_path / "models/synthetic/ridge/predictions.csv", dtype={"track_id": str})
    genre = pd.read_csv(prepared_dir / "manifest.csv", dtype={"track_id": str}).set_index("track_id")["genre"]
    per_fold = predictions.assign(genre=predictions["track_id"].map(genre)).groupby("fold")["genre"].nunique()
    assert len(per_fold) == 4 and (per_fold == 1).all()  # each fold holds exactly one genre out
    model = json.loads((tmp_path / "models/synthetic/ridge/model.json").read_text())
    assert model["protocol_run"]["static"]["grouped"] is True
    # the dominant emotion, a class kind beside the shares: too few of the rarest classes per fold here
    assert model["not_scored"]["classification"].startswith("insufficient data: fold")
    params = {"dataset": {"name": "emotify"}, "features": {"sets": ["synthetic"]},
              "train": {"models": ["ridge"], "protocol": {"kind": "kfold", "folds": 4, "group": "genre"}}}
    report = write_report(params, tmp_path / "models", tmp_path / "reports")
    assert sorted(k for k in report["synthetic"]["ridge"] if k in GEMS) == sorted(GEMS)
    assert report["best"]["model"] == "ridge" and report["best"]["score"] > 0.5
    text = (tmp_path / "reports/comparison.md").read_text()
    assert "4-fold CV keeping each genre out" in text and "joyful_activation" in text
    assert "## Label kinds not scored" in text and "- synthetic/ridge classification: insufficient data" in text


def test_group_cv_refuses_more_folds_than_genres(emotify, tmp_path):
    root, _ = emotify
    prepare_dataset({"name": "emotify", "root": str(root)}, tmp_path / "prepared")
    store = store_for_prepared(tmp_path / "prepared", tmp_path / "store.h5")
    train_and_evaluate(store_path=store, prepared_dir=tmp_path / "prepared", feature_set="synthetic",
                       model_name="ridge", model_config={}, out_dir=tmp_path / "m",
                       protocol={"kind": "kfold", "folds": 5, "group": "genre"}, importance={"repeats": 0})
    status = json.loads((tmp_path / "m/model.json").read_text())["status"]
    assert status.startswith("insufficient data: 5-fold group CV needs at least 5 groups, this run has 4")
    with pytest.raises(ValueError, match="train.protocol.group: the prepared manifest of 'emotify' has no column 'artist'"):
        train_and_evaluate(store_path=store, prepared_dir=tmp_path / "prepared", feature_set="synthetic",
                           model_name="ridge", model_config={}, out_dir=tmp_path / "m2",
                           protocol={"kind": "kfold", "folds": 4, "group": "artist"}, importance={"repeats": 0})
