"""Mono signals read in consecutive blocks: how hours of audio pass through in bounded memory.

A :class:`Signal` knows its sample rate and exact length and yields its samples block by
block, as often as asked (a second pass reads again: from memory, from the audio store or —
``moodflow.decode.audio.FileSignal`` — by decoding the file again). Extractors process long
signals block by block (``Extractor.extract_long``); short ones are read whole, as before.

:func:`resampled_blocks` resamples a stream with soxr's streaming resampler, whose output is
bit-identical to ``soxr.resample`` on the whole signal (same quality, same length; checked in
``tests/test_long_audio.py``), so windowed extractors see exactly the samples the in-memory
path sees.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Iterable, Iterator

import numpy as np

BLOCK_S = 30.0  # default block length of a stream, seconds
# Longer tracks are decoded and analysed block by block (docs/performance.md, "Long recordings");
# shorter ones in memory, exactly as before. Every dataset moodflow reads has shorter tracks.
LONG_AUDIO_S = 900.0


class Signal(ABC):
    """A mono float32 signal: ``sample_rate``, ``n_samples``, and its samples in blocks."""

    sample_rate: int
    n_samples: int

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.sample_rate

    @abstractmethod
    def blocks(self, size: int) -> Iterator[np.ndarray]:
        """Consecutive float32 blocks of ``size`` samples (the last one shorter) covering the signal."""

    def read(self) -> np.ndarray:
        """The whole signal in memory (short signals; long ones are streamed)."""
        out = np.empty(self.n_samples, dtype=np.float32)
        pos = 0
        for block in self.blocks(max(1, min(self.n_samples, 1 << 20))):
            out[pos:pos + len(block)] = block
            pos += len(block)
        if pos != self.n_samples:
            raise ValueError(f"signal yielded {pos} samples, {self.n_samples} announced")
        return out

    def block_size(self, seconds: float = BLOCK_S) -> int:
        """``seconds`` of this signal in samples (at least one)."""
        return max(1, int(round(seconds * self.sample_rate)))


class ArraySignal(Signal):
    """A signal already in memory (its blocks are views)."""

    def __init__(self, y: np.ndarray, sample_rate: int):
        self.y = np.asarray(y, dtype=np.float32)
        if self.y.ndim != 1:
            raise ValueError(f"expected a mono 1-D signal, got shape {self.y.shape}")
        self.sample_rate = int(sample_rate)
        self.n_samples = len(self.y)

    def blocks(self, size: int) -> Iterator[np.ndarray]:
        for i in range(0, self.n_samples, size):
            yield self.y[i:i + size]

    def read(self) -> np.ndarray:
        return self.y


class DatasetSignal(Signal):
    """Samples ``[start, stop)`` of a 1-D HDF5 dataset (one track of the audio store)."""

    def __init__(self, dataset: Any, start: int, stop: int, sample_rate: int):
        self.dataset, self.start, self.stop = dataset, int(start), int(stop)
        self.sample_rate = int(sample_rate)
        self.n_samples = self.stop - self.start

    def blocks(self, size: int) -> Iterator[np.ndarray]:
        for a in range(self.start, self.stop, size):
            yield np.asarray(self.dataset[a:min(a + size, self.stop)], dtype=np.float32)

    def read(self) -> np.ndarray:
        return self.dataset[self.start:self.stop]


def rechunk(blocks: Iterable[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """The same samples in blocks of exactly ``size`` (the last one shorter, never empty)."""
    pending: list[np.ndarray] = []
    held = 0
    for block in blocks:
        if not len(block):
            continue
        pending.append(block)
        held += len(block)
        if held < size:
            continue
        joined = np.concatenate(pending) if len(pending) > 1 else pending[0]
        cut = (held // size) * size
        for i in range(0, cut, size):
            yield joined[i:i + size]
        rest = joined[cut:]
        pending, held = ([rest], len(rest)) if len(rest) else ([], 0)
    if held:
        yield np.concatenate(pending) if len(pending) > 1 else pending[0]


def resampled_length(n_samples: int, sample_rate: int, target: int) -> int:
    """How many samples ``soxr.resample`` returns for ``n_samples`` at ``sample_rate`` → ``target``."""
    if int(sample_rate) == int(target):
        return int(n_samples)
    return int(np.floor(n_samples * int(target) / int(sample_rate) + 0.5))


def resampled_blocks(signal: Signal, target: int, size: int, *, quality: str = "HQ") -> Iterator[np.ndarray]:
    """``signal`` at ``target`` Hz in blocks of ``size`` samples, through soxr's streaming
    resampler: the same samples as ``soxr.resample(whole signal, quality=quality)``."""
    if int(signal.sample_rate) == int(target):
        yield from rechunk(signal.blocks(size), size)
        return
    import soxr

    stream = soxr.ResampleStream(int(signal.sample_rate), int(target), 1, dtype="float32", quality=quality)
    step = max(1, int(size * signal.sample_rate / target))

    def pieces() -> Iterator[np.ndarray]:
        for block in signal.blocks(step):
            yield stream.resample_chunk(np.ascontiguousarray(block, dtype=np.float32), last=False)
        yield stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)

    yield from rechunk(pieces(), size)
