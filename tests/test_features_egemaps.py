"""eGeMAPSv02 extractor: one openSMILE pass equals opensmile.Smile's separate passes."""

from __future__ import annotations

import numpy as np
import pytest

opensmile = pytest.importorskip("opensmile")

from moodflow.features import EXTRACTORS  # noqa: E402
from moodflow.features.opensmile.egemaps import EgemapsExtractor  # noqa: E402
from moodflow.stores.grid import frame_grid  # noqa: E402

SR = 16000


def voice_like(seconds: float, seed: int = 0, sample_rate: int = SR) -> np.ndarray:
    """Voiced bursts (harmonic, gliding pitch) separated by noise-only gaps."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    f0 = 180 + 40 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    voiced = (np.sin(2 * np.pi * 1.5 * t) > -0.3).astype(float)
    y = voiced * sum(np.sin(k * phase) / k for k in range(1, 8))
    return (0.3 * y + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.fixture(scope="module")
def signal():
    return voice_like(3.0)


@pytest.fixture(scope="module")
def reference(signal):
    lv = opensmile.FeatureLevel
    return {name: opensmile.Smile(opensmile.FeatureSet.eGeMAPSv02, level).process_signal(signal, SR)
            for name, level in (("func", lv.Functionals), ("lld", lv.LowLevelDescriptors))}


def test_registered_with_published_defaults(reference):
    ex = EXTRACTORS.get("egemaps")()
    assert isinstance(ex, EgemapsExtractor) and ex.parallel == "processes"
    assert ex.feature_names() == list(reference["func"].columns) and len(ex.feature_names()) == 88
    assert ex.lld_names() == list(reference["lld"].columns) and len(ex.lld_names()) == 25
    assert ex.frame_shape() == (50,) and ex.frame_names()[25] == "Loudness_sma3__std"


def test_one_pass_equals_smile(signal, reference):
    feats = EgemapsExtractor().extract(signal, SR)
    np.testing.assert_array_equal(feats.static, reference["func"].values[0])
    assert np.isfinite(feats.static).all()
    # frames recomputed from Smile's own LLD rows and their own start times
    lld = reference["lld"].values.astype(np.float64)
    row_start = reference["lld"].index.get_level_values("start").total_seconds().to_numpy()
    start, end = frame_grid(len(signal) / SR)
    assert feats.frames.shape == (len(start), 50) == (5, 50)
    for k, (a, b) in enumerate(zip(start, end)):
        rows = lld[(row_start >= a - 1e-9) & (row_start < b - 1e-9)]
        assert 94 <= len(rows) <= 100  # the last window ends where the LLD rows run out
        np.testing.assert_allclose(feats.frames[k, :25], rows.mean(axis=0), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(feats.frames[k, 25:], rows.std(axis=0), rtol=1e-4, atol=1e-4)


def test_lld_rows_equal_smile(signal, reference):
    from moodflow.features.opensmile.smile import run_smile

    out = run_smile(signal, SR, "eGeMAPSv02", ("lld",))
    np.testing.assert_array_equal(out.lld, reference["lld"].values)
    ref_start = reference["lld"].index.get_level_values("start").total_seconds().to_numpy()
    np.testing.assert_allclose(out.lld_start_s, ref_start, atol=1e-9)


def test_deltas_are_not_a_setting():
    with pytest.raises(ValueError, match="unknown setting"):
        EgemapsExtractor({"deltas": True})


@pytest.mark.parametrize("seconds", [0.0, 0.01, 0.6])
def test_short_signals(seconds):
    feats = EgemapsExtractor().extract(voice_like(0.7)[: int(seconds * SR)], SR)
    assert feats.frames.shape == (0, 50) and feats.static.shape == (88,)
    assert np.isnan(feats.static).all() == (seconds < 0.1)


def test_real_pmemo_clip(shared_data):
    from moodflow.decode.audio import load_audio

    y = load_audio(shared_data / "PMEmo2019" / "chorus" / "108.mp3", 22050)[: 10 * 22050]
    feats = EgemapsExtractor().extract(y, 22050)
    assert feats.frames.shape == (len(frame_grid(len(y) / 22050)[0]), 50) == (19, 50)
    assert np.isfinite(feats.static).all() and np.isfinite(feats.frames).all()
