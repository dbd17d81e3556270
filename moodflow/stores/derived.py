"""Labels derived from other labels (MTG-Jamendo valence/arousal from its mood tags): how the
prepared dataset marks them, and how training keeps them out of every score.

A derived value is a training target, never ground truth. ``labels_static.csv`` holds a 0/1
column :data:`DERIVED_COLUMN` (1: this track's ``derived`` targets were computed, not annotated;
empty or 0: real), and ``dataset.json`` → ``info.derived`` says which targets and from what
(``{"targets": ["valence", "arousal"], "from": "tags", "table": …, "n_tracks": …}``; a joint
dataset keeps each member's under ``info.members.<name>.derived``). Evaluation drops every
held-out row of a derived (track, target) before any metric is computed
(:func:`drop_derived_rows`), so ``predictions.csv`` and ``metrics.json`` hold real labels only.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

DERIVED_COLUMN = "derived_va"


def derived_targets(info: Mapping[str, Any]) -> list[str]:
    """Every target that is derived for some track (a single dataset's or any member's)."""
    found = list((info.get("derived") or {}).get("targets", []))
    for member in (info.get("members") or {}).values():
        found += list((member.get("derived") or {}).get("targets", []))
    return list(dict.fromkeys(found))


def derived_track_ids(static_labels: pd.DataFrame) -> set[str]:
    """The tracks whose derived targets were computed (``DERIVED_COLUMN`` is 1)."""
    if DERIVED_COLUMN not in static_labels.columns:
        return set()
    flag = pd.to_numeric(static_labels[DERIVED_COLUMN], errors="coerce").fillna(0).to_numpy() > 0
    return set(static_labels["track_id"].astype(str)[flag])


def drop_derived_rows(rows: pd.DataFrame, derived_ids: set[str], targets: list[str]) -> pd.DataFrame:
    """Prediction rows without any static row of a derived (track, target)."""
    if not derived_ids or not len(rows):
        return rows
    derived = ((rows["task"] == "static") & rows["target"].isin(targets)
               & rows["track_id"].astype(str).isin(derived_ids)).to_numpy()
    return rows[~derived].reset_index(drop=True) if derived.any() else rows


def derived_mask(track_ids: np.ndarray, derived_ids: set[str]) -> np.ndarray:
    """(n,) True where a track's derived targets are not ground truth."""
    return np.array([str(t) in derived_ids for t in track_ids], dtype=bool)
