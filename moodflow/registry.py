"""A small name → class registry used for datasets, feature extractors and models."""

from __future__ import annotations

import importlib
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to classes; modules are imported lazily on first lookup.

    ``modules`` maps a registered name to the module that defines it, so adding an entry is
    one line here plus one file, and heavy imports (torch, openSMILE) happen only when used.
    """

    def __init__(self, kind: str, package: str, modules: dict[str, str]):
        self.kind = kind
        self.package = package
        self.modules = dict(modules)
        self._classes: dict[str, type[T]] = {}

    def register(self, name: str):
        """Class decorator registering ``cls`` under ``name``."""

        def deco(cls: type[T]) -> type[T]:
            self._classes[name] = cls
            return cls

        return deco

    def names(self) -> list[str]:
        return sorted(set(self.modules) | set(self._classes))

    def get(self, name: str) -> type[T]:
        if name not in self._classes:
            if name not in self.modules:
                raise KeyError(
                    f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}"
                )
            importlib.import_module(f"{self.package}.{self.modules[name]}")
        if name not in self._classes:
            raise KeyError(f"{self.kind} {name!r}: module {self.modules[name]} did not register it")
        return self._classes[name]
