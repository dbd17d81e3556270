"""PMEmo adapter against the shared real data (skips when MOODFLOW_SHARED_DATA is unset)."""

from pathlib import Path

import numpy as np
import pytest

from tests.helpers.real_data import SHARED, needs_shared

from moodflow.datasets import DATASETS
from moodflow.stores.prepared import PreparedDataset

pytestmark = needs_shared


@pytest.fixture(scope="module")
def pmemo():
    root = Path(SHARED) / "PMEmo2019"
    return DATASETS.get("pmemo")(root, {"split_dir": str(Path(SHARED) / "splits/music2emo/pmemo")}).load(None)


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


def test_audio_paths_absolute_and_shared_clips_exist(pmemo):
    paths = pmemo.manifest.set_index("track_id")["audio_path"]
    assert all(Path(p).is_absolute() for p in paths)
    present = {t for t, p in paths.items() if Path(p).exists()}
    assert present == {"108", "372", "634", "683"}
    assert pmemo.manifest.set_index("track_id").loc["108", "duration_s"] == pytest.approx(49.14)


def test_dynamic_times(pmemo):
    dyn = pmemo.dynamic_labels
    first = dyn.groupby("track_id")["time_s"].min()
    assert (first == 15.5).all()
    steps = np.round(dyn.groupby("track_id")["time_s"].diff().dropna().unique(), 6)
    assert list(steps) == [0.5]
    assert pmemo.spec.dynamic_hop_s == 0.5


def test_music2emo_splits(pmemo):
    counts = pmemo.splits["split"].value_counts().to_dict()
    assert counts == {"train": 536, "validation": 116, "test": 115}
    assert set(pmemo.splits["track_id"]) <= set(pmemo.manifest["track_id"])


def test_write_read_roundtrip(pmemo, tmp_path):
    pmemo.write(tmp_path)
    back = PreparedDataset.read(tmp_path)
    assert back.spec == pmemo.spec
    assert back.manifest["track_id"].tolist() == pmemo.manifest["track_id"].tolist()
    assert len(back.dynamic_labels) == len(pmemo.dynamic_labels)


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
