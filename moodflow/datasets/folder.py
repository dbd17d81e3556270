"""Any folder of audio files, with or without labels (your own music, a new dataset).

Every ``.mp3 .wav .flac .ogg .m4a`` file under ``dataset.root`` (recursively) is a track whose id
is its path relative to the root without the extension (``album/01 song``). Labels are optional:

- ``labels``: a CSV (relative paths resolve against ``dataset.root``) with a ``track_id``
  column (or a ``file`` column holding the relative path with its extension) and either
  ``valence``/``arousal`` columns (regression, native scale given by ``scale: [lo, hi]``,
  default: no range check) or the class column named by ``class_column`` (classification).
- ``dynamic_labels``: a CSV with ``track_id`` (or ``file``), ``time_s``, ``valence``, ``arousal``.
- ``split_dir`` (``dataset.split_dir``, relative to the working directory): train/validation/test.txt.

Without labels the dataset is extraction-only: regression with no targets.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from moodflow.datasets import DATASETS
from moodflow.datasets._common import (
    format_ids, build_manifest, check_range, dataset_info, drop_duplicates, log, match_ids, read_split_dir,
    read_table, require_file, resolve, scan_audio, sort_dynamic, to_float,
)
from moodflow.datasets.base import AdapterConfig, DatasetAdapter
from moodflow.stores.prepared import LabelSpec, PreparedDataset

BIBTEX = ""
LICENSE_INFO = "Whatever licence the user's audio carries."
LAYOUT = {
    "audio": "<root>/**/*.{mp3,wav,flac,ogg,m4a}",
    "labels": "labels: CSV (track_id | file, valence, arousal | <class_column>), optional",
    "dynamic": "dynamic_labels: CSV (track_id | file, time_s, valence, arousal), optional",
}
LABEL_SCALE = "as configured (dataset.folder.scale)"
ANNOTATION_GRID = None
TARGETS = ["valence", "arousal"]
_ID_COLUMNS = ("track_id", "file")  # read as written: they name files


@dataclass
class FolderConfig(AdapterConfig):
    """``dataset.folder`` (see the module docstring)."""

    labels: str = ""
    dynamic_labels: str = ""
    scale: list[float] | str | None = None  # [low, high] or "low..high"; None = no range check
    class_column: str = ""


@DATASETS.register("folder")
class Folder(DatasetAdapter):
    """A folder of audio files plus optional label CSVs (see the module docstring)."""

    name = "folder"
    Config = FolderConfig

    def load(self, work_dir: Path) -> PreparedDataset:
        root = self.require_root()
        audio = scan_audio(root, recursive=True)
        scale = self._scale()
        static, spec = pd.DataFrame({"track_id": pd.Series([], dtype=str)}), LabelSpec(task="regression")
        if self.config.labels:
            static, spec = self._static_labels(resolve(self.config.labels, root), scale)

        dynamic = None
        if self.config.dynamic_labels:
            path = require_file(resolve(self.config.dynamic_labels, root), self.name, "dynamic labels")
            dyn = self._with_ids(read_table(path, self.name, verbatim=_ID_COLUMNS), path)
            targets = [c for c in TARGETS if c in dyn.columns]
            if "time_s" not in dyn.columns or not targets:
                raise ValueError(f"dataset 'folder': {path} needs columns time_s and valence and/or arousal "
                                 f"(columns: {list(dyn.columns)})")
            dyn = to_float(dyn[["track_id", "time_s", *targets]], ["time_s", *targets], path, self.name)
            dyn = drop_duplicates(dyn, ["track_id", "time_s"], path, self.name)
            dyn = check_range(check_range(dyn, ["time_s"], None, path, self.name), targets, scale, path, self.name)
            dynamic = sort_dynamic(dyn)
            hops = dynamic.groupby("track_id")["time_s"].diff().dropna()
            spec.dynamic_targets = targets
            spec.dynamic_hop_s = float(hops.median()) if len(hops) else None
            spec.dynamic_scale = scale
            spec.dynamic_scale_name = self._scale_name(scale)

        labelled_ids = set(static["track_id"]) | (set(dynamic["track_id"]) if dynamic is not None else set())
        matched = match_ids(labelled_ids, audio, f"folder: {self.config.labels or self.config.dynamic_labels}")
        static = static.assign(track_id=static["track_id"].map(lambda t: matched.get(t, t)))
        if dynamic is not None:
            dynamic = dynamic.assign(track_id=dynamic["track_id"].map(lambda t: matched.get(t, t)))
        no_audio = sorted(labelled_ids - set(matched))
        if no_audio:
            log.warning("folder: %d labelled id(s) match no audio file under %s, their labels dropped: %s",
                        len(no_audio), root, format_ids(no_audio))
            static = static[static["track_id"].isin(audio)].reset_index(drop=True)
            if dynamic is not None:
                dynamic = dynamic[dynamic["track_id"].isin(audio)].reset_index(drop=True)
        manifest = build_manifest({}, audio, self.name)
        splits = None
        if self.config.split_dir:
            splits = read_split_dir(self.config.split_dir, manifest["track_id"], self.name)
        info = dataset_info(sys.modules[__name__], root, labels=self.config.labels or None,
                            split_source=self.config.split_dir or None)
        return PreparedDataset(self.name, manifest, static, spec, dynamic_labels=dynamic, splits=splits, info=info)

    def _scale(self) -> tuple[float, float] | None:
        scale = self.config.scale
        if scale in (None, "", []):
            return None
        if isinstance(scale, str):
            match = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*(?:\.\.|,|-|to)\s*(-?\d+(?:\.\d+)?)\s*", scale)
            if not match:
                raise ValueError(f"dataset.folder.scale must be [low, high] or 'low..high', not {scale!r}")
            scale = match.groups()
        try:
            lo, hi = (float(v) for v in scale)
        except (TypeError, ValueError):
            raise ValueError(f"dataset.folder.scale must be [low, high], not {self.config.scale!r}") from None
        if not lo < hi:
            raise ValueError(f"dataset.folder.scale: low {lo} must be below high {hi}")
        return (lo, hi)

    @staticmethod
    def _scale_name(scale: tuple[float, float] | None) -> str:
        return f"{scale[0]:g}..{scale[1]:g}" if scale else ""

    def _with_ids(self, table: pd.DataFrame, path: Path) -> pd.DataFrame:
        """Add/normalise ``track_id`` from a ``track_id`` or ``file`` column."""
        if "track_id" in table.columns:
            table = table.copy()
            table["track_id"] = table["track_id"].str.replace("\\", "/")
            return table
        if "file" in table.columns:
            table = table.copy()
            table["track_id"] = [Path(f.replace("\\", "/")).with_suffix("").as_posix() for f in table["file"]]
            return table
        raise ValueError(f"dataset 'folder': {path} needs a 'track_id' or 'file' column (columns: {list(table.columns)})")

    def _static_labels(self, path: Path, scale: tuple[float, float] | None) -> tuple[pd.DataFrame, LabelSpec]:
        require_file(path, self.name, "labels CSV")
        table = self._with_ids(read_table(path, self.name, verbatim=_ID_COLUMNS), path)
        class_column = self.config.class_column
        if class_column:
            if class_column not in table.columns:
                raise ValueError(f"dataset 'folder': {path} has no class column {class_column!r} (columns: {list(table.columns)})")
            labels = table[["track_id", class_column]]
            labels = drop_duplicates(labels, ["track_id"], path, self.name)
            empty = labels[class_column] == ""
            if empty.any():
                log.warning("folder: %s: %d row(s) without a class dropped (ids: %s)", path, int(empty.sum()),
                            format_ids(labels["track_id"][empty]))
                labels = labels[~empty].reset_index(drop=True)
            classes = sorted(set(labels[class_column]))
            return labels, LabelSpec(task="classification", class_column=class_column, classes=classes)
        targets = [c for c in TARGETS if c in table.columns]
        if not targets:
            raise ValueError(f"dataset 'folder': {path} has neither valence/arousal columns nor a class_column "
                             f"setting (columns: {list(table.columns)})")
        labels = to_float(table[["track_id", *targets]], targets, path, self.name)
        labels = drop_duplicates(labels, ["track_id"], path, self.name)
        labels = check_range(labels, targets, scale, path, self.name)
        spec = LabelSpec(task="regression", static_targets=targets, scale=scale, scale_name=self._scale_name(scale))
        return labels, spec
