"""Tiny synthetic stores and prepared datasets for the model/training tests (no audio)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from moodflow.stores.prepared import LabelSpec, PreparedDataset

# training-set size guards lowered for these tiny synthetic runs (train.min_train etc.)
FEW_TRACKS = {"min_train": 2, "min_test": 1, "min_per_class": 1}
from moodflow.stores.grid import frame_grid
from moodflow.stores.feature_store import FeatureStoreWriter


def make_run(
    folder: Path, *, n_tracks: int = 30, n_feat: int = 6, task: str = "regression", dynamic: bool = True,
    layered: tuple[int, int] | None = None, seed: int = 0, duration_s: float = 20.0, label_start_s: float = 15.0,
) -> tuple[Path, Path]:
    """Write ``store.h5`` and ``prepared/`` where labels are functions of the features.

    Frame features drift over time; dynamic labels at 2 Hz from ``label_start_s`` depend on
    the frame at the same time (so index-based alignment would be wrong). Static labels
    depend on the static vector. Returns (store path, prepared folder).
    """
    rng = np.random.default_rng(seed)
    ids = [f"t{i:03d}" for i in range(n_tracks)]
    shape = layered or (n_feat,)
    width = int(np.prod(shape))
    w = rng.normal(size=(width, 2)) / np.sqrt(width)
    start, end = frame_grid(duration_s)
    static_rows, dyn_rows = [], []
    store_path = folder / "store.h5"
    with FeatureStoreWriter(
        store_path, feature_names=[f"f{j}" for j in range(width)], frame_shape=shape, extractor="synthetic",
        extractor_version="1", config={"seed": seed}, dataset="synthetic", sample_rate=22050,
    ) as writer:
        for tid in ids:
            base = rng.normal(size=width)
            drift = rng.normal(size=width) * 0.3
            t = (start + end) / 2
            frames = base + np.outer(np.sin(t / 3), drift) + 0.05 * rng.normal(size=(len(t), width))
            static = frames.mean(axis=0)
            writer.append(tid, duration_s, static, frames.reshape(len(t), *shape), start, end)
            va = static @ w
            static_rows.append((tid, *va))
            times = np.arange(label_start_s, duration_s - 0.5 + 1e-9, 0.5)
            k = np.argmin(np.abs(t[None, :] - times[:, None]), axis=1)
            dyn = frames[k] @ w
            for tt, (v, a) in zip(times, dyn):
                dyn_rows.append((tid, tt, v, a))
    static = pd.DataFrame(static_rows, columns=["track_id", "valence", "arousal"])
    spec = LabelSpec(task="regression", static_targets=["valence", "arousal"], dynamic_targets=["valence", "arousal"],
                     scale=(-1.0, 1.0), scale_name="-1..1", dynamic_hop_s=0.5)
    if task in ("classification", "multitask"):
        q = np.where(static["valence"] >= 0, np.where(static["arousal"] >= 0, "Q1", "Q4"),
                     np.where(static["arousal"] >= 0, "Q2", "Q3"))
        static["quadrant"] = q
        spec.class_column, spec.classes = "quadrant", ["Q1", "Q2", "Q3", "Q4"]
        if task == "classification":  # one label kind, as 4Q (multi-kind datasets: test_datasets_folder.py)
            spec.task, spec.static_targets = "classification", []
    if task in ("tagging", "multitask"):
        static["happy"] = (static["valence"] > 0).astype(int)
        static["calm"] = (static["arousal"] < 0).astype(int)
        spec.tags = ["happy", "calm"]
        if task == "tagging":  # one label kind, as MTG-Jamendo
            spec.task, spec.static_targets = "tagging", []
    manifest = pd.DataFrame({"track_id": ids, "audio_path": [f"{t}.wav" for t in ids], "duration_s": duration_s})
    dyn_df = pd.DataFrame(dyn_rows, columns=["track_id", "time_s", "valence", "arousal"]) if dynamic else None
    PreparedDataset("synthetic", manifest, static, spec, dynamic_labels=dyn_df).write(folder / "prepared")
    return store_path, folder / "prepared"


def store_for_prepared(prepared_dir: Path, store_path: Path, *, noise: float = 0.1, n_noise: int = 3, seed: int = 0,
                       extractor: str = "synthetic",
                       duration_s: float = 4.0) -> Path:
    """A feature store for every track of a prepared folder whose static features are its
    numeric labels (regression targets, tags, a one-hot class) plus noise — a stand-in for
    extraction, so a prepared dataset trains in a test without decoding audio."""
    prepared = PreparedDataset.read(prepared_dir)
    spec = prepared.spec
    labels = prepared.static_labels.set_index("track_id")
    numeric = [c for c in [*spec.static_targets, *spec.tags] if c in labels.columns]
    classes = [str(c) for c in spec.classes]
    names = numeric + [f"class_{c}" for c in classes] + [f"noise{j}" for j in range(n_noise)]
    rng = np.random.default_rng(seed)
    start, end = frame_grid(duration_s)
    with FeatureStoreWriter(store_path, feature_names=names, frame_shape=(len(names),), extractor=extractor,
                            extractor_version="1", config={"seed": seed}, dataset=prepared.name,
                            sample_rate=22050) as writer:
        for tid in prepared.manifest["track_id"]:
            row = labels.loc[tid] if tid in labels.index else None
            values = [float(row[c]) if row is not None and pd.notna(row[c]) else 0.0 for c in numeric]
            values += [float(row is not None and str(row[spec.class_column]) == c) for c in classes]
            static = np.asarray(values + [0.0] * n_noise) + noise * rng.normal(size=len(names))
            frames = np.repeat(static[None, :], len(start), axis=0)
            writer.append(tid, duration_s, static, frames, start, end)
    return store_path


def train_each(store: Path, prepared: Path, models: dict, out_root: Path) -> dict:
    """Every model of ``models`` (name → settings) trained by 2-fold CV on a tiny synthetic run
    into ``out_root/<name>``; the folders, by name."""
    from moodflow.train.run import train_and_evaluate

    out = {}
    for name, params in models.items():
        out[name] = out_root / name
        train_and_evaluate(**FEW_TRACKS, store_path=store, prepared_dir=prepared, feature_set="synthetic",
                           model_name=name, model_config=params, protocol={"kind": "kfold", "folds": 2}, seed=0,
                           out_dir=out[name])
    return out
