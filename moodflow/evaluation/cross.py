"""Cross-corpus evaluation (``train.protocol.kind: cross``) of a joint run: train on one
dataset, test on another — the question no published MER system answers for its own model.

For every member ``t`` of ``train_on`` one fold ``x-<t>`` trains on all of ``t``'s labelled
tracks and holds out all labelled tracks of the ``test_on`` members other than ``t``; for every
member ``u`` of ``test_on`` the within-dataset figure comes from ``train.protocol.folds``-fold
CV over ``u``'s own tracks (folds ``w-<u>-r<r>f<f>``), the diagonal of the matrix, for
comparison. Predictions are on the joint training scale (:mod:`moodflow.stores.labelspace`);
each cell is scored on the test member's own scale with its own metrics
(:func:`moodflow.evaluation.joint.native_predictions`): R² of valence/arousal, PR-AUC of tags,
macro F1 of classes — only for the label kinds the training member has (a model trained on
DEAM has no tag head worth scoring on Jamendo).

``metrics.json`` → ``cross``: ``{"train_on": […], "test_on": […], "cells": [{"train": t,
"test": u, "kind": "cross"|"within", "task": …, "target": …, "metric": …, "value": …,
"n_tracks": …, "n_folds": …}, …]}``; the model folder's ``cross.csv`` is the same table. The run's
headline sections (``static``, ``tagging`` …, ``datasets``) are computed on the cross folds only.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from moodflow.core.errors import SettingsError

from moodflow.evaluation.protocols import CROSS, WITHIN  # noqa: F401 - fold-name prefixes, used by the report
# (task of predictions.csv, metrics section, metric) a cell reports, per label kind
CELL_METRICS = {"static": ("static", "r2"), "tagging": ("tagging", "pr_auc"), "classification": ("classification", "macro_f1")}
TABLE_COLUMNS = ["train", "test", "kind", "task", "target", "metric", "value", "n_tracks", "n_folds"]


def check_cross_settings(protocol: Mapping[str, Any], dataset_names: Sequence[str] | str) -> None:
    """``train.protocol.train_on`` / ``test_on`` name members of the joint run (kind cross), and
    are empty for every other kind; SettingsError in one line otherwise."""
    names = [dataset_names] if isinstance(dataset_names, str) else list(dataset_names)
    train_on, test_on = list(protocol.get("train_on") or []), list(protocol.get("test_on") or [])
    if protocol.get("kind") != "cross":
        if train_on or test_on:
            raise SettingsError("train.protocol.train_on / test_on apply to kind cross only "
                                f"(kind is {protocol.get('kind')!r})")
        return
    if len(names) < 2:
        raise SettingsError("train.protocol.kind cross needs a joint run: dataset.name a list of datasets, "
                            f"e.g. [deam, pmemo] (it is {names[0]!r})")
    for key, listed in (("train_on", train_on), ("test_on", test_on)):
        if not listed:
            raise SettingsError(f"train.protocol.{key}: empty; name members of dataset.name {names}")
        unknown = [n for n in listed if n not in names]
        if unknown:
            raise SettingsError(f"train.protocol.{key}: {unknown} are not in dataset.name {names}")
        if len(set(listed)) != len(listed):
            raise SettingsError(f"train.protocol.{key}: a dataset listed twice: {listed}")
    if not any(t != u for t in train_on for u in test_on):
        raise SettingsError("train.protocol: train_on and test_on name only one and the same dataset; "
                            "cross needs a pair of different datasets")


def is_cross_fold(folds: pd.Series) -> np.ndarray:
    return folds.astype(str).str.startswith(CROSS).to_numpy()


def cross_rows(predictions: pd.DataFrame) -> pd.DataFrame:
    """The held-out rows of the cross folds (the run's headline numbers come from these)."""
    return predictions[is_cross_fold(predictions["fold"])].reset_index(drop=True)


def _kinds(member: Mapping[str, Any]) -> set[str]:
    kinds = set()
    if member.get("static_targets"):
        kinds.add("static")
    if member.get("tags"):
        kinds.add("tagging")
    if member.get("classes"):
        kinds.add("classification")
    return kinds


def cross_matrix(predictions: pd.DataFrame, members: Mapping[str, Mapping[str, Any]], train_on: Sequence[str],
                 test_on: Sequence[str]) -> dict[str, Any]:
    """Every cell of the matrix, scored on the test member's own scale (see the module docstring)."""
    from moodflow.evaluation.joint import native_predictions
    from moodflow.evaluation.summary import metrics_from_predictions, nan_to_none
    from moodflow.stores.labelspace import member_of

    member = member_of(predictions["track_id"]) if len(predictions) else np.array([], dtype=object)
    folds = predictions["fold"].astype(str).to_numpy()
    cells = []
    pairs = [(t, u, "cross", f"{CROSS}{t}") for t in train_on for u in test_on if t != u]
    pairs += [(u, u, "within", f"{WITHIN}{u}-") for u in test_on]
    for t, u, kind, fold in pairs:
        chosen = (member == u) & (np.char.startswith(folds.astype(str), fold) if kind == "within" else folds == fold)
        rows = predictions[chosen]
        if not len(rows):
            continue
        classes = members[u].get("classes") or None
        scored = nan_to_none(metrics_from_predictions(native_predictions(rows, members[u]), classes))
        for task, (section, metric) in CELL_METRICS.items():
            if task not in _kinds(members[t]) or task not in _kinds(members[u]):
                continue
            for target, values in (scored.get(section) or {}).items():
                if not isinstance(values, dict) or metric not in values:
                    continue
                cells.append({"train": t, "test": u, "kind": kind, "task": task, "target": target, "metric": metric,
                              "value": values[metric], "n_tracks": values.get("n_tracks"),
                              "n_folds": values.get("n_folds")})
    return {"train_on": list(train_on), "test_on": list(test_on), "cells": cells}


def cross_table(matrix: Mapping[str, Any]) -> pd.DataFrame:
    """``cross.csv``: one row per cell and metric."""
    return pd.DataFrame(list(matrix.get("cells") or []), columns=TABLE_COLUMNS)
