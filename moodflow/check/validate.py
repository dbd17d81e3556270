"""The whole of params.yaml built with its typed settings: the ``check`` stage and ``moodflow check``.

Every key of every section is checked against the typed settings (the stage sections and each
registered class's ``Config``), every name against the registries, before any other stage
runs: ``dvc exp run -S +train.svm.c=3`` ends in ``check`` with
``train.svm.c: unknown setting (did you mean 'C'?)`` before prepare decodes anything.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from moodflow.check.names import check_names
from moodflow.core.atomic import write_text
from moodflow.core.config import build
from moodflow.core.errors import SettingsError, did_you_mean
from moodflow.decode.settings import DecodeSettings
from moodflow.extract.settings import features_settings
from moodflow.prepare.settings import dataset_settings
from moodflow.train.settings import train_settings

SECTIONS = ("dataset", "decode", "features", "train")
MARKER_TEXT = "params.yaml checked: every key against its typed settings, every name registered (moodflow check)\n"


def validate_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Raise :class:`SettingsError` for the first bad key or value; return a short summary."""
    from moodflow.datasets import DATASETS
    from moodflow.features import EXTRACTORS
    from moodflow.models import MODELS

    for key in params:
        if key not in SECTIONS:
            raise SettingsError(f"{key}: unknown section{did_you_mean(key, SECTIONS)}; valid: {', '.join(SECTIONS)}")
    dataset, adapters = dataset_settings(params.get("dataset"))
    for name, config in adapters.items():
        build(DATASETS.get(name).Config, config, f"dataset.{name}")
    build(DecodeSettings, params.get("decode"), "decode")
    features, extractors = features_settings(params.get("features"))
    for name, config in extractors.items():
        EXTRACTORS.get(name)(config, features.grid)  # runs each extractor's own checks too
    train, models = train_settings(params.get("train"))
    for name, config in models.items():
        cls = MODELS.get(name).Config
        built = build(cls, config, f"train.{name}")
        for key, values in (getattr(built, "search", None) or {}).items():  # each candidate, as tuning builds it
            for value in values:
                build(cls, {key: value}, f"train.{name}.search")
    check_names(params)
    return {"dataset": dataset.name, "feature sets": features.sets, "models": train.models}


def experiment_hint() -> str:
    """How to undo the value that a failed ``dvc exp run -S`` left behind, when this runs in one.

    DVC 3.67 writes ``-S`` values into the workspace's params.yaml and leaves them there when
    the experiment fails (a ``--temp``/``--queue`` run changes only its own copy: the
    workspace's file is untouched, and nothing needs undoing).
    """
    if not os.environ.get("DVC_EXP_NAME"):
        return ""
    root = os.environ.get("DVC_ROOT")
    if root and Path(root).resolve() != Path.cwd().resolve():
        return ""  # a --temp/--queue copy
    return (" — this `dvc exp run` wrote the value into params.yaml and leaves it there: "
            "`git checkout params.yaml` restores the committed values (`git diff params.yaml` shows them)")


def check_params(params: Mapping[str, Any], marker: str | Path | None = None) -> dict[str, Any]:
    """:func:`validate_params` as the ``check`` stage runs it: the error says how to undo a failed
    experiment's params; the ``marker`` (a constant text) is written when all is well."""
    try:
        summary = validate_params(params)
    except SettingsError as exc:
        raise SettingsError(f"{exc}{experiment_hint()}") from None
    if marker is not None:
        write_text(marker, MARKER_TEXT)
    return summary
