"""Multitask head (Music2Emo style): valence/arousal regression plus a class and/or mood-tag
head on one shared trunk, trained on whatever label kinds the dataset has.

``fit(X, labels)`` takes a dict keyed by kind — ``regression`` (n, k) with NaN where missing,
``classification`` (n,) class ids with -1 where missing, ``tagging`` (n, K) 0/1 with NaN
where missing — and ``predict`` returns the same keys: values, class probabilities, tag
probabilities (:meth:`predict_all`; ``predict`` gives the model's own task's head). ``loss_weights: {regression: 1, tagging: 1, …}`` weighs the heads. Given a plain
array it behaves like the MLP on the model's own task.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from moodflow.core.config import setting
from moodflow.models import MODELS
from moodflow.models.distill import DistillSettings, teacher_predictions, train_teachers
from moodflow.models.mlp import MLPConfig, NeuralHeads


@dataclass
class MultitaskConfig(MLPConfig):
    """``train.multitask``: the MLP's settings and one loss weight per head."""

    hidden: int = setting(256, min=1)  # hidden units of the shared layer
    loss_weights: dict[str, float] = setting(default_factory=dict)  # regression | classification | tagging → weight
    # knowledge distillation in a joint run: per-dataset teachers, w·KD + (1−w)·task (docs/models.md)
    distill: DistillSettings = field(default_factory=DistillSettings)


@MODELS.register
class MultitaskModel(NeuralHeads):
    name = "multitask"
    packages = ("torch",)
    Config = MultitaskConfig
    default_search = {"hidden": [128, 256], "dropout": [0.2, 0.5]}
    tasks = frozenset({"regression", "classification", "tagging"})
    multitask = True

    def fit(self, X: np.ndarray, Y: Any, groups: np.ndarray | None = None,
            members: np.ndarray | None = None) -> "MultitaskModel":
        """Fit on every label kind; with ``members`` (each row's dataset in a joint run) and
        ``distill.weight`` > 0, teachers per member first, then the student distilled from them."""
        labels = Y if isinstance(Y, dict) else {self.kind: Y}
        if not labels:
            raise ValueError("multitask: no label kind to train on")
        self.teachers: dict[str, MultitaskModel] = {}
        distill = self.config.distill
        if distill.weight > 0 and members is not None and len(set(np.asarray(members).tolist())) > 1:
            self.teachers, soft = train_teachers(self, np.asarray(X), labels, np.asarray(members))
            self._fit_heads(X, labels, groups, soft=soft, kd=(distill.weight, distill.temperature))
        else:
            self._fit_heads(X, labels, groups)
        return self

    def predict_teachers(self, X: np.ndarray, members: np.ndarray) -> dict[str, np.ndarray]:
        """Each row predicted by its own dataset's teacher (empty without distillation)."""
        return teacher_predictions(getattr(self, "teachers", {}) or {}, X, members)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The head of the model's own task (see :meth:`predict_all` for every head)."""
        out = self._predict_heads(X)
        if self.kind not in out:
            raise ValueError(f"multitask: no {self.kind} head (trained on {sorted(out)})")
        return out[self.kind]

    def predict_all(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Every head's output, keyed by kind."""
        return self._predict_heads(X)
