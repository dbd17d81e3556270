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
MAX_BYTES = 1 << 20  # params.yaml is a few kB; a bigger file is not a settings file
MAX_DEPTH = 32  # nesting of mappings and lists (the deepest section of params.yaml has 4)
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
    """The pipeline parameters (a mapping that records what is read, see the module docstring).

    The file is checked before it is parsed (see :func:`check_yaml`): a params file may come
    from someone else, and DVC reads it too.
    """
    try:
        size = os.path.getsize(path)
        if size > MAX_BYTES:
            raise SettingsError(f"{path}: {size} bytes; a params file holds at most {MAX_BYTES} (it is a few kB)")
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        check_yaml(text, str(path))
        params = yaml.safe_load(text) or {}
    except UnicodeDecodeError as exc:
        raise SettingsError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None
    if not isinstance(params, dict):
        raise SettingsError(f"{path}: expected a mapping at the top level")
    _register_trace()
    return Params(params)


def check_yaml(text: str, where: str) -> None:
    """Refuse, before anything is built, YAML anchors and aliases (``&x`` / ``*x``) and nesting
    deeper than :data:`MAX_DEPTH`, in one line naming the line.

    DVC expands aliases when it reads params.yaml, so a few lines of aliases to aliases become
    millions of values (the "billion laughs"): ``dvc status`` then runs out of memory. The scan
    reads tokens only, so nothing is expanded, and costs a fraction of the parse.
    """
    depth = 0
    for token in yaml.scan(text):
        kind = type(token)
        if kind in (yaml.AnchorToken, yaml.AliasToken):
            mark = "&" if kind is yaml.AnchorToken else "*"
            raise SettingsError(
                f"{where}: line {token.start_mark.line + 1}: YAML {'anchor' if mark == '&' else 'alias'} "
                f"'{mark}{token.value}' refused: DVC expands aliases when it reads params (a few lines can grow "
                "into millions of values); write the values out")
        if kind in (yaml.BlockMappingStartToken, yaml.BlockSequenceStartToken, yaml.FlowMappingStartToken,
                    yaml.FlowSequenceStartToken):
            depth += 1
            if depth > MAX_DEPTH:
                raise SettingsError(f"{where}: line {token.start_mark.line + 1}: nested more than {MAX_DEPTH} "
                                    "levels deep; params.yaml sections are a few levels deep")
        elif kind in (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken):
            depth -= 1


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
