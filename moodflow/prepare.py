"""The prepare stage: a dataset adapter → the prepared folder (manifest, labels, splits)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from moodflow.atomic import atomic_path
from moodflow.datasets import DATASETS
from moodflow.datasets.base import PreparedDataset

log = logging.getLogger(__name__)


def prepare_dataset(dataset_params: dict[str, Any], out_dir: str | Path) -> PreparedDataset:
    """Run the adapter named by ``dataset.name`` and write its tables into ``out_dir`` atomically.

    The adapter's settings are ``dataset.<name>`` plus ``dataset.split_dir`` when given.
    """
    name = dataset_params.get("name", "demo")
    config = dict(dataset_params.get(name) or {})
    if dataset_params.get("split_dir"):
        config["split_dir"] = dataset_params["split_dir"]
    adapter = DATASETS.get(name)(dataset_params.get("root") or None, config)
    with atomic_path(out_dir) as tmp:
        tmp.mkdir(parents=True)
        prepared = adapter.load(tmp)
        prepared.write(tmp)
    log.info(
        "prepared %s: %d tracks, %d with static labels", name, len(prepared.manifest), len(prepared.static_labels)
    )
    return prepared
