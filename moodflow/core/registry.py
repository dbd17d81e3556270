"""A small name → class registry used for datasets, feature extractors and models."""

from __future__ import annotations

import importlib
from typing import Generic, TypeVar

from moodflow.core.errors import UnknownNameError, did_you_mean

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to classes; modules are imported lazily on first lookup.

    ``modules`` maps a registered name to the module (relative to ``package``) that defines it,
    so adding an entry is one line plus one file, and heavy imports (torch, openSMILE) happen
    only when used. ``key`` is the params.yaml key that names entries (for error messages).
    """

    def __init__(self, kind: str, package: str, modules: dict[str, str], key: str = ""):
        self.kind = kind
        self.package = package
        self.modules = dict(modules)
        self.key = key
        self._classes: dict[str, type[T]] = {}

    def register(self, name: str):
        """Class decorator registering ``cls`` under ``name``."""

        def deco(cls: type[T]) -> type[T]:
            self._classes[name] = cls
            return cls

        return deco

    def names(self) -> list[str]:
        return sorted(set(self.modules) | set(self._classes))

    def check(self, name: str) -> None:
        """Raise :class:`UnknownNameError` (with a suggestion) unless ``name`` is registered."""
        if name not in self._classes and name not in self.modules:
            where = f"{self.key}: " if self.key else ""
            raise UnknownNameError(
                f"{where}unknown {self.kind} {name!r}{did_you_mean(name, self.names())}; "
                f"known: {', '.join(self.names())}"
            )

    def get(self, name: str) -> type[T]:
        if name not in self._classes:
            self.check(name)
            importlib.import_module(f"{self.package}.{self.modules[name]}")
        if name not in self._classes:
            raise KeyError(f"{self.kind} {name!r}: module {self.modules[name]} did not register it")
        return self._classes[name]
