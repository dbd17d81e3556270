"""Long recordings in bounded memory: the windowed paths (``extract_long``, ``FileSignal``, the
streamed decode stage) against the in-memory ones on real audio. Exact where the window grid
makes it exact (decode of wav and stereo mp3, openSMILE, musicnn, MERT); within the tolerance
docs/performance.md states where librosa resamples each chunk (chroma, midlevel, chords)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from moodflow.decode.audio import AudioError, FileSignal, load_audio, open_audio
from moodflow.decode.mp3scan import FileBytes, scan_mp3
from moodflow.features import build_extractor
from moodflow.features.base import Extractor
from moodflow.features.windowed import estimate_tuning, spilled_median
from moodflow.stores.grid import WindowStatsStream, frame_grid, window_stats
from moodflow.stores.signal import ArraySignal, rechunk, resampled_blocks, resampled_length
from tests.helpers.long_audio import long_music, write_long_wav
from tests.helpers.real_data import SHARED, needs_shared

SR = 22050
FIELDS = ("static", "frames", "start_s", "end_s")


@pytest.fixture(scope="module")
def real() -> np.ndarray:
    """49 s of a real PMEmo chorus (commercial stereo mp3), decoded at 22.05 kHz."""
    if SHARED is None:
        pytest.skip("MOODFLOW_SHARED_DATA is not set (CI sets it to ../shared/data)")
    return load_audio(SHARED / "PMEmo2019" / "chorus" / "108.mp3", SR)


def assert_same(a, b) -> None:
    for k in FIELDS:
        assert np.array_equal(getattr(a, k), getattr(b, k), equal_nan=True), k


# -- signals and resampling ------------------------------------------------------------------
@pytest.mark.parametrize("rates", [(44100, 22050), (22050, 16000), (32000, 22050), (22050, 24000)])
def test_streamed_resampling_is_soxr_one_shot(rates):
    import soxr

    y = np.random.default_rng(0).standard_normal(rates[0] * 7 + 13).astype(np.float32) * 0.1
    whole = soxr.resample(y, rates[0], rates[1], quality="HQ")
    for size in (1000, 44100, len(y)):
        out = np.concatenate(list(resampled_blocks(ArraySignal(y, rates[0]), rates[1], size)))
        assert np.array_equal(out, whole)
    assert resampled_length(len(y), *rates) == len(whole)


def test_rechunk_keeps_every_sample():
    parts = [np.arange(a, b, dtype=np.float32) for a, b in ((0, 3), (3, 3), (3, 17), (17, 40))]
    out = list(rechunk(iter(parts), 8))
    assert [len(p) for p in out] == [8, 8, 8, 8, 8]
    assert np.array_equal(np.concatenate(out), np.arange(40, dtype=np.float32))


# -- decoding ------------------------------------------------------------------------------
def test_file_signal_equals_load_audio_on_wav(tmp_path):
    wav = write_long_wav(tmp_path / "a.wav", 21.3, block_s=4.0)
    for rate in (22050, 16000, 44100):
        whole = load_audio(wav, rate)
        signal = open_audio(wav, rate, long_audio_s=5.0)
        assert isinstance(signal, FileSignal) and signal.n_samples == len(whole)
        assert np.array_equal(np.concatenate(list(signal.blocks(12345))), whole)
        assert np.array_equal(signal.read(), whole)


@needs_shared
def test_file_signal_on_real_mp3():
    """Stereo mp3 (PMEmo): bit for bit. Mono 64 kbps mp3 (emoMusic): libsndfile's mp3 decoder
    rounds some samples one float32 step differently after a block boundary (1.2e-7), the
    documented tolerance of a streamed long mp3."""
    stereo = SHARED / "PMEmo2019" / "chorus" / "372.mp3"
    assert np.array_equal(open_audio(stereo, SR, long_audio_s=1.0).read(), load_audio(stereo, SR))
    mono = SHARED / "emoMusic" / "clips_45seconds" / "2.mp3"
    a, b = load_audio(mono, SR), open_audio(mono, SR, long_audio_s=1.0).read()
    assert len(a) == len(b) and np.max(np.abs(a - b)) <= 2.5e-7


@needs_shared
def test_mp3_frames_counted_through_a_window():
    path = SHARED / "PMEmo2019" / "chorus" / "634.mp3"
    data = path.read_bytes()
    with open(path, "rb") as fh:
        windowed = scan_mp3(FileBytes(fh, len(data), window=4096))  # type: ignore[arg-type]
    assert windowed == scan_mp3(data)


def test_long_file_checks(tmp_path):
    """A streamed file is checked as load_audio checks it, before a sample is handed out."""
    wav = write_long_wav(tmp_path / "cut.wav", 12.0, block_s=4.0)
    raw = wav.read_bytes()
    (tmp_path / "truncated.wav").write_bytes(raw[: len(raw) // 2])  # libsndfile reads what is there
    cut = open_audio(tmp_path / "truncated.wav", SR, long_audio_s=5.0)
    assert np.array_equal(cut.read(), load_audio(tmp_path / "truncated.wav", SR))
    if SHARED is not None:  # an mp3 cut inside a frame is refused unread, as by load_audio
        mp3 = (SHARED / "PMEmo2019" / "chorus" / "372.mp3").read_bytes()
        (tmp_path / "cut.mp3").write_bytes(mp3[: len(mp3) // 2 + 7])
        with pytest.raises(AudioError, match="truncated"):
            load_audio(tmp_path / "cut.mp3", SR)
        with pytest.raises(AudioError, match="truncated"):
            open_audio(tmp_path / "cut.mp3", SR, long_audio_s=1.0)
    loud = np.zeros((SR * 8, 1), np.float32)
    loud[SR] = 3.0
    sf.write(tmp_path / "loud.wav", loud, SR, subtype="FLOAT")
    signal = open_audio(tmp_path / "loud.wav", SR, long_audio_s=5.0)
    assert isinstance(signal, FileSignal) and np.array_equal(signal.read(), load_audio(tmp_path / "loud.wav", SR))
    bad = loud.copy()
    bad[-5] = np.nan
    sf.write(tmp_path / "nan.wav", bad, SR, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN"):
        open_audio(tmp_path / "nan.wav", SR, long_audio_s=5.0)
    with pytest.raises(AudioError, match="too short"):
        open_audio(wav, SR, long_audio_s=5.0, min_duration_s=60.0)


def test_decode_stage_streams_long_files(tmp_path, monkeypatch):
    """A long file goes into the audio store block by block: same samples, same hash."""
    import pandas as pd

    import moodflow.decode.audio as audio
    from moodflow.decode.run import decode_dataset
    from moodflow.stores.audio_store import AudioStore
    from moodflow.stores.prepared import LabelSpec, PreparedDataset

    paths = [write_long_wav(tmp_path / f"{i}.wav", s, seed=i) for i, s in enumerate((9.5, 3.0))]
    manifest = pd.DataFrame({"track_id": ["long", "short"], "audio_path": [str(p) for p in paths]})
    spec = LabelSpec(static_targets=["valence"], scale=(1.0, 9.0), scale_name="1-9")
    PreparedDataset("long", manifest, manifest[["track_id"]].assign(valence=5.0), spec).write(tmp_path / "prepared")
    stores = {}
    for name, limit in (("memory", 900.0), ("streamed", 5.0)):
        monkeypatch.setattr(audio, "LONG_AUDIO_S", limit)
        decode_dataset(tmp_path / "prepared", tmp_path / f"{name}.h5", tmp_path / f"{name}.csv", sample_rate=SR)
        with AudioStore(tmp_path / f"{name}.h5") as store:
            stores[name] = ([store.signal(t) for t in store.ids], store.audio_hashes())
    assert all(np.array_equal(a, b) for a, b in zip(stores["memory"][0], stores["streamed"][0]))
    assert stores["memory"][1] == stores["streamed"][1]


# -- helpers of the windowed extractors ----------------------------------------------------
def test_window_stats_stream_equals_window_stats():
    rng = np.random.default_rng(1)
    times = np.sort(rng.uniform(0, 20, 3000))
    values = rng.standard_normal((3000, 5)).astype(np.float32)
    start, end = frame_grid(20.0)
    stream = WindowStatsStream(start, end, 5)
    for a in range(0, 3000, 137):
        stream.add(values[a:a + 137], times[a:a + 137])
    assert np.array_equal(stream.finish(), window_stats(values, times, start, end), equal_nan=True)
    narrow = WindowStatsStream(start, end, 5, dtype=np.float32)  # cast window by window, as the stores keep it
    narrow.add(values, times)
    assert np.array_equal(narrow.finish(), window_stats(values, times, start, end).astype(np.float32), equal_nan=True)


@pytest.mark.parametrize("n", [1, 2, 1001, 50000])
def test_spilled_median_is_numpy_median(tmp_path, n):
    rng = np.random.default_rng(n)
    values = np.abs(rng.standard_normal(n)).astype(np.float32)
    values[: n // 3] = values[n // 2] if n > 3 else values[:n // 3]  # ties
    with open(tmp_path / "spill", "w+b") as f:
        values.tofile(f)
        assert spilled_median(f, n, np.float32, block=997) == np.median(values)


@needs_shared
def test_streamed_tuning_is_librosa(real):
    import librosa

    signal = ArraySignal(real, SR)
    assert estimate_tuning(signal, bins_per_octave=36, chunk_s=7.7) == librosa.estimate_tuning(y=real, sr=SR,
                                                                                               bins_per_octave=36)
    S = np.abs(librosa.stft(real, n_fft=2048, hop_length=512)) ** 2
    assert estimate_tuning(signal, n_fft=2048, hop_length=512, power=2, chunk_s=9.1) == \
        librosa.estimate_tuning(S=S, sr=SR, bins_per_octave=12)


# -- extractors: exact ----------------------------------------------------------------------
@needs_shared
@pytest.mark.parametrize("name", ["compare", "egemaps"])
def test_opensmile_long_path_is_exact(real, name):
    """LLDs streamed, functionals from the disk spill two columns at a time: every value of
    openSMILE's in-memory run, bit for bit (ComParE's 6373 functionals and 260 frame columns)."""
    ex = build_extractor(name, {}, {})
    assert_same(ex.extract_long(ArraySignal(real, SR), block_s=7.0), ex.extract(real, SR))


@needs_shared
def test_opensmile_long_path_at_16k(real):
    import soxr

    y = soxr.resample(real[: 31 * SR + 3000], SR, 16000, quality="HQ").astype(np.float32)
    ex = build_extractor("compare", {}, {})
    assert_same(ex.extract_long(ArraySignal(y, 16000), block_s=11.0), ex.extract(y, 16000))


@needs_shared
@pytest.mark.parametrize("config", [{}, {"patch_hop_s": 1.0, "batch_size": 5}])
def test_musicnn_long_path_is_exact(real, config):
    ex = build_extractor("musicnn", config, {})
    assert_same(ex.extract_long(ArraySignal(real, SR), block_s=7.3), ex.extract(real, SR))


@needs_shared
@pytest.mark.parametrize("config", [{}, {"batch_size": 3}, {"max_duration_s": 22.3, "min_window_s": 0.0, "batch_size": 2}])
def test_mert_long_path_is_exact(real, config, tmp_path):
    pytest.importorskip("transformers")
    from tests.helpers.mert_tiny import tiny_extractor, write_tiny_mert

    ex = tiny_extractor(write_tiny_mert(tmp_path / "mert"), **config)
    assert_same(ex.extract_long(ArraySignal(real, SR), block_s=3.1), ex.extract(real, SR))


@needs_shared
def test_mert_stream_hands_long_tracks_to_the_windowed_path(real, tmp_path, monkeypatch):
    """extract_many (the DataLoader path): a track over the threshold is streamed by the main
    process, the others prepared by the loader; every track as extract() gives it."""
    pytest.importorskip("transformers")
    from moodflow.stores.audio_store import AudioStoreWriter
    from tests.helpers.mert_tiny import tiny_extractor, write_tiny_mert

    with AudioStoreWriter(tmp_path / "audio.h5", sample_rate=SR, dataset="real") as w:
        w.append("short", real[: 4 * SR])
        w.append("long", real)
    ex = tiny_extractor(write_tiny_mert(tmp_path / "mert"))
    monkeypatch.setattr(ex, "long_audio_s", 10.0)
    streamed = []
    original = ex.extract_long
    monkeypatch.setattr(ex, "extract_long", lambda signal, **kw: streamed.append(signal.n_samples) or original(signal))
    out = dict(ex.extract_many(str(tmp_path / "audio.h5"), ["short", "long"]))
    assert streamed == [len(real)]
    assert_same(out["long"], ex.extract(real, SR))
    assert_same(out["short"], ex.extract(real[: 4 * SR], SR))


# -- extractors: within the documented tolerance --------------------------------------------
TOLERANCE = {  # name: (static atol, frames atol); docs/performance.md "Long recordings"
    "chroma": (1e-6, 5e-5),
    "midlevel": (1e-5, 5e-4),
    # chord shares count Viterbi-decoded frames: a near-tie can flip (one frame of ~650 seen)
    "chords": (5e-3, 0.21),
}


@needs_shared
@pytest.mark.parametrize("name,config", [("chroma", {}), ("chroma", {"kind": "stft"}), ("midlevel", {}),
                                         ("chords", {})])
def test_librosa_long_paths_within_tolerance(real, name, config):
    ex = build_extractor(name, config, {})
    a, b = ex.extract(real, SR), ex.extract_long(ArraySignal(real, SR), block_s=13.0)
    static_tol, frames_tol = TOLERANCE[name]
    assert np.array_equal(a.start_s, b.start_s) and np.array_equal(a.end_s, b.end_s)
    assert np.allclose(a.static, b.static, rtol=1e-5, atol=static_tol)
    assert np.allclose(a.frames, b.frames, rtol=0, atol=frames_tol, equal_nan=True)
    if name == "chords":  # the key and mode agree
        assert np.array_equal(a.static[-14:-1], b.static[-14:-1])


def test_extract_signal_switches_at_the_threshold(monkeypatch):
    calls = []
    ex = build_extractor("chroma", {}, {})
    monkeypatch.setattr(type(ex), "extract_long", lambda self, signal, **kw: calls.append(signal.duration_s))
    y = long_music(3.0, SR)[:, 0]
    ex.extract_signal(ArraySignal(y, SR))
    assert calls == []
    monkeypatch.setattr(Extractor, "long_audio_s", 2.0)
    ex.extract_signal(y, SR)
    assert calls == [3.0]


# -- the stage and predict ------------------------------------------------------------------
@needs_shared
def test_extract_stage_long_tracks(real, tmp_path, monkeypatch):
    """A track over the threshold goes through the windowed path in the stage (worker and cache
    alike) and gives the in-memory store's values (compare: exactly)."""
    import pandas as pd

    from moodflow.extract.run import extract_store
    from moodflow.stores.audio_store import AudioStoreWriter
    from moodflow.stores.feature_store import FeatureStore
    from moodflow.stores.prepared import LabelSpec, PreparedDataset

    with AudioStoreWriter(tmp_path / "audio.h5", sample_rate=SR, dataset="real") as w:
        w.append("a", real)
        w.append("b", real[: 5 * SR])
    manifest = pd.DataFrame({"track_id": ["a", "b"], "audio_path": ["a.mp3", "b.mp3"]})
    spec = LabelSpec(static_targets=["valence"], scale=(1.0, 9.0), scale_name="1-9")
    PreparedDataset("real", manifest, manifest[["track_id"]].assign(valence=5.0), spec).write(tmp_path / "prepared")
    out = {}
    for name, limit in (("memory", 900.0), ("long", 20.0)):
        monkeypatch.setattr(Extractor, "long_audio_s", limit)
        extract_store(name="compare", config={}, grid={}, audio_path=tmp_path / "audio.h5",
                      prepared_dir=tmp_path / "prepared", out_path=tmp_path / f"{name}.h5", dataset="real",
                      workers=1, cache_dir=tmp_path / f"cache-{name}")
        with FeatureStore(tmp_path / f"{name}.h5") as store:
            out[name] = (store.static(), [store.frames(t) for t in store.ids])
    assert np.array_equal(out["memory"][0], out["long"][0], equal_nan=True)
    for a, b in zip(out["memory"][1], out["long"][1]):  # (values, start_s, end_s) of each track
        assert all(np.array_equal(x, y, equal_nan=True) for x, y in zip(a, b))
