"""librosa chroma: 12 pitch-class energies, summarised per track and per grid window.

``kind: cqt`` (default) is ``librosa.feature.chroma_cqt``; ``kind: stft`` is
``librosa.feature.chroma_stft``. A signal shorter than ``n_fft`` samples gets a NaN static
vector and no frames. Chroma frame k is centred at ``k * hop_length / sr``
(librosa pads the signal by default) and is counted in the grid window holding that centre.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from moodflow.core.config import setting
from moodflow.core.errors import SettingsError
from moodflow.features import EXTRACTORS, cqt_filters
from moodflow.features.base import Extractor, TrackFeatures
from moodflow.stores.grid import frame_grid, window_stats

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
KINDS = ("cqt", "stft")


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
