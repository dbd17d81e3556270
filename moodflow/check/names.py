"""The ``check`` stage: every name params.yaml lists is registered and has its settings section.

DVC looks up ``features.<set>`` and ``train.<model>`` for each matrix stage before running it,
so a misspelt name would end in DVC's "Parameters … are missing". This stage runs first (every
other stage depends on its marker file) and says what is wrong, with a suggestion, instead.
It imports no extractor or model: the registries know their names without loading them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from moodflow.core.atomic import write_text
from moodflow.core.errors import SettingsError
from moodflow.datasets import DATASETS
from moodflow.features import EXTRACTORS
from moodflow.models import MODELS

MARKER_TEXT = "params.yaml names only registered datasets, feature sets and models (moodflow check)\n"

_EXAMPLE = {"features": "compare", "train": "ridge", "dataset": "pmemo, emomusic"}


def _listed(section: Mapping[str, Any], key: str, where: str) -> list[str]:
    names = section[key]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise SettingsError(f"{where}.{key}: {names!r} must be a non-empty list of names, e.g. [{_EXAMPLE[where]}]")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise SettingsError(f"{where}.{key}: {repeated} listed more than once")
    return names


def check_names(params: Mapping[str, Any], marker: str | Path | None = None) -> None:
    """Raise :class:`SettingsError` for an unregistered name or a missing settings section."""
    name = params["dataset"]["name"]
    for dataset in ([name] if isinstance(name, str) else _listed(params["dataset"], "name", "dataset")):
        DATASETS.check(dataset)
    features, train = params["features"], params["train"]
    for where, section, key, registry in (("features", features, "sets", EXTRACTORS),
                                          ("train", train, "models", MODELS)):
        for name in _listed(section, key, where):
            registry.check(name)
            if name not in section:
                raise SettingsError(f"{where}.{key} lists {name!r} but params.yaml has no {where}.{name} section: "
                                    f"add `{name}: {{}}` under `{where}:` (defaults apply)")
    if marker is not None:
        write_text(marker, MARKER_TEXT)
