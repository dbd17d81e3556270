"""Package versions recorded in every store and model for provenance."""

from __future__ import annotations

import functools
from importlib import metadata

_PACKAGES = (
    "moodflow", "numpy", "scipy", "h5py", "pandas", "scikit-learn", "xgboost", "librosa",
    "soundfile", "soxr", "opensmile", "musicnn", "torch", "transformers", "dvc",
)


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape moodflow's outputs."""
    return dict(_installed_versions())


@functools.lru_cache(maxsize=1)
def _installed_versions() -> tuple[tuple[str, str], ...]:
    out = {}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return tuple(out.items())
