"""Dataset-true extraction (`decode.sample_rate: auto`) and provided-feature runs without audio."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from moodflow.core.errors import MoodflowError
from moodflow.decode.run import DecodeFailed, decode_dataset
from moodflow.decode.settings import DEFAULT_SAMPLE_RATE, resolve_sample_rate
from moodflow.extract.run import extract_store
from moodflow.prepare.run import prepare_dataset
from moodflow.stores.audio_store import AudioStore
from moodflow.train.run import train_and_evaluate
from tests.helpers.real_data import SHARED, needs_shared

GRID = {"win_s": 1.0, "hop_s": 0.5}


def test_auto_takes_the_declared_native_rate_else_the_default():
    native = {"native_audio": {"sample_rate": 44100, "why": "published features at 44.1 kHz"}}
    assert resolve_sample_rate("auto", native)[0] == 44100
    assert resolve_sample_rate("auto", {}) == (DEFAULT_SAMPLE_RATE, "auto: no native rate declared, the default")
    assert resolve_sample_rate(16000, native)[0] == 16000  # an explicit rate wins


@needs_shared
def test_pmemo_auto_decodes_the_stereo_mixdown_at_44k(tmp_path):
    """PMEmo's published ComParE recipe is openSMILE on the 44.1 kHz stereo clips mixed down: at
    ``auto`` the audio store holds exactly that mixdown (tests/test_features_compare.py shows the
    decode → compare path on it equals ``Smile(..., channels=[0, 1], mixdown=True)``)."""
    import audiofile

    prepare_dataset({"name": "pmemo", "root": str(Path(SHARED) / "PMEmo2019")}, tmp_path / "prepared")
    meta = json.loads((tmp_path / "prepared/dataset.json").read_text())
    assert meta["info"]["native_audio"]["sample_rate"] == 44100
    decoded, _ = decode_dataset(tmp_path / "prepared", tmp_path / "audio.h5", tmp_path / "errors.csv",
                                sample_rate="auto")
    with AudioStore(tmp_path / "audio.h5") as audio:
        assert audio.sample_rate == 44100 and len(audio.ids) == decoded >= 2
        for track_id in audio.ids:
            stereo, sr = audiofile.read(str(Path(SHARED) / "PMEmo2019/chorus" / f"{track_id}.mp3"), always_2d=True)
            assert sr == 44100 and stereo.shape[0] == 2
            np.testing.assert_array_equal(audio.signal(track_id), stereo.mean(axis=0, dtype=np.float32))


def _pmemo_without_audio(root: Path, n: int = 30) -> None:
    """A PMEmo download of annotations and published features only (no chorus mp3s)."""
    rng = np.random.default_rng(0)
    (root / "annotations").mkdir(parents=True)
    (root / "features").mkdir()
    ids = np.arange(1, n + 1)
    x = rng.normal(size=(n, 4))
    pd.DataFrame({"musicId": ids, "Arousal(mean)": 0.5 + 0.1 * x[:, 0], "Valence(mean)": 0.5 + 0.1 * x[:, 1]}).to_csv(
        root / "annotations/static_annotations.csv", index=False)
    pd.DataFrame({"musicId": ids, **{f"f{i}": x[:, i] for i in range(4)}}).to_csv(
        root / "features/static_features.csv", index=False)


def test_provided_only_run_needs_no_audio(tmp_path):
    _pmemo_without_audio(tmp_path / "PMEmo2019")
    prepare_dataset({"name": "pmemo", "root": str(tmp_path / "PMEmo2019")}, tmp_path / "prepared")
    decoded, errors = decode_dataset(tmp_path / "prepared", tmp_path / "audio.h5", tmp_path / "errors.csv",
                                     sample_rate="auto")
    assert decoded == 0 and len(errors) == 30 and set(errors["error"]) == {"file not found"}
    with AudioStore(tmp_path / "audio.h5") as audio:
        assert audio.ids == []
    extract_store(name="provided", config={}, grid=GRID, audio_path=tmp_path / "audio.h5",
                  prepared_dir=tmp_path / "prepared", out_path=tmp_path / "provided.h5", dataset="pmemo", workers=1)
    train_and_evaluate(store_path=tmp_path / "provided.h5", prepared_dir=tmp_path / "prepared",
                       feature_set="provided", model_name="ridge", model_config={}, protocol={"folds": 5},
                       seed=0, out_dir=tmp_path / "ridge")
    manifest = json.loads((tmp_path / "ridge/model.json").read_text())
    assert manifest["status"] == "ok" and manifest["tasks"]["static"]["n_tracks"] == 30
    with pytest.raises(MoodflowError, match="audio store holds no tracks.*chroma needs audio"):
        extract_store(name="chroma", config={}, grid=GRID, audio_path=tmp_path / "audio.h5",
                      prepared_dir=tmp_path / "prepared", out_path=tmp_path / "chroma.h5", dataset="pmemo", workers=1)
    assert not (tmp_path / "chroma.h5").exists()


def test_missing_audio_without_provided_features_still_fails(tmp_path):
    root = tmp_path / "PMEmo2019"
    _pmemo_without_audio(root, n=3)
    (root / "features/static_features.csv").unlink()
    prepare_dataset({"name": "pmemo", "root": str(root)}, tmp_path / "prepared")
    with pytest.raises(DecodeFailed, match="none of the 3 tracks could be decoded"):
        decode_dataset(tmp_path / "prepared", tmp_path / "audio.h5", tmp_path / "errors.csv", sample_rate="auto")
