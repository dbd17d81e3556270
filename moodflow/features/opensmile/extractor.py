"""The openSMILE feature extractors' common class (ComParE and eGeMAPS subclass it): one pass
over a short track (:func:`moodflow.features.opensmile.smile.run_smile`), two passes over a long
one (:mod:`moodflow.features.opensmile.twopass`)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from moodflow.features.base import Extractor, TrackFeatures
from moodflow.features.opensmile.families import feature_group
from moodflow.features.opensmile.smile import check_levels, run_smile, smile_names
from moodflow.stores.grid import WindowStatsStream, frame_grid, window_stats
from moodflow.stores.signal import BLOCK_S, Signal


class SmileExtractor(Extractor):
    """Functionals as the static vector; per-window mean/std of the LLD rows as frames.

    Subclasses set ``Config`` (with a ``feature_set`` field) and may override ``lld_levels``.
    """

    # processes, not threads: openSMILE computes with the GIL released, but its sinks call back
    # into Python ~100 times per second of audio and the threads then contend for the GIL
    # (measured on 40 × 10 s: 2 processes 7.5 / 6.8 s, 2 threads 7.9 / 7.9 s, with less CPU time).
    parallel: ClassVar[str] = "processes"
    packages: ClassVar[tuple[str, ...]] = ("opensmile",)

    def __init__(self, config=None, grid=None):
        super().__init__(config, grid)
        try:
            check_levels(self.config.feature_set, self.lld_levels())
        except ValueError as exc:
            raise ValueError(f"features.{self.name}: {exc}") from None

    def lld_levels(self) -> tuple[str, ...]:
        return ("lld",)

    def lld_names(self) -> list[str]:
        """Names of the LLD columns the frames summarise, in order."""
        return list(smile_names(self.config.feature_set, self.lld_levels())[0])

    def feature_names(self) -> list[str]:
        return list(smile_names(self.config.feature_set, self.lld_levels())[1])

    def feature_groups(self) -> list[str]:
        """Each functional's ``LLD family/descriptor`` (``MFCC/mfcc[3]``, ``voice quality/jitterLocal``)."""
        return [feature_group(n) for n in self.feature_names()]

    def frame_names(self) -> list[str]:
        """The frame columns: every LLD's window mean, then every LLD's window std."""
        lld = self.lld_names()
        return [f"{n}__mean" for n in lld] + [f"{n}__std" for n in lld]

    def frame_shape(self) -> tuple[int, ...]:
        return (2 * len(self.lld_names()),)

    def extract(self, y: np.ndarray, sample_rate: int) -> TrackFeatures:
        out = run_smile(y, sample_rate, self.config.feature_set, self.lld_levels())
        start, end = frame_grid(len(y) / sample_rate, win_s=self.grid.win_s, hop_s=self.grid.hop_s)
        frames = window_stats(out.lld, out.lld_start_s, start, end).astype(np.float32)
        return TrackFeatures(static=out.functionals, frames=frames, start_s=start, end_s=end)

    def extract_long(self, signal: Signal, *, block_s: float = BLOCK_S) -> TrackFeatures:
        """:meth:`extract`'s values in bounded memory: LLDs streamed, functionals from a disk
        spill (``moodflow.features.opensmile.twopass``)."""
        from moodflow.features.opensmile.twopass import long_functionals

        start, end = frame_grid(signal.duration_s, win_s=self.grid.win_s, hop_s=self.grid.hop_s)
        frames = WindowStatsStream(start, end, len(self.lld_names()), dtype=np.float32)
        static = long_functionals(signal, self.config.feature_set, self.lld_levels(), frames.add, block_s=block_s)
        return TrackFeatures(static=static, frames=frames.finish(), start_s=start, end_s=end)
