"""Error cases every adapter shares: duplicate ids, NaN labels, unknown or clashing split ids."""

import logging

import pytest

from moodflow.datasets import DATASETS
from moodflow.stores.prepared import LabelSpec


def _emomusic(root, static_rows, info_rows=None):
    ann = root / "annotations"
    ann.mkdir(parents=True)
    (ann / "static_annotations.csv").write_text("song_id,mean_arousal,std_arousal,mean_valence,std_valence\n"
                                                + "".join(static_rows))
    if info_rows is not None:
        (ann / "songs_info.csv").write_text('"song_id","file_name","Mediaeval 2013 set"\n' + "".join(info_rows))
    return root


def test_duplicate_ids_dropped_with_warning(tmp_path, caplog):
    root = _emomusic(tmp_path / "emo", ["2,3,1,3,1\n", "2,3,1,3,1\n", "4,5,1,5,1\n", "4,6,1,6,1\n", "5,2,1,2,1\n"])
    with caplog.at_level(logging.WARNING, logger="moodflow.datasets"):
        prepared = DATASETS.get("emomusic")(root, {}).load(None)
    # identical duplicates keep one copy; conflicting duplicates are ambiguous and dropped
    assert prepared.static_labels["track_id"].tolist() == ["2", "5"]
    assert "static_annotations.csv" in caplog.text
    assert "different values" in caplog.text and ": 4" in caplog.text
    assert "identical values" in caplog.text


def test_nan_and_out_of_scale_labels_dropped_with_warning(tmp_path, caplog):
    root = _emomusic(tmp_path / "emo", ["2,3,1,3,1\n", "3,,1,4,1\n", "4,NaN,1,4,1\n", "5,9.5,1,4,1\n"])
    with caplog.at_level(logging.WARNING, logger="moodflow.datasets"):
        prepared = DATASETS.get("emomusic")(root, {}).load(None)
    assert prepared.static_labels["track_id"].tolist() == ["2"]
    assert "NaN labels dropped (ids: 3, 4)" in caplog.text
    assert "outside the scale [1, 9] dropped (ids: 5)" in caplog.text
    # the songs whose labels were dropped are not in the manifest (no labels, no audio on disk)
    assert prepared.manifest["track_id"].tolist() == ["2"]


def test_unknown_split_ids_logged_not_fatal(tmp_path, caplog):
    root = _emomusic(tmp_path / "emo", ["2,3,1,3,1\n", "3,4,1,4,1\n", "4,5,1,5,1\n"])
    splits = tmp_path / "splits"
    splits.mkdir()
    (splits / "train.txt").write_text("2\n3\n999\n")
    (splits / "test.txt").write_text("4\n")
    with caplog.at_level(logging.WARNING, logger="moodflow.datasets"):
        prepared = DATASETS.get("emomusic")(root, {"split_dir": str(splits)}).load(None)
    assert prepared.splits.set_index("track_id")["split"].to_dict() == {"2": "train", "3": "train", "4": "test"}
    assert "train.txt" in caplog.text and "999" in caplog.text


def test_id_in_two_splits_is_an_error(tmp_path):
    root = _emomusic(tmp_path / "emo", ["2,3,1,3,1\n", "3,4,1,4,1\n"])
    splits = tmp_path / "splits"
    splits.mkdir()
    (splits / "train.txt").write_text("2\n3\n")
    (splits / "test.txt").write_text("3\n")
    with pytest.raises(ValueError, match="more than one split: 3"):
        DATASETS.get("emomusic")(root, {"split_dir": str(splits)}).load(None)


def test_native_split_from_songs_info_with_padded_fields(tmp_path):
    root = _emomusic(tmp_path / "emo", ["2,3,1,3,1\n", "3,4,1,4,1\n"],
                     ['2,"\t2.mp3","development"\n', '3,"\t3.mp3","evaluation"\n'])
    prepared = DATASETS.get("emomusic")(root, {}).load(None)
    assert prepared.splits.set_index("track_id")["split"].to_dict() == {"2": "train", "3": "test"}
    assert prepared.manifest["audio_path"].str.endswith("clips_45seconds/2.mp3").iloc[0]


def test_missing_root_and_annotation_errors(tmp_path):
    for name in ("pmemo", "deam", "emomusic", "fourq", "jamendo"):
        with pytest.raises(ValueError, match="dataset.root"):
            DATASETS.get(name)(None, {}).load(None)
        (tmp_path / name).mkdir()
        with pytest.raises(FileNotFoundError, match=f"dataset '{name}'"):
            DATASETS.get(name)(tmp_path / name, {}).load(None)


def test_labelspec_dynamic_scale_roundtrip():
    spec = LabelSpec(static_targets=["valence"], scale=(1.0, 9.0), dynamic_scale=(-1.0, 1.0), dynamic_scale_name="-1..1")
    assert LabelSpec.from_dict(spec.to_dict()) == spec
    assert LabelSpec.from_dict({"task": "regression"}).dynamic_scale is None  # older dataset.json files
