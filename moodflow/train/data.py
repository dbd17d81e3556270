"""Features joined with labels: static vectors by track id, dynamic frames by time.

Dynamic labels (``labels_dynamic.csv``: track_id, time_s, targets…) are matched to the frame
whose centre is nearest (:func:`moodflow.stores.grid.align_to_frames`, within a quarter hop),
never by index: DEAM/emoMusic labels start at 15 s and PMEmo's at 15.5 s while frames start at
0. Labels with no frame near them, and frames with no label, are left out (and logged).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from moodflow.stores.feature_store import FeatureStore
from moodflow.stores.grid import align_to_frames
from moodflow.stores.prepared import LabelSpec, PreparedDataset

log = logging.getLogger(__name__)


@dataclass
class StaticData:
    """Aligned static features and labels: X (n, F), Y (n, k), track ids (n,).

    ``labels`` holds every label kind the dataset has (for the multitask model), keyed by
    kind, with NaN / -1 where a track lacks that label.
    """

    track_ids: np.ndarray
    X: np.ndarray
    Y: np.ndarray
    targets: list[str]
    labels: dict[str, np.ndarray] = field(default_factory=dict)


def label_columns(spec: LabelSpec, columns: pd.Index) -> dict[str, list[str]]:
    """The label columns of each static kind the spec names and ``columns`` hold."""
    kinds = {}
    if spec.static_targets and all(t in columns for t in spec.static_targets):
        kinds["regression"] = list(spec.static_targets)
    if spec.class_column and spec.class_column in columns and spec.classes:
        kinds["classification"] = [spec.class_column]
    if spec.tags and all(t in columns for t in spec.tags):
        kinds["tagging"] = list(spec.tags)
    return kinds


def label_kinds(prepared: PreparedDataset) -> list[str]:
    """The static label kinds the prepared dataset has, its main task first."""
    kinds = list(label_columns(prepared.spec, prepared.static_labels.columns))
    return sorted(kinds, key=lambda k: (k != prepared.spec.task, k))


def track_groups(prepared: PreparedDataset, column: str) -> dict[str, str] | None:
    """Track id → group (``train.protocol.group``: a manifest column such as emotify's genre);
    None when no grouping is asked for."""
    if not column:
        return None
    manifest = prepared.manifest
    if column not in manifest.columns:
        extra = [c for c in manifest.columns if c not in ("track_id", "audio_path", "duration_s")]
        raise ValueError(f"train.protocol.group: the prepared manifest of {prepared.name!r} has no column {column!r} "
                         f"(metadata columns: {extra or 'none'})")
    values = manifest[column]
    return {t: str(g) for t, g in zip(manifest["track_id"], values) if pd.notna(g) and str(g) != ""}


def class_strata(prepared: PreparedDataset) -> dict[str, str] | None:
    """Track id → class name from the dataset's class column (None without one): what a
    stratified protocol stratifies every part on."""
    column = prepared.spec.class_column
    labels = prepared.static_labels
    if not column or column not in labels.columns:
        return None
    return {str(t): str(c) for t, c in zip(labels["track_id"], labels[column]) if pd.notna(c)}


def static_data(store: FeatureStore, prepared: PreparedDataset, all_kinds: bool = False,
                kind: str | None = None) -> StaticData:
    """Join the store's static vectors with the static labels on track id.

    Tracks that failed extraction (NaN row) or lack the label of ``kind`` (default: the main
    task; any label, with ``all_kinds``) are left out (and logged).
    """
    spec = prepared.spec
    labels = prepared.static_labels.drop_duplicates("track_id").set_index("track_id")
    kinds = label_columns(spec, labels.columns)
    main = kind or spec.task
    if main not in kinds:
        raise ValueError(f"{prepared.name}: labels_static.csv lacks the {main} columns the label spec names")
    targets = kinds[main]
    have = labels[targets].notna().all(axis=1)
    if all_kinds:
        have = labels[[c for cols in kinds.values() for c in cols]].notna().any(axis=1)
    X_all = store.static()
    store_ids = np.asarray(store.ids)
    ok = ~np.all(np.isnan(X_all), axis=1) & np.isin(store_ids, labels.index[have].to_numpy())
    dropped = len(store_ids) - int(ok.sum())
    if dropped:
        log.info("%d of %d tracks have no features or no label and are left out", dropped, len(store_ids))
    ids = store_ids[ok]
    rows = labels.loc[ids]
    out: dict[str, np.ndarray] = {}
    for kind, cols in kinds.items():
        if kind == "classification":
            classes = [str(c) for c in spec.classes]
            values = rows[cols[0]]
            unknown = sorted({str(v) for v in values.dropna()} - set(classes))
            if unknown:
                raise ValueError(f"{prepared.name}: classes {unknown[:5]} are not in the label spec {classes}")
            out[kind] = np.array([classes.index(str(v)) if pd.notna(v) else -1 for v in values], dtype=np.int64)
        else:
            out[kind] = rows[cols].to_numpy(dtype=np.float64)
    return StaticData(ids, X_all[ok].astype(np.float64), out[main], targets, out if all_kinds else {main: out[main]})


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
