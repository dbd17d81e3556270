"""Several datasets in one experiment: qualified ids, one label space, per-dataset evaluation on
each dataset's own scale, the report's Music2Emo-shaped table."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from moodflow.core.errors import SettingsError
from moodflow.decode.run import decode_dataset
from moodflow.extract.run import extract_store
from moodflow.prepare.run import prepare_dataset
from moodflow.report.run import write_report
from moodflow.stores.prepared import PreparedDataset
from moodflow.train.run import train_and_evaluate
from tests.helpers.real_data import SHARED, needs_shared

DEMO = {"n_clips": 24, "duration_s": 3.0}


@pytest.fixture(scope="module")
def joint(tmp_path_factory) -> Path:
    """demo (labels 1–9) + a folder of other demo clips whose labels were rescaled to 0–1."""
    root = tmp_path_factory.mktemp("joint")
    other = prepare_dataset({"name": "demo", "demo": {**DEMO, "seed": 7}}, root / "other")
    music = root / "music"
    music.mkdir()
    for rel in other.manifest["audio_path"]:
        shutil.copy(root / "other" / rel, music / Path(rel).name)
    labels = other.static_labels.assign(
        file=[Path(p).name for p in other.manifest.set_index("track_id").loc[other.static_labels["track_id"], "audio_path"]],
        valence=(other.static_labels["valence"] - 1) / 8, arousal=(other.static_labels["arousal"] - 1) / 8)
    labels[["file", "valence", "arousal"]].to_csv(music / "labels.csv", index=False)
    params = {"name": ["demo", "folder"], "roots": {"folder": str(music)}, "demo": DEMO,
              "folder": {"labels": "labels.csv", "scale": [0.0, 1.0]}}
    prepare_dataset(params, root / "prepared")
    decode_dataset(root / "prepared", root / "audio.h5", root / "errors.csv", sample_rate="auto")
    extract_store(name="chroma", config={}, grid={"win_s": 1.0, "hop_s": 0.5}, audio_path=root / "audio.h5",
                  prepared_dir=root / "prepared", out_path=root / "features/chroma.h5", dataset="demo+folder",
                  workers=1)
    for model in ("ridge", "multitask"):
        train_and_evaluate(store_path=root / "features/chroma.h5", prepared_dir=root / "prepared",
                           feature_set="chroma", model_name=model, model_config={}, protocol={"folds": 3},
                           seed=0, out_dir=root / "models/chroma" / model, min_train=20, min_test=5)
    return root


def test_one_prepared_dataset_with_qualified_ids_on_one_scale(joint):
    prepared = PreparedDataset.read(joint / "prepared")
    assert prepared.name == "demo+folder" and len(prepared.manifest) == 48
    assert set(prepared.manifest["dataset"]) == {"demo", "folder"}
    assert all(t.startswith(("demo/", "folder/")) for t in prepared.manifest["track_id"])
    members = prepared.info["members"]
    assert members["demo"]["scale"] == [1.0, 9.0] and members["folder"]["scale"] == [0.0, 1.0]
    assert prepared.spec.scale == (1.0, 9.0)
    # the folder's 0–1 labels are on the training scale: the original demo values come back
    other = PreparedDataset.read(joint / "other")
    labels = prepared.static_labels.set_index("track_id")
    for _, row in other.static_labels.iterrows():
        tid = "folder/" + Path(other.manifest.set_index("track_id").loc[row["track_id"], "audio_path"]).stem
        assert labels.loc[tid, "valence"] == pytest.approx(row["valence"], abs=1e-9)


@pytest.mark.parametrize("model", ["ridge", "multitask"])
def test_every_dataset_is_scored_alone_on_its_own_scale(joint, model):
    folder = joint / "models/chroma" / model
    metrics = json.loads((folder / "metrics.json").read_text())
    assert set(metrics["datasets"]) == {"demo", "folder"}
    preds = pd.read_csv(folder / "predictions.csv", dtype={"track_id": str})
    rows = preds[(preds["task"] == "static") & preds["track_id"].str.startswith("folder/")
                 & (preds["target"] == "valence")]
    # back-transformed: y_true on 0–1 equals the folder's own labels file
    truth = pd.read_csv(joint / "music/labels.csv").assign(track_id=lambda d: "folder/" + d["file"].str[:-4])
    truth = truth.set_index("track_id")["valence"]
    y_true = (rows["y_true"].to_numpy() - 1) / 8
    y_pred = (rows["y_pred"].to_numpy() - 1) / 8
    np.testing.assert_allclose(y_true, truth.loc[rows["track_id"]].to_numpy(), atol=1e-9)
    per_fold = [np.sqrt(np.mean((y_pred[m] - y_true[m]) ** 2)) for m in
                (rows["fold"].to_numpy() == f for f in sorted(set(rows["fold"])))]
    ours = metrics["datasets"]["folder"]["static"]["valence"]
    assert ours["rmse"] == pytest.approx(np.mean(per_fold), rel=1e-6)  # on 0–1, not on 1–9
    assert metrics["datasets"]["folder"]["scale"] == "0-1" and metrics["datasets"]["demo"]["scale"] == "1-9"


def test_report_has_the_joint_table_and_per_dataset_metrics(joint):
    params = {"dataset": {"name": ["demo", "folder"]}, "features": {"sets": ["chroma"]},
              "train": {"models": ["ridge", "multitask"], "protocol": {"folds": 3}, "seed": 0}}
    report = write_report(params, joint / "models", joint / "reports")
    assert set(report["chroma"]["multitask"]["datasets"]) == {"demo", "folder"}
    assert "r2" in report["chroma"]["ridge"]["datasets"]["folder"]["valence"]
    text = (joint / "reports/comparison.md").read_text()
    assert "## Joint training" in text and "ours: chroma/multitask, demo+folder joint" in text
    assert "demo V R²" in text and "folder A R²" in text


def test_joint_settings_are_checked():
    with pytest.raises(SettingsError, match="dataset.roots"):
        prepare_dataset({"name": ["demo", "folder"], "root": "/somewhere"}, "/tmp/never")
    with pytest.raises(SettingsError, match=r"dataset.roots: \['pmemo'\] are not in"):
        prepare_dataset({"name": ["demo", "folder"], "roots": {"pmemo": "/x"}}, "/tmp/never")
    with pytest.raises(SettingsError, match="unknown dataset 'pmem'"):
        prepare_dataset({"name": ["demo", "pmem"]}, "/tmp/never")


@needs_shared
def test_real_layouts_join_with_each_native_scale(tmp_path):
    shared = Path(SHARED)
    params = {"name": ["pmemo", "emomusic", "deam", "jamendo"],
              "roots": {"pmemo": str(shared / "PMEmo2019"), "emomusic": str(shared / "emoMusic"),
                        "deam": str(shared / "DEAM"), "jamendo": str(shared / "MTG-Jamendo")},
              "pmemo": {"split_dir": str(shared / "splits/music2emo/pmemo")},
              "emomusic": {"split_dir": str(shared / "splits/music2emo/emomusic")}}
    prepared = prepare_dataset(params, tmp_path / "prepared")
    members = prepared.info["members"]
    assert members["pmemo"]["scale"] == [0.0, 1.0] and members["emomusic"]["scale"] == [1.0, 9.0]
    assert members["deam"]["dynamic_scale"] == [-1.0, 1.0] and members["jamendo"]["tags"]
    labels = prepared.static_labels.set_index("track_id")
    # PMEmo's 0–1 labels on 1–9; emoMusic's stay as they were
    pmemo = pd.read_csv(shared / "PMEmo2019/annotations/static_annotations.csv").set_index("musicId")
    assert labels.loc["pmemo/108", "valence"] == pytest.approx(1 + 8 * pmemo.loc[108, "Valence(mean)"])
    assert labels["valence"].dropna().between(1, 9).all()
    jam = labels[labels.index.str.startswith("jamendo/")]
    assert jam["valence"].isna().all() and (jam[members["jamendo"]["tags"]].sum(axis=1) > 0).all()
    assert prepared.splits is not None and set(prepared.splits["track_id"].str.split("/").str[0]) >= {"pmemo", "emomusic"}
    dyn = prepared.dynamic_labels
    assert dyn["valence"].between(-1, 1).all()  # PMEmo's 0–1 dynamic labels moved onto −1..1
