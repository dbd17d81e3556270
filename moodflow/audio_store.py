"""The canonical decoded-audio store: every track decoded once, mono, one sample rate.

HDF5 layout: ``/tracks/id`` (N,), ``/tracks/duration_s`` (N,), ``/audio/samples`` (S,) float32
concatenated, ``/audio/offsets`` (N+1,) int64; attrs ``sample_rate``, ``dataset``.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from moodflow.h5writer import AtomicH5Writer

_STR = h5py.string_dtype("utf-8")


class AudioStoreWriter(AtomicH5Writer):
    """Appends decoded tracks to a temporary file, renamed into place on close."""

    def __init__(self, path: str | Path, *, sample_rate: int, dataset: str):
        super().__init__(path)
        self._h5.attrs.update(sample_rate=int(sample_rate), dataset=dataset, schema="moodflow.audio", schema_version=1)
        self._samples = self._h5.create_dataset(
            "audio/samples", (0,), maxshape=(None,), dtype="f4", chunks=(1 << 18,),
        )
        self.ids: list[str] = []
        self.durations: list[float] = []
        self.offsets = [0]
        self.sample_rate = int(sample_rate)

    def append(self, track_id: str, y: np.ndarray) -> None:
        n0, n = self.offsets[-1], len(y)
        self._samples.resize((n0 + n,))
        self._samples[n0:] = y
        self.offsets.append(n0 + n)
        self.ids.append(track_id)
        self.durations.append(n / self.sample_rate)

    def _finish(self) -> None:
        h = self._h5
        h.create_dataset("tracks/id", data=np.array(self.ids, dtype=object), dtype=_STR)
        h.create_dataset("tracks/duration_s", data=np.asarray(self.durations, dtype=np.float64))
        h.create_dataset("audio/offsets", data=np.asarray(self.offsets, dtype=np.int64))


class AudioStore:
    """Reads tracks from a decoded-audio store. Safe to open in several processes."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._h5 = h5py.File(self.path, "r")
        self.sample_rate = int(self._h5.attrs["sample_rate"])
        self.dataset = str(self._h5.attrs.get("dataset", ""))
        self.ids = [s.decode() if isinstance(s, bytes) else s for s in self._h5["tracks/id"][:]]
        self.durations = self._h5["tracks/duration_s"][:]
        self.offsets = self._h5["audio/offsets"][:]
        self._index = {t: i for i, t in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.ids)

    def signal(self, track_id: str) -> np.ndarray:
        i = self._index[track_id]
        return self._h5["audio/samples"][self.offsets[i] : self.offsets[i + 1]]

    def close(self) -> None:
        self._h5.close()
