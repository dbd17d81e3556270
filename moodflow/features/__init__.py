"""Feature extractors, registered by name (``features.sets`` in params.yaml).

Adding an extractor: write ``moodflow/features/<name>.py`` (or a folder of modules, as
``opensmile/`` and ``mert/``) with an ``Extractor`` subclass decorated
``@EXTRACTORS.register`` whose class attribute ``name = "<name>"`` is its registry key, and add the
line ``"<name>": "<module>"`` to ``_MODULES`` below (the registry then knows the name without
importing the module; a test checks the table against the sources).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from moodflow.core.registry import Registry

if TYPE_CHECKING:
    from moodflow.features.base import Extractor

_MODULES = {
    "compare": "opensmile.compare",
    "egemaps": "opensmile.egemaps",
    "chroma": "chroma",
    "mert": "mert.extractor",
    "musicnn": "musicnn.extractor",
    "provided": "provided",
    "midlevel": "midlevel",
    "chords": "chords",
}

EXTRACTORS: Registry = Registry("feature set", __name__, _MODULES, key="features.sets")


def audio_feature_sets() -> list[str]:
    """The feature sets computed from audio (``needs_audio``; imports every extractor module)."""
    return [name for name, cls in EXTRACTORS.classes().items() if cls.needs_audio]


def build_extractor(name: str, config: dict[str, Any] | None, grid: dict[str, Any] | None = None) -> Extractor:
    """Instantiate the registered extractor ``name`` with its ``features.<name>`` settings."""
    return EXTRACTORS.get(name)(config or {}, grid or {})
