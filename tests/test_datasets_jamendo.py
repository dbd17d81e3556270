"""MTG-Jamendo mood/theme adapter: the mechanics on the miniature (tests/helpers/minis/jamendo.py:
CRLF TSVs, variable tag columns, split-0, a tag the splits leave out), the real counts on the
shared TSVs."""

from pathlib import Path

import pytest

from tests.helpers import minis
from tests.helpers.real_data import SHARED, needs_shared

from moodflow.datasets import DATASETS
from moodflow.datasets.jamendo import read_tsv



@pytest.fixture(scope="module")
def jamendo():
    return DATASETS.get("jamendo")(Path(SHARED) / "MTG-Jamendo", {}).load(None)


@needs_shared
def test_tracks_tags_and_split0(jamendo):
    assert len(jamendo.manifest) == 18486
    assert jamendo.spec.task == "tagging" and len(jamendo.spec.tags) == 56
    assert {"happy", "sad", "energetic", "relaxing"} <= set(jamendo.spec.tags)
    assert not {"ambiental", "horror", "mellow"} & set(jamendo.spec.tags)
    labels = jamendo.static_labels
    assert len(labels) == 17982 and list(labels.columns) == ["track_id", *jamendo.spec.tags]
    assert labels[jamendo.spec.tags].isin([0, 1]).all().all()
    assert (labels[jamendo.spec.tags].sum(axis=1) >= 1).all()
    counts = jamendo.splits["split"].value_counts().to_dict()
    assert counts == {"train": 9949, "validation": 3802, "test": 4231}


@needs_shared
def test_row_tags_and_paths(jamendo):
    row = jamendo.static_labels.set_index("track_id").loc["track_0000948"]
    assert row["background"] == 1 and row.sum() == 1
    man = jamendo.manifest.set_index("track_id")
    assert man.loc["track_0000948", "audio_path"].endswith("audio/48/948.mp3")
    assert man.loc["track_0000948", "duration_s"] == pytest.approx(212.7)
    assert Path(man.loc["track_0000948", "audio_path"]).is_absolute()


def test_crlf_and_variable_tag_fields_parsed(tmp_path):
    mini = minis.module("jamendo").write(tmp_path)
    assert b"\r\n" in (mini.root / "data/autotagging_moodtheme.tsv").read_bytes()
    tracks = read_tsv(mini.root / "data/autotagging_moodtheme.tsv")
    assert tracks["tags"].map(len).tolist() == [1, 2, 2, 3, 1, 5]
    assert not any(t.endswith("\r") for tags in tracks["tags"] for t in tags)
    assert tracks.set_index("track_id").loc["track_0003346", "path"] == "46/3346.mp3"


def test_all_tags_mode_and_data_folder_as_root(tmp_path):
    mini = minis.module("jamendo").write(tmp_path)
    split_only = DATASETS.get("jamendo")(mini.root, {}).load(None)
    every = DATASETS.get("jamendo")(mini.root / "data", {"tags": "all"}).load(None)  # data/ as the root works too
    assert set(every.spec.tags) - set(split_only.spec.tags) == {"mellow"}
    assert len(every.static_labels) == len(split_only.static_labels) + 1  # the mellow-only track gets labels
    assert every.manifest["audio_path"].tolist() == split_only.manifest["audio_path"].tolist()


@needs_shared
def test_variable_tag_columns_parsed():
    tracks = read_tsv(Path(SHARED) / "MTG-Jamendo/data/autotagging_moodtheme.tsv")
    n_tags = tracks["tags"].map(len)
    assert n_tags.min() == 1 and n_tags.max() == 8  # rows have 6 to 13 tab-separated fields
    assert not any(t.endswith("\r") for tags in tracks["tags"] for t in tags)


@needs_shared
def test_real_all_tags_mode_and_data_folder_as_root():
    prepared = DATASETS.get("jamendo")(Path(SHARED) / "MTG-Jamendo/data", {"tags": "all"}).load(None)
    assert len(prepared.spec.tags) == 59 and len(prepared.static_labels) == 18486


def test_audio_dir_and_low_quality_files(tmp_path):
    data = tmp_path / "data"
    (data / "splits/split-1").mkdir(parents=True)
    head = "TRACK_ID\tARTIST_ID\tALBUM_ID\tPATH\tDURATION\tTAGS\r\n"
    rows = ("track_1\ta\tb\t01/1.mp3\t10.0\tmood/theme---happy\tmood/theme---sad\r\n"
            "track_2\ta\tb\t02/2.mp3\t12.0\tmood/theme---sad\r\n")
    (data / "autotagging_moodtheme.tsv").write_text(head + rows, newline="")
    for split, row in (("train", rows.splitlines(True)[0]), ("validation", ""), ("test", rows.splitlines(True)[1])):
        (data / f"splits/split-1/autotagging_moodtheme-{split}.tsv").write_text(head + row, newline="")
    audio = tmp_path / "mp3"
    (audio / "01").mkdir(parents=True)
    (audio / "01/1.low.mp3").write_bytes(b"")
    (audio / "99").mkdir()
    (audio / "99/extra.mp3").write_bytes(b"")
    prepared = DATASETS.get("jamendo")(tmp_path, {"split": 1, "audio_dir": str(audio)}).load(None)
    man = prepared.manifest.set_index("track_id")["audio_path"]
    assert man["track_1"] == str(audio / "01/1.low.mp3")
    assert man["track_2"] == str(audio / "02/2.mp3")
    assert "99/extra" in man.index  # audio that the TSV does not list: extraction only
    assert prepared.spec.tags == ["happy", "sad"]
    assert prepared.splits.set_index("track_id")["split"].to_dict() == {"track_1": "train", "track_2": "test"}
