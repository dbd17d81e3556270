"""openSMILE eGeMAPSv02: 88 functionals per track, per-window mean/std of its 25 LLDs.

The extended Geneva Minimalistic Acoustic Parameter Set (Eyben et al., IEEE TAFFC 2016).
eGeMAPS defines no delta level, so frames are the 25 LLDs' window means then stds (50).
One openSMILE pass gives both (``moodflow.features.opensmile.smile``).
"""

from __future__ import annotations

from dataclasses import dataclass

from moodflow.features import EXTRACTORS
from moodflow.features.opensmile.extractor import SmileExtractor


@dataclass
class EgemapsConfig:
    """``features.egemaps``: the openSMILE set (eGeMAPSv02 is the current revision)."""

    feature_set: str = "eGeMAPSv02"  # openSMILE feature set


@EXTRACTORS.register
class EgemapsExtractor(SmileExtractor):
    """eGeMAPSv02 functionals (88) + 50-d dynamic frames."""

    name = "egemaps"
    version = "1"
    Config = EgemapsConfig
