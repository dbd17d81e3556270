"""The per-track cache: keys, hits and misses, and stores equal to a run without it."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from moodflow.stores.audio_store import AudioStoreWriter, audio_hash
from moodflow.extract.cache import TrackCache
from moodflow.stores.entries import _DIGEST, _MAGIC, _digest, pack_arrays, unpack_arrays
from moodflow.features import build_extractor

from tests.helpers.stores import CHROMA, SR, assert_same_store, chord, make_audio_store, run  # noqa: F401
from moodflow.features.base import TrackFeatures

def test_audio_hash_depends_on_samples_and_rate():
    y = chord(1)
    assert audio_hash(y, SR) == audio_hash(y.copy(), SR)
    assert audio_hash(y, SR) == audio_hash(y.astype(np.float64), SR)  # hashed as float32
    z = y.copy()
    z[1000] += 1e-6
    assert audio_hash(z, SR) != audio_hash(y, SR)
    assert audio_hash(y, 16000) != audio_hash(y, SR)


def test_entry_roundtrip_and_damaged_entry_is_a_miss(tmp_path):
    ex = build_extractor("chroma", CHROMA)
    cache = TrackCache.for_extractor(tmp_path, ex)
    cache.prepare()
    feats = ex.extract(chord(3), SR)
    key = audio_hash(chord(3), SR)
    assert key not in cache and cache.load(key) is None
    path = cache.save(key, feats)
    assert key in cache and list(cache.keys()) == [key]
    assert not list(path.parent.glob(".*partial*"))  # written via a temporary name
    got = cache.load(key)
    assert got.static.dtype == np.float32 and got.start_s.dtype == np.float64
    assert np.array_equal(got.static, feats.static) and np.array_equal(got.frames, feats.frames)
    path.write_bytes(path.read_bytes()[:100])  # truncated file
    assert cache.load(key) is None
    wrong = TrackFeatures(np.zeros(5, np.float32), np.zeros((2, 24), np.float32), np.zeros(2), np.ones(2))
    cache.save(key, wrong)
    arrays = unpack_arrays(path.read_bytes())  # plain arrays, no pickle
    assert list(arrays) == ["static", "frames", "start_s", "end_s"]
    assert arrays["frames"].shape == (2, 24) and arrays["end_s"].dtype == np.float64
    assert cache.load(key) is None  # wrong feature count for chroma
    assert not path.exists()  # a damaged entry is deleted, so the next save replaces it


def test_fingerprint_follows_config_grid_and_version(tmp_path):
    base = TrackCache.for_extractor(tmp_path, build_extractor("chroma", CHROMA))
    same = TrackCache.for_extractor(tmp_path, build_extractor("chroma", dict(CHROMA)))
    other_cfg = TrackCache.for_extractor(tmp_path, build_extractor("chroma", {"kind": "stft", "hop_length": 256}))
    other_grid = TrackCache.for_extractor(tmp_path, build_extractor("chroma", CHROMA, {"hop_s": 0.25}))
    assert base.dir == same.dir
    assert len({base.dir, other_cfg.dir, other_grid.dir}) == 3
    ex = build_extractor("chroma", CHROMA)
    bumped = TrackCache(tmp_path, name="chroma", version=ex.version + ".bumped", config=ex.config_dict(), feature_count=24,
                        frame_shape=(24,))
    assert bumped.dir != base.dir
    assert base.payload["store_schema_version"] >= 1 and "librosa" in base.payload["packages"]


def test_cached_store_equals_uncached_and_reruns_extract_nothing(tmp_path):
    audio = make_audio_store(tmp_path / "audio.h5", list(range(6)))
    plain = run(tmp_path, audio, "plain.h5", None)
    assert plain == {"tracks": 6, "failed": 0, "cached": 0, "extracted": 6}
    cache = tmp_path / "cache"
    first = run(tmp_path, audio, "first.h5", cache)
    assert first == {"tracks": 6, "failed": 0, "cached": 0, "extracted": 6}
    again = run(tmp_path, audio, "again.h5", cache)
    assert again == {"tracks": 6, "failed": 0, "cached": 6, "extracted": 0}
    assert_same_store(tmp_path / "plain.h5", tmp_path / "first.h5")
    assert_same_store(tmp_path / "plain.h5", tmp_path / "again.h5")


def test_new_tracks_changed_audio_and_changed_config(tmp_path):
    cache = tmp_path / "cache"
    run(tmp_path, make_audio_store(tmp_path / "a.h5", list(range(8))), "a.h5.feat", cache)
    # two more tracks: only those are extracted
    grown = make_audio_store(tmp_path / "b.h5", list(range(10)))
    assert run(tmp_path, grown, "b.feat", cache)["extracted"] == 2
    assert_same_store(tmp_path / "b.feat", _fresh(tmp_path, grown))
    # one track's audio changes (same id): only it is extracted
    with AudioStoreWriter(tmp_path / "c.h5", sample_rate=SR, dataset="synthetic") as writer:
        for s in range(10):
            writer.append(f"t{s:03d}", chord(s) if s != 4 else chord(104))
    counts = run(tmp_path, tmp_path / "c.h5", "c.feat", cache)
    assert counts["extracted"] == 1 and counts["cached"] == 9
    # another config: everything is extracted again
    counts = run(tmp_path, grown, "d.feat", cache, config={"kind": "stft", "hop_length": 1024})
    assert counts["extracted"] == 10 and counts["cached"] == 0


def _fresh(tmp: Path, audio: Path) -> Path:
    run(tmp, audio, "fresh.h5", None)
    return tmp / "fresh.h5"


def test_failed_track_is_nan_and_not_cached(tmp_path):
    # NaN audio makes librosa raise: a failed track (NaN row, no frames), retried on the next run;
    # shorter than n_fft is chroma's own NaN result and is cached like any other. Process pool.
    bad = chord(4)
    bad[500] = np.nan
    with AudioStoreWriter(tmp_path / "audio.h5", sample_rate=SR, dataset="synthetic") as writer:
        writer.append("ok1", chord(1))
        writer.append("short", chord(2)[:100])
        writer.append("broken", bad)
        writer.append("ok2", chord(3))
    cache = tmp_path / "cache"
    counts = run(tmp_path, tmp_path / "audio.h5", "x.h5", cache, workers=2)
    assert counts == {"tracks": 3, "failed": 1, "cached": 0, "extracted": 4}
    assert len(list(TrackCache.for_extractor(cache, build_extractor("chroma", CHROMA)).keys())) == 3
    again = run(tmp_path, tmp_path / "audio.h5", "y.h5", cache, workers=2)
    assert again == {"tracks": 3, "failed": 1, "cached": 3, "extracted": 1}
    plain = run(tmp_path, tmp_path / "audio.h5", "plain.h5", None, workers=2)
    assert plain["failed"] == 1
    assert_same_store(tmp_path / "x.h5", tmp_path / "plain.h5")
    with h5py.File(tmp_path / "x.h5") as h5:
        assert np.isnan(h5["static/values"][1]).all() and np.isnan(h5["static/values"][2]).all()
        assert list(np.diff(h5["frames/offsets"][:])) [1:3] == [0, 0]


def test_damaged_entry_is_re_extracted(tmp_path):
    audio = make_audio_store(tmp_path / "audio.h5", [1, 2, 3])
    cache_root = tmp_path / "cache"
    run(tmp_path, audio, "a.h5", cache_root)
    cache = TrackCache.for_extractor(cache_root, build_extractor("chroma", CHROMA))
    entry = next(cache.dir.glob("??/*.arrays"))
    entry.write_bytes(b"not an entry")
    counts = run(tmp_path, audio, "b.h5", cache_root)
    assert counts["extracted"] == 1 and counts["failed"] == 0
    assert_same_store(tmp_path / "a.h5", tmp_path / "b.h5")


def test_unknown_executor_is_refused(tmp_path):
    audio = make_audio_store(tmp_path / "audio.h5", [1])
    with pytest.raises(ValueError, match="features.executor"):
        run(tmp_path, audio, "x.h5", None, executor="spark")


def test_decode_records_the_cache_key(tmp_path):
    """The audio store carries each track's hash, so re-runs need not re-hash the audio."""
    from moodflow.stores.audio_store import AudioStore

    rng = np.random.default_rng(3)
    y = (0.1 * rng.standard_normal(SR)).astype(np.float32)
    with AudioStoreWriter(tmp_path / "a.h5", sample_rate=SR, dataset="synthetic") as writer:
        writer.append("t0", y)
        writer.append("t1", y[::-1].copy())
    store = AudioStore(tmp_path / "a.h5")
    assert store.audio_hash("t0") == audio_hash(y, SR) == audio_hash(store.signal("t0"), SR)
    assert store.audio_hashes() == [store.audio_hash("t0"), audio_hash(y[::-1].copy(), SR)]
    store.close()


def test_entry_format_roundtrip_and_refusals():
    arrays = {"static": np.arange(3, dtype=np.float32), "frames": np.zeros((0, 4, 2), np.float32),
              "start_s": np.array([0.1, 12.3]), "n": np.array([7], dtype=np.int64)}
    got = unpack_arrays(pack_arrays(arrays))
    assert list(got) == list(arrays)
    for k in arrays:
        assert got[k].dtype == arrays[k].dtype and got[k].shape == arrays[k].shape
        np.testing.assert_array_equal(got[k], arrays[k])
    data = pack_arrays(arrays)
    with pytest.raises(ValueError, match="checksum"):
        unpack_arrays(data + b"\0")
    with pytest.raises(ValueError, match="size"):
        unpack_arrays(_signed(data[len(_MAGIC) + _DIGEST:] + b"\0"))  # a consistent checksum, but too long
    with pytest.raises(ValueError, match="not a moodflow"):
        unpack_arrays(b"PK\x03\x04" + data)
    objects = pack_arrays({"x": np.zeros(2)})[len(_MAGIC) + _DIGEST:].replace(b'"<f8"', b'"|O8"')
    with pytest.raises(ValueError, match="not a numeric array"):
        unpack_arrays(_signed(objects))


def _signed(body: bytes) -> bytes:
    """An entry of ``body`` with its checksum (what a writer that got the header wrong would write)."""
    return _MAGIC + _digest(body) + body
