"""Small decoded-audio and feature stores for extraction tests, and a byte-level store comparison."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from moodflow.extract.run import extract_store
from moodflow.stores.audio_store import AudioStoreWriter

SR = 22050
CHROMA = {"kind": "stft"}  # the fast chroma; cqt goes through the same code


def chord(seed: int, seconds: float = 2.0) -> np.ndarray:
    """A seeded three-note chord with a little noise, float32 mono."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    freqs = 110.0 * 2 ** (rng.integers(0, 36, size=3) / 12)
    y = sum(np.sin(2 * np.pi * f * t) for f in freqs) / 4 + 0.01 * rng.normal(size=len(t))
    return y.astype(np.float32)


def make_audio_store(path: Path, seeds: list[int], seconds: float = 2.0) -> Path:
    """A decoded-audio store with one chord track ``t<seed>`` per seed."""
    with AudioStoreWriter(path, sample_rate=SR, dataset="synthetic") as writer:
        for s in seeds:
            writer.append(f"t{s:03d}", chord(s, seconds))
    return path


def run(tmp: Path, audio: Path, out: str, cache: Path | None, config=CHROMA, **kw) -> dict[str, int]:
    return extract_store(
        name="chroma", config=config, grid={}, audio_path=audio, prepared_dir=tmp, out_path=tmp / out,
        dataset="synthetic", workers=kw.pop("workers", 1), cache_dir=cache, **kw,
    )


def store_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every dataset of a feature store (the values, not the provenance attributes)."""
    out: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as h5:
        h5.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


def assert_same_store(a: Path, b: Path) -> None:
    xa, xb = store_arrays(a), store_arrays(b)
    assert sorted(xa) == sorted(xb)
    for key in xa:
        va, vb = xa[key], xb[key]
        assert va.dtype == vb.dtype and va.shape == vb.shape, key
        if va.dtype.kind == "f":
            assert np.array_equal(va, vb, equal_nan=True), key  # bit-identical values, NaN rows included
            assert va.tobytes() == vb.tobytes(), key
        else:
            assert list(va) == list(vb), key
