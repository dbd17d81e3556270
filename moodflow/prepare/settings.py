"""The ``dataset`` section of params.yaml: which adapter reads which folder.

``dataset.<name>`` subsections are each adapter's own settings (its ``Config`` dataclass).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from moodflow.core.config import build_section, setting
from moodflow.core.errors import SettingsError


@dataclass
class DatasetSettings:
    """``dataset``: the adapter, the dataset's folder, and published split files to use.

    ``name`` may list several datasets (a joint experiment, ``moodflow.prepare.union``); each
    member's folder is then ``roots[<name>]`` and its split files ``dataset.<name>.split_dir``.
    """

    name: str | list[str] = "demo"  # the dataset adapter; a list = a joint experiment
    root: str = ""  # where the raw dataset lives (unused by demo)
    split_dir: str = ""  # train/validation/test.txt (one id a line); "" = the dataset's own split
    roots: dict[str, str] = setting(default_factory=dict)  # joint experiments: dataset name → its folder

    @property
    def names(self) -> list[str]:
        """The dataset(s) of the experiment, in order."""
        return [self.name] if isinstance(self.name, str) else list(self.name)


def dataset_settings(section: Mapping[str, Any] | None) -> tuple[DatasetSettings, dict[str, dict[str, Any]]]:
    """The ``dataset`` section's own settings (name checked) and each adapter's subsection."""
    from moodflow.datasets import DATASETS

    settings, adapters = build_section(DatasetSettings, section, "dataset", DATASETS.names())
    if not settings.names:
        raise SettingsError("dataset.name: an empty list; name one dataset or several")
    for name in settings.names:
        DATASETS.check(name)
    if len(settings.names) > 1:
        if settings.root or settings.split_dir:
            raise SettingsError("dataset.root / dataset.split_dir name one dataset's folder; with several datasets "
                                "use dataset.roots.<name> and dataset.<name>.split_dir")
        unknown = sorted(set(settings.roots) - set(settings.names))
        if unknown:
            raise SettingsError(f"dataset.roots: {unknown} are not in dataset.name {settings.names}")
    return settings, adapters
