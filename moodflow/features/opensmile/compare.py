"""openSMILE ComParE_2016: 6373 functionals per track and PMEmo's 260-d dynamic features.

Static: the ComParE_2016 functionals under openSMILE's own names (PMEmo's
``static_features.csv``). Frames: PMEmo's dynamic protocol — mean and std over each grid
window (1 s, 0.5 s hop) of the 65 LLDs and their 65 deltas. LLDs, deltas and functionals come
out of one openSMILE pass (``moodflow.features.opensmile.smile``).
"""

from __future__ import annotations

from dataclasses import dataclass

from moodflow.features import EXTRACTORS
from moodflow.features.opensmile.extractor import SmileExtractor


@dataclass
class CompareConfig:
    """``features.compare``: which openSMILE set and which levels feed the frames."""

    feature_set: str = "ComParE_2016"  # openSMILE feature set
    deltas: bool = True  # frames over LLDs and their deltas (PMEmo's 260) or LLDs only (130)


@EXTRACTORS.register
class CompareExtractor(SmileExtractor):
    """ComParE_2016 functionals (6373) + 260-d dynamic frames (PMEmo protocol)."""

    name = "compare"
    version = "1"
    Config = CompareConfig

    def lld_levels(self) -> tuple[str, ...]:
        return ("lld", "lld_de") if self.config.deltas else ("lld",)
