"""4Q adapter: the mechanics on the miniature (tests/helpers/minis/fourq.py, always), the real
counts and files on the shared copy."""

from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import minis
from tests.helpers.real_data import SHARED, needs_shared

from moodflow.datasets import DATASETS


@pytest.fixture(scope="module")
def fourq():
    return DATASETS.get("fourq")(Path(SHARED) / "4Q", {}).load(None)


@pytest.fixture
def mini(tmp_path):
    written = minis.module("fourq").write(tmp_path)
    return written, DATASETS.get("fourq")(written.root, {}).load(None)


def test_audio_paths_follow_quadrant_folders_with_audio_or_not(mini):
    written, fourq = mini
    labels = fourq.static_labels.set_index("track_id")["quadrant"]
    paths = fourq.manifest.set_index("track_id")["audio_path"]
    assert all(Path(p).parent.name == labels[t] for t, p in paths.items())
    assert sorted(t for t, p in paths.items() if Path(p).exists()) == sorted(written.audio)
    assert fourq.splits is None  # none published: the authors' protocol is repeated stratified CV


def test_provided_features_exclude_the_repeated_label(mini):
    _, fourq = mini
    info = fourq.info["provided_features"]
    assert info["id_column"] == "SongID" and info["exclude_columns"] == ["Quadrant"]
    table = pd.read_csv(info["static_csv"], dtype={"SongID": str})
    merged = table[["SongID", "Quadrant"]].merge(fourq.static_labels, left_on="SongID", right_on="track_id")
    assert len(merged) == len(fourq.static_labels) and (merged["Quadrant"] == merged["quadrant"]).all()


@needs_shared
def test_all_900_tracks_labelled(fourq):
    assert len(fourq.manifest) == 900 and len(fourq.static_labels) == 900
    assert fourq.spec.task == "classification" and fourq.spec.class_column == "quadrant"
    assert fourq.spec.classes == ["Q1", "Q2", "Q3", "Q4"]
    assert fourq.static_labels["quadrant"].value_counts().to_dict() == {f"Q{i}": 225 for i in range(1, 5)}


@needs_shared
def test_real_audio_in_quadrant_folders(fourq):
    labels = fourq.static_labels.set_index("track_id")["quadrant"]
    paths = fourq.manifest.set_index("track_id")["audio_path"]
    assert all(Path(p).parent.name == labels[t] for t, p in paths.items())  # each real file in its label's folder
    present = [t for t, p in paths.items() if Path(p).exists()]
    assert len(present) == 20
    assert paths["MT0000040632"].endswith("MER_audio_taffc_dataset/Q1/MT0000040632.mp3")


@needs_shared
def test_real_provided_features_cover_every_song(fourq):
    info = fourq.info["provided_features"]
    table = pd.read_csv(info["static_csv"], dtype={"SongID": str})
    assert set(table["SongID"]) == set(fourq.static_labels["track_id"])
    # the feature file repeats the label: it agrees with the annotations (and must not be a feature)
    merged = table[["SongID", "Quadrant"]].merge(fourq.static_labels, left_on="SongID", right_on="track_id")
    assert (merged["Quadrant"] == merged["quadrant"]).all()
