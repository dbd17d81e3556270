"""ComParE_2016 extractor: one openSMILE pass equals opensmile.Smile's separate passes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

opensmile = pytest.importorskip("opensmile")

from moodflow.features import EXTRACTORS  # noqa: E402
from moodflow.features.opensmile.compare import CompareExtractor  # noqa: E402
from moodflow.stores.grid import frame_grid  # noqa: E402

SR = 22050


def music_like(seconds: float, seed: int = 0, sample_rate: int = SR) -> np.ndarray:
    """A gliding harmonic tone with vibrato, a pulsing envelope and some noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    f0 = 196.0 * (1 + 0.25 * t / max(seconds, 1e-9)) * (1 + 0.01 * np.sin(2 * np.pi * 5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    y = sum(np.sin(k * phase) / k for k in range(1, 6))
    env = 0.6 + 0.4 * np.sin(2 * np.pi * 2 * t) ** 2
    return (0.25 * env * y + 0.02 * rng.standard_normal(len(t))).astype(np.float32)


def smile(level):
    return opensmile.Smile(opensmile.FeatureSet.ComParE_2016, level)


@pytest.fixture(scope="module")
def signal():
    return music_like(3.2)


@pytest.fixture(scope="module")
def reference(signal):
    """Functionals, LLDs and LLD deltas from three separate opensmile.Smile passes."""
    lv = opensmile.FeatureLevel
    return {name: smile(level).process_signal(signal, SR) for name, level in (
        ("func", lv.Functionals), ("lld", lv.LowLevelDescriptors), ("lld_de", lv.LowLevelDescriptors_Deltas)
    )}


def test_registered_with_published_defaults():
    ex = EXTRACTORS.get("compare")()
    assert isinstance(ex, CompareExtractor)
    assert ex.parallel == "processes"
    assert len(ex.feature_names()) == 6373
    assert len(ex.lld_names()) == 130
    assert ex.frame_shape() == (260,)
    with pytest.raises(ValueError, match="unknown setting"):
        EXTRACTORS.get("compare")({"window": 2})


def test_names_are_opensmiles(reference):
    ex = CompareExtractor()
    assert ex.feature_names() == list(reference["func"].columns)
    assert ex.lld_names() == list(reference["lld"].columns) + list(reference["lld_de"].columns)
    names = ex.frame_names()
    assert names[0] == "F0final_sma__mean" and names[130] == "F0final_sma__std"
    assert names[65] == "F0final_sma_de__mean" and names[-1] == ex.lld_names()[-1] + "__std"


def test_one_pass_equals_smile(signal, reference):
    from moodflow.features.opensmile.smile import run_smile

    out = run_smile(signal, SR, "ComParE_2016", ("lld", "lld_de"))
    np.testing.assert_array_equal(out.functionals, reference["func"].values[0])
    lld, de = reference["lld"].values, reference["lld_de"].values
    n = len(lld)
    # the delta level flushes two extra rows at the end of input; the joint reader stops with the LLDs
    assert out.lld.shape == (n, 130) and len(de) >= n
    np.testing.assert_array_equal(out.lld, np.hstack([lld, de[:n]]))
    # row starts: openSMILE's own time stamps where they increase (they repeat on the last row)
    ref_start = reference["lld"].index.get_level_values("start").total_seconds().to_numpy()
    ok = np.r_[True, np.diff(ref_start) > 0]
    assert ok.sum() >= n - 1
    np.testing.assert_allclose(out.lld_start_s[ok], ref_start[ok], atol=1e-9)
    assert np.allclose(np.diff(out.lld_start_s), 221 / SR)  # 10 ms rounded to whole samples


def test_frames_are_window_mean_std_of_smile_llds(signal, reference):
    feats = CompareExtractor().extract(signal, SR)
    start, end = frame_grid(len(signal) / SR)
    assert np.allclose(feats.start_s, start) and np.allclose(feats.end_s, end)
    assert feats.frames.shape == (len(start), 260) and feats.frames.dtype == np.float32
    lld = reference["lld"]
    n = len(lld)
    values = np.hstack([lld.values, reference["lld_de"].values[:n]]).astype(np.float64)
    row_start = np.arange(n) * 221 / SR
    for k, (a, b) in enumerate(zip(start, end)):
        rows = values[(row_start >= a) & (row_start < b)]
        assert 99 <= len(rows) <= 100
        np.testing.assert_allclose(feats.frames[k, :130], rows.mean(axis=0), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(feats.frames[k, 130:], rows.std(axis=0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(feats.static, reference["func"].values[0], rtol=1e-6, atol=1e-6)


def test_lld_only_frames():
    ex = CompareExtractor({"deltas": False})
    y = music_like(1.6, seed=3)
    feats = ex.extract(y, SR)
    assert ex.frame_shape() == (130,) and feats.frames.shape == (2, 130)
    assert len(ex.frame_names()) == 130 and not any("_de__" in n for n in ex.frame_names())


@pytest.mark.parametrize("n_samples", [0, 1, 100, 1000])
def test_too_short_for_opensmile_gives_nan_and_no_frames(n_samples):
    feats = CompareExtractor().extract(music_like(0.1)[:n_samples], SR)
    assert feats.static.shape == (6373,) and np.isnan(feats.static).all()
    assert feats.frames.shape == (0, 260) and len(feats.start_s) == 0


def test_shorter_than_a_window_gives_static_but_no_frames():
    feats = CompareExtractor().extract(music_like(0.6), SR)
    assert np.isfinite(feats.static).all()
    assert feats.frames.shape == (0, 260)


def test_threads_give_the_same_values():
    ex = CompareExtractor()
    signals = [music_like(1.5, seed=s) for s in range(4)]
    serial = [ex.extract(y, SR) for y in signals]
    with ThreadPoolExecutor(max_workers=2) as pool:
        threaded = list(pool.map(lambda y: ex.extract(y, SR), signals))
    for a, b in zip(serial, threaded):
        np.testing.assert_array_equal(a.static, b.static)
        np.testing.assert_array_equal(a.frames, b.frames)


def test_real_pmemo_clip(shared_data):
    from moodflow.decode.audio import load_audio

    y = load_audio(shared_data / "PMEmo2019" / "chorus" / "108.mp3", SR)[: 10 * SR]
    feats = CompareExtractor().extract(y, SR)
    start, _ = frame_grid(len(y) / SR)
    assert len(start) == 19 and feats.frames.shape == (19, 260)
    assert np.isfinite(feats.static).all() and np.isfinite(feats.frames).all()
    # loudness-like descriptors move between windows of real music
    assert np.std(feats.frames[:, 130:], axis=0).max() > 0


def test_bad_feature_set_or_level_is_a_clear_error_not_a_crash():
    # a sink on a level the config does not write would segfault openSMILE
    with pytest.raises(ValueError, match=r"eGeMAPSv02\.conf.*no level.*lld_de"):
        CompareExtractor({"feature_set": "eGeMAPSv02"})
    with pytest.raises(ValueError, match="unknown openSMILE feature set 'ComParE'"):
        CompareExtractor({"feature_set": "ComParE"})
    assert len(CompareExtractor({"feature_set": "eGeMAPSv02", "deltas": False}).lld_names()) == 25


def test_non_finite_or_multichannel_signal_is_refused():
    y = music_like(1.2)
    y[100] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        CompareExtractor().extract(y, SR)
    with pytest.raises(ValueError, match="mono"):
        CompareExtractor().extract(np.zeros((2, SR), np.float32), SR)


@pytest.mark.parametrize("clip", ["108.mp3", "372.mp3"])
def test_pipeline_values_equal_opensmile_process_file(shared_data, tmp_path, clip):
    """The decode → compare path gives openSMILE's own values for real PMEmo clips.

    Reference: ``Smile(ComParE_2016, Functionals, channels=[0, 1], mixdown=True).process_file``
    (the pipeline mixes both channels down and decodes at the file's native rate). Where the
    mixdown exceeds full scale (108.mp3 reaches 1.14), Smile's int16 conversion wraps those
    samples round to the opposite sign while moodflow clips them; there the reference is Smile
    on the clipped mixdown of the same decoded samples, and the wrap is measured.
    """
    import audiofile
    import opensmile
    import pandas as pd

    from moodflow.decode.run import decode_dataset
    from moodflow.extract.run import extract_store
    from moodflow.stores.feature_store import FeatureStore

    path = shared_data / "PMEmo2019" / "chorus" / clip
    prepared = tmp_path / "prepared"
    prepared.mkdir()
    pd.DataFrame({"track_id": [clip], "audio_path": [str(path)], "duration_s": [float("nan")]}).to_csv(
        prepared / "manifest.csv", index=False)
    pd.DataFrame({"track_id": [clip], "valence": [0.5], "arousal": [0.5]}).to_csv(
        prepared / "labels_static.csv", index=False)
    (prepared / "dataset.json").write_text('{"name": "t", "spec": {"task": "regression"}, "info": {}}')
    decode_dataset(prepared, tmp_path / "audio.h5", tmp_path / "errors.csv", sample_rate=44100)
    extract_store(name="compare", config={}, grid={}, audio_path=tmp_path / "audio.h5", prepared_dir=prepared,
                  out_path=tmp_path / "compare.h5", dataset="t", workers=1)
    with FeatureStore(tmp_path / "compare.h5") as store:
        ours = pd.Series(store.static()[0], index=store.feature_names)
        _, start, end = store.frames(clip)
        duration = store.durations[0]
    assert end[-1] > duration - 0.5 and np.allclose(np.diff(start), 0.5)  # frames cover the clip

    lv = opensmile.FeatureLevel
    from_file = opensmile.Smile(opensmile.FeatureSet.ComParE_2016, lv.Functionals, channels=[0, 1],
                                mixdown=True).process_file(str(path)).iloc[0]
    assert list(ours.index) == list(from_file.index)
    samples, sr = audiofile.read(str(path), always_2d=True)
    mixdown = samples.mean(axis=0)
    if np.abs(mixdown).max() * 32768 < 32767.5:
        np.testing.assert_allclose(ours.to_numpy(), from_file.to_numpy(), rtol=1e-6, atol=1e-9)
    else:
        clipped = np.clip(mixdown, -1.0, 32767 / 32768).astype(np.float32)
        reference = smile(lv.Functionals).process_signal(clipped, sr).iloc[0]
        np.testing.assert_allclose(ours.to_numpy(), reference.to_numpy(), rtol=1e-6, atol=1e-9)
        rel = np.abs(ours - from_file) / (np.abs(from_file) + 1e-6)
        assert np.median(rel) < 5e-3  # what Smile's wrap-round of the over-full-scale samples costs


def test_a_signal_during_opensmile_stops_the_extraction():
    """A SIGTERM (Slurm's scancel) arrives while openSMILE holds the main thread, so its handler's
    exception is raised inside a ctypes callback, where ctypes would print and drop it: it must
    stop the extraction instead of letting the track (and the task) run on."""
    import signal as signals

    from moodflow.features.opensmile.smile import run_smile

    class Stop(Exception):
        pass

    def stop(signum, frame):
        raise Stop

    y = music_like(30.0)
    previous = signals.signal(signals.SIGALRM, stop)
    try:
        signals.setitimer(signals.ITIMER_REAL, 0.2)
        with pytest.raises(Stop):
            run_smile(y, SR, "ComParE_2016", ("lld",))
    finally:
        signals.setitimer(signals.ITIMER_REAL, 0)
        signals.signal(signals.SIGALRM, previous)
