"""One resampler for every signal moodflow converts: soxr HQ, librosa's default."""

from __future__ import annotations

import numpy as np


def resample(y: np.ndarray, sample_rate: int, target: int) -> np.ndarray:
    """``y`` (float32 mono) from ``sample_rate`` to ``target`` Hz; unchanged when already there."""
    y = np.asarray(y, dtype=np.float32)
    if int(sample_rate) == int(target):
        return y
    import soxr

    return soxr.resample(y, int(sample_rate), int(target), quality="HQ").astype(np.float32, copy=False)
