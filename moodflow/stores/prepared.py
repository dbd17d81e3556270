"""The prepared dataset: what the ``prepare`` stage writes and every later stage reads.

One folder (``data/prepared``)::

    manifest.csv        track_id, audio_path, duration_s (NaN when unknown), then any metadata
                        columns (emotify's genre; a folder's ``metadata``: usable as
                        ``train.protocol.group``)
    labels_static.csv   track_id + one column per static label: regression targets (any
                        names), the class column, one 0/1 column per mood tag (any mix)
    labels_dynamic.csv  track_id, time_s, + dynamic targets (absent when none)
    splits.csv          track_id, split (train | validation | test), published splits only
    dataset.json        name, root, LabelSpec, and the adapter's notes (citation, grid, scale)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from moodflow.stores.scale import scale_text


@dataclass
class LabelSpec:
    """How to read a dataset's labels.

    ``task`` is the main kind: ``regression`` (any named targets), ``classification`` (one class
    column) or ``tagging`` (multi-label 0/1 columns); a dataset may carry several kinds at once
    (``static_targets``, ``class_column``, ``tags``), which the multitask model trains together. ``scale`` is the native (low, high) range of the
    regression targets, kept as the dataset ships it; ``scale_name`` names it in the one spelling
    of :class:`moodflow.stores.scale.Scale` ("1-9", "0-1", "-1..1").
    """

    task: str = "regression"
    static_targets: list[str] = field(default_factory=list)
    dynamic_targets: list[str] = field(default_factory=list)
    scale: tuple[float, float] | None = None
    scale_name: str = ""
    class_column: str | None = None
    classes: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    dynamic_hop_s: float | None = None
    # Dynamic labels may use another scale than the static ones (DEAM/emoMusic: static 1-9,
    # dynamic -1..1); None means "same as ``scale``".
    dynamic_scale: tuple[float, float] | None = None
    dynamic_scale_name: str = ""
    # Per-target (low, high) where a target's scale differs from ``scale`` (a folder of GEMS
    # shares on 0-1 next to tension on 1-7); targets not listed use ``scale``/``dynamic_scale``.
    target_scales: dict[str, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # one spelling of every scale name ("1..9" from a folder's settings reads "1-9", as the papers')
        self.scale_name = scale_text(self.scale_name)
        self.dynamic_scale_name = scale_text(self.dynamic_scale_name)

    @property
    def has_labels(self) -> bool:
        """Whether there is anything to train on (static targets, classes, tags or dynamic targets)."""
        return bool(self.static_targets or self.class_column or self.tags or self.dynamic_targets)

    def scale_of(self, target: str, dynamic: bool = False) -> tuple[float, float] | None:
        """The native (low, high) range of one regression target."""
        if target in self.target_scales:
            return tuple(self.target_scales[target])
        return (self.dynamic_scale or self.scale) if dynamic else self.scale

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("scale", "dynamic_scale"):
            d[key] = list(d[key]) if d[key] is not None else None
        d["target_scales"] = {k: list(v) for k, v in self.target_scales.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LabelSpec":
        d = dict(d)
        for key in ("scale", "dynamic_scale"):
            if d.get(key) is not None:
                d[key] = tuple(d[key])
        d["target_scales"] = {k: tuple(v) for k, v in (d.get("target_scales") or {}).items()}
        return cls(**d)


@dataclass
class PreparedDataset:
    """Manifest + labels of one dataset, in the pipeline's own tables."""

    name: str
    manifest: pd.DataFrame
    static_labels: pd.DataFrame
    spec: LabelSpec
    dynamic_labels: pd.DataFrame | None = None
    splits: pd.DataFrame | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for col in ("track_id", "audio_path"):
            if col not in self.manifest.columns:
                raise ValueError(f"{self.name}: manifest lacks column {col!r}")
        self.manifest = self.manifest.copy()
        self.manifest["track_id"] = self.manifest["track_id"].astype(str)
        if "duration_s" not in self.manifest.columns:
            self.manifest["duration_s"] = np.nan
        for frame in (self.static_labels, self.dynamic_labels, self.splits):
            if frame is not None:
                frame["track_id"] = frame["track_id"].astype(str)
        dup = self.manifest["track_id"][self.manifest["track_id"].duplicated()]
        if len(dup):
            raise ValueError(f"{self.name}: duplicate track ids in manifest: {sorted(set(dup))[:5]}")

    def write(self, folder: str | Path) -> None:
        """Write the tables into ``folder`` (the prepare stage makes the folder atomic)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.manifest.to_csv(folder / "manifest.csv", index=False)
        self.static_labels.to_csv(folder / "labels_static.csv", index=False)
        if self.dynamic_labels is not None:
            self.dynamic_labels.to_csv(folder / "labels_dynamic.csv", index=False)
        if self.splits is not None:
            self.splits.to_csv(folder / "splits.csv", index=False)
        meta = {"name": self.name, "spec": self.spec.to_dict(), "info": self.info}
        (folder / "dataset.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")

    @classmethod
    def read(cls, folder: str | Path) -> "PreparedDataset":
        """Read a folder written by :meth:`write`."""
        from moodflow.core.schema import read_json_file

        folder = Path(folder)
        meta = read_json_file(folder / "dataset.json", "dataset")
        read = lambda name: read_prepared_table(folder / name) if (folder / name).exists() else None  # noqa: E731
        return cls(
            name=meta["name"],
            manifest=read("manifest.csv"),
            static_labels=read("labels_static.csv"),
            dynamic_labels=read("labels_dynamic.csv"),
            splits=read("splits.csv"),
            spec=LabelSpec.from_dict({k: v for k, v in meta["spec"].items() if k in LabelSpec.__dataclass_fields__}),
            info=meta.get("info", {}),
        )


_NA_STRINGS = ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
               "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"]


def read_prepared_table(path: Path) -> pd.DataFrame:
    """Read a prepared CSV keeping ``track_id`` verbatim (ids like "NA" or "null" stay strings)."""
    columns = pd.read_csv(path, nrows=0).columns
    na = {c: _NA_STRINGS for c in columns if c != "track_id"}
    return pd.read_csv(path, dtype={"track_id": str}, keep_default_na=False, na_values=na)
