"""A small name → class registry used for datasets, feature extractors and models."""

from __future__ import annotations

import importlib
from typing import Generic, TypeVar

from moodflow.core.errors import UnknownNameError, did_you_mean

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to classes; modules are imported lazily on first lookup.

    A class is registered under its own ``name`` attribute (``@REGISTRY.register``, no
    argument), so the name is written once, in the class. ``modules`` maps each name to the
    module (relative to ``package``) that defines it: the one line a new entry adds, so that the
    registry knows its names without importing anything and heavy imports (torch, openSMILE)
    happen only when used. Registering a class that the table does not list under its name and
    module is refused (tests/test_registries.py also checks the table against the sources).
    ``key`` is the params.yaml key that names entries (for error messages).
    """

    def __init__(self, kind: str, package: str, modules: dict[str, str], key: str = ""):
        self.kind = kind
        self.package = package
        self.modules = dict(modules)
        self.key = key
        self._classes: dict[str, type[T]] = {}

    def register(self, cls: type[T]) -> type[T]:
        """Class decorator: register ``cls`` under ``cls.name``."""
        if not isinstance(cls, type):
            raise TypeError(f"{self.kind} registry: @register takes no argument; the name is the class's "
                            f"`name` attribute (got {cls!r})")
        name = cls.__dict__.get("name")
        if not isinstance(name, str) or not name:
            raise TypeError(f"{cls.__module__}.{cls.__qualname__}: a registered {self.kind} sets its own "
                            "class attribute `name = \"…\"`")
        listed = self.modules.get(name)
        if listed is None or f"{self.package}.{listed}" != cls.__module__:
            module = cls.__module__.removeprefix(f"{self.package}.")
            raise TypeError(f"{cls.__module__}: {self.kind} {name!r} is not listed in {self.package}._MODULES "
                            f"as defined here: add the line {name!r}: {module!r}")
        if name in self._classes and self._classes[name] is not cls:
            raise TypeError(f"{self.kind} {name!r} is registered twice ({self._classes[name].__qualname__}, "
                            f"{cls.__qualname__})")
        self._classes[name] = cls
        return cls

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

    def classes(self) -> dict[str, type[T]]:
        """Every registered class by name (imports every module: for facts read off the classes)."""
        return {name: self.get(name) for name in self.names()}
