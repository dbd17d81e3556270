"""Errors a user can act on: stages and the CLI print them as one line, not a traceback."""

from __future__ import annotations

import difflib
import errno as _errno
import re
from typing import Any, Callable, Iterable

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
    The machine's failure is also recognised where a library wrapped it: anywhere in the
    ``__cause__``/``__context__`` chain (joblib's ``PicklingError`` over an ``EFBIG`` write, a
    loky ``TerminatedWorkerError``) or as ``[Errno N]`` in the text of a remote traceback.
    """
    if isinstance(exc, (FileNotFoundError, NotADirectoryError, IsADirectoryError)):
        return False  # a missing input (a file, the MERT weights): the user's to fix, named in the message
    if isinstance(exc, (MemoryError, OSError, EnvironmentFailure)):
        return True
    from concurrent.futures import BrokenExecutor

    if isinstance(exc, BrokenExecutor):
        return True
    if any(cls.__name__ in ("OutOfMemoryError", "TerminatedWorkerError") for cls in type(exc).__mro__):
        return True  # torch (CUDA) OOM; a loky worker killed (by the OOM killer, a file-size limit …)
    # HDF5 reports a failed write as RuntimeError/ValueError with the system errno in its text
    match = re.search(r"errno = (\d+)", str(exc))
    if match and int(match.group(1)) in _ENVIRONMENT_ERRNOS:
        return True
    return any(_machine_failure(link) for link in _chain(exc))


# a wrapped failure counts as the machine's only for these (an EACCES under a ValueError may be
# a bad path the user gave; a full disk never is)
_STRONG_ERRNOS = {getattr(_errno, name) for name in ("ENOSPC", "EDQUOT", "EIO", "EROFS", "EFBIG", "ENOMEM")
                  if hasattr(_errno, name)}


def _chain(exc: BaseException, limit: int = 32) -> list[BaseException]:
    """The exceptions ``exc`` was raised from or while handling (not ``exc`` itself)."""
    out: list[BaseException] = []
    seen = {id(exc)}
    todo = [exc.__cause__, exc.__context__]
    while todo and len(out) < limit:
        link = todo.pop(0)
        if link is None or id(link) in seen:
            continue
        seen.add(id(link))
        out.append(link)
        todo += [link.__cause__, link.__context__]
    return out


def _machine_failure(link: BaseException) -> bool:
    if isinstance(link, MemoryError) or (isinstance(link, OSError) and link.errno in _STRONG_ERRNOS):
        return True
    return any(int(n) in _STRONG_ERRNOS for n in re.findall(r"\[Errno (\d+)\]", str(link)[:100_000]))


class SchemaError(MoodflowError, ValueError):
    """A JSON file that is not what moodflow wrote: the message names the file and the field."""


def value_kind(value: Any) -> str:
    """A JSON value as a message names it: ``an integer 3``, ``a string 'abc'``, ``null``."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false", int: "an integer",
             float: "a number", type(None): "null"}
    shown = repr(value) if isinstance(value, (str, int, float, bool)) else ""
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return names.get(type(value), type(value).__name__) + (f" {shown}" if shown else "")


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
USER_ERRORS: tuple[type[BaseException], ...] = (MoodflowError, FileNotFoundError, NotADirectoryError, IsADirectoryError,
                                                 ValueError)


def working_on(exc: BaseException) -> str:
    """What moodflow was working on when ``exc`` was raised (innermost :func:`context` first)."""
    return getattr(exc, "_moodflow_context", "")


class context:  # noqa: N801 - used as ``with context(f"bundle {path}"):``
    """Tag an exception leaving the block with what was being worked on (a file, stage, track),
    for the one-line message of an error boundary; the innermost tag wins."""

    def __init__(self, what: str):
        self.what = what

    def __enter__(self) -> "context":
        return self

    def __exit__(self, kind, exc, tb) -> bool:
        if exc is not None and not getattr(exc, "_moodflow_context", ""):
            try:
                exc._moodflow_context = self.what  # type: ignore[union-attr]
            except (AttributeError, TypeError):  # an exception type with __slots__
                pass
        return False


def unexpected_message(exc: BaseException, subject: str = "") -> str:
    """One line for an exception nobody planned for: what was being worked on, the type and the
    message, and where the traceback is."""
    where = working_on(exc) or subject
    text = one_line(exc)
    return f"{where}: {text}" if where and where not in text else text


def api_boundary(subject: "str | Callable[..., str]", error: "type[MoodflowError]"):
    """Decorate a public API call: moodflow's own errors pass; an environment failure becomes
    :class:`EnvironmentFailure` and anything else ``error``, each with one line naming
    ``subject`` (a string, or a function of the call's arguments), chained to the original."""
    import functools

    def decorate(fn):
        @functools.wraps(fn)
        def call(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except MoodflowError:
                raise
            except Exception as exc:  # noqa: BLE001 - sorted and re-raised as ours
                try:
                    what = subject(*args, **kwargs) if callable(subject) else subject
                except Exception:  # noqa: BLE001 - a subject that cannot be named
                    what = getattr(fn, "__qualname__", "")
                if is_environment_error(exc):
                    raise EnvironmentFailure(f"{working_on(exc) or what}: {environment_message(exc, staged=False)}") from exc
                raise error(unexpected_message(exc, what)) from exc
        return call
    return decorate


def environment_message(exc: BaseException, staged: bool = True) -> str:
    """One line for a failure of the machine: what failed, and that a re-run retries
    (``staged``: said of a stage, whose outputs were not written)."""
    if isinstance(exc, EnvironmentFailure):
        return " ".join(str(exc).split())
    what = "out of memory" if isinstance(exc, MemoryError) else one_line(_root_cause(exc))
    kept = "this stage's outputs were not written; " if staged else ""
    return (f"{what} — a failure of the machine, not of the input: {kept}fix it (free space, memory, "
            "permissions) and run again")


def _root_cause(exc: BaseException) -> BaseException:
    """The OS or memory error a library wrapped (joblib's PicklingError over EFBIG), else ``exc``."""
    if isinstance(exc, (OSError, MemoryError)):
        return exc
    return next((link for link in _chain(exc) if isinstance(link, (OSError, MemoryError)) and _machine_failure(link)),
                exc)
