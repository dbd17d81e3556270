import subprocess
import shutil

import h5py
import numpy as np
import pytest

from moodflow.stores.feature_store import FeatureStore, FeatureStoreWriter, StoreMismatchError


def _write(path, n_tracks=3, frame_shape=(4,)):
    names = [f"f{i}" for i in range(frame_shape[-1] if len(frame_shape) == 1 else 6)]
    rng = np.random.default_rng(1)
    expected = {}
    with FeatureStoreWriter(
        path, feature_names=names, frame_shape=frame_shape, extractor="test", extractor_version="1",
        config={"a": 1}, dataset="unit", sample_rate=22050,
    ) as w:
        for i in range(n_tracks):
            t = i + 2
            static = rng.normal(size=len(names)).astype(np.float32)
            frames = rng.normal(size=(t, *frame_shape)).astype(np.float32)
            start = np.arange(t) * 0.5
            w.append(f"track{i}", float(t), static, frames, start, start + 1.0)
            expected[f"track{i}"] = (static, frames, start)
    return names, expected


def test_round_trip(tmp_path):
    path = tmp_path / "s.h5"
    names, expected = _write(path)
    with FeatureStore(path) as store:
        assert store.ids == list(expected)
        assert store.feature_names == names
        assert store.attrs["config"] == {"a": 1}
        assert "h5py" in store.attrs["versions"]
        for tid, (static, frames, start) in expected.items():
            values, s, e = store.frames(tid)
            assert np.array_equal(values, frames)
            assert np.array_equal(s, start) and np.allclose(e - s, 1.0)
        both = store.static(["track2", "track0", "track2"])
        assert np.array_equal(both[0], expected["track2"][0])
        assert np.array_equal(both[1], expected["track0"][0])
        assert np.array_equal(both[2], expected["track2"][0])
        store.check("test", {"a": 1})
        with pytest.raises(StoreMismatchError, match="config"):
            store.check("test", {"a": 2})
        with pytest.raises(StoreMismatchError, match="extractor"):
            store.check("other")


def test_layered_frames(tmp_path):
    path = tmp_path / "m.h5"
    _, expected = _write(path, frame_shape=(3, 6))
    with FeatureStore(path) as store:
        assert store.frame_shape == (3, 6)
        assert store.frames("track1")[0].shape == (3, 3, 6)


def test_failed_write_leaves_nothing(tmp_path):
    path = tmp_path / "s.h5"
    with pytest.raises(RuntimeError):
        with FeatureStoreWriter(
            path, feature_names=["a"], frame_shape=(1,), extractor="t", extractor_version="1",
            config={}, dataset="d", sample_rate=1,
        ) as w:
            w.append("x", 1.0, np.zeros(1), np.zeros((1, 1)), np.zeros(1), np.ones(1))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_old_schema_refused(tmp_path):
    path = tmp_path / "s.h5"
    _write(path)
    with h5py.File(path, "a") as h:
        h.attrs["schema_version"] = 0
    with pytest.raises(StoreMismatchError, match="schema version 0"):
        FeatureStore(path)


def test_plain_hdf5_readable_by_h5dump(tmp_path):
    if shutil.which("h5dump") is None:
        pytest.skip("h5dump is not installed (apt-get install hdf5-tools)")
    path = tmp_path / "s.h5"
    _write(path)
    out = subprocess.run(["h5dump", "-d", "/features/names", str(path)], capture_output=True, text=True, check=True)
    assert '"f0"' in out.stdout


def test_pandas_reader(tmp_path):
    from moodflow.stores.feature_store import open_store

    path = tmp_path / "s.h5"
    names, expected = _write(path)
    with open_store(path) as store:
        df = store.static_frame()
        assert list(df.columns) == names and list(df.index) == list(expected)
        frames = store.frames_frame("track1")
        assert frames.shape == (3, len(names))
        assert list(frames.index.get_level_values("start_s")) == [0.0, 0.5, 1.0]


def test_orphaned_partial_output_is_cleaned(tmp_path):
    """A temporary file left by a killed writer (dead pid) is removed by the next write."""
    import subprocess as sp

    dead = sp.Popen(["true"])
    dead.wait()
    orphan = tmp_path / f".s.h5.partial-{dead.pid}"
    orphan.write_bytes(b"half written")
    _write(tmp_path / "s.h5")
    assert not orphan.exists()
    assert (tmp_path / "s.h5").exists()


def test_frame_names_when_frames_differ(tmp_path):
    path = tmp_path / "s.h5"
    with FeatureStoreWriter(
        path, feature_names=["f0", "f1", "f2"], frame_shape=(2,), frame_names=["lld__mean", "lld__std"],
        extractor="t", extractor_version="1", config={}, dataset="d", sample_rate=1,
    ) as w:
        w.append("a", 2.0, np.zeros(3), np.ones((3, 2)), np.arange(3) * 0.5, np.arange(3) * 0.5 + 1)
    with FeatureStore(path) as store:
        assert store.frame_names == ["lld__mean", "lld__std"]
        assert list(store.frames_frame("a").columns) == ["lld__mean", "lld__std"]


def test_buffered_writes_flush_in_blocks(tmp_path, monkeypatch):
    """Tracks written across many small blocks read back exactly, in order."""
    import moodflow.stores.feature_store as store_module

    monkeypatch.setattr(store_module, "_FLUSH_BYTES", 200)
    rng = np.random.default_rng(5)
    tracks = [(f"t{i}", rng.normal(size=3).astype(np.float32), rng.normal(size=(i % 4, 2)).astype(np.float32))
              for i in range(30)]
    with FeatureStoreWriter(tmp_path / "s.h5", feature_names=["a", "b", "c"], frame_shape=(2,), extractor="t",
                            extractor_version="1", config={}, dataset="d", sample_rate=1, frame_names=["x", "y"]) as w:
        for tid, static, frames in tracks:
            start = np.arange(len(frames)) * 0.5
            w.append(tid, 1.0, static, frames, start, start + 1)
        with pytest.raises(ValueError, match="frames have shape"):
            w.append("bad", 1.0, np.zeros(3), np.zeros((2, 5)), np.zeros(2), np.ones(2))
    with FeatureStore(tmp_path / "s.h5") as store:
        assert store.ids == [t[0] for t in tracks]
        for tid, static, frames in tracks:
            assert np.array_equal(store.static([tid])[0], static)
            values, start, _ = store.frames(tid)
            assert np.array_equal(values, frames) and np.allclose(start, np.arange(len(frames)) * 0.5)
