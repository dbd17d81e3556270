"""Package versions recorded in every store and model for provenance.

The base packages shape every output; an extractor or a model adds its own (its class
attribute ``packages``: opensmile, torch, xgboost …), so a new plugin's dependencies are
recorded without a list here to keep up to date.
"""

from __future__ import annotations

import functools
from importlib import metadata
from typing import Iterable

BASE_PACKAGES = ("moodflow", "numpy", "scipy", "h5py", "pandas", "scikit-learn", "soundfile", "soxr", "dvc")


def package_versions(packages: Iterable[str] = ()) -> dict[str, str]:
    """Installed versions of the base packages and of ``packages`` (a plugin's ``packages``);
    a package that is not installed is left out."""
    return dict(_installed_versions(tuple(dict.fromkeys((*BASE_PACKAGES, *packages)))))


@functools.lru_cache(maxsize=32)
def _installed_versions(names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return tuple(out.items())
