"""The embedded demo dataset: determinism, tables, audio that follows its parameters, learnability."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from moodflow.decode.audio import load_audio
from moodflow.datasets import DATASETS
from moodflow.stores.prepared import PreparedDataset
from moodflow.datasets.demo import (
    ClipParams,
    emotion_curves,
    label_times,
    render_clip,
)
from moodflow.stores.grid import frame_grid

SR = 22050
TINY = {"n_clips": 6, "duration_s": 3.0, "sample_rate": SR, "seed": 0}
BASE = ClipParams(tempo_bpm=110.0, major=True, loudness=0.5, brightness=0.5, articulation=0.5,
                  consonance=0.5, register=0.5, note_seed=7)


def _load(tmp: Path, **config) -> PreparedDataset:
    return DATASETS.get("demo")(None, {**TINY, **config}).load(tmp)


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((folder / "audio").glob("*.wav"))}


def _db(y: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(y, dtype=np.float64))) + 1e-12))


def test_tables_shapes_and_ranges(tmp_path):
    ds = _load(tmp_path)
    assert list(ds.manifest["track_id"]) == [f"demo_{i:03d}" for i in range(6)]
    assert list(ds.manifest["audio_path"]) == [f"audio/demo_{i:03d}.wav" for i in range(6)]
    assert np.allclose(ds.manifest["duration_s"], 3.0)
    for rel in ds.manifest["audio_path"]:
        y = load_audio(tmp_path / rel, SR)
        assert len(y) == 3 * SR and 0.001 < np.abs(y).max() < 1.0
    st = ds.static_labels
    assert list(st.columns) == ["track_id", "valence", "arousal"] and len(st) == 6
    dyn = ds.dynamic_labels
    assert list(dyn.columns) == ["track_id", "time_s", "valence", "arousal"]
    for frame in (st, dyn):
        vals = frame[["valence", "arousal"]].to_numpy()
        assert np.isfinite(vals).all() and vals.min() >= 1.0 and vals.max() <= 9.0
    assert ds.spec.task == "regression" and ds.spec.scale == (1.0, 9.0) and ds.spec.scale_name == "1-9"
    assert ds.spec.static_targets == ds.spec.dynamic_targets == ["valence", "arousal"]
    assert ds.spec.dynamic_hop_s == 0.5
    assert "mapping" in ds.info and "description" in ds.info


def test_dynamic_times_on_the_frame_grid(tmp_path):
    ds = _load(tmp_path, n_clips=2, duration_s=4.3)
    start, end = frame_grid(4.3)
    centres = (start + end) / 2
    for _, grp in ds.dynamic_labels.groupby("track_id"):
        assert np.allclose(grp["time_s"].to_numpy(), centres)
    assert np.allclose(label_times(3.0), [0.5, 1.0, 1.5, 2.0, 2.5])
    assert len(label_times(0.9)) == 0


def test_static_label_is_close_to_the_dynamic_mean(tmp_path):
    ds = _load(tmp_path, n_clips=12)
    mean = ds.dynamic_labels.groupby("track_id")[["valence", "arousal"]].mean()
    st = ds.static_labels.set_index("track_id")[["valence", "arousal"]]
    diff = (st - mean.loc[st.index]).abs().to_numpy()
    assert diff.max() < 0.7 and diff.mean() < 0.25


def test_same_config_gives_identical_files_and_labels(tmp_path):
    a = _load(tmp_path / "a")
    b = _load(tmp_path / "b")
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    pd.testing.assert_frame_equal(a.static_labels, b.static_labels)
    pd.testing.assert_frame_equal(a.dynamic_labels, b.dynamic_labels)
    a.write(tmp_path / "pa")
    b.write(tmp_path / "pb")
    for name in ("manifest.csv", "labels_static.csv", "labels_dynamic.csv", "dataset.json"):
        assert (tmp_path / "pa" / name).read_bytes() == (tmp_path / "pb" / name).read_bytes()
    back = PreparedDataset.read(tmp_path / "pa")
    assert back.spec == a.spec and len(back.dynamic_labels) == len(a.dynamic_labels)


def test_other_seed_differs_and_clips_do_not_depend_on_n_clips(tmp_path):
    _load(tmp_path / "s0", n_clips=2)
    _load(tmp_path / "s0_more", n_clips=4)
    c = _load(tmp_path / "s1", n_clips=2, seed=1)
    d0, d_more, d1 = _digest(tmp_path / "s0"), _digest(tmp_path / "s0_more"), _digest(tmp_path / "s1")
    assert all(d_more[k] == v for k, v in d0.items())
    assert all(d1[k] != v for k, v in d0.items())
    assert len(c.static_labels) == 2


def test_bad_config_names_the_problem(tmp_path):
    with pytest.raises(ValueError, match="unknown setting"):
        _load(tmp_path, clips=3)
    with pytest.raises(ValueError, match="duration_s"):
        _load(tmp_path, duration_s=0.5)


def test_louder_clip_has_higher_rms_and_arousal():
    quiet = render_clip(dataclasses.replace(BASE, loudness=0.2), 3.0, SR)
    loud = render_clip(dataclasses.replace(BASE, loudness=0.8), 3.0, SR)
    assert _db(loud) - _db(quiet) > 12.0  # 0.6 of the 24 dB range = 14.4 dB of gain
    t = label_times(3.0)
    assert emotion_curves(dataclasses.replace(BASE, loudness=0.8), t, 3.0)[1].mean() > emotion_curves(
        dataclasses.replace(BASE, loudness=0.2), t, 3.0)[1].mean()


def test_faster_tempo_has_more_onsets():
    import librosa

    counts = []
    for bpm in (70.0, 160.0):
        y = render_clip(dataclasses.replace(BASE, tempo_bpm=bpm, articulation=0.2), 6.0, SR)
        counts.append(len(librosa.onset.onset_detect(y=y, sr=SR, units="time")))
    assert counts[1] > 1.6 * counts[0], counts


def test_brightness_and_register_raise_the_spectral_centroid():
    import librosa

    def centroid(**kw) -> float:
        y = render_clip(dataclasses.replace(BASE, **kw), 3.0, SR)
        return float(np.median(librosa.feature.spectral_centroid(y=y, sr=SR)))

    assert centroid(brightness=0.9) > 1.3 * centroid(brightness=0.1)
    assert centroid(register=0.9) > 1.2 * centroid(register=0.1)


def test_dissonant_clip_puts_energy_outside_the_scale():
    import librosa

    out_of_scale = [1, 3, 6, 8, 10]  # C major: C#, D#, F#, G#, A#

    def outside(consonance: float) -> float:
        y = render_clip(dataclasses.replace(BASE, consonance=consonance), 4.0, SR)
        c = librosa.feature.chroma_stft(y=y, sr=SR, n_fft=4096, tuning=0.0).mean(axis=1)
        return float(c[out_of_scale].sum() / c.sum())

    assert outside(0.0) > outside(1.0) + 0.05


def test_staccato_leaves_more_silence_than_legato():
    import librosa

    def quiet_fraction(articulation: float) -> float:
        y = render_clip(dataclasses.replace(BASE, articulation=articulation, tempo_bpm=80.0), 4.0, SR)
        rms = librosa.feature.rms(y=y, frame_length=512, hop_length=256)[0]
        return float(np.mean(rms < 0.1 * np.percentile(rms, 95)))

    stac, leg = quiet_fraction(0.0), quiet_fraction(1.0)
    assert stac > leg + 0.05, (stac, leg)


def _window_values(y: np.ndarray, fn, duration: float) -> np.ndarray:
    start, end = frame_grid(duration)
    return np.array([fn(y[int(s * SR):int(e * SR)]) for s, e in zip(start, end)])


@pytest.mark.parametrize("shape,sign", [("crescendo", 1), ("decrescendo", -1), ("swell", 0)])
def test_dynamic_arousal_follows_the_loudness_of_each_frame(shape, sign):
    p = dataclasses.replace(BASE, loudness_shape=shape)
    dur = 6.0
    y = render_clip(p, dur, SR)
    level = _window_values(y, _db, dur)
    arousal = emotion_curves(p, label_times(dur), dur)[1]
    assert np.corrcoef(level, arousal)[0, 1] > 0.9
    if sign:
        assert sign * (arousal[-1] - arousal[0]) > 0.8 and sign * (level[-1] - level[0]) > 6.0


def test_dynamic_valence_follows_the_melody_register():
    import librosa

    p = dataclasses.replace(BASE, melody_shape="rising", consonance=1.0)
    dur = 6.0
    y = render_clip(p, dur, SR)
    cent = _window_values(y, lambda w: np.median(librosa.feature.spectral_centroid(y=w, sr=SR)), dur)
    valence = emotion_curves(p, label_times(dur), dur)[0]
    assert valence[-1] - valence[0] > 1.0
    assert np.corrcoef(cent, valence)[0, 1] > 0.7


def _compare_r2(n_clips: int, duration_s: float, tmp: Path) -> dict[str, float]:
    """5-fold CV R² of the pipeline's ridge (alpha=100) on ComParE functionals of the demo."""
    import opensmile

    from moodflow.evaluation.metrics import r2
    from moodflow.evaluation.protocols import make_folds
    from moodflow.models import MODELS

    ds = _load(tmp, n_clips=n_clips, duration_s=duration_s)
    smile = opensmile.Smile(feature_set=opensmile.FeatureSet.ComParE_2016,
                            feature_level=opensmile.FeatureLevel.Functionals)
    X = np.stack([smile.process_signal(load_audio(tmp / rel, SR), SR).to_numpy()[0]
                  for rel in ds.manifest["audio_path"]])
    Y = ds.static_labels[["valence", "arousal"]].to_numpy()
    ids = ds.static_labels["track_id"].to_numpy()
    pred = np.full_like(Y, np.nan)
    for fold in make_folds(ids, kind="kfold", folds=5, seed=0):
        tr, te = np.isin(ids, fold.train), np.isin(ids, fold.test)
        model = MODELS.get("ridge")("regression", {"alpha": 100.0}).fit(X[tr], Y[tr])
        pred[te] = model.predict(X[te])
    return {t: r2(Y[:, j], pred[:, j]) for j, t in enumerate(["valence", "arousal"])}


def test_labels_are_learnable_from_compare_functionals_short_clips(tmp_path):
    scores = _compare_r2(40, 4.0, tmp_path)
    assert scores["valence"] >= 0.5 and scores["arousal"] >= 0.5, scores


def test_labels_are_learnable_at_the_default_size(demo_tree):
    """The pipeline's own run of the default demo (the shared tree): ComParE + ridge, 5-fold CV."""
    import json

    metrics = json.loads((demo_tree / "repo/reports/metrics.json").read_text())["compare"]["ridge"]
    assert metrics["valence"]["r2"] >= 0.5 and metrics["arousal"]["r2"] >= 0.5, metrics


@pytest.mark.parametrize("config", [
    {"n_clips": 1, "duration_s": 1.0, "sample_rate": 8000},
    {"n_clips": 3, "duration_s": 2.7, "sample_rate": 16000, "seed": 5},
])
def test_every_small_size_works(tmp_path, config):
    ds = _load(tmp_path, **config)
    n_times = len(label_times(config["duration_s"]))
    assert n_times >= 1 and len(ds.dynamic_labels) == config["n_clips"] * n_times
    for rel, dur in zip(ds.manifest["audio_path"], ds.manifest["duration_s"]):
        y = load_audio(tmp_path / rel, config["sample_rate"])
        assert abs(len(y) / config["sample_rate"] - dur) < 1e-3 and np.abs(y).max() > 0.001


def test_mapping_follows_the_documented_directions():
    t = label_times(4.0)

    def va(**kw) -> np.ndarray:
        return np.array([c.mean() for c in emotion_curves(dataclasses.replace(BASE, **kw), t, 4.0)])

    assert va(major=True)[0] > va(major=False)[0]
    assert va(consonance=0.9)[0] > va(consonance=0.1)[0]
    assert va(register=0.9)[0] > va(register=0.1)[0]
    assert va(tempo_bpm=170.0)[1] > va(tempo_bpm=70.0)[1]
    assert va(articulation=0.1)[1] > va(articulation=0.9)[1]
    assert np.all(va(brightness=0.9) > va(brightness=0.1))
    assert va(tempo_bpm=170.0)[0] == va(tempo_bpm=70.0)[0]  # tempo does not move valence
