"""The musicnn feature set: checkpoint reader, PyTorch port vs the reference TensorFlow musicnn
on real clips, finiteness on loud music, the static/frame layout.

The reference (``tests/helpers/musicnn_reference.py``) runs in ``.venv/reference`` (``make test`` builds
it): the packaged musicnn code and checkpoints with the log-mel in float32. Measured bound: on
3 loud real excerpts × 4 models the largest difference was 2.0e-6 (taggram) and 1.1e-5
(penultimate), float32 rounding of differently ordered sums; the test allows 1e-4.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.real_data import SHARED, needs_shared
from tests.helpers.synthetic_data import FEW_TRACKS

REPO = Path(__file__).resolve().parents[1]
REFERENCE_PYTHON = Path(os.environ.get("MOODFLOW_MUSICNN_REFERENCE_PYTHON")
                        or Path(sys.prefix) / "reference" / "bin" / "python")
MODELS = ("MSD_musicnn", "MTT_musicnn", "MSD_vgg", "MTT_vgg")
BOUND = 1e-4
EXCERPT_S = 9.0
# loud real music: the 4Q clip of the issue (mel power 122), PMEmo 108 (mixdown past full scale)
CLIPS = ("emoMusic/clips_45seconds/3.mp3", "4Q/MER_audio_taffc_dataset/Q1/MT0000040632.mp3",
         "PMEmo2019/chorus/108.mp3")
# MSD_musicnn (the default, and the zero-shot tagger) on every clip, the others on the 4Q clip:
# each reference call rebuilds its TensorFlow graph (~1.5 s)
PAIRS = [("MSD_musicnn", i) for i in range(len(CLIPS))] + [(m, 1) for m in MODELS[1:]]


def _extractor(**config):
    from moodflow.features import build_extractor

    return build_extractor("musicnn", config, {})


def _loudest_excerpt(path: Path, out: Path) -> np.ndarray:
    """EXCERPT_S seconds of ``path`` around its loudest mel frame, as the reference loads it
    (librosa, 16 kHz), written as a float32 WAV that loads back to the same samples."""
    import librosa
    import soundfile as sf

    from moodflow.features.musicnn.extractor import log_mel

    y, _ = librosa.load(path, sr=16000)
    peak_s = int(np.argmax(log_mel(y).max(axis=1))) * 256 / 16000
    start = int(16000 * min(max(peak_s - EXCERPT_S / 2, 0.0), len(y) / 16000 - EXCERPT_S))
    excerpt = y[start:start + int(EXCERPT_S * 16000)]
    sf.write(out, excerpt, 16000, subtype="FLOAT")
    return excerpt


@pytest.fixture(scope="module")
def ours_and_reference(tmp_path_factory):
    """Our per-patch outputs and the reference's on the same excerpts (computed concurrently)."""
    if SHARED is None:
        pytest.skip("MOODFLOW_SHARED_DATA is not set (CI sets it to ../shared/data)")
    if not REFERENCE_PYTHON.exists():
        pytest.fail(f"{REFERENCE_PYTHON}: no reference interpreter; build it with `make reference` "
                    "(make test does) or set MOODFLOW_MUSICNN_REFERENCE_PYTHON")
    tmp = tmp_path_factory.mktemp("musicnn")
    signals, paths = [], []
    for i, clip in enumerate(CLIPS):
        paths.append(tmp / f"{i}.wav")
        signals.append(_loudest_excerpt(SHARED / clip, paths[-1]))
    out = tmp / "reference.npz"
    proc = subprocess.Popen([str(REFERENCE_PYTHON), str(REPO / "tests" / "helpers" / "musicnn_reference.py"), str(out),
                             "--models", ",".join(MODELS), "--audio", *map(str, paths), "--checkpoints",
                             "--pairs", *[f"{m}:{i}" for m, i in PAIRS]],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ours = {}
    for model in MODELS:
        ex = _extractor(model=model)
        for i, y in enumerate(signals):
            if (model, i) in PAIRS:
                ours[model, i] = ex.patches(y, 16000)
        ours[model, "weights"] = ex.checkpoint
    for layer in ("max_pool", "mean_pool"):
        ex = _extractor(model="MSD_musicnn", layer=layer)
        for i, y in enumerate(signals):
            ours[layer, i] = ex.patches(y, 16000).embedding
    log, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, f"reference musicnn failed:\n{log[-3000:]}"
    with np.load(out) as ref:
        return ours, {k: ref[k] for k in ref.files}


@needs_shared
def test_checkpoint_reader_matches_tensorflow_bit_for_bit(ours_and_reference):
    from moodflow.features.musicnn.checkpoint import read_bundle

    ours, ref = ours_and_reference
    for model in MODELS:
        ckpt = ours[model, "weights"]
        mine = read_bundle(ckpt.index_path, ckpt.data_path)
        theirs = json.loads(str(ref[f"ckpt/{model}"]))
        assert sorted(mine) == sorted(theirs), model
        for name, array in mine.items():
            assert hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest() == theirs[name], (model, name)


@needs_shared
def test_taggram_and_penultimate_equal_reference_musicnn_on_real_clips(ours_and_reference):
    ours, ref = ours_and_reference
    worst = {}
    for model, i in PAIRS:
        p = ours[model, i]
        tag_ref, emb_ref = ref[f"{model}/{i}/taggram"], ref[f"{model}/{i}/penultimate"]
        n = len(tag_ref)
        # the reference's patches are ours, minus the one we add to cover the tail
        assert len(p.taggram) in (n, n + 1) and n >= 3, (model, i, len(p.taggram), n)
        assert np.all(np.isfinite(tag_ref)) and np.all(np.isfinite(emb_ref))
        diff_tag = float(np.abs(p.taggram[:n] - tag_ref).max())
        diff_emb = float(np.abs(p.embedding[:n] - emb_ref).max())
        worst[model, i] = (diff_tag, diff_emb)
        assert diff_tag <= BOUND and diff_emb <= BOUND, (model, CLIPS[i], diff_tag, diff_emb)
        # the patches differ from each other (a reference repeating patch 0 would not)
        assert np.abs(np.diff(emb_ref, axis=0)).max() > 1e-2
    print("max abs diff (taggram, penultimate):", {f"{m}/{i}": f"{a:.1e}, {b:.1e}" for (m, i), (a, b) in worst.items()})


@needs_shared
def test_pooled_layers_equal_reference(ours_and_reference):
    ours, ref = ours_and_reference
    for i in range(len(CLIPS)):
        for layer in ("max_pool", "mean_pool"):
            theirs = ref[f"MSD_musicnn/{i}/{layer}"]
            mine = ours[layer, i][:len(theirs)]
            # these reach ~100 (max) / ~10 (mean): float32 rounding is relative to the scale
            assert np.abs(mine - theirs).max() <= 1e-5 * np.abs(theirs).max(), (layer, CLIPS[i])


@needs_shared
def test_finite_on_loud_music_that_overflows_the_packaged_float16(shared_data):
    import librosa

    from moodflow.decode.audio import load_audio
    from moodflow.features.musicnn.extractor import FFT_HOP, FFT_SIZE, N_MELS

    path = shared_data / "PMEmo2019/chorus/108.mp3"
    y16, _ = librosa.load(path, sr=16000)  # the mixdown as the reference reads it: past full scale
    assert np.abs(y16).max() > 1.0
    mel = librosa.feature.melspectrogram(y=y16, sr=16000, hop_length=FFT_HOP, n_fft=FFT_SIZE, n_mels=N_MELS)
    with np.errstate(over="ignore"):
        packaged = np.log10(10000 * mel.astype(np.float16) + 1)  # the packaged step
    assert not np.all(np.isfinite(packaged))  # this clip does overflow it
    ex = _extractor()
    for y, sr in ((y16, 16000), (load_audio(path, 22050), 22050)):
        feats = ex.extract(y, sr)
        assert np.all(np.isfinite(feats.static)) and np.all(np.isfinite(feats.frames))
        assert len(feats.frames) == len(feats.start_s) > 80


def test_log_mel_is_librosas_bit_for_bit():
    import librosa

    from moodflow.features.musicnn.melspec import mel_basis, mel_power

    assert np.array_equal(mel_basis(), librosa.filters.mel(sr=16000, n_fft=512, n_mels=96))
    rng = np.random.default_rng(0)
    for n in (1, 300, 513, 16000 * 3 + 17):
        y = (0.3 * rng.standard_normal(n)).astype(np.float32)
        ref = librosa.feature.melspectrogram(y=y, sr=16000, hop_length=256, n_fft=512, n_mels=96).T
        assert np.array_equal(mel_power(y), ref), n


def test_layout_names_and_grid(tmp_path):
    from tests.helpers.signals import tone

    ex = _extractor()
    names = ex.feature_names()
    assert len(names) == 2 * 200 + 2 * 50 and names[0] == "penultimate_000__mean"
    assert "tag_happy__mean" in names and "tag_female_vocalists__std" in names
    y = tone(440.0, seconds=7.3, sample_rate=22050) + tone(660.0, seconds=7.3, sample_rate=22050)
    feats = ex.extract(y, 22050)
    p = ex.patches(y, 22050)
    assert len(p.start_s) == 3  # two 2.992 s patches and one ending at the last frame
    assert p.end_s[-1] == pytest.approx(7.3, abs=0.02)
    assert feats.static.shape == (500,) and feats.static.dtype == np.float32
    assert np.allclose(feats.static[:200], p.embedding.mean(0), atol=1e-6)
    assert np.allclose(feats.static[400:450], p.taggram.mean(0), atol=1e-6)
    assert feats.frames.shape == (13, 500)  # 1 s windows every 0.5 s in 7.3 s
    assert np.allclose(feats.start_s, np.arange(13) * 0.5)
    # a window inside the first patch only: its mean is that patch, its std 0
    assert np.allclose(feats.frames[0, :200], p.embedding[0], atol=1e-6)
    assert np.allclose(feats.frames[0, 200:400], 0.0)
    again = ex.extract(y, 22050)
    assert again.static.tobytes() == feats.static.tobytes() and again.frames.tobytes() == feats.frames.tobytes()


def test_short_track_is_repeat_padded_and_empty_is_refused():
    from tests.helpers.signals import tone

    ex = _extractor(model="MSD_vgg")
    p = ex.patches(tone(330.0, seconds=1.0, sample_rate=16000), 16000)
    assert p.taggram.shape == (1, 50) and p.embedding.shape == (1, 256)
    assert p.end_s[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="empty signal"):
        ex.patches(np.zeros(0, np.float32), 16000)


def test_settings_are_checked():
    from moodflow.core.errors import SettingsError

    with pytest.raises(ValueError, match="max_pool.*MSD_vgg"):
        _extractor(model="MSD_vgg", layer="max_pool")
    with pytest.raises(SettingsError, match="features.musicnn.model"):
        _extractor(model="MSD_big")


def test_overlapping_patches_follow_the_reference_hop():
    from moodflow.features.musicnn.extractor import patch_hop_frames, patch_starts

    assert patch_hop_frames(None) == 187
    assert patch_hop_frames(1.0) == 61  # musicnn.extractor: librosa.time_to_frames(1.0, 16000, 256, 512)
    assert patch_starts(500, 187) == [0, 187, 313]
    assert patch_starts(374, 187) == [0, 187]
    assert patch_starts(100, 187) == [0]


def test_pipeline_store_is_reproducible_and_predict_matches_it(tmp_path):
    from moodflow import Predictor
    from moodflow.decode.run import decode_dataset
    from moodflow.extract.run import extract_store
    from moodflow.models.io import load_model
    from moodflow.prepare.run import prepare_dataset
    from moodflow.stores.feature_store import FeatureStore
    from moodflow.train.run import train_and_evaluate

    prepare_dataset({"name": "demo", "demo": {"n_clips": 4, "duration_s": 3.5}}, tmp_path / "prepared")
    decode_dataset(tmp_path / "prepared", tmp_path / "audio.h5", tmp_path / "errors.csv", sample_rate=22050)
    stores = []
    for run in ("a", "b"):
        stores.append(tmp_path / f"musicnn_{run}.h5")
        extract_store(name="musicnn", config={}, grid={"win_s": 1.0, "hop_s": 0.5}, audio_path=tmp_path / "audio.h5",
                      prepared_dir=tmp_path / "prepared", out_path=stores[-1], dataset="demo", workers=1)
    assert stores[0].read_bytes() == stores[1].read_bytes()
    with FeatureStore(stores[0]) as store:
        assert store.static().shape == (4, 500) and np.isfinite(store.static()).all()
        assert store.frame_shape == (500,) and int(store.offsets[-1]) == 4 * 6
        assert "8579734ee638" in str(store.attrs["config"])  # the packaged MSD_musicnn checkpoint's SHA-256
        first = store.static()[list(store.ids).index("demo_000")]
    train_and_evaluate(**FEW_TRACKS, store_path=stores[0], prepared_dir=tmp_path / "prepared", feature_set="musicnn",
                       model_name="ridge", model_config={"alpha": 10.0}, protocol={"folds": 2}, seed=0,
                       out_dir=tmp_path / "model")
    wav = sorted((tmp_path / "prepared").rglob("demo_000.wav"))[0]
    row = Predictor(tmp_path / "model", mood_tags=False).predict(wav)[0]
    expected = load_model(tmp_path / "model").predict(first.astype(np.float64)[None, :])[0]
    assert [row["valence"], row["arousal"]] == pytest.approx(list(expected), abs=1e-9)
    assert row["model"]["feature_set"] == "musicnn"
