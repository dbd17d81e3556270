"""Errors a user can act on: stages and the CLI print them as one line, not a traceback."""

from __future__ import annotations

import difflib
import errno as _errno
import re
from typing import Iterable

_ENVIRONMENT_ERRNOS = {getattr(_errno, name) for name in (
    "ENOSPC", "EDQUOT", "EIO", "EROFS", "EFBIG", "ENOMEM", "EACCES", "EPERM", "EMFILE", "ENFILE", "ESTALE")
    if hasattr(_errno, name)}


class MoodflowError(Exception):
    """A problem with the inputs or settings; the message names what and how to fix it."""


class SettingsError(MoodflowError, ValueError):
    """A ``params.yaml`` setting that is unknown, of the wrong type or out of range."""


class UnknownNameError(SettingsError, KeyError):
    """A dataset, feature set or model name that is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class EnvironmentFailure(MoodflowError):
    """The machine failed, not the input (disk full, out of memory, permissions, I/O): the stage
    stops with nothing half-written, and the next run retries; never a failed track."""


def one_line(exc: BaseException) -> str:
    """``Type: message`` on one line (HDF5 messages span several)."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def is_environment_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a failure of the machine rather than a property of the input.

    Memory errors (host or GPU), OS errors (a full disk, permissions, I/O errors) and a worker
    process that died count as the machine's; a missing file or folder is a missing input, and
    problems a reader finds in an input are raised as other errors (e.g. ``AudioError``).
    """
    if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        return False  # a missing input (a file, the MERT weights): the user's to fix, named in the message
    if isinstance(exc, (MemoryError, OSError, EnvironmentFailure)):
        return True
    from concurrent.futures import BrokenExecutor

    if isinstance(exc, BrokenExecutor):
        return True
    if any(cls.__name__ == "OutOfMemoryError" for cls in type(exc).__mro__):  # torch (CUDA) OOM
        return True
    # HDF5 reports a failed write as RuntimeError/ValueError with the system errno in its text
    match = re.search(r"errno = (\d+)", str(exc))
    return bool(match) and int(match.group(1)) in _ENVIRONMENT_ERRNOS


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, or an empty string."""
    candidates = [str(c) for c in candidates]
    lowered = {c.lower(): c for c in candidates}
    if str(name).lower() in lowered:
        return f" (did you mean {lowered[str(name).lower()]!r}?)"
    close = difflib.get_close_matches(str(name), candidates, n=1, cutoff=0.6)
    if not close:
        close = [lowered[m] for m in difflib.get_close_matches(str(name).lower(), list(lowered), n=1, cutoff=0.6)]
    return f" (did you mean {close[0]!r}?)" if close else ""


# What a stage or the CLI reports as one line: our own errors and the OS/value errors whose
# messages name the file or setting (a bug elsewhere keeps its traceback).
USER_ERRORS: tuple[type[BaseException], ...] = (MoodflowError, FileNotFoundError, NotADirectoryError, ValueError)
