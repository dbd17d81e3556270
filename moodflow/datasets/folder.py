"""Any folder of audio files, with or without labels (your own music, a new dataset).

Every ``.mp3 .wav .flac .ogg .m4a`` file under ``dataset.root`` (recursively) is a track whose id
is its path relative to the root without the extension (``album/01 song``). Labels are optional,
and one CSV may hold any combination of kinds (docs/datasets.md):

- ``labels``: a CSV (relative paths resolve against ``dataset.root``) with a ``track_id``
  column (or a ``file`` column holding the relative path with its extension) and
  - ``targets: [col, …]``: regression targets, any names and number (default: ``valence`` /
    ``arousal`` when present and no other kind is set); ``scale: [lo, hi]`` checks them all,
    ``scales: {col: [lo, hi]}`` gives a target its own;
  - ``class_column``: one class per track (classification);
  - ``tags: [col, …]`` (0/1 columns) and/or ``tags_column`` (``happy;calm``): mood tags;
  - ``metadata: [col, …]``: columns kept in the manifest (a grouping for ``train.protocol.group``).
- ``dynamic_labels``: a CSV with ``track_id`` (or ``file``), ``time_s`` and per-time targets (the
  ``targets`` found in it, else every other column).
- ``split_dir`` (``dataset.split_dir``, relative to the working directory): train/validation/test.txt.

Without labels the dataset is extraction-only: prepare, decode and extract run; the train stages
write "no labels: nothing to train".
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from moodflow.datasets import DATASETS
from moodflow.datasets._common import (
    format_ids, build_manifest, check_range, dataset_info, drop_duplicates, log, match_ids, read_split_dir,
    read_table, require_file, resolve, scan_audio, sort_dynamic, to_float,
)
from moodflow.datasets._labels import static_label_table, target_scales
from moodflow.datasets.base import AdapterConfig, DatasetAdapter
from moodflow.stores.prepared import LabelSpec, PreparedDataset
from moodflow.stores.scale import Scale, scale_text

BIBTEX = ""
LICENSE_INFO = "Whatever licence the user's audio carries."
LAYOUT = {
    "audio": "<root>/**/*.{mp3,wav,flac,ogg,m4a}",
    "labels": "labels: CSV (track_id | file, <targets…>, <class_column>, <tags…> | <tags_column>), optional",
    "dynamic": "dynamic_labels: CSV (track_id | file, time_s, <targets…>), optional",
}
LABEL_SCALE = "as configured (dataset.folder.scale, dataset.folder.scales)"
ANNOTATION_GRID = None
DEFAULT_TARGETS = ["valence", "arousal"]
_ID_COLUMNS = ("track_id", "file")  # read as written: they name files


@dataclass
class FolderConfig(AdapterConfig):
    """``dataset.folder`` (see the module docstring)."""

    labels: str = ""  # static labels CSV (relative to dataset.root); "" = none
    dynamic_labels: str = ""  # per-time labels CSV (track_id, time_s, targets); "" = none
    targets: list[str] = field(default_factory=list)  # regression columns; [] = valence/arousal when present
    scale: list[float] | str | None = None  # [low, high] or "low..high"; None = no range check
    scales: dict[str, Any] = field(default_factory=dict)  # {target: [low, high]}: a target's own scale
    class_column: str = ""  # labels-CSV column with one class per track; "" = none
    tags: list[str] = field(default_factory=list)  # 0/1 tag columns
    tags_column: str = ""  # one column of ";"-separated tags
    metadata: list[str] = field(default_factory=list)  # label-CSV columns kept in the manifest


@DATASETS.register
class Folder(DatasetAdapter):
    """A folder of audio files plus optional label CSVs (see the module docstring)."""

    name = "folder"
    Config = FolderConfig

    def load(self, work_dir: Path) -> PreparedDataset:
        root = self.require_root()
        audio = scan_audio(root, recursive=True)
        scale = Scale.parse(self.config.scale, f"dataset.{self.name}.scale")
        static, spec = pd.DataFrame({"track_id": pd.Series([], dtype=str)}), LabelSpec(task="regression")
        metadata = pd.DataFrame({"track_id": pd.Series([], dtype=str)})
        if self.config.labels:
            static, spec, metadata = self._static_labels(resolve(self.config.labels, root), scale)
        elif self.config.metadata or self.config.class_column or self.config.tags or self.config.tags_column:
            raise ValueError("dataset.folder: metadata, class_column, tags and tags_column name columns of "
                             "dataset.folder.labels, which is not set")

        dynamic = None
        if self.config.dynamic_labels:
            dynamic = self._dynamic_labels(resolve(self.config.dynamic_labels, root), scale, spec)

        labelled_ids = set(static["track_id"]) | (set(dynamic["track_id"]) if dynamic is not None else set())
        matched = match_ids(labelled_ids, audio, f"folder: {self.config.labels or self.config.dynamic_labels}")
        rename = lambda t: matched.get(t, t)  # noqa: E731
        static = static.assign(track_id=static["track_id"].map(rename))
        metadata = metadata.assign(track_id=metadata["track_id"].map(rename))
        if dynamic is not None:
            dynamic = dynamic.assign(track_id=dynamic["track_id"].map(rename))
        no_audio = sorted(labelled_ids - set(matched))
        if no_audio:
            log.warning("folder: %d labelled id(s) match no audio file under %s, their labels dropped: %s",
                        len(no_audio), root, format_ids(no_audio))
            static = static[static["track_id"].isin(audio)].reset_index(drop=True)
            if dynamic is not None:
                dynamic = dynamic[dynamic["track_id"].isin(audio)].reset_index(drop=True)
        manifest = build_manifest({}, audio, self.name)
        if len(metadata.columns) > 1:
            manifest = manifest.merge(metadata.drop_duplicates("track_id"), on="track_id", how="left")
        splits = None
        if self.config.split_dir:
            splits = read_split_dir(self.config.split_dir, manifest["track_id"], self.name)
        info = dataset_info(sys.modules[__name__], root, labels=self.config.labels or None,
                            split_source=self.config.split_dir or None)
        return PreparedDataset(self.name, manifest, static, spec, dynamic_labels=dynamic, splits=splits, info=info)

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

    def _static_labels(self, path: Path, scale: tuple[float, float] | None
                       ) -> tuple[pd.DataFrame, LabelSpec, pd.DataFrame]:
        require_file(path, self.name, "labels CSV")
        table = self._with_ids(read_table(path, self.name, verbatim=_ID_COLUMNS), path)
        c = self.config
        targets = list(c.targets)
        if not targets and not (c.class_column or c.tags or c.tags_column):
            targets = [t for t in DEFAULT_TARGETS if t in table.columns]
            if not targets:
                raise ValueError(f"dataset 'folder': {path} has no valence/arousal columns and no targets, "
                                 f"class_column, tags or tags_column setting names its labels "
                                 f"(columns: {list(table.columns)})")
        named = [("target", t) for t in targets] + [("class", c.class_column)] + [("tag", t) for t in c.tags]
        named += [("tags", c.tags_column)] + [("metadata", m) for m in c.metadata]
        for what, column in named:
            if column and column not in table.columns:
                raise ValueError(f"dataset 'folder': {path} has no {what} column {column!r} "
                                 f"(columns: {list(table.columns)})")
        used = [*targets, *([c.class_column] if c.class_column else []), *c.tags,
                *([c.tags_column] if c.tags_column else [])]
        table = table[["track_id", *dict.fromkeys(used + c.metadata)]].copy()
        # numbers compared as numbers: "0.0" and "-0.0" written twice are one identical duplicate
        table = drop_duplicates(to_float(table, [*targets, *c.tags], path, self.name), ["track_id"], path, self.name)
        scales = target_scales(targets, scale, c.scales, "dataset.folder")
        labels, spec = static_label_table(table, path, self.name, targets=targets, scale=scale, scales=scales,
                                          class_column=c.class_column, tags=list(c.tags), tags_column=c.tags_column)
        return labels, spec, table[["track_id", *c.metadata]]

    def _dynamic_labels(self, path: Path, scale: tuple[float, float] | None, spec: LabelSpec) -> pd.DataFrame:
        require_file(path, self.name, "dynamic labels")
        dyn = self._with_ids(read_table(path, self.name, verbatim=_ID_COLUMNS), path)
        others = [col for col in dyn.columns if col not in ("track_id", "file", "time_s")]
        targets = [t for t in (self.config.targets or others) if t in dyn.columns]
        if "time_s" not in dyn.columns or not targets:
            raise ValueError(f"dataset 'folder': {path} needs a time_s column and at least one target column "
                             f"(targets: {self.config.targets or 'any'}; columns: {list(dyn.columns)})")
        dyn = to_float(dyn[["track_id", "time_s", *targets]], ["time_s", *targets], path, self.name)
        dyn = drop_duplicates(dyn, ["track_id", "time_s"], path, self.name)
        dyn = check_range(dyn, ["time_s"], None, path, self.name)
        scales = target_scales(targets, scale, {k: v for k, v in self.config.scales.items() if k in targets},
                               "dataset.folder")
        for target in targets:
            dyn = check_range(dyn, [target], scales.get(target, scale), path, self.name)
        dynamic = sort_dynamic(dyn)
        hops = dynamic.groupby("track_id")["time_s"].diff().dropna()
        spec.dynamic_targets = targets
        spec.dynamic_hop_s = float(hops.median()) if len(hops) else None
        spec.dynamic_scale = scale
        spec.dynamic_scale_name = scale_text(scale)
        spec.target_scales = {**scales, **spec.target_scales}
        return dynamic
