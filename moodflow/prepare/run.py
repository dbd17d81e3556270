"""The prepare stage: a dataset adapter → the prepared folder (manifest, labels, splits)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

from moodflow.core.atomic import atomic_path
from moodflow.datasets import DATASETS
from moodflow.prepare.settings import dataset_settings
from moodflow.stores.prepared import PreparedDataset

log = logging.getLogger(__name__)


def prepare_dataset(dataset_params: Mapping[str, Any], out_dir: str | Path) -> PreparedDataset:
    """Run the adapter named by ``dataset.name`` and write its tables into ``out_dir`` atomically.

    ``dataset_params`` is the ``dataset`` section; the adapter's settings are ``dataset.<name>``
    plus ``dataset.split_dir`` when given.
    """
    settings, adapters = dataset_settings(dataset_params)
    name = settings.name
    config = dict(adapters.get(name) or {})
    if settings.split_dir:
        config["split_dir"] = settings.split_dir
    adapter = DATASETS.get(name)(settings.root or None, config)
    with atomic_path(out_dir) as tmp:
        tmp.mkdir(parents=True)
        prepared = adapter.load(tmp)
        prepared.write(tmp)
    log.info(
        "prepared %s: %d tracks, %d with static labels", name, len(prepared.manifest), len(prepared.static_labels)
    )
    return prepared
