"""Evaluation protocols: which tracks train and which are held out, fold by fold.

- ``split``: the dataset's published split files (train+validation train, test held out);
- ``kfold``: (repeated) k-fold over tracks — frames of one song never straddle train and test
  because folds are made of track ids;
- ``stratified``: repeated stratified k-fold over tracks, for class labels;
- ``cross``: a joint run's members trained on and tested on across datasets
  (:mod:`moodflow.evaluation.cross`, with ``train_on`` / ``test_on``).
``auto`` picks ``split`` when the dataset ships one, ``stratified`` for classification and
``kfold`` otherwise. With ``groups`` (``train.protocol.group``: a column of the manifest such as
a genre, an artist or an album) ``kfold``/``stratified`` keep each group whole on one side of
every fold (group k-fold; with as many folds as groups, leave-one-group-out); ``split``, the
published partition, refuses a grouping.

A protocol that cannot give a meaningful number says so: :func:`check_folds` raises
:class:`InsufficientData` (with the reason in words) when a fold trains on fewer than
``min_train`` tracks, tests on fewer than ``min_test``, or (classes) trains on fewer than
``min_per_class`` tracks of some class; more folds than tracks, or than a class has, is the
same kind of refusal, never a silent change of the protocol.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from moodflow.core.errors import MoodflowError

PROTOCOLS = ("auto", "split", "kfold", "stratified", "cross")
# repeat r shuffles with random state seed + REPEAT_STRIDE * r: repeat 0 is the seed itself, and
# seeds less than a million apart share no repeat (with seed + r, seeds 1 and 2 shared 19 of 20)
REPEAT_STRIDE = 1_000_003


def repeat_state(seed: int, repeat: int) -> int:
    """The random state that shuffles repeat ``repeat`` of a protocol run with ``seed``."""
    return (int(seed) + REPEAT_STRIDE * int(repeat)) % 2**32


NO_CLASSES = ("train.protocol.kind: 'stratified' needs a class column to stratify on (this dataset has no "
              "class labels); use kind kfold")


def class_name(value: object, names: list[str] | None = None) -> str:
    """How messages name a class: its name (a class id is looked up in ``names``)."""
    if names is not None and isinstance(value, (int, np.integer)) and 0 <= int(value) < len(names):
        return str(names[int(value)])
    return "(no class)" if value == "" else str(value)


class InsufficientData(MoodflowError):
    """Too few tracks (or of a class) for the protocol to give a number worth reporting."""


@dataclass
class Fold:
    """One train/test partition of track ids; ``name`` is e.g. ``r0f3`` or ``split``."""

    name: str
    train: np.ndarray
    test: np.ndarray


@dataclass
class ProtocolRun:
    """The folds of a protocol as run: its resolved ``kind``, and for ``split`` how much of the
    published test set had features and labels (``test_coverage``, a fraction)."""

    kind: str
    folds: list[Fold]
    n_folds: int = 0
    repeats: int = 1
    test_coverage: float | None = None
    published_test: int | None = None
    notes: list[str] = field(default_factory=list)
    grouped: bool = False

    def __iter__(self):
        return iter(self.folds)

    def __len__(self) -> int:
        return len(self.folds)

    def describe(self) -> dict:
        """Plain values for model.json: what was run, fold sizes included."""
        sizes = [(len(f.train), len(f.test)) for f in self.folds]
        return {
            "kind": self.kind, "folds": self.n_folds, "repeats": self.repeats,
            "train_tracks": [min(s[0] for s in sizes), max(s[0] for s in sizes)] if sizes else [0, 0],
            "test_tracks": [min(s[1] for s in sizes), max(s[1] for s in sizes)] if sizes else [0, 0],
            "test_coverage": self.test_coverage, "published_test": self.published_test,
            **({"grouped": True} if self.grouped else {}),
            # every fold's size in tracks (the corrected resampled t-test needs n_test / n_train)
            "fold_sizes": [{"fold": f.name, "n_train": len(f.train), "n_test": len(f.test)} for f in self.folds],
        }


def make_folds(
    track_ids: np.ndarray,
    *,
    kind: str = "auto",
    folds: int = 5,
    repeats: int = 1,
    seed: int = 0,
    splits: pd.DataFrame | None = None,
    classes: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    class_names: list[str] | None = None,
    train_on: list[str] | None = None,
    test_on: list[str] | None = None,
) -> ProtocolRun:
    """The folds of a protocol over ``track_ids`` (strings); InsufficientData when the tracks
    cannot fill them (see the module docstring). ``classes`` (stratified) are class ids into
    ``class_names`` or names themselves; messages name the classes."""
    track_ids = np.asarray(track_ids, dtype=str)
    if kind == "auto":
        kind = "split" if splits is not None and len(splits) else ("stratified" if classes is not None else "kfold")
    if kind not in PROTOCOLS:
        raise ValueError(f"train.protocol.kind: unknown protocol {kind!r} ({' | '.join(PROTOCOLS)})")
    if kind == "cross":
        if groups is not None:
            raise ValueError("train.protocol.group: the cross protocol holds out whole datasets; leave group empty")
        return cross_folds(track_ids, train_on=train_on or [], test_on=test_on or [], folds=folds, repeats=repeats,
                           seed=seed)
    if kind == "split":
        if groups is not None:
            raise ValueError("train.protocol.group: the published split has its own partition; "
                             "use kind kfold or stratified to keep groups out")
        return _split(track_ids, splits)
    if groups is not None:
        return _grouped(track_ids, np.asarray(groups, dtype=str), kind, folds, repeats, seed, classes)
    if kind == "stratified" and classes is None:
        raise ValueError(NO_CLASSES)
    if len(track_ids) < folds:
        raise InsufficientData(f"{folds}-fold CV needs at least {folds} labelled tracks with features, "
                               f"this run has {len(track_ids)}")
    if kind == "stratified":
        counts = Counter(np.asarray(classes).tolist())
        few = sorted((class_name(c, class_names), n) for c, n in counts.items() if n < folds)
        if few:
            raise InsufficientData(f"{folds}-fold stratified CV needs at least {folds} tracks of every class; "
                                   + ", ".join(f"class {c} has {n}" for c, n in few))
    from sklearn.model_selection import KFold, StratifiedKFold

    splitter = StratifiedKFold if kind == "stratified" else KFold
    return ProtocolRun(kind, _repeated(splitter, track_ids, classes, None, folds, repeats, seed),
                       n_folds=folds, repeats=repeats)


def _repeated(splitter: Any, track_ids: np.ndarray, classes: np.ndarray | None, groups: np.ndarray | None,
              folds: int, repeats: int, seed: int) -> list[Fold]:
    """``repeats`` shuffled runs of a scikit-learn ``splitter`` class, repeat r shuffled by
    :func:`repeat_state`; folds named ``r<repeat>f<fold>``."""
    out = []
    for r in range(repeats):
        parts = splitter(n_splits=folds, shuffle=True, random_state=repeat_state(seed, r)).split(
            track_ids, classes, groups)
        out += [Fold(f"r{r}f{f}", track_ids[tr], track_ids[te]) for f, (tr, te) in enumerate(parts)]
    return out


def _grouped(track_ids: np.ndarray, groups: np.ndarray, kind: str, folds: int, repeats: int, seed: int,
             classes: np.ndarray | None) -> ProtocolRun:
    """Group k-fold: every group's tracks in one test fold; shuffled by :func:`repeat_state`."""
    n_groups = len(set(groups.tolist()))
    if n_groups < folds:
        raise InsufficientData(f"{folds}-fold group CV needs at least {folds} groups, this run has {n_groups} "
                               f"({', '.join(sorted(set(groups.tolist()))[:10])}); set train.protocol.folds to "
                               f"{n_groups} or fewer")
    from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

    if kind == "stratified" and classes is None:
        raise ValueError(NO_CLASSES)
    splitter = StratifiedGroupKFold if kind == "stratified" else GroupKFold
    classes = classes if kind == "stratified" else None
    run = ProtocolRun(kind, _repeated(splitter, track_ids, classes, groups, folds, repeats, seed),
                      n_folds=folds, repeats=repeats)
    run.notes.append(f"grouped: {n_groups} groups, each held out whole")
    run.grouped = True
    return run


def _split(track_ids: np.ndarray, splits: pd.DataFrame | None) -> ProtocolRun:
    if splits is None or not len(splits):
        raise ValueError("train.protocol.kind: 'split' needs the dataset's split files (none were prepared; "
                         "set dataset.split_dir or use kfold)")
    split_of = dict(zip(splits["track_id"].astype(str), splits["split"]))
    test = np.array([t for t in track_ids if split_of.get(t) == "test"])
    train = np.array([t for t in track_ids if split_of.get(t) in ("train", "validation")])
    published = int(sum(1 for s in split_of.values() if s == "test"))
    coverage = len(test) / published if published else 0.0
    run = ProtocolRun("split", [Fold("split", train, test)], n_folds=1, test_coverage=coverage,
                      published_test=published)
    if len(test) == 0 or len(train) == 0:
        raise InsufficientData(f"the published split leaves {len(train)} training and {len(test)} test tracks "
                               f"with features and labels (of {published} published test tracks)")
    return run


def check_folds(run: ProtocolRun, *, min_train: int, min_test: int, classes: dict[str, int] | None = None,
                min_per_class: int = 0) -> None:
    """Raise InsufficientData when a fold is too small to report (see the module docstring).

    ``classes`` maps track id → class (classification), for the per-class training count.
    """
    for fold in run.folds:
        if len(fold.train) < min_train:
            raise InsufficientData(f"fold {fold.name} trains on {len(fold.train)} tracks, fewer than "
                                   f"train.min_train ({min_train})")
        if len(fold.test) < min_test:
            raise InsufficientData(f"fold {fold.name} tests {len(fold.test)} tracks, fewer than "
                                   f"train.min_test ({min_test})")
        if classes is not None and min_per_class:
            counts = Counter(classes[t] for t in fold.train)
            for c in sorted(set(classes.values()), key=str):
                if counts.get(c, 0) < min_per_class:
                    raise InsufficientData(f"fold {fold.name} trains on {counts.get(c, 0)} tracks of class "
                                           f"{class_name(c)}, fewer than train.min_per_class ({min_per_class})")


CROSS = "x-"  # fold names of the cross protocol: x-<trained on>
WITHIN = "w-"  # and w-<dataset>-<fold> for the within-dataset CV on the matrix's diagonal


def cross_folds(track_ids: np.ndarray, *, train_on: Sequence[str], test_on: Sequence[str], folds: int,
                repeats: int, seed: int) -> ProtocolRun:
    """The cross folds and the within-dataset CV folds of every ``test_on`` member (a ProtocolRun)."""
    from moodflow.stores.labelspace import member_of

    track_ids = np.asarray(track_ids, dtype=str)
    member = member_of(track_ids) if len(track_ids) else np.array([], dtype=object)
    present = set(member.tolist())
    out = []
    for t in train_on:
        test = track_ids[np.isin(member, [u for u in test_on if u != t])]
        if t not in present:
            raise InsufficientData(f"cross: no track of {t} has features and these labels to train on")
        if len(test):
            out.append(Fold(f"{CROSS}{t}", track_ids[member == t], test))
    if not out:
        raise InsufficientData(f"cross: no track of {[u for u in test_on]} has features and these labels to test on")
    for u in test_on:
        if u not in present:
            continue
        within = make_folds(track_ids[member == u], kind="kfold", folds=folds, repeats=repeats, seed=seed)
        out += [Fold(f"{WITHIN}{u}-{f.name}", f.train, f.test) for f in within.folds]
    run = ProtocolRun("cross", out, n_folds=folds, repeats=repeats)
    run.notes.append(f"cross: train on {list(train_on)}, test on {list(test_on)}; within-dataset {folds}-fold CV "
                     "on the diagonal")
    return run
