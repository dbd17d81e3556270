"""Package versions recorded in every store and model for provenance."""

from __future__ import annotations

from importlib import metadata

_PACKAGES = (
    "moodflow", "numpy", "scipy", "h5py", "pandas", "scikit-learn", "xgboost", "librosa",
    "soundfile", "soxr", "opensmile", "torch", "transformers", "dvc",
)


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape moodflow's outputs."""
    out = {}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out
