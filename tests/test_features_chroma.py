"""Chroma extractor: values are librosa's own chroma, summarised per track and per window."""

from __future__ import annotations

import numpy as np
import pytest

librosa = pytest.importorskip("librosa")

from moodflow.features import EXTRACTORS  # noqa: E402
from moodflow.features.chroma import PITCH_CLASSES, ChromaExtractor  # noqa: E402
from moodflow.stores.grid import frame_grid  # noqa: E402

SR = 22050


def chord_sequence(seconds: float = 3.0, sample_rate: int = SR) -> np.ndarray:
    """A (C major, A minor, F major) chord every second, as sums of sines."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    chords = [(261.63, 329.63, 392.00), (220.00, 261.63, 329.63), (174.61, 220.00, 261.63)]
    y = np.zeros_like(t)
    for k, freqs in enumerate(chords):
        on = (t >= k) & (t < k + 1)
        y[on] = sum(np.sin(2 * np.pi * f * t[on]) for f in freqs)
    return (0.2 * y).astype(np.float32)


@pytest.fixture(scope="module")
def signal():
    return chord_sequence()


def test_registered_with_defaults():
    ex = EXTRACTORS.get("chroma")()
    assert isinstance(ex, ChromaExtractor) and ex.parallel == "processes"
    assert ex.config.kind == "cqt" and ex.config.hop_length == 512
    names = ex.feature_names()
    assert len(names) == 24 and names[0] == "chroma_C__mean" and names[12] == "chroma_C__std"
    assert ex.frame_names() == names and ex.frame_shape() == (24,)
    with pytest.raises(ValueError, match="kind"):
        ChromaExtractor({"kind": "mfcc"})
    with pytest.raises(ValueError, match="unknown setting"):
        ChromaExtractor({"n_chroma": 24})


@pytest.mark.parametrize("kind,hop", [("cqt", 512), ("stft", 512), ("stft", 256)])
def test_matches_librosa(signal, kind, hop):
    feats = ChromaExtractor({"kind": kind, "hop_length": hop}).extract(signal, SR)
    fn = librosa.feature.chroma_cqt if kind == "cqt" else librosa.feature.chroma_stft
    ref = fn(y=signal, sr=SR, hop_length=hop).astype(np.float64)  # (12, n)
    np.testing.assert_allclose(feats.static[:12], ref.mean(axis=1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(feats.static[12:], ref.std(axis=1), rtol=1e-4, atol=1e-6)
    start, end = frame_grid(len(signal) / SR)
    assert np.allclose(feats.start_s, start) and np.allclose(feats.end_s, end)
    assert feats.frames.shape == (len(start), 24) == (5, 24)
    centres = librosa.frames_to_time(np.arange(ref.shape[1]), sr=SR, hop_length=hop)
    for k, (a, b) in enumerate(zip(start, end)):
        block = ref[:, (centres >= a) & (centres < b)]
        np.testing.assert_allclose(feats.frames[k, :12], block.mean(axis=1), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(feats.frames[k, 12:], block.std(axis=1), rtol=1e-4, atol=1e-6)


def test_windows_see_the_chords(signal):
    """Window [0, 1) holds C major, [1, 2) A minor: their strongest pitch classes say so."""
    feats = ChromaExtractor().extract(signal, SR)
    top = lambda row: {PITCH_CLASSES[i] for i in np.argsort(row[:12])[-3:]}  # noqa: E731
    assert top(feats.frames[0]) == {"C", "E", "G"}
    assert top(feats.frames[2]) == {"A", "C", "E"}
    assert top(feats.frames[4]) == {"F", "A", "C"}


@pytest.mark.parametrize("n_samples", [0, 1, 2047])
def test_shorter_than_one_fft_gives_nan_and_no_frames(n_samples):
    feats = ChromaExtractor().extract(chord_sequence(0.2)[:n_samples], SR)
    assert feats.static.shape == (24,) and np.isnan(feats.static).all()
    assert feats.frames.shape == (0, 24)


def test_shorter_than_a_window_gives_static_only():
    feats = ChromaExtractor({"kind": "stft"}).extract(chord_sequence(0.5), SR)
    assert np.isfinite(feats.static).all() and feats.frames.shape == (0, 24)


def test_real_pmemo_clip(shared_data):
    from moodflow.decode.audio import load_audio

    y = load_audio(shared_data / "PMEmo2019" / "chorus" / "108.mp3", SR)[: 10 * SR]
    feats = ChromaExtractor().extract(y, SR)
    assert feats.frames.shape == (len(frame_grid(len(y) / SR)[0]), 24) == (19, 24)
    assert np.isfinite(feats.static).all() and np.isfinite(feats.frames).all()
    assert (feats.static[:12] > 0).all() and (feats.static[:12] <= 1).all()


def test_signal_shorter_than_a_large_fft_has_no_frame_times():
    feats = ChromaExtractor({"kind": "stft", "n_fft": 32768}).extract(chord_sequence(1.2), SR)
    assert np.isnan(feats.static).all() and feats.frames.shape == (0, 24)
    assert len(feats.start_s) == len(feats.end_s) == 0


def test_filter_bank_memo_is_bit_identical_and_hits():
    """The in-memory CQT filter-bank memo changes no value (librosa scales its copy in place)."""
    import librosa

    from moodflow.features import cqt_filters

    rng = np.random.default_rng(7)
    sr = 22050
    t = np.arange(3 * sr) / sr
    signals = [(0.3 * np.sin(2 * np.pi * f * t) + 0.02 * rng.standard_normal(len(t))).astype(np.float32)
               for f in (220.0, 233.1, 220.0)]
    cqt_filters.uninstall()
    plain = [librosa.feature.chroma_cqt(y=y, sr=sr) for y in signals]
    try:
        assert cqt_filters.install() and cqt_filters.install()  # idempotent
        before = dict(cqt_filters.stats)
        memo = [librosa.feature.chroma_cqt(y=y, sr=sr) for y in signals]
        again = [librosa.feature.chroma_cqt(y=y, sr=sr) for y in signals]
    finally:
        cqt_filters.uninstall()
    for a, b, c in zip(plain, memo, again):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    assert cqt_filters.stats["hits"] - before["hits"] > cqt_filters.stats["misses"] - before["misses"]
    out = ChromaExtractor().extract(signals[0], sr)  # the extractor installs it itself
    np.testing.assert_allclose(out.static[:12], plain[0].mean(axis=1), rtol=1e-6)
