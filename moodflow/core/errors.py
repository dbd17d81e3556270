"""Errors a user can act on: stages and the CLI print them as one line, not a traceback."""

from __future__ import annotations

import difflib
from typing import Iterable


class MoodflowError(Exception):
    """A problem with the inputs or settings; the message names what and how to fix it."""


class SettingsError(MoodflowError, ValueError):
    """A ``params.yaml`` setting that is unknown, of the wrong type or out of range."""


class UnknownNameError(SettingsError, KeyError):
    """A dataset, feature set or model name that is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


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
