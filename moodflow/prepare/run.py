"""The prepare stage: a dataset adapter → the prepared folder (manifest, labels, splits)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

from moodflow.core.atomic import atomic_path
from moodflow.datasets import DATASETS
from moodflow.prepare.settings import dataset_settings
from moodflow.prepare.union import union_prepared
from moodflow.stores.prepared import PreparedDataset

log = logging.getLogger(__name__)


def prepare_dataset(dataset_params: Mapping[str, Any], out_dir: str | Path) -> PreparedDataset:
    """Run the adapter named by ``dataset.name`` and write its tables into ``out_dir`` atomically.

    ``dataset_params`` is the ``dataset`` section; the adapter's settings are ``dataset.<name>``
    plus ``dataset.split_dir`` when given. Several names give one joint prepared dataset
    (:func:`moodflow.prepare.union.union_prepared`), each member read in a sub-folder.
    """
    settings, adapters = dataset_settings(dataset_params)
    joint = len(settings.names) > 1
    with atomic_path(out_dir) as tmp:
        tmp.mkdir(parents=True)
        parts = []
        for name in settings.names:
            config = dict(adapters.get(name) or {})
            if settings.split_dir:
                config["split_dir"] = settings.split_dir
            root = settings.roots.get(name, "") if joint else settings.root
            work = tmp / name if joint else tmp
            work.mkdir(exist_ok=True)
            parts.append(DATASETS.get(name)(root or None, config).load(work))
            log.info("prepared %s: %d tracks, %d with static labels", name, len(parts[-1].manifest),
                     len(parts[-1].static_labels))
        prepared = union_prepared(parts, audio_prefixes=settings.names) if joint else parts[0]
        prepared.write(tmp)
    if joint:
        log.info("joint dataset %s: %d tracks", prepared.name, len(prepared.manifest))
    return prepared
