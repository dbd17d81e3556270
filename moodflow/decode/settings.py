"""The ``decode`` section of params.yaml."""

from __future__ import annotations

from dataclasses import dataclass

from moodflow.core.config import setting


@dataclass
class DecodeSettings:
    """``decode``: the one sample rate every track is decoded to, and what a bad file does."""

    sample_rate: int = setting(22050, min=4000, max=384000)
    on_error: str = setting("skip", choices=("skip", "stop"))  # skip: listed in decode_errors.csv
    min_duration_s: float = setting(0.0, min=0.0)
