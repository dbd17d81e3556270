"""The ``folder`` adapter, on folders the tests write."""

import logging

import pytest

from moodflow.datasets import DATASETS


def _tree(root, files):
    for rel in files:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def test_unlabelled_recursive_folder(tmp_path):
    _tree(tmp_path, ["a.mp3", "album/01 song.FLAC", "album/02.wav", "x/y/z.ogg", "notes.txt", "album/.hidden.mp3"])
    prepared = DATASETS.get("folder")(tmp_path, {}).load(None)
    assert prepared.manifest["track_id"].tolist() == ["a", "album/01 song", "album/02", "x/y/z"]
    assert prepared.manifest.set_index("track_id").loc["album/02", "audio_path"] == str(tmp_path / "album/02.wav")
    assert prepared.spec.task == "regression" and prepared.spec.static_targets == []
    assert len(prepared.static_labels) == 0


def test_regression_labels_with_scale_file_column_and_bad_rows(tmp_path, caplog):
    _tree(tmp_path, ["a.mp3", "b/c.wav", "d.mp3", "e.mp3"])
    (tmp_path / "labels.csv").write_text(
        "file,valence,arousal\na.mp3,5,6\nb/c.wav,1,9\nd.mp3,,4\ne.mp3,10,2\nnot_here.mp3,3,3\n")
    with caplog.at_level(logging.WARNING, logger="moodflow.datasets"):
        prepared = DATASETS.get("folder")(tmp_path, {"labels": "labels.csv", "scale": "1..9"}).load(None)
    labels = prepared.static_labels.set_index("track_id")
    assert sorted(labels.index) == ["a", "b/c"]
    assert prepared.spec.scale == (1.0, 9.0) and prepared.spec.static_targets == ["valence", "arousal"]
    assert "labels.csv" in caplog.text and "d" in caplog.text and "outside the scale" in caplog.text
    assert "not_here" in caplog.text
    assert len(prepared.manifest) == 4  # unlabelled/badly labelled audio stays for extraction


def test_classification_and_dynamic_labels(tmp_path):
    _tree(tmp_path, ["s1.mp3", "s2.mp3"])
    (tmp_path / "cls.csv").write_text("track_id,mood\ns1,happy\ns2,sad\n")
    (tmp_path / "dyn.csv").write_text("track_id,time_s,valence,arousal\ns1,1.0,0.1,0.2\ns1,0.5,0.0,0.1\ns2,0.5,-0.2,0.3\n")
    config = {"labels": str(tmp_path / "cls.csv"), "class_column": "mood", "dynamic_labels": "dyn.csv",
              "scale": [-1, 1]}
    prepared = DATASETS.get("folder")(tmp_path, config).load(None)
    assert prepared.spec.task == "classification" and prepared.spec.classes == ["happy", "sad"]
    dyn = prepared.dynamic_labels
    assert dyn[dyn.track_id == "s1"]["time_s"].tolist() == [0.5, 1.0]
    assert prepared.spec.dynamic_hop_s == 0.5 and prepared.spec.dynamic_scale == (-1.0, 1.0)


def test_bad_config_errors_name_the_problem(tmp_path):
    _tree(tmp_path, ["a.mp3"])
    (tmp_path / "l.csv").write_text("name,score\na,1\n")
    with pytest.raises(ValueError, match="l.csv needs a 'track_id' or 'file' column"):
        DATASETS.get("folder")(tmp_path, {"labels": "l.csv"}).load(None)
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        DATASETS.get("folder")(tmp_path, {"labels": "missing.csv"}).load(None)
    with pytest.raises(ValueError, match="scale"):
        DATASETS.get("folder")(tmp_path, {"labels": "l.csv", "scale": "high"}).load(None)
    with pytest.raises(FileNotFoundError, match="dataset.root"):
        DATASETS.get("folder")(tmp_path / "nope", {}).load(None)
