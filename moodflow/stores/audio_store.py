"""The canonical decoded-audio store: every track decoded once, mono, one sample rate.

HDF5 layout: ``/tracks/id`` (N,), ``/tracks/duration_s`` (N,), ``/tracks/audio_hash`` (N,)
(blake2b of the samples: the per-track cache key), ``/audio/samples`` (S,) float32
concatenated, ``/audio/offsets`` (N+1,) int64; attrs ``sample_rate``, ``dataset``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import h5py
import numpy as np

from moodflow.stores.h5file import AtomicH5Writer
from moodflow.stores.signal import ArraySignal, DatasetSignal, Signal
from moodflow.stores.validate import check_audio_store, open_hdf5

_STR = h5py.string_dtype("utf-8")


def audio_hash(y: np.ndarray | Signal, sample_rate: int) -> str:
    """Hex blake2b (128 bit) of the float32 samples of ``y`` and ``sample_rate`` (a
    :class:`~moodflow.stores.signal.Signal` is hashed block by block: the same digest)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(np.int64(sample_rate).tobytes())
    for block in y.blocks(1 << 20) if isinstance(y, Signal) else (y,):
        h.update(np.ascontiguousarray(block, dtype=np.float32).tobytes())
    return h.hexdigest()


class AudioStoreWriter(AtomicH5Writer):
    """Appends decoded tracks to a temporary file, renamed into place on close."""

    def __init__(self, path: str | Path, *, sample_rate: int, dataset: str):
        super().__init__(path)
        self._h5.attrs.update(sample_rate=int(sample_rate), dataset=dataset, schema="moodflow.decode.audio", schema_version=1)
        self._samples = self._h5.create_dataset(
            "audio/samples", (0,), maxshape=(None,), dtype="f4", chunks=(1 << 18,),
        )
        self.ids: list[str] = []
        self.hashes: list[str] = []
        self.durations: list[float] = []
        self.offsets = [0]
        self.sample_rate = int(sample_rate)

    def append(self, track_id: str, y: np.ndarray | Signal) -> None:
        """One track's samples: an array, or a :class:`Signal` written block by block (a long
        file never held whole; if its stream fails, the track's partial samples are dropped)."""
        n0 = self.offsets[-1]
        if isinstance(y, ArraySignal):
            y = y.read()
        if isinstance(y, Signal):
            h = hashlib.blake2b(digest_size=16)
            h.update(np.int64(self.sample_rate).tobytes())
            n = 0
            try:
                for block in y.blocks(1 << 20):
                    block = np.ascontiguousarray(block, dtype=np.float32)
                    self._samples.resize((n0 + n + len(block),))
                    self._samples[n0 + n:] = block
                    h.update(block.tobytes())
                    n += len(block)
            except BaseException:
                self._samples.resize((n0,))
                raise
            digest = h.hexdigest()
        else:
            n = len(y)
            self._samples.resize((n0 + n,))
            self._samples[n0:] = y
            digest = audio_hash(y, self.sample_rate)
        self.offsets.append(n0 + n)
        self.ids.append(track_id)
        self.hashes.append(digest)
        self.durations.append(n / self.sample_rate)

    def _finish(self) -> None:
        h = self._h5
        h.create_dataset("tracks/id", data=np.array(self.ids, dtype=object), dtype=_STR)
        h.create_dataset("tracks/duration_s", data=np.asarray(self.durations, dtype=np.float64))
        h.create_dataset("tracks/audio_hash", data=np.array(self.hashes, dtype=object), dtype=_STR)
        h.create_dataset("audio/offsets", data=np.asarray(self.offsets, dtype=np.int64))


class AudioStore:
    """Reads tracks from a decoded-audio store. Safe to open in several processes."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._h5 = open_hdf5(self.path)  # no links, no external storage, bounded attributes
        try:
            self.ids, self.offsets = check_audio_store(self._h5, self.path)
        except BaseException:
            self._h5.close()
            raise
        self.sample_rate = int(self._h5.attrs["sample_rate"])
        self.dataset = str(self._h5.attrs.get("dataset", ""))
        self.durations = self._h5["tracks/duration_s"][:]
        self._index = {t: i for i, t in enumerate(self.ids)}

    def audio_hash(self, track_id: str) -> str:
        """The track's :func:`audio_hash`, recorded at decode time (computed for older stores)."""
        if "tracks/audio_hash" in self._h5:
            return self._h5["tracks/audio_hash"][self._index[track_id]].decode()
        return audio_hash(self.signal(track_id), self.sample_rate)

    def audio_hashes(self) -> list[str]:
        """Every track's :func:`audio_hash`, in store order (one read when recorded at decode)."""
        if "tracks/audio_hash" in self._h5:
            return [h.decode() if isinstance(h, bytes) else str(h) for h in self._h5["tracks/audio_hash"][:]]
        return [self.audio_hash(t) for t in self.ids]

    def __len__(self) -> int:
        return len(self.ids)

    def signal(self, track_id: str) -> np.ndarray:
        """The track's samples in memory."""
        i = self._index[track_id]
        return self._h5["audio/samples"][self.offsets[i] : self.offsets[i + 1]]

    def duration_s(self, track_id: str) -> float:
        """The track's duration in seconds."""
        return float(self.durations[self._index[track_id]])

    def track_signal(self, track_id: str) -> DatasetSignal:
        """The track as a :class:`~moodflow.stores.signal.Signal`, read block by block on demand."""
        i = self._index[track_id]
        return DatasetSignal(self._h5["audio/samples"], self.offsets[i], self.offsets[i + 1], self.sample_rate)

    def close(self) -> None:
        self._h5.close()

    def __enter__(self) -> "AudioStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
