"""Bad labels through the folder adapter and training: each problem is logged with the file
and the ids, the bad rows are left out, and the run goes on (or stops with a clear error)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from moodflow.train.data import dynamic_data
from moodflow.stores.grid import frame_grid
from moodflow.prepare.run import prepare_dataset
from moodflow.stores.feature_store import FeatureStore, FeatureStoreWriter
from moodflow.train.run import train_and_evaluate
from tests.helpers.synthetic_data import FEW_TRACKS

N = 12


@pytest.fixture
def folder(tmp_path):
    """12 tiny (empty-content) audio files; labels are written per test. A hand-made store with
    3 s of frames per track stands in for extraction (labels, not audio, are under test)."""
    root = tmp_path / "music"
    root.mkdir()
    ids = [f"s{i:02d}" for i in range(N)]
    for tid in ids:
        (root / f"{tid}.wav").write_bytes(b"RIFF")
    rng = np.random.default_rng(0)
    start, end = frame_grid(3.0)
    with FeatureStoreWriter(tmp_path / "store.h5", feature_names=["a", "b"], frame_shape=(2,), extractor="hand",
                            extractor_version="1", config={}, dataset="folder", sample_rate=22050) as w:
        for tid in ids:
            w.append(tid, 3.0, rng.normal(size=2), rng.normal(size=(len(start), 2)), start, end)
    return tmp_path, root, ids


def _prepare(tmp, root, **config):
    return prepare_dataset({"name": "folder", "root": str(root), "folder": config}, tmp / "prepared")


def test_bad_static_rows_are_dropped_and_named(folder, caplog):
    tmp, root, ids = folder
    rows = [(t, 0.1 * i, -0.1 * i) for i, t in enumerate(ids[:9])]
    rows += [("ghost", 0.0, 0.0),            # a label without audio
             ("s00", 0.0, 0.0),              # identical duplicate: one copy kept
             ("s01", 0.9, 0.9),              # conflicting duplicate: both rows dropped
             ("s09", float("nan"), 0.2),     # NaN
             ("s10", 5.0, 0.0)]              # outside the [-1, 1] scale
    pd.DataFrame(rows, columns=["track_id", "valence", "arousal"]).to_csv(root / "labels.csv", index=False)
    with caplog.at_level(logging.WARNING):
        prepared = _prepare(tmp, root, labels="labels.csv", scale=[-1, 1])
    labelled = set(prepared.static_labels["track_id"])
    assert labelled == set(ids[:11]) - {"s01"}  # s09 and s10 lose only their valence (docs/datasets.md)
    kept = prepared.static_labels.set_index("track_id")
    assert kept[["valence", "arousal"]].loc[["s09", "s10"]].isna().to_numpy().tolist() == [[True, False], [True, False]]
    assert set(prepared.manifest["track_id"]) == set(ids)  # s11 (audio without labels) is still a track
    text = caplog.text
    for needle in ("ghost", "s01", "s09", "s10", "labels.csv", "outside the scale"):
        assert needle in text, needle
    metrics = train_and_evaluate(**FEW_TRACKS, store_path=tmp / "store.h5", prepared_dir=tmp / "prepared", feature_set="hand",
                                 model_name="ridge", model_config={"alpha": 1.0},
                                 protocol={"kind": "kfold", "folds": 2}, seed=0, out_dir=tmp / "model")
    assert metrics["static"]["valence"]["n_tracks"] == 8  # only the clean, labelled tracks


def test_non_numeric_label_stops_with_file_and_value(folder):
    tmp, root, ids = folder
    pd.DataFrame({"track_id": ids, "valence": ["0.5"] * (N - 1) + ["happy"], "arousal": 0.1}).to_csv(
        root / "labels.csv", index=False)
    with pytest.raises(ValueError, match=r"labels\.csv column 'valence': not a number: \['happy'\]"):
        _prepare(tmp, root, labels="labels.csv")
    assert not (tmp / "prepared").exists()  # nothing half-written


def test_split_file_naming_unknown_ids(folder, caplog):
    tmp, root, ids = folder
    pd.DataFrame({"track_id": ids, "valence": np.linspace(-1, 1, N), "arousal": 0.0}).to_csv(
        root / "labels.csv", index=False)
    splits = tmp / "splits"
    splits.mkdir()
    (splits / "train.txt").write_text("\n".join(ids[:8] + ["nobody", "s99"]) + "\n")
    (splits / "test.txt").write_text("\n".join(ids[8:]) + "\n")
    with caplog.at_level(logging.WARNING):
        prepared = prepare_dataset({"name": "folder", "root": str(root), "split_dir": str(splits),
                                    "folder": {"labels": "labels.csv"}}, tmp / "prepared")
    assert "nobody" in caplog.text and "train.txt" in caplog.text
    assert set(prepared.splits["track_id"]) == set(ids)
    metrics = train_and_evaluate(**FEW_TRACKS, store_path=tmp / "store.h5", prepared_dir=tmp / "prepared", feature_set="hand",
                                 model_name="ridge", model_config={}, protocol={"kind": "split"}, seed=0,
                                 out_dir=tmp / "model")
    assert metrics["static"]["valence"]["n_tracks"] == N - 8


def test_split_id_in_two_splits_is_an_error(folder):
    tmp, root, ids = folder
    splits = tmp / "splits"
    splits.mkdir()
    (splits / "train.txt").write_text("\n".join(ids[:8]))
    (splits / "test.txt").write_text("\n".join(ids[7:]))
    with pytest.raises(ValueError, match=r"more than one split: s07"):
        prepare_dataset({"name": "folder", "root": str(root), "split_dir": str(splits)}, tmp / "prepared")


def test_dynamic_labels_past_the_end_of_the_audio(folder, caplog):
    tmp, root, ids = folder
    times = np.arange(0.5, 10.0, 0.5)  # the audio (and its frames) end at 3 s
    rows = [(t, s, 0.1, 0.2) for t in ids for s in times]
    pd.DataFrame(rows, columns=["track_id", "time_s", "valence", "arousal"]).to_csv(root / "dyn.csv", index=False)
    prepared = _prepare(tmp, root, dynamic_labels="dyn.csv")
    with FeatureStore(tmp / "store.h5") as store:
        data = dynamic_data(store, prepared.dynamic_labels, ["valence", "arousal"])
    assert len(data.track_ids) == N
    for t in data.times:
        assert t.max() <= 2.5 + 1e-9  # the last frame is centred at 2.5 s; later labels are left out
        assert len(t) == 5
