"""Every name params.yaml lists is registered and has its settings section.

DVC looks up ``features.<set>`` and ``train.<model>`` for each matrix stage before running it,
so a misspelt name would end in DVC's "Parameters … are missing". The ``check`` stage runs first
(every other stage depends on its marker file) and says what is wrong, with a suggestion,
instead. This part imports no extractor or model: the registries know their names without
loading them.
"""

from __future__ import annotations

from typing import Any, Mapping

from moodflow.core.errors import SettingsError, did_you_mean
from moodflow.datasets import DATASETS
from moodflow.evaluation.cross import check_cross_settings
from moodflow.features import EXTRACTORS
from moodflow.models import MODELS

_REGISTRIES = {"features": EXTRACTORS, "train": MODELS, "dataset": DATASETS}


def _listed(section: Mapping[str, Any], key: str, where: str) -> list[str]:
    names = section[key]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        example = ", ".join(_REGISTRIES[where].names()[:2])
        raise SettingsError(f"{where}.{key}: {names!r} must be a non-empty list of names, e.g. [{example}]")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise SettingsError(f"{where}.{key}: {repeated} listed more than once")
    return names


def check_names(params: Mapping[str, Any]) -> None:
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
    _check_combine(train.get("combine") or {}, features["sets"])
    check_cross_settings(train.get("protocol") or {}, params["dataset"]["name"])


def _check_combine(combine: Mapping[str, Any], sets: list[str]) -> None:
    """``train.combine.base`` / ``add`` name sets of ``features.sets``, each once, none in both."""
    lists = {}
    for key in ("base", "add"):
        names = combine.get(key) or []
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise SettingsError(f"train.combine.{key}: {names!r} must be a list of feature set names")
        for name in names:
            if name not in sets:
                raise SettingsError(f"train.combine.{key} lists {name!r}{did_you_mean(name, sets)}, which "
                                    f"features.sets does not build: add it to features.sets")
        if len(set(names)) != len(names):
            raise SettingsError(f"train.combine.{key}: {sorted({n for n in names if names.count(n) > 1})} listed more than once")
        lists[key] = names
    both = sorted(set(lists["base"]) & set(lists["add"]))
    if both:
        raise SettingsError(f"train.combine: {both} in both base and add (a set joined with itself)")
