"""The report's outputs as one set: written into a staging folder inside ``reports/``, then moved
onto their final names together.

If writing fails (a full disk, a file-size limit), nothing under a final name has changed: the
previous outputs stay as they were (under DVC, which removes a stage's outputs before running
it, there are none), and the staging folder is removed. Moving in renames each previous output
aside first and puts it back if a later rename fails. Folders (``plots/``, ``figures/``) are
replaced whole, so a file the stage did not write this run (a stale figure) never survives.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from moodflow.core.atomic import process_alive, remove_path
from moodflow.core.errors import EnvironmentFailure, is_environment_error, one_line

# every output of the report stage, relative to reports/ (the DVC outputs of dvc.yaml's report stage)
OUTPUTS = ("metrics.json", "significance.csv", "comparison.md", "comparison.html", "plots", "figures")
_STAGING, _PREVIOUS = ".staging-", ".previous-"


def _remove(path: Path) -> None:
    remove_path(path, ignore_errors=True)


def _clear_orphans(reports: Path) -> None:
    """Staging folders of killed runs; a killed run's set-aside previous outputs are put back
    where their final name is free, else removed."""
    for orphan in sorted(reports.glob(f"{_STAGING}*")) + sorted(reports.glob(f"{_PREVIOUS}*")):
        pid = orphan.name.rsplit("-", 1)[-1]
        if not pid.isdigit() or process_alive(int(pid)):
            continue
        if orphan.name.startswith(_PREVIOUS):
            for item in orphan.iterdir():
                if not (reports / item.name).exists():
                    os.replace(item, reports / item.name)
        _remove(orphan)


@contextmanager
def report_set(reports_dir: str | Path) -> Iterator[Path]:
    """Yield a staging folder; write every output into it under its final relative name. On
    success the set replaces the previous outputs; on failure nothing under a final name changes
    and an environment failure becomes :class:`EnvironmentFailure` (exit 75) saying so."""
    reports = Path(reports_dir)
    reports.mkdir(parents=True, exist_ok=True)
    _clear_orphans(reports)
    staging = reports / f"{_STAGING}{os.getpid()}"
    _remove(staging)
    try:
        staging.mkdir()
        yield staging
        _move_in(staging, reports)
    except BaseException as exc:
        _remove(staging)
        if is_environment_error(exc) and not isinstance(exc, EnvironmentFailure):
            raise EnvironmentFailure(
                f"report: writing {reports}/ failed ({one_line(exc)}) — a failure of the machine, not of the "
                "models: none of the report's outputs was written (the previous ones, if any, are unchanged); "
                "free space and run again") from exc
        raise
    finally:
        _remove(staging)


def _move_in(staging: Path, reports: Path) -> None:
    """Each output: the previous one aside, the new one in; on a failure, the previous ones back."""
    previous = reports / f"{_PREVIOUS}{os.getpid()}"
    _remove(previous)
    previous.mkdir()
    started: list[str] = []
    try:
        for name in OUTPUTS:
            final, new = reports / name, staging / name
            started.append(name)
            if final.exists() or final.is_symlink():
                os.replace(final, previous / name)
            if new.exists():
                os.replace(new, final)
    except BaseException:
        for name in reversed(started):
            final = reports / name
            if (previous / name).exists():
                _remove(final)
                os.replace(previous / name, final)
            elif not (staging / name).exists():  # moved in, nothing was there before
                _remove(final)
        raise
    finally:
        _remove(previous)
