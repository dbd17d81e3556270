"""Shared pieces of the windowed (long-signal) paths of the librosa extractors.

- :func:`chunks`: a :class:`~moodflow.stores.signal.Signal` cut into aligned chunks with
  margins of context on both sides; an analysis run on a chunk keeps only the frames centred in
  its core, so every frame sees the samples around it as in a whole-signal run.
- :func:`estimate_tuning`: ``librosa.estimate_tuning`` of a whole signal, computed chunk by
  chunk with the same result: its spectral peaks are frame-local, the median magnitude over all
  of them is selected exactly from a disk-backed spill (:func:`spilled_median`), and the
  histogram of pitch residuals is summed over chunks.
- :class:`Moments`: mean and population std of rows arriving in parts (Chan's merge, float64).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from moodflow.stores.signal import Signal


@dataclass
class Chunk:
    """Samples ``y`` = signal[start:start + len(y)], of which [core_start, core_end) is this chunk's own."""

    y: np.ndarray
    start: int
    core_start: int
    core_end: int

    def frames(self, hop: int, n_local: int) -> slice:
        """Local indices of the frames (centred at multiples of ``hop``, counted from ``start``,
        which is one) whose centres lie in the core."""
        first = -(-self.core_start // hop) - self.start // hop
        last = -(-self.core_end // hop) - self.start // hop
        return slice(max(first, 0), min(last, n_local))


def chunks(signal: Signal, core: int, margin: int, align: int = 1) -> Iterator[Chunk]:
    """``signal`` in chunks whose cores are ``core`` samples (rounded up to a multiple of
    ``align``), each with up to ``margin`` samples of context on each side (also a multiple of
    ``align``, so every chunk starts on a multiple of it)."""
    core = -(-core // align) * align
    margin = -(-margin // align) * align
    n = signal.n_samples
    held = np.empty(0, dtype=np.float32)  # signal[held_start:held_start + len(held)]
    held_start = 0
    source = signal.blocks(max(core, 1 << 16))
    for core_start in range(0, n, core):
        core_end = min(n, core_start + core)
        want_end = min(n, core_end + margin)
        parts = [held]
        have = held_start + len(held)
        while have < want_end:
            block = next(source)
            parts.append(np.asarray(block, dtype=np.float32))
            have += len(block)
        held = np.concatenate(parts) if len(parts) > 1 else held
        start = max(0, core_start - margin)
        y = held[start - held_start:want_end - held_start]
        yield Chunk(y, start, core_start, core_end)
        keep_from = max(0, core_end - margin)
        held, held_start = held[keep_from - held_start:], keep_from
    for _ in source:  # drain: a FileSignal checks its length at the end
        pass


class Moments:
    """Per-column mean and population std of rows added in parts (float64)."""

    def __init__(self, n_columns: int):
        self.n = 0
        self.mean = np.zeros(n_columns)
        self.m2 = np.zeros(n_columns)

    def add(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows, dtype=np.float64)
        k = len(rows)
        if not k:
            return
        mean = rows.mean(axis=0)
        m2 = ((rows - mean) ** 2).sum(axis=0)
        delta = mean - self.mean
        total = self.n + k
        self.mean = self.mean + delta * (k / total)
        self.m2 = self.m2 + m2 + delta ** 2 * (self.n * k / total)
        self.n = total

    def std(self) -> np.ndarray:
        return np.sqrt(self.m2 / self.n) if self.n else np.full_like(self.mean, np.nan)


def spilled_median(spill, count: int, dtype: np.dtype, block: int = 1 << 20) -> np.floating:
    """``np.median`` of ``count`` non-negative values of ``dtype`` written to the binary file
    ``spill``, exactly, reading it twice (a histogram of the values' top bits finds the bucket of
    the middle ones; only that bucket is held)."""
    dtype = np.dtype(dtype)
    as_int = np.dtype(f"u{dtype.itemsize}")
    shift = 8 * dtype.itemsize - 16

    def values() -> Iterator[np.ndarray]:
        spill.seek(0)
        while True:
            raw = spill.read(block * dtype.itemsize)
            if not raw:
                return
            yield np.frombuffer(raw, dtype=dtype)

    counts = np.zeros(1 << 16, dtype=np.int64)
    for part in values():
        counts += np.bincount((part.view(as_int) >> shift).astype(np.int64), minlength=1 << 16)
    ranks = [(count - 1) // 2, count // 2]  # the middle one or two, as np.median takes them
    cum = np.cumsum(counts)
    buckets = {int(np.searchsorted(cum, r, side="right")) for r in ranks}
    kept = np.concatenate([part[np.isin(part.view(as_int) >> shift, list(buckets))] for part in values()])
    below = {b: int(cum[b - 1]) if b else 0 for b in buckets}
    kept.sort()
    picked = []
    for r in ranks:
        b = int(np.searchsorted(cum, r, side="right"))
        inside = kept[(kept.view(as_int) >> shift) == b]
        picked.append(inside[r - below[b]])
    return np.median(np.array(picked, dtype=dtype))


def estimate_tuning(signal: Signal, *, n_fft: int = 2048, hop_length: int | None = None, power: float = 1.0,
                    bins_per_octave: int = 12, resolution: float = 0.01, chunk_s: float = 60.0) -> float:
    """``librosa.estimate_tuning`` of the whole signal, computed chunk by chunk.

    ``power=1``: ``estimate_tuning(y=…)``, as ``chroma_cqt`` calls it (|STFT| with ``n_fft``
    and a hop of ``n_fft // 4``). ``power=2``: ``estimate_tuning(S=|STFT|²)``, as
    ``chroma_stft`` calls it (its ``n_fft`` and ``hop_length``; the peak picking then assumes
    librosa's default ``n_fft`` of 2048, as there). Every STFT frame (``center=True``, zero
    padding) is computed from the same samples as in a whole-signal run.
    """
    import librosa

    hop = hop_length or n_fft // 4
    sr = signal.sample_rate
    bins = np.linspace(-0.5, 0.5, int(np.ceil(1.0 / resolution)) + 1)
    counts = np.zeros(len(bins) - 1, dtype=np.int64)
    found = False
    with tempfile.TemporaryFile(prefix="moodflow-tuning-") as mags, \
            tempfile.TemporaryFile(prefix="moodflow-tuning-") as pairs:
        n, dtype = 0, np.dtype(np.float32)
        for chunk in chunks(signal, int(chunk_s * sr), n_fft, align=hop):
            S = np.abs(librosa.stft(chunk.y, n_fft=n_fft, hop_length=hop, center=True, pad_mode="constant"))
            S = S ** power if power != 1 else S
            keep = chunk.frames(hop, S.shape[1])
            pitch, mag = librosa.piptrack(S=S[:, keep], sr=sr, n_fft=n_fft if power == 1 else 2048)
            mask = pitch > 0
            dtype = mag.dtype
            mags.write(np.ascontiguousarray(mag[mask]).tobytes())
            pairs.write(np.stack([pitch[mask], mag[mask]], axis=1).tobytes())
            n += int(mask.sum())
        if not n:
            return 0.0
        threshold = spilled_median(mags, n, dtype)
        pairs.seek(0)
        while raw := pairs.read((1 << 20) * 2 * dtype.itemsize):
            both = np.frombuffer(raw, dtype=dtype).reshape(-1, 2)
            freqs = both[both[:, 1] >= threshold, 0]
            freqs = freqs[freqs > 0]
            if len(freqs):
                found = True
                residual = np.mod(bins_per_octave * librosa.hz_to_octs(freqs), 1.0)
                residual[residual >= 0.5] -= 1.0
                counts += np.histogram(residual, bins)[0]
    return float(bins[np.argmax(counts)]) if found else 0.0
