"""The team's real PMEmo + MTG-Jamendo layouts prepared as one joint dataset, with a feature
store for a few tracks of each (features = labels + noise: a stand-in for extraction, since the
shared folder holds Jamendo's annotations but not its audio)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from moodflow.prepare.run import prepare_dataset
from moodflow.stores.feature_store import FeatureStoreWriter
from moodflow.stores.grid import frame_grid
from moodflow.stores.prepared import PreparedDataset


def joint_params(shared: Path, names: list[str], **members: dict[str, Any]) -> dict[str, Any]:
    """The ``dataset`` section of a joint run over the shared layouts (``members``: each one's settings)."""
    roots = {"pmemo": shared / "PMEmo2019", "emomusic": shared / "emoMusic", "deam": shared / "DEAM",
             "jamendo": shared / "MTG-Jamendo"}
    return {"name": list(names), "roots": {n: str(roots[n]) for n in names}, **members}


def prepare_joint(shared: Path, folder: Path, names: list[str], **members: dict[str, Any]) -> PreparedDataset:
    return prepare_dataset(joint_params(shared, names, **members), folder)


def first_tracks(prepared: PreparedDataset, per_member: int, with_columns: list[str] | None = None) -> list[str]:
    """The first ``per_member`` labelled tracks of every member (sorted ids, so always the same)."""
    labels = prepared.static_labels
    ids = []
    for member in prepared.info["members"]:
        rows = labels[labels["track_id"].str.startswith(member + "/")]
        if with_columns:
            rows = rows[rows[[c for c in with_columns if c in rows.columns]].notna().any(axis=1)]
        ids += sorted(rows["track_id"])[:per_member]
    return ids


def store_for_tracks(prepared: PreparedDataset, store_path: Path, track_ids: list[str], columns: list[str],
                     *, noise: float = 0.3, n_noise: int = 3, seed: int = 0, duration_s: float = 2.0) -> Path:
    """A feature store for ``track_ids`` whose features are the label ``columns`` (NaN → 0) plus noise."""
    labels = prepared.static_labels.set_index("track_id")
    names = [f"label_{c}" for c in columns] + [f"noise{j}" for j in range(n_noise)]
    rng = np.random.default_rng(seed)
    start, end = frame_grid(duration_s)
    with FeatureStoreWriter(store_path, feature_names=names, frame_shape=(len(names),), extractor="synthetic",
                            extractor_version="1", config={"seed": seed}, dataset=prepared.name,
                            sample_rate=22050) as writer:
        for tid in track_ids:
            row = labels.loc[tid]
            values = [float(row[c]) if c in row.index and pd.notna(row[c]) else 0.0 for c in columns]
            static = np.asarray(values + [0.0] * n_noise) + noise * rng.normal(size=len(names))
            writer.append(tid, duration_s, static, np.repeat(static[None, :], len(start), axis=0), start, end)
    return store_path
