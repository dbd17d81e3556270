"""Shared fixtures: the shared real-data folder and small generated signals."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def shared_data() -> Path:
    """``$MOODFLOW_SHARED_DATA`` (real audio and annotations); skips when unset."""
    value = os.environ.get("MOODFLOW_SHARED_DATA")
    if not value:
        pytest.skip("MOODFLOW_SHARED_DATA is not set (CI sets it to ../shared/data)")
    path = Path(value)
    if not path.is_dir():
        pytest.skip(f"MOODFLOW_SHARED_DATA={value} is not a folder")
    return path


def tone(freq: float = 440.0, seconds: float = 2.0, sample_rate: int = 22050, amp: float = 0.5) -> np.ndarray:
    """A sine tone, float32 mono."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def pytest_configure(config):
    """Compile librosa's numba code once, in the controlling process, before xdist workers start:
    workers compiling it at the same moment can corrupt numba's on-disk cache."""
    if hasattr(config, "workerinput"):
        return
    from moodflow.extract.worker import warm_up
    from moodflow.features import build_extractor

    warm_up(build_extractor("chroma", {}, {}))
