"""Chords and key against the demo's known score (40 clips of 8 s), the store, real audio.

How frames count: the demo plays a chord every two beats, sounding for ``gate`` (15–95 %, the
clip's articulation) of the span; in the rest of a staccato span only the melody and the drums
sound. The bar (≥ 90 %) is on the frames where the chord sounds; accuracy over all frames of
the span (the chord counted as lasting to the next one) is asserted at the level measured
(75 % on these clips, docs/features.md), so a regression shows in both.
"""

from __future__ import annotations

import numpy as np
import pytest

from moodflow.datasets.demo import chord_timeline, clip_params, key_of, render_clip
from moodflow.features import build_extractor
from moodflow.features.chords import PITCH_CLASSES, chord_labels, note_midi
from moodflow.stores.grid import frame_grid

SR = 22050
SECONDS = 8.0
N_CLIPS = 40


@pytest.fixture(scope="module")
def demo():
    """Per clip: (params, frame times, decoded chord classes, TrackFeatures)."""
    ex = build_extractor("chords", {}, {})
    out = []
    for i in range(N_CLIPS):
        p = clip_params(0, i)
        chroma, chords, times = ex.analyse(render_clip(p, SECONDS, SR), SR)
        out.append((p, times, chords, ex.summarise(chroma, chords, times, SECONDS, *frame_grid(SECONDS))))
    return ex, out


def _truth(p, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(chord class per frame, whether the chord sounds at the frame)."""
    labels = chord_labels()
    gate = 0.15 + 0.8 * p.articulation  # the share of the span render_clip sounds the chord
    truth, sounding = np.full(len(times), -1), np.zeros(len(times), bool)
    for a, b, label in chord_timeline(p, SECONDS):
        inside = (times >= a) & (times < b)
        truth[inside] = labels.index(label)
        sounding |= inside & (times < a + gate * (b - a))
    return truth, sounding


def test_chord_frame_accuracy_on_the_demo(demo):
    _, clips = demo
    right = np.concatenate([chords == _truth(p, t)[0] for p, t, chords, _ in clips])
    sounding = np.concatenate([_truth(p, t)[1] for p, t, _, _ in clips])
    assert right[sounding].mean() >= 0.90, f"sounding frames: {right[sounding].mean():.3f}"
    assert right.mean() >= 0.72, f"all frames: {right.mean():.3f}"


def test_key_accuracy_on_the_demo(demo):
    ex, clips = demo
    names = ex.feature_names()
    right = []
    for p, _, _, feats in clips:
        tonic = PITCH_CLASSES[int(np.argmax(feats.static[names.index("key_tonic_C"):names.index("key_tonic_B") + 1]))]
        mode = "min" if feats.static[names.index("key_is_minor")] == 1 else "maj"
        right.append(f"{tonic}:{mode}" == key_of(p))
    assert np.mean(right) >= 0.90, f"key accuracy {np.mean(right):.3f}"


def test_static_features_are_shares_and_the_key_is_one_hot(demo):
    ex, clips = demo
    names = ex.feature_names()
    assert len(names) == len(set(names)) == len(ex.feature_groups()) == 42
    for p, _, chords, feats in clips:
        s = dict(zip(names, feats.static))
        assert np.isclose(sum(v for k, v in s.items() if k.startswith("chord_share_")), 1.0, atol=1e-6)
        assert np.isclose(s["chord_major_share"] + s["chord_minor_share"], 1.0, atol=1e-6)
        assert sum(s[f"key_tonic_{pc}"] for pc in PITCH_CLASSES) == 1 and s["key_is_minor"] in (0, 1)
        assert s["chord_change_rate_per_s"] == pytest.approx(np.count_nonzero(np.diff(chords)) / SECONDS)
        assert 0 < s["key_clarity"] <= 1
    # the tonic chord of a clip in C is the root-invariant class 0 of its own mode, mostly
    major = [feats.static[names.index("chord_share_deg00_maj")] for p, _, _, feats in clips if p.major]
    assert np.median(major) > 0.2


def test_frames_are_the_grid_with_distributions(demo):
    ex, clips = demo
    feats = clips[0][3]
    start, end = frame_grid(SECONDS)
    assert feats.frames.shape == (len(start), 26) and len(ex.frame_names()) == 26
    assert np.array_equal(feats.start_s, start) and np.array_equal(feats.end_s, end)
    assert np.isfinite(feats.frames).all()
    np.testing.assert_allclose(feats.frames[:, :25].sum(axis=1), 1.0, atol=1e-6)
    assert ((feats.frames[:, 25] > 0) & (feats.frames[:, 25] <= 1)).all()
    assert ex.frame_names()[:2] == ["chord_C_maj", "chord_C#_maj"] and ex.frame_names()[-2:] == [
        "chord_none", "local_key_strength"]


def test_silence_is_nan_and_a_long_rest_is_no_chord():
    ex = build_extractor("chords", {}, {})
    feats = ex.extract(np.zeros(3 * SR, np.float32), SR)
    assert np.isnan(feats.static).all() and len(feats.frames) == 0
    p = clip_params(0, 11)  # legato: the chord sounds throughout
    y = np.concatenate([render_clip(p, 4.0, SR), np.zeros(6 * SR, np.float32)])
    _, chords, times = ex.analyse(y, SR)
    assert (chords[times > 8.0] == 24).all() and (chords[(times > 0.5) & (times < 3.5)] != 24).all()


def test_bad_note_settings_are_one_line():
    from moodflow.core.errors import SettingsError

    assert note_midi("C2") == 36 and note_midi("F#3") == 54 and note_midi("Bb1") == 34
    with pytest.raises(SettingsError, match="^features.chords.key_fmin: 'H3' is not a note name"):
        build_extractor("chords", {"key_fmin": "H3"}, {})
    with pytest.raises(SettingsError, match="^features.chords.key_fmin: 'C1' must lie at or above"):
        build_extractor("chords", {"key_fmin": "C1"}, {})


def test_store_layout_and_byte_identical_rerun(tmp_path):
    from tests.helpers.stores import assert_same_store

    from moodflow.extract.run import extract_store
    from moodflow.stores.audio_store import AudioStoreWriter
    from moodflow.stores.feature_store import FeatureStore

    audio = tmp_path / "audio.h5"
    with AudioStoreWriter(audio, sample_rate=SR, dataset="demo") as writer:
        for i in (3, 7, 11):
            writer.append(f"demo_{i:03d}", render_clip(clip_params(0, i), 3.0, SR))
    for out in ("a.h5", "b.h5"):
        extract_store(name="chords", config={}, grid={}, audio_path=audio, prepared_dir=tmp_path,
                      out_path=tmp_path / out, dataset="demo", workers=1, cache_dir=None)
    assert (tmp_path / "a.h5").read_bytes() == (tmp_path / "b.h5").read_bytes()
    assert_same_store(tmp_path / "a.h5", tmp_path / "b.h5")
    ex = build_extractor("chords", {}, {})
    with FeatureStore(tmp_path / "a.h5") as store:
        assert store.extractor == "chords" and store.ids == ["demo_003", "demo_007", "demo_011"]
        assert store.feature_names == ex.feature_names() and store.frame_names == ex.frame_names()
        assert store.feature_groups == ex.feature_groups()
        assert store.static().shape == (3, 42) and store.frame_shape == (26,)
        assert store.config["extractor"]["key_profile"] == "krumhansl"
        assert len(store.frames("demo_007")[0]) == len(frame_grid(3.0)[0])


def test_real_audio_runs_and_is_finite(shared_data):
    from moodflow.decode.audio import load_audio

    ex = build_extractor("chords", {"key_profile": "temperley"}, {})
    for path in (shared_data / "PMEmo2019" / "chorus" / "108.mp3", shared_data / "emoMusic" / "clips_45seconds" / "2.mp3"):
        y = load_audio(path, SR)[: 20 * SR]
        feats = ex.extract(y, SR)
        assert np.isfinite(feats.static).all() and np.isfinite(feats.frames).all(), path
        assert feats.frames.shape == (len(frame_grid(len(y) / SR)[0]), 26)


@pytest.mark.parametrize("rate", [8000, 44100])
def test_other_sample_rates_run(rate):
    """At 8 kHz the CQT's top octave would pass Nyquist: the bins stop below it instead."""
    y = render_clip(clip_params(0, 11), 3.0, rate)
    feats = build_extractor("chords", {}, {}).extract(y, rate)
    assert np.isfinite(feats.static).all() and np.isfinite(feats.frames).all()
