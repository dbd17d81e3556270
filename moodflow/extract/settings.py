"""The ``features`` section of params.yaml: which stores to build, on which grid, how.

``features.<set>`` subsections are each extractor's own settings (its ``Config`` dataclass).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from moodflow.core.config import build_section, setting
from moodflow.stores.grid import GridConfig

EXECUTORS = ("local", "dask")


@dataclass
class ExtractSettings:
    """What ``extract@<set>`` reads besides ``features.<set>``: the grid and where it runs."""

    workers: int = setting(0, min=0)  # 0 = all cores
    executor: str = setting("local", choices=EXECUTORS)  # local | dask (docs/performance.md)
    scheduler: str = ""  # dask scheduler address; "" = start a LocalCluster
    cache_dir: str = ".cache/moodflow"  # per-track cache (git-ignored, outside DVC outs); "" = none
    grid: GridConfig = field(default_factory=GridConfig)


@dataclass
class FeaturesSettings(ExtractSettings):
    """``features``: the extract settings and the list of feature sets to build."""

    # feature stores to build, one extract stage each
    sets: list[str] = field(default_factory=lambda: ["compare", "chroma"])


def features_settings(section: Mapping[str, Any] | None) -> tuple[FeaturesSettings, dict[str, dict[str, Any]]]:
    """The ``features`` section's own settings and each extractor's subsection."""
    from moodflow.features import EXTRACTORS

    return build_section(FeaturesSettings, section, "features", EXTRACTORS.names())
