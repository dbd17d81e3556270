"""openSMILE ComParE_2016: 6373 functionals per track and PMEmo's 260-d dynamic features.

Static: the ComParE_2016 functionals under openSMILE's own names (PMEmo's
``static_features.csv``). Frames: PMEmo's dynamic protocol — mean and std over each grid
window (1 s, 0.5 s hop) of the 65 LLDs and their 65 deltas. LLDs, deltas and functionals come
out of one openSMILE pass (``moodflow.features.smile``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from moodflow.features import EXTRACTORS
from moodflow.features.base import Extractor, TrackFeatures
from moodflow.features.smile import run_smile, smile_names
from moodflow.grid import frame_grid, window_stats


@dataclass
class CompareConfig:
    """``features.compare``: which openSMILE set and which levels feed the frames."""

    feature_set: str = "ComParE_2016"
    deltas: bool = True  # frames over LLDs and their deltas (PMEmo's 260) or LLDs only (130)


class SmileExtractor(Extractor):
    """Functionals as the static vector; per-window mean/std of the LLD rows as frames."""

    parallel: ClassVar[str] = "threads"  # openSMILE runs in C with the GIL released

    def lld_levels(self) -> tuple[str, ...]:
        return ("lld",)

    def lld_names(self) -> list[str]:
        """Names of the LLD columns the frames summarise, in order."""
        return list(smile_names(self.config.feature_set, self.lld_levels())[0])

    def feature_names(self) -> list[str]:
        return list(smile_names(self.config.feature_set, self.lld_levels())[1])

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


@EXTRACTORS.register("compare")
class CompareExtractor(SmileExtractor):
    """ComParE_2016 functionals (6373) + 260-d dynamic frames (PMEmo protocol)."""

    name = "compare"
    version = "1"
    Config = CompareConfig

    def lld_levels(self) -> tuple[str, ...]:
        return ("lld", "lld_de") if self.config.deltas else ("lld",)
