"""The ``dataset`` section of params.yaml: which adapter reads which folder.

``dataset.<name>`` subsections are each adapter's own settings (its ``Config`` dataclass).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from moodflow.core.config import build_section


@dataclass
class DatasetSettings:
    """``dataset``: the adapter, the dataset's folder, and published split files to use."""

    name: str = "demo"
    root: str = ""  # where the raw dataset lives (unused by demo)
    split_dir: str = ""  # train/validation/test.txt (one id a line); "" = the dataset's own split


def dataset_settings(section: Mapping[str, Any] | None) -> tuple[DatasetSettings, dict[str, dict[str, Any]]]:
    """The ``dataset`` section's own settings (name checked) and each adapter's subsection."""
    from moodflow.datasets import DATASETS

    settings, adapters = build_section(DatasetSettings, section, "dataset", DATASETS.names())
    DATASETS.check(settings.name)
    return settings, adapters
