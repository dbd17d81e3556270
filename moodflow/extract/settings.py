"""The ``features`` section of params.yaml: which stores to build, on which grid, how.

``features.<set>`` subsections are each extractor's own settings (its ``Config`` dataclass).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from moodflow.core.config import build_section, setting
from moodflow.stores.grid import GridConfig

EXECUTORS = ("local", "dask")
CLUSTERS = ("local", "slurm")
_MEMORY = re.compile(r"^\d+(\.\d+)?\s*([kKMGTP]i?)?B$")
_WALLTIME = re.compile(r"^(\d+-)?\d{1,3}:[0-5]\d:[0-5]\d$")


@dataclass
class SlurmSettings:
    """``features.slurm``: the Slurm jobs of a dask-jobqueue ``SLURMCluster`` (``features.executor:
    dask``, ``features.cluster: slurm``, no ``features.scheduler``); docs/cluster.md.

    Each job is one ``sbatch`` with ``cores`` single-threaded Dask workers (one track each);
    workers leave on their own shortly before ``walltime`` and new jobs replace them."""

    jobs: int = setting(1, min=1, max=10000)  # Slurm jobs kept running (each holds `cores` workers)
    cores: int = setting(1, min=1, max=1024)  # cores per job (sbatch --cpus-per-task), one worker each
    memory: str = "4GB"  # per job (sbatch --mem), e.g. 16GB
    walltime: int | str = setting("01:00:00", min=1, max=366 * 86400)  # per job (sbatch --time), [D-]HH:MM:SS; a number: seconds
    queue: str = ""  # partition (sbatch --partition); "" = the cluster's default
    account: str = ""  # sbatch --account; "" = none
    job_extra_directives: list[str] = setting(default_factory=list)  # more #SBATCH options, e.g. --requeue
    prologue: list[str] = setting(default_factory=list)  # shell lines before the worker starts
    interface: str = ""  # network interface the scheduler listens on (e.g. ib0); "" = the default
    log_dir: str = ""  # the jobs' output files; "" = <features.cache_dir>/slurm-logs

    def __post_init__(self) -> None:
        if isinstance(self.walltime, int):  # YAML 1.1 reads an unquoted 01:00:00 as 3600 (seconds)
            minutes, seconds = divmod(self.walltime, 60)
            self.walltime = f"{minutes // 60:02d}:{minutes % 60:02d}:{seconds:02d}"
        if not _WALLTIME.match(self.walltime) or self.walltime_s() == 0:
            raise ValueError(f"walltime: {self.walltime!r} is not a duration like 01:30:00 or 2-00:00:00")
        if not _MEMORY.match(self.memory.strip()):
            raise ValueError(f"memory: {self.memory!r} is not an amount like 4GB or 512MB")

    def walltime_s(self) -> int:
        """The walltime in seconds."""
        days, _, clock = str(self.walltime).rpartition("-")
        h, m, s = (int(x) for x in clock.split(":"))
        return int(days or 0) * 86400 + h * 3600 + m * 60 + s


@dataclass
class ExtractSettings:
    """What ``extract@<set>`` reads besides ``features.<set>``: the grid and where it runs."""

    workers: int = setting(0, min=0)  # 0 = all cores
    executor: str = setting("local", choices=EXECUTORS)  # local | dask (docs/performance.md)
    scheduler: str = ""  # dask scheduler address; "" = start the cluster `cluster` names
    cluster: str = setting("local", choices=CLUSTERS)  # dask without a scheduler: local | slurm (features.slurm)
    slurm: SlurmSettings = field(default_factory=SlurmSettings)
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
