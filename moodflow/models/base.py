"""Model interface: every model fits arrays and saves itself without pickle.

A model predicts a 2-D array: (n, k) regression targets, (n, C) class scores, or (n, K) tag
scores. ``task`` is ``regression``, ``classification`` or ``tagging`` (see LabelSpec), or
``dynamic`` (per-frame valence/arousal): models with ``sequence_input`` then take lists of
per-song (T_i, F) arrays and return lists of (T_i, k); the others see frames as samples.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

class Model(ABC):
    """Base class. Subclasses set ``name`` and ``tasks`` and implement fit/predict/save/load."""

    name: ClassVar[str]
    tasks: ClassVar[frozenset[str]] = frozenset({"regression", "classification", "tagging", "dynamic"})
    sequence_input: ClassVar[bool] = False
    multitask: ClassVar[bool] = False
    neural: ClassVar[bool] = False  # a torch network (TorchPersistence): "model_kind" in model.json

    def __init__(self, task: str, params: dict[str, Any] | None = None, seed: int = 0):
        if task not in self.tasks:
            raise ValueError(f"model {self.name!r} does not do {task}; it does {sorted(self.tasks)}")
        self.task = task
        self.params = dict(params or {})
        self.seed = seed

    @property
    def kind(self) -> str:
        """The learning problem: dynamic labels are a regression on frames."""
        return "regression" if self.task == "dynamic" else self.task

    @abstractmethod
    def fit(self, X: np.ndarray, Y: np.ndarray, groups: np.ndarray | None = None) -> "Model":
        """Fit on (n, F) features and (n, k) targets (class ids (n,) for classification).

        ``groups`` (n,) names the song of each row so inner splits never cut a song.
        """

    @abstractmethod
    def predict(self, X: np.ndarray) -> np.ndarray:
        """(n, k) predictions: targets, or scores per class / tag."""

    def predict_classes(self, X: np.ndarray) -> np.ndarray:
        """(n,) class ids; the arg-max of the scores unless the model decides otherwise."""
        return np.argmax(self.predict(X), axis=1)

    @abstractmethod
    def save(self, folder: Path) -> None:
        """Write weights into ``folder`` (no pickle)."""

    @classmethod
    @abstractmethod
    def load(cls, folder: Path, task: str, params: dict[str, Any]) -> "Model":
        """Read weights written by :meth:`save`."""

