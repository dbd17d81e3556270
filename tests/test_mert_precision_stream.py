"""MERT's `dtype: auto` (measured reduced precision) and the DataLoader track stream."""

from __future__ import annotations

import logging
import multiprocessing
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from tests.helpers.mert_tiny import tiny_extractor, write_tiny_mert  # noqa: E402

from moodflow.stores.audio_store import AudioStoreWriter  # noqa: E402
from moodflow.features.mert import precision as mert_precision  # noqa: E402
from moodflow.features.mert.precision import REDUCED_PRECISION_BOUND, probe_windows, resolve_dtype  # noqa: E402
from tests.helpers.synthetic_data import FEW_TRACKS

SR = 22050


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return write_tiny_mert(tmp_path_factory.mktemp("mert") / "tiny", seed=0)


def _signal(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f = 110 * (1 + seed % 5)
    return (0.3 * np.sin(2 * np.pi * f * t) + 0.05 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.fixture(scope="module")
def audio(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "audio.h5"
    with AudioStoreWriter(path, sample_rate=SR, dataset="demo") as w:
        for i, seconds in enumerate([7.3, 5.0, 12.1, 3.2]):
            w.append(f"t{i}", _signal(seconds, i))
        w.append("short", np.zeros(50, np.float32))
        w.append("t5", _signal(6.4, 5))
    return path


def test_resolve_dtype(monkeypatch):
    monkeypatch.setattr(mert_precision, "native_bf16", lambda device: True)
    assert resolve_dtype("auto", "cpu") == "bfloat16"
    assert resolve_dtype("float32", "cpu") == "float32"
    monkeypatch.setattr(mert_precision, "native_bf16", lambda device: False)
    assert resolve_dtype("auto", "cpu") == "float32"
    assert resolve_dtype("bfloat16", "cpu") == "bfloat16"
    monkeypatch.undo()
    assert isinstance(mert_precision.native_bf16("cpu"), bool)  # the real probe answers


def test_probe_is_fixed():
    a, b = probe_windows(24000), probe_windows(24000)
    assert len(a) == 2 and all(len(w) == 2 * 24000 for w in a)
    np.testing.assert_array_equal(a[0], b[0])


def test_auto_without_native_bf16_is_float32_and_loads_nothing(tiny, monkeypatch):
    monkeypatch.setattr(mert_precision, "native_bf16", lambda device: False)
    ex = tiny_extractor(tiny)
    assert ex.compute_dtype == "float32"
    assert ex._model is None  # deciding did not need the weights
    assert ex.config_dict()["compute_dtype"] == "float32"
    assert ex.worker_config()["dtype"] == "float32"
    ref = tiny_extractor(tiny, dtype="float32").extract(_signal(6.0, 1), SR)
    np.testing.assert_array_equal(ex.extract(_signal(6.0, 1), SR).frames, ref.frames)


def test_auto_with_native_bf16_measures_then_uses_it(tiny, monkeypatch, caplog):
    monkeypatch.setattr(mert_precision, "native_bf16", lambda device: True)
    ex = tiny_extractor(tiny)
    with caplog.at_level(logging.INFO, logger="moodflow.features.mert.extractor"):
        assert ex.compute_dtype == "bfloat16"
    assert next(ex.load().parameters()).dtype == torch.bfloat16
    assert "max relative error" in caplog.text
    assert ex.worker_config()["dtype"] == "bfloat16"  # workers run what the stage measured
    y = _signal(12.0, 2)
    low = ex.extract(y, SR)
    ref = tiny_extractor(tiny, dtype="float32").extract(y, SR)
    errors = [np.linalg.norm(low.frames[:, s] - ref.frames[:, s]) / np.linalg.norm(ref.frames[:, s])
              for s in range(ref.frames.shape[1])]
    print("auto (bf16) vs float32 per state:", np.round(errors, 4))
    assert 0 < max(errors) < 2 * REDUCED_PRECISION_BOUND  # another signal than the probe


def test_auto_falls_back_to_float32_outside_the_bound(tiny, monkeypatch, caplog):
    monkeypatch.setattr(mert_precision, "native_bf16", lambda device: True)
    ex = tiny_extractor(tiny)
    assert not mert_precision.PrecisionCheck("bfloat16", [1e-3], bound=1e-9).ok
    assert not mert_precision.PrecisionCheck("bfloat16", [float("nan")]).ok
    orig = mert_precision.measure_precision

    def strict(*args, **kw):
        check = orig(*args, **kw)
        return mert_precision.PrecisionCheck(check.dtype, check.state_errors, bound=1e-9)

    monkeypatch.setattr(mert_precision, "measure_precision", strict)
    with caplog.at_level(logging.WARNING):
        assert ex.compute_dtype == "float32"
    assert "using float32" in caplog.text
    assert next(ex.load().parameters()).dtype == torch.float32
    y = _signal(6.0, 3)
    np.testing.assert_array_equal(ex.extract(y, SR).frames, tiny_extractor(tiny, dtype="float32").extract(y, SR).frames)


def _loader_children() -> list:
    """Child processes still alive, except joblib's reusable loky pool (kept by earlier tests'
    parallel folds, by design)."""
    return [p for p in multiprocessing.active_children() if not type(p).__name__.startswith("Loky")]


@pytest.mark.parametrize("loader_workers", [0, 1, 2])
def test_stream_equals_one_track_at_a_time(tiny, audio, loader_workers):
    from moodflow.stores.audio_store import AudioStore

    ex = tiny_extractor(tiny, dtype="float32", loader_workers=loader_workers)
    with AudioStore(audio) as store:
        ids = list(store.ids)
        one = {t: ex.extract(store.signal(t), store.sample_rate) if t != "short" else None for t in ids}
    stream = list(ex.extract_many(str(audio), ids))
    assert [t for t, _ in stream] == ids  # in order
    assert not _loader_children()  # the loader's workers are gone
    for track_id, result in stream:
        if track_id == "short":
            assert isinstance(result, ValueError) and "too short" in str(result)
            continue
        np.testing.assert_array_equal(result.frames, one[track_id].frames)
        np.testing.assert_array_equal(result.static, one[track_id].static)
        np.testing.assert_array_equal(result.end_s, one[track_id].end_s)


def test_stream_stopped_early_stops_its_workers(tiny, audio):
    ex = tiny_extractor(tiny, dtype="float32", loader_workers=1)
    stream = ex.extract_many(str(audio), ["t0", "t1", "t2", "t3"])
    next(stream)
    stream.close()
    assert not _loader_children()


def test_stream_reports_a_model_that_cannot_load_for_every_track(tmp_path, audio):
    ckpt = write_tiny_mert(tmp_path / "broken", seed=0)
    for f in ckpt.glob("*.bin"):
        f.write_bytes(b"not a checkpoint")
    ex = tiny_extractor(ckpt, dtype="float32")
    results = list(ex.extract_many(str(audio), ["t0", "t1"]))
    assert [t for t, _ in results] == ["t0", "t1"]
    assert all(isinstance(r, Exception) for _, r in results)


def test_stage_with_and_without_cache_gives_the_same_store(tiny, audio, tmp_path):
    """The stream path (no cache) and the cached path write identical MERT stores."""
    from moodflow.extract.run import extract_store
    from moodflow.stores.feature_store import FeatureStore

    cfg = {"model": str(tiny), "device": "cpu", "threads": 1, "dtype": "float32", "loader_workers": 1}
    kw = dict(name="mert", config=cfg, grid=None, audio_path=audio, prepared_dir=tmp_path, dataset="demo")
    plain = extract_store(out_path=tmp_path / "plain.h5", **kw)
    cached = extract_store(out_path=tmp_path / "cached.h5", cache_dir=tmp_path / "cache", **kw)
    again = extract_store(out_path=tmp_path / "again.h5", cache_dir=tmp_path / "cache", **kw)
    assert plain["failed"] == cached["failed"] == 1 and plain["tracks"] == cached["tracks"] == 5
    assert again["cached"] == 5 and again["extracted"] == 1  # only the failed track is retried
    with FeatureStore(tmp_path / "plain.h5") as a, FeatureStore(tmp_path / "again.h5") as b:
        np.testing.assert_array_equal(a.static(), b.static())
        assert a.config["compute_dtype"] == "float32"
        for t in ["t0", "t2", "t5"]:
            np.testing.assert_array_equal(a.frames(t)[0], b.frames(t)[0])


def test_predict_uses_the_precision_the_training_store_had(tiny, tmp_path, monkeypatch):
    """`dtype: auto` is resolved once, at extraction; predicting elsewhere must not re-resolve it."""
    from moodflow.decode.run import decode_dataset
    from moodflow.app.predict import Predictor
    from moodflow.prepare.run import prepare_dataset
    from moodflow.train.run import train_and_evaluate

    prepare_dataset({"name": "demo", "demo": {"n_clips": 8, "duration_s": 3.0}}, tmp_path / "prepared")
    decode_dataset(tmp_path / "prepared", tmp_path / "audio.h5", tmp_path / "errors.csv", sample_rate=SR)
    monkeypatch.setattr(mert_precision, "native_bf16", lambda device: True)
    extract_cfg = {"model": str(tiny), "device": "cpu", "threads": 1}
    from moodflow.extract.run import extract_store

    extract_store(name="mert", config=extract_cfg, grid=None, audio_path=tmp_path / "audio.h5",
                  prepared_dir=tmp_path / "prepared", out_path=tmp_path / "mert.h5", dataset="demo")
    train_and_evaluate(**FEW_TRACKS, store_path=tmp_path / "mert.h5", prepared_dir=tmp_path / "prepared", feature_set="mert",
                       model_name="ridge", model_config={"alpha": 10.0}, protocol={"folds": 4}, seed=0,
                       out_dir=tmp_path / "model")
    monkeypatch.setattr(mert_precision, "native_bf16", lambda device: False)  # another machine
    predictor = Predictor(tmp_path / "model", mood_tags=False)
    assert predictor.extractor.config.dtype == "bfloat16"
    assert predictor.extractor.compute_dtype == "bfloat16"


def test_loader_workers_auto_and_validation(tiny):
    assert tiny_extractor(tiny).loader_workers == 0  # CPU: torch already uses every core
    assert tiny_extractor(tiny, loader_workers=3).loader_workers == 3
    for bad in (-1, "many", 1.5):
        with pytest.raises(ValueError, match="loader_workers"):
            tiny_extractor(tiny, loader_workers=bad)
