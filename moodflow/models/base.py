"""Model interface: every model fits arrays and saves itself without pickle.

A model predicts a 2-D array: (n, k) regression targets, (n, C) class scores, or (n, K) tag
scores. ``task`` is ``regression``, ``classification`` or ``tagging`` (see LabelSpec), or
``dynamic`` (per-frame valence/arousal): models with ``sequence_input`` then take lists of
per-song (T_i, F) arrays and return lists of (T_i, k); the others see frames as samples.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Mapping

import numpy as np

from moodflow.core.config import build, setting


@dataclass
class SearchSettings:
    """Model selection settings every model takes: a grid searched inside each training fold
    (moodflow.train.tuning); ``search: {}`` and ``train.tune: false`` mean none."""

    search: dict[str, list] = setting(default_factory=dict)  # {setting: [values…]}
    search_iter: int = setting(0, min=0)  # > 0: that many candidates drawn from the grid (seeded)
    search_folds: int = setting(3, min=2)  # inner CV folds scoring each candidate


@dataclass
class NoSettings(SearchSettings):
    """A model without settings of its own."""


@dataclass
class ModelRecipe:
    """How to make a fresh model (one per fold): the registered name, its settings, and the
    data's ``input_shape`` / ``n_classes``."""

    name: str
    config: Any = None
    input_shape: list[int] | None = None
    n_classes: int | None = None
    n_jobs: int = 1  # threads a single fit may use (folds in parallel use 1 each)
    blocks: list[int] | None = None  # a combined set's column count per store, in order
    block_weight: str = "none"  # train.combine.block_weight: equal = each store weighs the same


    @property
    def cls(self) -> type["Model"]:
        from moodflow.models import MODELS

        return MODELS.get(self.name)

    def new(self, task: str, seed: int = 0) -> "Model":
        extra = {"blocks": self.blocks, "block_weight": self.block_weight} if self.blocks else {}
        return self.cls(task, self.config, seed, input_shape=self.input_shape, n_classes=self.n_classes,
                        n_jobs=self.n_jobs, **extra)


class Model(ABC):
    """Base class. Subclasses set ``name``, ``tasks`` and ``Config`` (the dataclass of
    ``train.<name>``) and implement fit/predict/save/load.

    ``input_shape`` (layered features: [layers, dim]) and ``n_classes`` describe the data, not
    settings: the training code passes them from the store and the label spec.
    """

    name: ClassVar[str]
    Config: ClassVar[type] = NoSettings
    # documented ranges searched when train.tune is true (docs/models.md)
    default_search: ClassVar[dict[str, list]] = {}
    tasks: ClassVar[frozenset[str]] = frozenset({"regression", "classification", "tagging", "dynamic"})
    sequence_input: ClassVar[bool] = False
    multitask: ClassVar[bool] = False
    neural: ClassVar[bool] = False  # a torch network (TorchPersistence): "model_kind" in model.json
    # Python distributions beyond the base ones whose versions model.json records (torch, xgboost)
    packages: ClassVar[tuple[str, ...]] = ()
    # applies train.combine.block_weight (scales its standardised inputs per store)
    block_weighting: ClassVar[bool] = False

    def __init__(self, task: str, config: Mapping[str, Any] | Any = None, seed: int = 0, *,
                 input_shape: list[int] | None = None, n_classes: int | None = None, n_jobs: int = 1,
                 blocks: list[int] | None = None, block_weight: str = "none"):
        if task not in self.tasks:
            raise ValueError(f"model {self.name!r} does not do {task}; it does {sorted(self.tasks)}")
        self.task = task
        self.config = build(self.Config, config, f"train.{self.name}")
        self.seed = seed
        self.input_shape = list(input_shape) if input_shape else None
        self.n_classes = n_classes
        self.n_jobs = max(1, int(n_jobs))
        self.blocks = [int(b) for b in blocks] if blocks else None  # columns per store (combined sets)
        self.block_weight = block_weight

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
        """(n,) class ids: the arg-max of the class probabilities."""
        return np.argmax(self.predict(X), axis=1)

    def n_inputs(self) -> int | None:
        """How many features a row must have, as the fitted model says (None: not known)."""
        return None

    def selection(self) -> list[dict[str, Any]]:
        """Settings the last ``fit`` chose itself from its training data (ridge's ``alpha: auto``):
        one record per candidate, ``settings`` (a dict; ``target``: an output's index), its
        ``inner_score`` and whether it was ``chosen``. The training code adds them to tuning.csv."""
        return []

    @abstractmethod
    def save(self, folder: Path) -> None:
        """Write weights into ``folder`` (no pickle)."""

    @classmethod
    @abstractmethod
    def load(cls, folder: Path, task: str, config: Mapping[str, Any], **data: Any) -> "Model":
        """Read weights written by :meth:`save` (``data``: ``input_shape``, ``n_classes``)."""

