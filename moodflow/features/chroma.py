"""librosa chroma: 12 pitch-class energies, summarised per track and per grid window.

``kind: cqt`` (default) is ``librosa.feature.chroma_cqt``; ``kind: stft`` is
``librosa.feature.chroma_stft``. A signal shorter than ``n_fft`` samples gets a NaN static
vector and no frames. Chroma frame k is centred at ``k * hop_length / sr``
(librosa pads the signal by default) and is counted in the grid window holding that centre.

A long signal (``extract_long``) is analysed in chunks with 4 s of context on each side (more
than the longest constant-Q filter, 1.6 s at C1), keeping each chunk's own frames; the tuning of
the whole track is estimated first, exactly as librosa does (``windowed.estimate_tuning``). The
values differ from the in-memory ones only by float rounding (librosa resamples each chunk
rather than the whole signal): see docs/performance.md for the measured tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from moodflow.core.config import setting
from moodflow.core.errors import SettingsError
from moodflow.features import EXTRACTORS, cqt_filters
from moodflow.features.base import Extractor, TrackFeatures
from moodflow.features.windowed import Moments, chunks, estimate_tuning
from moodflow.stores.grid import WindowStatsStream, frame_grid, window_stats
from moodflow.stores.signal import BLOCK_S, Signal

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
KINDS = ("cqt", "stft")
CONTEXT_S = 4.0  # context on each side of a chunk of a long signal (the longest CQT filter: 1.6 s)


@dataclass
class ChromaConfig:
    """``features.chroma``: librosa's defaults for each kind."""

    kind: str = setting("cqt", choices=KINDS)  # constant-Q or short-time Fourier chroma
    hop_length: int = setting(512, min=1)  # chroma hop in samples
    n_fft: int = setting(2048, min=16)  # stft window; also the shortest signal (in samples) either kind accepts
    bins_per_octave: int = setting(36, min=12)  # cqt only; a multiple of the 12 chroma bins
    tuning: float | None = setting(None, min=-0.5, max=0.5)  # fraction of a bin; None: estimated per track

    def __post_init__(self) -> None:
        if self.bins_per_octave % 12:
            raise SettingsError(f"features.chroma.bins_per_octave: {self.bins_per_octave} is not a multiple of 12 "
                                "(the chroma bins)")


def chroma(
    y: np.ndarray,
    sample_rate: int,
    *,
    kind: str = "cqt",
    hop_length: int = 512,
    n_fft: int = 2048,
    bins_per_octave: int = 36,
    tuning: float | None = None,
) -> np.ndarray:
    """Chromagram (12, n_frames) of ``y`` with librosa's ``chroma_<kind>``."""
    import librosa

    y = np.asarray(y, dtype=np.float32)
    if kind == "cqt":
        cqt_filters.install()  # the filter bank once per process, not once per track
        return librosa.feature.chroma_cqt(
            y=y, sr=sample_rate, hop_length=hop_length, n_chroma=12,
            bins_per_octave=bins_per_octave, tuning=tuning,
        )
    if kind == "stft":
        return librosa.feature.chroma_stft(
            y=y, sr=sample_rate, hop_length=hop_length, n_fft=n_fft, n_chroma=12, tuning=tuning,
        )
    raise ValueError(f"features.chroma.kind: {kind!r} is not one of {', '.join(KINDS)}")


def chroma_names() -> list[str]:
    """``chroma_<pc>__mean`` for the 12 pitch classes, then ``chroma_<pc>__std``."""
    return [f"chroma_{pc}__{stat}" for stat in ("mean", "std") for pc in PITCH_CLASSES]


@EXTRACTORS.register
class ChromaExtractor(Extractor):
    """Track mean/std of each chroma bin (24) + per-window mean/std on the grid (24)."""

    name = "chroma"
    packages = ("librosa",)
    version = "1"
    Config = ChromaConfig
    parallel: ClassVar[str] = "processes"
    jit_compiled: ClassVar[bool] = True  # librosa's numba functions

    def feature_names(self) -> list[str]:
        return chroma_names()

    def feature_groups(self) -> list[str]:
        """``chroma mean|std/<pitch class>`` of each column."""
        return [f"chroma {stat}/{pc}" for stat in ("mean", "std") for pc in PITCH_CLASSES]

    def frame_names(self) -> list[str]:
        """Frame columns: same names and order as the static ones, over one window."""
        return chroma_names()

    def extract(self, y: np.ndarray, sample_rate: int) -> TrackFeatures:
        c = self.config
        start, end = frame_grid(len(y) / sample_rate, win_s=self.grid.win_s, hop_s=self.grid.hop_s)
        if len(y) < c.n_fft:  # not one full analysis frame: librosa would pad noise into bins
            nan = np.full(24, np.nan, dtype=np.float32)
            return TrackFeatures(nan, np.empty((0, 24), np.float32), start[:0], end[:0])
        chroma_ = chroma(
            y, sample_rate, kind=c.kind, hop_length=c.hop_length, n_fft=c.n_fft,
            bins_per_octave=c.bins_per_octave, tuning=c.tuning,
        ).T.astype(np.float64)
        static = np.concatenate([chroma_.mean(axis=0), chroma_.std(axis=0)]).astype(np.float32)
        centres = np.arange(len(chroma_)) * c.hop_length / sample_rate
        frames = window_stats(chroma_, centres, start, end).astype(np.float32)
        return TrackFeatures(static=static, frames=frames, start_s=start, end_s=end)

    def extract_long(self, signal: Signal, *, block_s: float = BLOCK_S) -> TrackFeatures:
        """:meth:`extract` of a long signal, chunk by chunk (see the module docstring)."""
        c = self.config
        sr = signal.sample_rate
        tuning = c.tuning
        if tuning is None:  # the whole track's, as librosa estimates it inside chroma_<kind>
            tuning = (estimate_tuning(signal, n_fft=2048, bins_per_octave=c.bins_per_octave) if c.kind == "cqt" else
                      estimate_tuning(signal, n_fft=c.n_fft, hop_length=c.hop_length, power=2, bins_per_octave=12))
        start, end = frame_grid(signal.duration_s, win_s=self.grid.win_s, hop_s=self.grid.hop_s)
        frames = WindowStatsStream(start, end, 12, dtype=np.float32)
        moments = Moments(12)
        margin = max(int(CONTEXT_S * sr), c.n_fft)
        for chunk in chunks(signal, int(block_s * sr), margin, align=c.hop_length):
            values = chroma(chunk.y, sr, kind=c.kind, hop_length=c.hop_length, n_fft=c.n_fft,
                            bins_per_octave=c.bins_per_octave, tuning=tuning).T
            keep = chunk.frames(c.hop_length, len(values))
            rows = values[keep].astype(np.float64)
            index = np.arange(keep.start, keep.stop) + chunk.start // c.hop_length
            frames.add(rows, index * c.hop_length / sr)
            moments.add(rows)
        static = np.concatenate([moments.mean, moments.std()]).astype(np.float32)
        return TrackFeatures(static=static, frames=frames.finish(), start_s=start, end_s=end)
