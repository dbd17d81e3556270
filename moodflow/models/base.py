"""Model interface: every model fits arrays and saves itself without pickle.

A model predicts a 2-D array: (n, k) regression targets, (n, C) class scores, or (n, K) tag
scores. ``task`` is ``regression``, ``classification`` or ``tagging`` (see LabelSpec).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np


class Model(ABC):
    """Base class. Subclasses set ``name`` and ``tasks`` and implement fit/predict/save/load."""

    name: ClassVar[str]
    tasks: ClassVar[frozenset[str]] = frozenset({"regression", "classification", "tagging"})

    def __init__(self, task: str, params: dict[str, Any] | None = None, seed: int = 0):
        if task not in self.tasks:
            raise ValueError(f"model {self.name!r} does not do {task}; it does {sorted(self.tasks)}")
        self.task = task
        self.params = dict(params or {})
        self.seed = seed

    @abstractmethod
    def fit(self, X: np.ndarray, Y: np.ndarray, groups: np.ndarray | None = None) -> "Model":
        """Fit on (n, F) features and (n, k) targets (class ids (n,) for classification)."""

    @abstractmethod
    def predict(self, X: np.ndarray) -> np.ndarray:
        """(n, k) predictions: targets, or scores per class / tag."""

    @abstractmethod
    def save(self, folder: Path) -> None:
        """Write weights into ``folder`` (no pickle)."""

    @classmethod
    @abstractmethod
    def load(cls, folder: Path, task: str, params: dict[str, Any]) -> "Model":
        """Read weights written by :meth:`save`."""


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())
