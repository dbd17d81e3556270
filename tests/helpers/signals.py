"""Generated test signals."""

from __future__ import annotations

import numpy as np


def tone(freq: float = 440.0, seconds: float = 2.0, sample_rate: int = 22050, amp: float = 0.5) -> np.ndarray:
    """A sine tone, float32 mono."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
