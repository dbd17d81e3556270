"""Dynamic (per-frame) labels joined with a store's frames, by time.

Label times (``labels_dynamic.csv``: track_id, time_s, targets…) are matched to the frame
whose centre is nearest (:func:`moodflow.grid.align_to_frames`, within a quarter hop), never
by index: DEAM/emoMusic labels start at 15 s and PMEmo's at 15.5 s while frames start at 0.
Labels with no frame near them, and frames with no label, are left out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from moodflow.grid import align_to_frames
from moodflow.store import FeatureStore

log = logging.getLogger(__name__)


@dataclass
class DynamicData:
    """Per song i: X[i] (T_i, F) frames (layered frames flattened), Y[i] (T_i, k), times[i]."""

    track_ids: np.ndarray
    X: list[np.ndarray]
    Y: list[np.ndarray]
    times: list[np.ndarray]
    targets: list[str]

    @property
    def n_frames(self) -> int:
        return int(sum(len(y) for y in self.Y))


def align_track(
    values: np.ndarray, start_s: np.ndarray, end_s: np.ndarray, label_times: np.ndarray, labels: np.ndarray,
    tol_s: float = 0.26,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, Y, times) of one song: each label row with the frame nearest its time."""
    idx = align_to_frames(label_times, start_s, end_s, tol_s=tol_s)
    ok = idx >= 0
    ok &= ~np.any(np.isnan(labels), axis=1)
    X = np.asarray(values)[idx[ok]]
    return X.reshape(len(X), -1).astype(np.float64), labels[ok].astype(np.float64), label_times[ok]


def dynamic_data(store: FeatureStore, labels: pd.DataFrame, targets: list[str], tol_s: float = 0.26) -> DynamicData:
    """Align every labelled song in ``store`` (songs without frames or labels are logged)."""
    missing = [t for t in ["track_id", "time_s", *targets] if t not in labels.columns]
    if missing:
        raise ValueError(f"labels_dynamic.csv lacks columns {missing}")
    labels = labels.sort_values(["track_id", "time_s"])
    known = set(store.ids)
    ids, X, Y, T = [], [], [], []
    skipped = 0
    for tid, group in labels.groupby("track_id", sort=True):
        tid = str(tid)
        if tid not in known:
            skipped += 1
            continue
        values, start, end = store.frames(tid)
        x, y, t = align_track(values, start, end, group["time_s"].to_numpy(float), group[targets].to_numpy(float), tol_s)
        if len(y) == 0:
            skipped += 1
            continue
        ids.append(tid)
        X.append(x)
        Y.append(y)
        T.append(t)
    if skipped:
        log.info("%d songs with dynamic labels have no aligned frames and are left out", skipped)
    return DynamicData(np.asarray(ids, dtype=str), X, Y, T, list(targets))
