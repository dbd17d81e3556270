"""The ``provided`` feature set: features a dataset ships (or any user CSV) imported into a store.

Sources, in order of precedence:

1. ``features.provided.static_csv`` / ``dynamic_csv`` (relative paths resolve against the
   working directory, i.e. the repository root under DVC): any CSV with a track-id column and
   numeric feature columns; a dynamic CSV also has a frame-time column.
2. What the dataset adapter recorded in ``dataset.json`` → ``info.provided_features``
   (PMEmo: ``features/static_features.csv`` and ``features/dynamic_features.csv``; 4Q:
   ``Features/top100_features.csv``, whose last column ``Quadrant`` is the label and is
   excluded through ``exclude_columns``). Non-numeric feature columns are an error, so a
   label column left in a user CSV is caught rather than learned from.

A store has one list of feature names for its static vectors and its frames, so ``part`` picks:
``static`` (static CSV, no frames), ``dynamic`` (dynamic CSV as frames; the static vector is
the mean of the track's frames), ``both`` (needs the same columns in both CSVs) or ``auto``
(both when the columns agree, else static when there is a static CSV, else dynamic). PMEmo
ships 6373 static and 260 dynamic columns, so ``auto`` gives its static features and
``part: dynamic`` its dynamic ones.

``feature_names()`` needs the sources before any track is read: call ``bind(prepared_dir)``
first; without it the importer binds ``data/prepared`` (the prepare stage's output) when it
exists, and ``import_tracks(prepared_dir)`` re-binds and checks the columns match.

Frame times: a CSV row at time ``t`` becomes a frame [t - w/2, t + w/2) with
``w = frame_win_s`` (0 = the grid's ``win_s``, 1 s), so frame centres equal the CSV times and
align with the labels by time (PMEmo's frameTime 15.5 → frame centre 15.5 s).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from moodflow.core.config import setting
from moodflow.stores.prepared import read_prepared_table
from moodflow.features import EXTRACTORS
from moodflow.features.base import DatasetFeatureImporter, TrackFeatures

log = logging.getLogger("moodflow.features.provided")

TIME_COLUMNS = ("frameTime", "frame_time", "time_s", "time", "timestamp")
PARTS = ("auto", "static", "dynamic", "both")
DEFAULT_PREPARED_DIR = "data/prepared"  # the prepare stage's output, relative to the repo root


@dataclass
class ProvidedConfig:
    """``features.provided`` settings; empty strings mean "what the dataset recorded"."""

    static_csv: str = ""  # per-track features CSV
    dynamic_csv: str = ""  # per-time features CSV
    id_column: str = ""  # the CSVs' track-id column
    time_column: str = ""  # the dynamic CSV's frame-time column
    part: str = "auto"  # static | dynamic | both | auto (module docstring)
    frame_win_s: float = setting(0.0, min=0.0)  # frame length around each CSV time; 0 = features.grid.win_s
    sep: str = ""  # CSV separator; "" = detected
    exclude_columns: list[str] = field(default_factory=list)  # CSV columns that are no features (labels)


def sniff_sep(path: Path) -> str:
    """The delimiter of a CSV's header line: the most frequent of ``,`` ``;`` and tab."""
    with open(path, encoding="utf-8-sig") as fh:
        header = fh.readline()
    counts = {sep: header.count(sep) for sep in (",", ";", "\t")}
    return max(counts, key=counts.get)


def read_feature_csv(
    path: Path, *, id_column: str = "", time_column: str | None = None, sep: str = "",
    exclude: list[str] | tuple[str, ...] = (),
) -> tuple[pd.Series, np.ndarray | None, list[str], np.ndarray]:
    """Read a feature CSV → (ids, times or None, feature names, values (n, F) float64).

    ``id_column`` empty means the first column. ``time_column`` None means no time column; ""
    means find one of :data:`TIME_COLUMNS` (an error when none is there). Columns in
    ``exclude`` (labels shipped in the same file, e.g. 4Q's ``Quadrant``) are not features.
    """
    if not path.is_file():
        raise FileNotFoundError(f"provided features: {path} not found")
    sep = sep or sniff_sep(path)
    header = pd.read_csv(path, sep=sep, nrows=0, skipinitialspace=True).columns
    names = [str(c).strip() for c in header]
    id_col = id_column or names[0]
    if id_col not in names:
        raise ValueError(f"provided features: {path} has no id column {id_col!r} (first columns: {names[:5]})")
    time_col = None
    if time_column is not None:
        time_col = time_column or next((c for c in TIME_COLUMNS if c in names), "")
        if time_col not in names:
            raise ValueError(f"provided features: {path} has no time column "
                             f"{time_column or ' / '.join(TIME_COLUMNS)!r} (first columns: {names[:5]})")
    table = pd.read_csv(path, sep=sep, skipinitialspace=True, dtype={header[names.index(id_col)]: str})
    table.columns = names
    feature_cols = [c for c in names if c not in (id_col, time_col) and c not in exclude]
    if not feature_cols:
        raise ValueError(f"provided features: {path} has no feature columns besides {id_col!r}")
    for col in feature_cols + ([time_col] if time_col else []):
        if not pd.api.types.is_numeric_dtype(table[col]):
            converted = pd.to_numeric(table[col], errors="coerce")
            bad = converted.isna() & table[col].notna() & (table[col].astype(str).str.strip() != "")
            if bad.any():
                raise ValueError(f"provided features: {path} column {col!r} is not numeric "
                                 f"(e.g. {table[col][bad].iloc[0]!r} for track {table[id_col][bad].iloc[0]!r})")
            table[col] = converted
    ids = table[id_col].astype(str).str.strip()
    ids = ids.where(~ids.str.fullmatch(r"\d+\.0+"), ids.str.split(".").str[0])
    times = table[time_col].to_numpy(dtype=np.float64) if time_col else None
    return ids.reset_index(drop=True), times, feature_cols, table[feature_cols].to_numpy(dtype=np.float64)


@EXTRACTORS.register
class ProvidedFeatures(DatasetFeatureImporter):
    """Imports a dataset's own feature CSVs (see the module docstring)."""

    name = "provided"
    version = "1"
    Config = ProvidedConfig

    def __init__(self, config: dict[str, Any] | None = None, grid=None):
        super().__init__(config, grid)
        if self.config.part not in PARTS:
            raise ValueError(f"features.provided.part must be one of {PARTS}, not {self.config.part!r}")
        self._sources: dict[str, Any] | None = None
        self._names: list[str] | None = None

    # -- sources -------------------------------------------------------------------------------

    def bind(self, prepared_dir: str | Path | None) -> dict[str, Any]:
        """Resolve which CSVs to read (config first, then the prepared dataset's record)."""
        recorded: dict[str, Any] = {}
        meta = Path(prepared_dir) / "dataset.json" if prepared_dir else None
        if meta is not None and meta.is_file():
            from moodflow.core.schema import read_json_file

            recorded = read_json_file(meta, "dataset").get("info", {}).get("provided_features") or {}
        cfg = self.config
        user = bool(cfg.static_csv or cfg.dynamic_csv)
        src = {
            "static_csv": cfg.static_csv if user else recorded.get("static_csv", ""),
            "dynamic_csv": cfg.dynamic_csv if user else recorded.get("dynamic_csv", ""),
            "id_column": cfg.id_column or ("" if user else recorded.get("id_column", "")),
            "time_column": cfg.time_column or ("" if user else recorded.get("time_column", "")),
            "exclude_columns": list(cfg.exclude_columns) or ([] if user else recorded.get("exclude_columns", [])),
        }
        if not (src["static_csv"] or src["dynamic_csv"]):
            where = f"{meta}" if meta is not None else "(no prepared dataset given)"
            raise ValueError(
                "feature set 'provided': no feature CSV to import: the dataset records none in "
                f"{where} and features.provided.static_csv / dynamic_csv are empty"
            )
        src["part"] = self._choose_part(src)
        self._sources = src
        self._names = None
        return src

    def _choose_part(self, src: dict[str, Any]) -> str:
        part, has_s, has_d = self.config.part, bool(src["static_csv"]), bool(src["dynamic_csv"])
        need = {"static": has_s, "dynamic": has_d, "both": has_s and has_d}
        if part != "auto":
            if not need[part]:
                raise ValueError(f"features.provided.part={part!r} but the sources are {src}")
            return part
        if has_s and has_d:
            same = self._header(src["static_csv"], src, None) == self._header(src["dynamic_csv"], src, "")
            if not same:
                log.info("provided: static and dynamic CSVs have different columns; importing the static "
                         "ones (set features.provided.part: dynamic for the frames)")
            return "both" if same else "static"
        return "static" if has_s else "dynamic"

    def _header(self, csv: str, src: dict[str, Any], time_column: str | None) -> list[str]:
        path = Path(csv)
        sep = self.config.sep or sniff_sep(path)
        names = [str(c).strip() for c in pd.read_csv(path, sep=sep, nrows=0, skipinitialspace=True).columns]
        id_col = src["id_column"] or names[0]
        time_col = None
        if time_column is not None:
            time_col = src["time_column"] or next((c for c in TIME_COLUMNS if c in names), None)
        return [c for c in names if c not in (id_col, time_col) and c not in src["exclude_columns"]]

    # -- Extractor API -------------------------------------------------------------------------

    def feature_names(self) -> list[str]:
        if self._names is None:
            if self._sources is None:
                # the extract stage asks for the names before import_tracks(prepared_dir); it runs
                # from the repository root, where the prepare stage wrote DEFAULT_PREPARED_DIR
                default = Path(DEFAULT_PREPARED_DIR)
                self.bind(default if (default / "dataset.json").is_file() else None)
            src = self._sources
            use_static = src["part"] in ("static", "both")
            self._names = self._header(src["static_csv"] if use_static else src["dynamic_csv"], src,
                                       None if use_static else "")
        return list(self._names)

    def import_tracks(self, prepared_dir: str) -> Iterator[tuple[str, float, TrackFeatures]]:
        """Yield (track_id, duration_s, TrackFeatures) for every track in the CSV(s), in file order."""
        src = self.bind(prepared_dir)
        names = self.feature_names()
        part = src["part"]
        static_rows: dict[str, np.ndarray] = {}
        order: list[str] = []
        if part in ("static", "both"):
            path = Path(src["static_csv"])
            ids, _, cols, values = read_feature_csv(path, id_column=src["id_column"], sep=self.config.sep,
                                                    exclude=src["exclude_columns"])
            self._check_names(path, cols, names)
            dup = ids.duplicated()
            if dup.any():
                log.warning("provided: %s: %d duplicated track id(s), first row kept: %s",
                            path, int(dup.sum()), sorted(set(ids[dup]))[:10])
            for tid, row in zip(ids[~dup], values[~dup.to_numpy()]):
                static_rows[tid] = row
            order = list(static_rows)
        frames: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if part in ("dynamic", "both"):
            frames = self._read_frames(Path(src["dynamic_csv"]), src, names)
            order += [t for t in frames if t not in static_rows]
        durations = self._durations(prepared_dir)
        self._report_coverage(prepared_dir, order)
        half = (self.config.frame_win_s or self.grid.win_s) / 2.0
        n_feat = len(names)
        for tid in order:
            times, values = frames.get(tid, (np.zeros(0), np.zeros((0, n_feat))))
            if tid in static_rows:
                static = static_rows[tid]
            elif len(values):
                static = np.nanmean(values, axis=0) if not np.isnan(values).all() else np.full(n_feat, np.nan)
            else:
                static = np.full(n_feat, np.nan)
            yield tid, durations.get(tid, float("nan")), TrackFeatures(
                static=static.astype(np.float32), frames=values.astype(np.float32),
                start_s=times - half, end_s=times + half,
            )

    # -- helpers -------------------------------------------------------------------------------

    @staticmethod
    def _check_names(path: Path, cols: list[str], names: list[str]) -> None:
        if cols != names:
            raise ValueError(f"provided features: {path} columns differ from the feature names "
                             f"({len(cols)} vs {len(names)}; first difference at "
                             f"{next((i for i, (a, b) in enumerate(zip(cols, names)) if a != b), min(len(cols), len(names)))})")

    def _read_frames(self, path: Path, src: dict[str, Any], names: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        ids, times, cols, values = read_feature_csv(path, id_column=src["id_column"],
                                                    time_column=src["time_column"], sep=self.config.sep,
                                                    exclude=src["exclude_columns"])
        self._check_names(path, cols, names)
        bad_time = np.isnan(times)
        if bad_time.any():
            log.warning("provided: %s: %d row(s) without a frame time dropped (ids: %s)",
                        path, int(bad_time.sum()), sorted(set(ids[bad_time]))[:10])
        table = pd.DataFrame({"id": ids, "t": times})[~bad_time]
        dup = table.duplicated(["id", "t"])
        if dup.any():
            log.warning("provided: %s: %d repeated (track, time) row(s), first kept (ids: %s)",
                        path, int(dup.sum()), sorted(set(table["id"][dup]))[:10])
        table = table[~dup]
        out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        first_seen = pd.unique(table["id"])
        for tid, group in table.groupby("id", sort=False):
            group = group.sort_values("t", kind="stable")
            out[tid] = (group["t"].to_numpy(), values[group.index.to_numpy()])
        return {t: out[t] for t in first_seen}

    @staticmethod
    def _durations(prepared_dir: str | Path | None) -> dict[str, float]:
        path = Path(prepared_dir) / "manifest.csv" if prepared_dir else None
        if path is None or not path.is_file():
            return {}
        manifest = read_prepared_table(path)
        if "duration_s" not in manifest.columns:
            return {}
        return dict(zip(manifest["track_id"], manifest["duration_s"].astype(float)))

    @staticmethod
    def _report_coverage(prepared_dir: str | Path | None, ids: list[str]) -> None:
        path = Path(prepared_dir) / "manifest.csv" if prepared_dir else None
        if path is None or not path.is_file():
            return
        manifest_ids = set(read_prepared_table(path)["track_id"])
        have = set(ids)
        lacking = sorted(manifest_ids - have)
        if lacking:
            log.warning("provided: %d of %d manifest tracks have no provided features: %s",
                        len(lacking), len(manifest_ids), lacking[:10])
        extra = len(have - manifest_ids)
        if extra:
            log.info("provided: %d track(s) in the feature CSV are not in the manifest (imported anyway)", extra)
