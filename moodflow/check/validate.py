"""``moodflow check``: every section of params.yaml built with its typed settings.

The stages each check their own sections when they run; this checks the whole file at once,
before a long run (it imports every extractor and model module, so it is not a DVC stage).
"""

from __future__ import annotations

from typing import Any, Mapping

from moodflow.check.names import check_names
from moodflow.core.config import build
from moodflow.core.errors import SettingsError, did_you_mean
from moodflow.decode.settings import DecodeSettings
from moodflow.extract.settings import features_settings
from moodflow.prepare.settings import dataset_settings
from moodflow.train.settings import train_settings

SECTIONS = ("dataset", "decode", "features", "train")


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
        build(MODELS.get(name).Config, config, f"train.{name}")
    check_names(params)
    return {"dataset": dataset.name, "feature sets": features.sets, "models": train.models}
