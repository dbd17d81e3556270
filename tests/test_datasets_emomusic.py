"""emoMusic adapter: the mechanics on the miniature (tests/helpers/minis/emomusic.py, always),
the real counts, grid and split on the shared copy."""

from pathlib import Path

import numpy as np
import pytest

from tests.helpers import minis
from tests.helpers.real_data import SHARED, needs_shared

from moodflow.datasets import DATASETS


@pytest.fixture(scope="module")
def emo():
    return DATASETS.get("emomusic")(Path(SHARED) / "emoMusic", {}).load(None)


@needs_shared
def test_counts_and_scales(emo):
    assert len(emo.static_labels) == 744 and len(emo.manifest) == 744
    assert emo.spec.scale == (1.0, 9.0) and emo.spec.dynamic_scale == (-1.0, 1.0)
    s = emo.static_labels[["valence", "arousal"]].to_numpy()
    d = emo.dynamic_labels[["valence", "arousal"]].to_numpy()
    assert 1 <= s.min() and s.max() <= 9 and -1 <= d.min() and d.max() <= 1
    row = emo.static_labels.set_index("track_id").loc["2"]
    assert (row["valence"], row["arousal"]) == (3.0, 3.1)


@needs_shared
def test_dynamic_grid_15_to_45_s(emo):
    dyn = emo.dynamic_labels
    per_song = dyn.groupby("track_id")["time_s"]
    assert (per_song.min() == 15.0).all() and (per_song.max() == 45.0).all()
    assert (per_song.size() == 61).all()
    assert list(np.unique(np.round(per_song.diff().dropna(), 6))) == [0.5]


@needs_shared
def test_shared_clips_exist(emo):
    present = {t for t, p in zip(emo.manifest["track_id"], emo.manifest["audio_path"]) if Path(p).exists()}
    assert present == {"2", "3", "4", "5", "7", "8"}


@needs_shared
def test_native_mediaeval_split(emo):
    counts = emo.splits["split"].value_counts().to_dict()
    assert counts == {"train": 619, "test": 125}
    split = emo.splits.set_index("track_id")["split"]
    assert split["2"] == "train" and split["3"] == "test"  # development / evaluation in songs_info.csv


def test_split_dir_overrides_native(tmp_path):
    mini = minis.module("emomusic").write(tmp_path / "raw")
    native = DATASETS.get("emomusic")(mini.root, {}).load(None)
    assert native.info["split_source"].startswith("annotations/songs_info.csv")
    chosen = {"2": "test", "3": "train", "4": "validation", "5": "train", "7": "train", "8": "train", "1000": "test"}
    split_dir = minis.write_split_dir(tmp_path / "splits", chosen)
    emo = DATASETS.get("emomusic")(mini.root, {"split_dir": str(split_dir)}).load(None)
    assert dict(zip(emo.splits["track_id"], emo.splits["split"])) == chosen
    assert emo.info["split_source"] == str(split_dir)


@needs_shared
def test_real_music2emo_split_dir():
    config = {"split_dir": str(Path(SHARED) / "splits/music2emo/emomusic")}
    emo = DATASETS.get("emomusic")(Path(SHARED) / "emoMusic", config).load(None)
    assert emo.splits["split"].value_counts().to_dict() == {"train": 495, "validation": 124, "test": 125}
    assert emo.info["split_source"] == config["split_dir"]
