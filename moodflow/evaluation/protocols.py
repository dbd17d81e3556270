"""Evaluation protocols: which tracks train and which are held out, fold by fold.

- ``split``: the dataset's published split files (train+validation train, test held out);
- ``kfold``: (repeated) k-fold over tracks — frames of one song never straddle train and test
  because folds are made of track ids;
- ``stratified``: repeated stratified k-fold over tracks, for class labels.
``auto`` picks ``split`` when the dataset ships one, ``stratified`` for classification and
``kfold`` otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold


PROTOCOLS = ("auto", "split", "kfold", "stratified")


@dataclass
class Fold:
    """One train/test partition of track ids; ``name`` is e.g. ``r0f3`` or ``split``."""

    name: str
    train: np.ndarray
    test: np.ndarray


def make_folds(
    track_ids: np.ndarray,
    *,
    kind: str = "auto",
    folds: int = 5,
    repeats: int = 1,
    seed: int = 0,
    splits: pd.DataFrame | None = None,
    classes: np.ndarray | None = None,
) -> Iterator[Fold]:
    """Yield the folds of a protocol over ``track_ids`` (strings)."""
    track_ids = np.asarray(track_ids, dtype=str)
    if kind == "auto":
        kind = "split" if splits is not None and len(splits) else ("stratified" if classes is not None else "kfold")
    if kind == "split":
        if splits is None:
            raise ValueError("protocol 'split' needs the dataset's split files (none were prepared)")
        split_of = dict(zip(splits["track_id"].astype(str), splits["split"]))
        unknown = sorted(set(split_of) - set(track_ids))
        test = np.array([t for t in track_ids if split_of.get(t) == "test"])
        train = np.array([t for t in track_ids if split_of.get(t) in ("train", "validation")])
        if len(test) == 0 or len(train) == 0:
            raise ValueError(
                f"published split leaves {len(train)} train / {len(test)} test tracks with features "
                f"and labels ({len(unknown)} split ids have none)"
            )
        yield Fold("split", train, test)
        return
    n_splits = min(folds, len(track_ids))
    if n_splits < 2:
        raise ValueError(f"need at least 2 labelled tracks for {folds}-fold CV, have {len(track_ids)}")
    for r in range(repeats):
        if kind == "stratified":
            if classes is None:
                raise ValueError("protocol 'stratified' needs class labels")
            min_count = int(pd.Series(classes).value_counts().min())
            splitter = StratifiedKFold(n_splits=min(n_splits, max(min_count, 2)), shuffle=True, random_state=seed + r)
            parts = splitter.split(track_ids, classes)
        elif kind == "kfold":
            parts = KFold(n_splits=n_splits, shuffle=True, random_state=seed + r).split(track_ids)
        else:
            raise ValueError(f"unknown protocol {kind!r} (auto | split | kfold | stratified)")
        for f, (tr, te) in enumerate(parts):
            yield Fold(f"r{r}f{f}", track_ids[tr], track_ids[te])
