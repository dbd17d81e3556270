"""The team's real audio and annotations (``$MOODFLOW_SHARED_DATA``, which ``.ci/run`` sets to
``../shared/data``): where they are, and a skip marker for tests that need them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_ENV = "MOODFLOW_SHARED_DATA"


def shared_data_dir() -> Path | None:
    """``$MOODFLOW_SHARED_DATA`` when it names a folder, else None."""
    value = os.environ.get(SHARED_ENV)
    return Path(value) if value and Path(value).is_dir() else None


SHARED: Path | None = shared_data_dir()
needs_shared = pytest.mark.skipif(SHARED is None, reason=f"{SHARED_ENV} is not set (CI sets it to ../shared/data)")
