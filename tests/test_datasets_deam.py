"""DEAM adapter on DEAM's own files in the shared data (static header quirk, the real dynamic
files with their ragged rows, emoMusic's clips as DEAM audio); the same mechanics on the
miniature (tests/helpers/minis/deam.py) without shared data; crafted files only for what
neither shows (an out-of-scale value, a missing file)."""

import csv
import logging
from pathlib import Path

import pytest

from tests.helpers import minis
from tests.helpers.real_data import SHARED, needs_shared

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


def _raw_rows(target):
    """DEAM's own wide file as written: the header and each song's cells after the id."""
    with open(Path(SHARED) / "DEAM" / DYNAMIC_FILES[target], newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], {r[0].strip(): r[1:] for r in rows[1:] if r}


@needs_shared
def test_real_dynamic_files_header_ids_and_ragged_rows():
    header, valence = _raw_rows("valence")
    _, arousal = _raw_rows("arousal")
    assert len(header) == 1224 and header[1] == "sample_15000ms" and header[-1] == "sample_626000ms"
    assert len(valence) == len(arousal) == 1802
    # a 45 s clip's row stops at 44.5 s: 60 values, the rest of the row empty (ragged rows)
    assert sum(c.strip() != "" for c in valence["2"]) == 60 and all(c.strip() == "" for c in valence["2"][60:])
    lengths = {t: sum(c.strip() != "" for c in cells) for t, cells in valence.items()}
    assert lengths["2011"] == 1223  # the longest full song fills the header
    uneven = sorted(t for t in valence if lengths[t] != sum(c.strip() != "" for c in arousal[t]))
    assert uneven == ["2002", "2011", "2020", "2027", "2036", "2042", "2045"]  # one file one sample longer


@needs_shared
def test_real_dynamic_labels_ids_times_and_counts(deam):
    dyn = deam.dynamic_labels
    ids = sorted(dyn["track_id"].unique(), key=int)
    assert len(ids) == 1802 and ids[0] == "2" and ids[-1] == "2058"
    assert set(ids) == set(deam.static_labels["track_id"])
    times = dyn.groupby("track_id")["time_s"]
    assert set(times.min()) == {15.0}
    steps = dyn.groupby("track_id")["time_s"].diff().dropna()
    assert set(steps.round(6)) == {0.5}  # 2 Hz, no gap inside any song
    counts = times.count()
    clips = [t for t in ids if int(t) <= 2000]
    assert len(clips) == 1744 and set(counts[clips]) == {60} and set(times.max()[clips]) == {44.5}
    full = counts[[t for t in ids if int(t) > 2000]]
    assert len(full) == 58 and full.min() > 60 and times.max()["2011"] == 626.0
    # the 7 time points that only one of the two files has are dropped, never half-filled
    assert dyn[["valence", "arousal"]].notna().all().all()
    _, valence = _raw_rows("valence")
    _, arousal = _raw_rows("arousal")
    n = lambda cells: sum(c.strip() != "" for c in cells)  # noqa: E731
    assert counts["2002"] == min(n(valence["2002"]), n(arousal["2002"]))
    assert len(dyn) == sum(min(n(valence[t]), n(arousal[t])) for t in valence) == 129995
    v = dyn[["valence", "arousal"]].to_numpy()
    assert v.min() >= -1 and v.max() <= 1


@needs_shared
def test_real_dynamic_labels_align_with_emomusic_clips_as_deam_audio(deam):
    import numpy as np
    import pandas as pd
    import soundfile as sf

    from moodflow.stores.grid import align_to_frames, frame_grid

    emo = pd.read_csv(Path(SHARED) / "emoMusic/annotations/valence_cont_average.csv").set_index("song_id")
    manifest = deam.manifest.set_index("track_id")
    dyn = deam.dynamic_labels
    for tid in ("2", "3", "4", "5", "7", "8"):
        path = Path(manifest.loc[tid, "audio_path"])
        assert path.parent.name == "clips_45seconds" and path.exists()
        song = dyn[dyn.track_id == tid]
        # DEAM's rows of songs 2-1000 are emoMusic's continuous averages for the same clips (printed
        # to fewer digits), without emoMusic's last sample at 45.0 s
        theirs = emo.loc[int(tid)].dropna()
        assert len(theirs) == 61 and theirs.index[-1] == "sample_45000ms" and len(song) == 60
        np.testing.assert_allclose(song["valence"].to_numpy(), theirs.to_numpy()[:60], atol=5e-6)
        duration = sf.info(str(path)).duration
        assert 45.0 <= duration < 45.1 and song["time_s"].max() < duration
        start, end = frame_grid(duration)  # the extraction grid: 1 s windows, 0.5 s hop, from 0 s
        idx = align_to_frames(song["time_s"].to_numpy(), start, end)
        assert (idx >= 0).all() and np.allclose((start[idx] + end[idx]) / 2, song["time_s"].to_numpy(), atol=0.26)


def test_miniature_header_spaces_ragged_rows_and_a_sample_only_one_file_has(tmp_path, caplog):
    mini = minis.module("deam").write(tmp_path)
    assert (mini.root / STATIC_FILES[0]).read_bytes().startswith(b"song_id, valence_mean, valence_std")
    with caplog.at_level(logging.WARNING, logger="moodflow.datasets"):
        deam = DATASETS.get("deam")(mini.root, {}).load(None)
    assert list(deam.static_labels.columns) == ["track_id", "valence", "arousal"]
    counts = deam.dynamic_labels.groupby("track_id")["time_s"].agg(["count", "max"])
    assert counts.loc["2", "count"] == 60 and counts.loc["2", "max"] == 44.5  # a 45 s clip ends at 44.5 s
    assert counts.loc["2002", "count"] == 70  # arousal's extra sample has no valence: dropped, logged
    assert "1 (song, time) point(s) lack one of ['valence', 'arousal']" in caplog.text and "2002" in caplog.text


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
