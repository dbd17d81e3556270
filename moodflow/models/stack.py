"""``stack``: late fusion of the stores of a combined set (``train.combine``) by stacking.

One base model per store (``base``, with ``base_settings``) learns from that store's columns
only; an inner ``inner_folds``-fold split of the training rows (stratified for classes, by song
for frames) gives every training row an out-of-fold prediction from each base; the meta-model
learns from those stacked predictions (``meta: linear`` — moodflow's ridge model with ``alpha:
auto``: ridge regression on the predicted targets, logistic regression on the class or tag
scores — or ``meta: mean``, the bases' predictions averaged). The bases are then refitted on all training
rows. Everything happens inside ``fit``, so inside each outer training fold: the held-out tracks
of a fold never reach a base or the meta-model (tests/test_fusion.py records every fit).

On a plain set (one store) it is the base model with the meta-model on top. Saved as one
folder per base (``base0/``, ``base1/`` …, each in its model's own format), ``meta/`` and
``stack.json`` (the blocks' column counts). See docs/models.md, "Fusion".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from moodflow.core.config import build, setting, to_dict
from moodflow.models import MODELS
from moodflow.models.base import Model, SearchSettings
from moodflow.models.blocks import block_edges
from moodflow.models.ridge import RidgeModel

STACK_FILE = "stack.json"
MAX_BLOCKS = 64


@dataclass
class StackConfig(SearchSettings):
    """``train.stack``: the base model of every store, the meta-model, the inner split."""

    base: str = RidgeModel.name  # the model trained on each store's columns (any that learns from a row of features)
    base_settings: dict[str, Any] = setting(default_factory=dict)  # the base's settings (train.<base> keys)
    # linear: ridge (targets) or logistic regression (classes, tags) on the stacked predictions; mean: their mean
    meta: str = setting("linear", choices=("linear", "mean"))
    inner_folds: int = setting(5, min=2)  # inner split giving the out-of-fold predictions the meta-model learns


@MODELS.register
class StackModel(Model):
    name = "stack"
    Config = StackConfig
    default_search = {"meta": ["linear", "mean"]}  # train.tune: learned weights or a plain average
    tasks = frozenset({"regression", "classification", "tagging", "dynamic"})

    def __init__(self, task: str, config: Mapping[str, Any] | Any = None, seed: int = 0, **data: Any):
        super().__init__(task, config, seed, **data)
        base_cls = MODELS.get(self.config.base)
        if base_cls is StackModel or base_cls.sequence_input or base_cls.multitask:
            raise ValueError(f"train.stack.base: {self.config.base!r} cannot be a stack's base (it needs a model "
                             "that learns one task from a row of features, not a sequence, multitask or stack model)")
        self.base_config = build(base_cls.Config, self.config.base_settings, "train.stack.base_settings")
        self.bases: list[Model] = []
        self.meta: Model | None = None

    def _new_base(self) -> Model:
        return MODELS.get(self.config.base)(self.task, self.base_config, self.seed, n_classes=self.n_classes,
                                            n_jobs=self.n_jobs)

    def _new_meta(self) -> Model:
        return RidgeModel(self.task, {}, self.seed, n_classes=self.n_classes, n_jobs=self.n_jobs)

    def _splits(self, Y: np.ndarray, groups: np.ndarray | None) -> list[tuple[np.ndarray, np.ndarray]]:
        """Inner (train, validation) rows: by song for frames, stratified for classes."""
        from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold

        n = len(Y)
        rows = np.arange(n)
        k = self.config.inner_folds
        if groups is not None:
            k = min(k, len(np.unique(groups)))
            if k < 2:
                raise ValueError("stack: the training rows come from fewer than 2 songs; no inner split")
            return list(GroupKFold(k).split(rows, groups=groups))
        if self.kind == "classification":
            counts = np.bincount(np.asarray(Y, dtype=np.int64))
            smallest = int(counts[counts > 0].min())
            if smallest < 2:
                raise ValueError("stack: a class has a single training track; no inner split keeps it in training")
            k = min(k, smallest)
            return list(StratifiedKFold(k, shuffle=True, random_state=self.seed).split(rows, Y))
        k = min(k, n)
        if k < 2:
            raise ValueError("stack: fewer than 2 training rows; no inner split")
        return list(KFold(k, shuffle=True, random_state=self.seed).split(rows))

    def fit(self, X: np.ndarray, Y: np.ndarray, groups: np.ndarray | None = None) -> "StackModel":
        X = np.asarray(X)
        edges = block_edges(self.blocks or [X.shape[1]], X.shape[1])
        splits = self._splits(Y, groups)
        stacked, self.bases = [], []
        for start, stop in edges:
            part = X[:, start:stop]
            oof = None
            for tr, va in splits:
                base = self._new_base().fit(part[tr], Y[tr], None if groups is None else groups[tr])
                pred = np.asarray(base.predict(part[va]), dtype=np.float64).reshape(len(va), -1)
                if oof is None:
                    oof = np.zeros((len(part), pred.shape[1]))
                oof[va] = pred
            stacked.append(oof)
            self.bases.append(self._new_base().fit(part, Y, groups))
        self.blocks = [stop - start for start, stop in edges]
        self.meta = self._new_meta().fit(np.hstack(stacked), Y, groups) if self.config.meta == "linear" else None
        return self

    def stacked(self, X: np.ndarray) -> np.ndarray:
        """(n, blocks × outputs): every base's prediction from its own store's columns."""
        assert self.bases, "fit or load first"
        X = np.asarray(X)
        edges = block_edges(self.blocks or [X.shape[1]], X.shape[1])
        return np.hstack([np.asarray(b.predict(X[:, start:stop]), dtype=np.float64).reshape(len(X), -1)
                          for b, (start, stop) in zip(self.bases, edges)])

    def predict(self, X: np.ndarray) -> np.ndarray:
        Z = self.stacked(X)
        if self.meta is not None:
            return np.asarray(self.meta.predict(Z))
        return Z.reshape(len(Z), len(self.bases), -1).mean(axis=1)

    def n_inputs(self) -> int | None:
        return int(sum(self.blocks)) if self.blocks and self.bases else None

    def selection(self) -> list[dict[str, Any]]:
        """The meta-model's own choices (its alpha over the stacked predictions)."""
        if self.meta is None:
            return []
        return [{**r, "settings": {"meta_" + k if k != "target" else k: v for k, v in r["settings"].items()}}
                for r in self.meta.selection()]

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        for i, base in enumerate(self.bases):
            (folder / f"base{i}").mkdir(parents=True, exist_ok=True)
            base.save(folder / f"base{i}")
        if self.meta is not None:
            (folder / "meta").mkdir(parents=True, exist_ok=True)
            self.meta.save(folder / "meta")
        (folder / STACK_FILE).write_text(json.dumps({"format": "moodflow.stack", "blocks": self.blocks,
                                                     "base": self.config.base,
                                                     "base_settings": to_dict(self.base_config),
                                                     "meta": self.config.meta}, sort_keys=True) + "\n")

    @classmethod
    def load(cls, folder: Path, task: str, config: Mapping[str, Any], **data: Any) -> "StackModel":
        folder = Path(folder)
        path = folder / STACK_FILE
        if not path.is_file() or path.stat().st_size > 64 * 1024:
            raise ValueError(f"{path}: missing or larger than 64 KiB; not a stack model")
        try:
            info = json.loads(path.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: not JSON ({exc})") from None
        blocks = info.get("blocks") if isinstance(info, dict) else None
        if (not isinstance(blocks, list) or not 0 < len(blocks) <= MAX_BLOCKS
                or not all(isinstance(b, int) and not isinstance(b, bool) and 0 < b <= 10**7 for b in blocks)):
            raise ValueError(f"{path}: 'blocks' must be 1–{MAX_BLOCKS} positive column counts")
        data = {k: v for k, v in data.items() if k not in ("blocks", "block_weight")}
        model = cls(task, config, blocks=blocks, **data)
        if info.get("base") != model.config.base or info.get("meta") != model.config.meta:
            raise ValueError(f"{path}: base/meta {info.get('base')!r}/{info.get('meta')!r} differ from model.json's "
                             f"{model.config.base!r}/{model.config.meta!r}")
        base_cls = MODELS.get(model.config.base)
        for i, width in enumerate(blocks):
            base = base_cls.load(folder / f"base{i}", task, to_dict(model.base_config),
                                 n_classes=model.n_classes)
            takes = base.n_inputs()
            if takes is not None and takes != width:
                raise ValueError(f"{folder / f'base{i}'}: takes {takes} columns but its block has {width}")
            model.bases.append(base)
        if model.config.meta == "linear":
            model.meta = RidgeModel.load(folder / "meta", task, {}, n_classes=model.n_classes)
        return model
