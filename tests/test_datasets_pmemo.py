"""PMEmo adapter: the mechanics on the miniature (tests/helpers/minis/pmemo.py, always), the real
counts and values on the shared copy (skip when MOODFLOW_SHARED_DATA is unset)."""

from pathlib import Path

import numpy as np
import pytest

from tests.helpers import minis
from tests.helpers.real_data import SHARED, needs_shared

from moodflow.datasets import DATASETS
from moodflow.stores.prepared import PreparedDataset


@pytest.fixture(scope="module")
def pmemo():
    root = Path(SHARED) / "PMEmo2019"
    return DATASETS.get("pmemo")(root, {"split_dir": str(Path(SHARED) / "splits/music2emo/pmemo")}).load(None)


@needs_shared
def test_counts_and_scale(pmemo):
    assert len(pmemo.static_labels) == 767
    assert pmemo.dynamic_labels["track_id"].nunique() == 767
    assert len(pmemo.manifest) == 767
    assert pmemo.spec.scale == (0.0, 1.0) and pmemo.spec.dynamic_scale == (0.0, 1.0)
    v = pmemo.static_labels[["valence", "arousal"]].to_numpy()
    assert v.min() >= 0 and v.max() <= 1 and v.std() > 0.05
    # musicId 1: Arousal(mean) 0.4, Valence(mean) 0.575 in static_annotations.csv
    row = pmemo.static_labels.set_index("track_id").loc["1"]
    assert row["valence"] == pytest.approx(0.575) and row["arousal"] == pytest.approx(0.4)


@needs_shared
def test_audio_paths_absolute_and_shared_clips_exist(pmemo):
    paths = pmemo.manifest.set_index("track_id")["audio_path"]
    assert all(Path(p).is_absolute() for p in paths)
    present = {t for t, p in paths.items() if Path(p).exists()}
    assert present == {"108", "372", "634", "683"}
    assert pmemo.manifest.set_index("track_id").loc["108", "duration_s"] == pytest.approx(49.14)


@needs_shared
def test_dynamic_times(pmemo):
    dyn = pmemo.dynamic_labels
    first = dyn.groupby("track_id")["time_s"].min()
    assert (first == 15.5).all()
    steps = np.round(dyn.groupby("track_id")["time_s"].diff().dropna().unique(), 6)
    assert list(steps) == [0.5]
    assert pmemo.spec.dynamic_hop_s == 0.5


@needs_shared
def test_music2emo_splits(pmemo):
    counts = pmemo.splits["split"].value_counts().to_dict()
    assert counts == {"train": 536, "validation": 116, "test": 115}
    assert set(pmemo.splits["track_id"]) <= set(pmemo.manifest["track_id"])


def test_write_read_roundtrip(tmp_path):
    mini = minis.module("pmemo").write(tmp_path / "raw")
    pmemo = DATASETS.get("pmemo")(mini.root, mini.config).load(None)
    pmemo.write(tmp_path / "out")
    back = PreparedDataset.read(tmp_path / "out")
    assert back.spec == pmemo.spec
    assert back.manifest["track_id"].tolist() == pmemo.manifest["track_id"].tolist()
    assert len(back.dynamic_labels) == len(pmemo.dynamic_labels) and back.dynamic_labels["time_s"].min() == 15.5


def test_audio_follows_metadata_file_names(tmp_path):
    mini = minis.module("pmemo").write(tmp_path / "raw")
    meta = mini.root / "metadata.csv"
    meta.write_text(meta.read_text().replace("108,108.mp3,", "108,108_chorus.mp3,"))
    (mini.root / "chorus/108.mp3").rename(mini.root / "chorus/108_chorus.mp3")
    manifest = DATASETS.get("pmemo")(mini.root, {}).load(None).manifest.set_index("track_id")["audio_path"]
    assert manifest["108"].endswith("chorus/108_chorus.mp3") and Path(manifest["108"]).exists()


def test_provided_features_recorded_when_present(tmp_path):
    root = tmp_path / "PMEmo2019"
    (root / "annotations").mkdir(parents=True)
    (root / "features").mkdir()
    (root / "annotations/static_annotations.csv").write_text("musicId,Arousal(mean),Valence(mean)\n1,0.4,0.5\n")
    (root / "features/static_features.csv").write_text("musicId,a,b\n1,0.1,0.2\n")
    prepared = DATASETS.get("pmemo")(root, {}).load(None)
    info = prepared.info["provided_features"]
    assert info["static_csv"].endswith("features/static_features.csv") and info["id_column"] == "musicId"
    assert prepared.dynamic_labels is None and prepared.spec.dynamic_targets == []
