"""Paths from other people's files stay inside their root.

A dataset index, a label CSV, a track list, a model manifest or a bundle names files by
relative paths; every such path is joined to its root here and nowhere else. A path is refused
when it is empty, holds a NUL byte, is absolute (``/etc/passwd``, ``C:\\x``, ``\\\\host\\share``),
leads out with ``..`` after normalisation, or reaches outside the root through a symbolic
link. The error is one line naming the file the path came from, its line and the path.

``strict`` names (bundle members) must already be in their one canonical form: no ``.``,
``..`` or empty component, no backslash, no trailing ``/``.
"""

from __future__ import annotations

import os
import posixpath
import re
from pathlib import Path

from moodflow.core.errors import MoodflowError

_DRIVE = re.compile(r"^[A-Za-z]:")


class UnsafePathError(MoodflowError, ValueError):
    """A path from a file that would lead outside its root; the message names file, line and path."""


def path_problem(text: object, *, strict: bool = False) -> str | None:
    """Why ``text`` cannot name a file under a root (None when it can)."""
    if not isinstance(text, str) or not text:
        return "is empty" if text == "" else f"is not a path ({type(text).__name__})"
    if "\x00" in text:
        return "holds a NUL byte"
    if strict and "\\" in text:
        return "holds a backslash"
    posix = text.replace("\\", "/")
    if posix.startswith("/"):
        return "is an absolute path"
    if _DRIVE.match(posix):
        return "is a drive path"
    parts = posix.split("/")
    if strict:
        if posix.endswith("/"):
            return "names a directory"
        for bad, why in (("..", "a '..' component"), (".", "a '.' component"), ("", "an empty component")):
            if bad in parts:
                return f"has {why}"
        return None
    normal = posixpath.normpath(posix)
    if normal == ".." or normal.startswith("../"):
        return "leads out of its root with '..'"
    if normal == ".":
        return "names the root itself"
    return None


def normalise(text: str) -> str:
    """The canonical relative form of a path that :func:`path_problem` accepts."""
    return posixpath.normpath(text.replace("\\", "/"))


def _where(source: object, line: int | None) -> str:
    if source is None:
        return ""
    return f"{source} line {line}: " if line is not None else f"{source}: "


def is_inside(root: str | os.PathLike, path: str | os.PathLike) -> bool:
    """Whether ``path``, with every symbolic link followed, lies in ``root`` (or is it)."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def resolve_inside(root: str | os.PathLike, text: str, *, source: object = None, line: int | None = None,
                   what: str = "path") -> Path:
    """``root / text`` once it is certain to stay inside ``root``; :class:`UnsafePathError`
    naming ``source`` (the file the path came from), ``line`` and the path otherwise."""
    problem = path_problem(text)
    if problem is None:
        path = Path(root) / normalise(text)
        if is_inside(root, path):
            return path
        problem = "leads outside its root through a symbolic link"
    raise UnsafePathError(f"{_where(source, line)}{what} {text!r} {problem}; refused (paths stay inside {root})")


def inside_or_none(root: str | os.PathLike, text: str) -> Path | None:
    """``root / text`` when it stays inside ``root``, else None (for probing, never for errors)."""
    try:
        return resolve_inside(root, text)
    except UnsafePathError:
        return None


def check_name(text: object, *, source: object = None, what: str = "name") -> str:
    """``text`` when it is a canonical relative name (``strict``), else :class:`UnsafePathError`."""
    problem = path_problem(text, strict=True)
    if problem is not None:
        raise UnsafePathError(f"{_where(source, None)}{what} {text!r} {problem}; refused")
    return text  # type: ignore[return-value]
