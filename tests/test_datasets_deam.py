"""DEAM adapter: the shared static annotations (header quirk) and a synthetic dynamic layout."""

import logging
from pathlib import Path

import pytest

from real_data import SHARED, needs_shared

from moodflow.datasets import DATASETS
from moodflow.datasets.deam import DYNAMIC_FILES, STATIC_FILES



@pytest.fixture(scope="module")
def deam():
    config = {"split_dir": str(Path(SHARED) / "splits/music2emo/deam"),
              "audio_dir": str(Path(SHARED) / "emoMusic/clips_45seconds")}
    return DATASETS.get("deam")(Path(SHARED) / "DEAM", config).load(None)


@needs_shared
def test_header_with_leading_spaces_is_read(deam):
    # the CSV header is "song_id, valence_mean, …": without stripping, no column would match
    header = (Path(SHARED) / "DEAM" / STATIC_FILES[0]).read_text().splitlines()[0]
    assert ", valence_mean" in header
    assert list(deam.static_labels.columns) == ["track_id", "valence", "arousal"]
    row = deam.static_labels.set_index("track_id").loc["2"]
    assert (row["valence"], row["arousal"]) == (3.1, 3.0)


@needs_shared
def test_counts_scale_and_both_files(deam):
    ids = set(deam.static_labels["track_id"])
    assert len(ids) == 1802
    assert "2001" in ids and "2058" in ids  # from the second file
    assert deam.spec.scale == (1.0, 9.0) and deam.spec.scale_name == "1-9"
    v = deam.static_labels[["valence", "arousal"]].to_numpy()
    assert v.min() >= 1 and v.max() <= 9
    # the shared copy now holds DEAM's own dynamic files: all 1802 songs at 2 Hz on -1..1
    assert deam.dynamic_labels is not None and deam.dynamic_labels["track_id"].nunique() == 1802
    assert deam.spec.dynamic_scale == (-1.0, 1.0) and deam.spec.dynamic_targets == ["valence", "arousal"]


@needs_shared
def test_audio_from_emomusic_clips_and_splits(deam):
    present = {t for t, p in zip(deam.manifest["track_id"], deam.manifest["audio_path"]) if Path(p).exists()}
    assert present == {"2", "3", "4", "5", "7", "8"}
    counts = deam.splits["split"].value_counts().to_dict()
    assert counts == {"train": 1261, "validation": 271, "test": 270}


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_dynamic_wide_files_with_unequal_rows(tmp_path, caplog):
    root = tmp_path / "DEAM"
    _write(root / STATIC_FILES[0], "song_id, valence_mean, valence_std, arousal_mean, arousal_std\n"
                                   "2,3.1,0.9,3,0.6\n3,5.0,1,5.5,1\n")
    header = "song_id," + ",".join(f"sample_{ms}ms" for ms in range(15000, 18000, 500)) + "\n"
    # song 2 stops after three samples (short row), song 3 pads with empty fields
    _write(root / DYNAMIC_FILES["valence"], header + "2,0.1,0.2,0.3\n3,-0.1,-0.2,-0.3,-0.4,,\n")
    _write(root / DYNAMIC_FILES["arousal"], header + "2,0.5,0.5,0.5\n3,0.2,0.2,0.2,0.2\n")
    prepared = DATASETS.get("deam")(root, {}).load(None)
    dyn = prepared.dynamic_labels
    assert dyn.groupby("track_id").size().to_dict() == {"2": 3, "3": 4}
    assert dyn[dyn.track_id == "2"]["time_s"].tolist() == [15.0, 15.5, 16.0]
    assert dyn[dyn.track_id == "3"]["valence"].tolist() == [-0.1, -0.2, -0.3, -0.4]
    assert prepared.spec.dynamic_scale == (-1.0, 1.0) and prepared.spec.scale == (1.0, 9.0)
    assert prepared.spec.dynamic_targets == ["valence", "arousal"]


def test_out_of_scale_dynamic_value_dropped_with_warning(tmp_path, caplog):
    root = tmp_path / "DEAM"
    _write(root / STATIC_FILES[0], "song_id, valence_mean, arousal_mean\n2,3.1,3\n")
    header = "song_id,sample_15000ms,sample_15500ms\n"
    _write(root / DYNAMIC_FILES["valence"], header + "2,0.1,7.5\n")
    _write(root / DYNAMIC_FILES["arousal"], header + "2,0.5,0.5\n")
    with caplog.at_level(logging.WARNING, logger="moodflow.datasets"):
        prepared = DATASETS.get("deam")(root, {}).load(None)
    assert prepared.dynamic_labels["time_s"].tolist() == [15.0]
    assert "valence.csv" in caplog.text and "outside the scale" in caplog.text


def test_missing_static_file_names_it(tmp_path):
    (tmp_path / "DEAM").mkdir()
    with pytest.raises(FileNotFoundError, match="static_annotations_averaged_songs_1_2000.csv"):
        DATASETS.get("deam")(tmp_path / "DEAM", {}).load(None)
