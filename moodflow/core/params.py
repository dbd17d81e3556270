"""Reading ``params.yaml`` — and recording which keys a stage read.

:func:`load_params` returns a read-only mapping that remembers every key read from it. With
``MOODFLOW_TRACE_PARAMS=<folder>`` in the environment, each process writes what it read to
``<folder>/<pid>.json`` at exit; the pipeline contract test compares that with the ``params``
dvc.yaml declares for the stage, so a setting DVC does not see cannot creep in.

A key counts as read when its value is taken (a leaf, a list, or a section turned into a plain
dict with :meth:`Params.to_dict`, iterated or passed on whole); walking through a section to a
key below it reads only that key.
"""

from __future__ import annotations

import atexit
import copy
import json
import os
import sys
from pathlib import Path
from typing import Any, Iterator, Mapping

import yaml

from moodflow.core.errors import SettingsError

TRACE_ENV = "MOODFLOW_TRACE_PARAMS"
_READ: set[str] = set()
_trace_registered = False


class Params(Mapping[str, Any]):
    """A read-only view of (a section of) params.yaml that records the keys read."""

    def __init__(self, data: Mapping[str, Any], prefix: str = ""):
        self._data = data
        self._prefix = prefix

    def _key(self, key: str) -> str:
        return f"{self._prefix}{key}"

    def __getitem__(self, key: str) -> Any:
        value = self._data[key]
        if isinstance(value, Mapping):
            return Params(value, f"{self._key(key)}.")
        _READ.add(self._key(key))
        return copy.deepcopy(value)

    def get(self, key: str, default: Any = None) -> Any:
        if key in self._data:
            return self[key]
        _READ.add(self._key(key))
        return default

    def __contains__(self, key: object) -> bool:
        _READ.add(self._key(str(key)))
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        self._read_all()
        return iter(self._data)

    def __len__(self) -> int:
        self._read_all()
        return len(self._data)

    def _read_all(self) -> None:
        _READ.add(self._prefix.rstrip(".") or "*")

    def to_dict(self) -> dict[str, Any]:
        """The whole section as a plain dict (every key below it counts as read)."""
        self._read_all()
        return copy.deepcopy(dict(self._data))

    def __repr__(self) -> str:
        return f"Params({self._prefix.rstrip('.') or 'params.yaml'})"


def load_params(path: str | Path = "params.yaml") -> Params:
    """The pipeline parameters (a mapping that records what is read, see the module docstring)."""
    try:
        with open(path, encoding="utf-8") as fh:
            params = yaml.safe_load(fh) or {}
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(params, dict):
        raise SettingsError(f"{path}: expected a mapping at the top level")
    _register_trace()
    return Params(params)


def read_keys() -> set[str]:
    """Dotted keys read so far in this process (``*`` means the whole file)."""
    return set(_READ)


def _register_trace() -> None:
    global _trace_registered
    if _trace_registered or not os.environ.get(TRACE_ENV):
        return
    _trace_registered = True
    atexit.register(_write_trace)


def _write_trace() -> None:
    folder = Path(os.environ[TRACE_ENV])
    folder.mkdir(parents=True, exist_ok=True)
    record = {"argv": sys.argv, "cwd": os.getcwd(), "read": sorted(_READ)}
    (folder / f"{os.getpid()}.json").write_text(json.dumps(record, indent=1) + "\n")
