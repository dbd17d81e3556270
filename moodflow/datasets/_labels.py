"""Label tables of any shape, as researchers keep them: regression targets (each with its own
scale), a class column and mood tags (0/1 columns or one ``;``-separated column), in one CSV.

:func:`static_label_table` turns such a CSV (already read, with ``track_id``) into the prepared
``labels_static.csv`` columns and a :class:`LabelSpec` naming every label kind present. An
invalid value (not a number, outside its scale, a tag cell that is not 0/1) loses only that
label, with one warning naming the file, the column and the ids; a row with no usable label of
any kind is dropped (logged too).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from moodflow.datasets._common import format_ids, log, to_float
from moodflow.stores.prepared import LabelSpec
from moodflow.stores.scale import Scale, scale_text

TAG_SEPARATOR = ";"


def target_scales(targets: list[str], scale: tuple[float, float] | None, scales: Mapping[str, Any],
                  where: str) -> dict[str, tuple[float, float]]:
    """Per-target scales from ``scales`` (``{target: [lo, hi]}``) where they differ from ``scale``;
    a name in ``scales`` that is no target is an error (a typo would silently check nothing)."""
    unknown = sorted(set(scales) - set(targets))
    if unknown:
        raise ValueError(f"{where}.scales: {unknown} are not among the targets {targets}")
    out = {}
    for target, value in scales.items():
        parsed = Scale.parse(value, f"{where}.scales.{target}")
        if parsed is not None and parsed != scale:
            out[target] = parsed
    return out


def _blank_invalid(frame: pd.DataFrame, column: str, scale: tuple[float, float] | None, path: Path,
                   dataset: str) -> pd.DataFrame:
    """NaN for the values of ``column`` outside ``scale`` (logged with the ids)."""
    if scale is None:
        return frame
    lo, hi = scale
    tol = 1e-6 * (hi - lo)
    values = frame[column].to_numpy(float)
    with np.errstate(invalid="ignore"):
        out = (values < lo - tol) | (values > hi + tol)
    if out.any():
        log.warning("%s: %s: %d value(s) of %r outside the scale [%g, %g] dropped (ids: %s)", dataset, path,
                    int(out.sum()), column, lo, hi, format_ids(frame["track_id"][out]))
        frame = frame.copy()
        frame.loc[out, column] = np.nan
    return frame


def _tag_columns(table: pd.DataFrame, tags: list[str], tags_column: str, path: Path,
                 dataset: str) -> tuple[pd.DataFrame, list[str]]:
    """0/1 tag columns (float, NaN where a cell is not 0/1) and the tag names, in order."""
    out = pd.DataFrame({"track_id": table["track_id"]})
    names: list[str] = []
    if tags:
        numeric = to_float(table[["track_id", *tags]], tags, path, dataset)
        for tag in tags:
            values = numeric[tag].to_numpy(float)
            bad = ~np.isnan(values) & ~np.isin(values, (0.0, 1.0))
            if bad.any():
                log.warning("%s: %s: %d value(s) of tag column %r are not 0/1 and were dropped (ids: %s)", dataset,
                            path, int(bad.sum()), tag, format_ids(table["track_id"][bad]))
                values = np.where(bad, np.nan, values)
            out[tag] = values
        names += tags
    if tags_column:
        if tags_column not in table.columns:
            raise ValueError(f"dataset {dataset!r}: {path} has no tags column {tags_column!r} "
                             f"(columns: {list(table.columns)})")
        cells = [[t.strip() for t in str(cell).split(TAG_SEPARATOR) if t.strip()] for cell in table[tags_column]]
        vocab = sorted({t for tags_of in cells for t in tags_of} - set(names))
        for tag in vocab:
            out[tag] = [1.0 if tag in tags_of else 0.0 for tags_of in cells]
        names += vocab
    return out, names


def static_label_table(table: pd.DataFrame, path: Path, dataset: str, *, targets: list[str],
                       scale: tuple[float, float] | None, scales: dict[str, tuple[float, float]],
                       class_column: str = "", tags: list[str] | None = None,
                       tags_column: str = "") -> tuple[pd.DataFrame, LabelSpec]:
    """The prepared static labels (track_id, targets…, class column, tags…) and their spec.

    ``table`` has ``track_id`` and the named columns as strings; ``scales`` overrides ``scale``
    per target. The spec's ``task`` is the first kind present: regression, classification,
    tagging.
    """
    tags = list(tags or [])
    missing = [c for c in [*targets, *([class_column] if class_column else []), *tags] if c not in table.columns]
    if missing:
        raise ValueError(f"dataset {dataset!r}: {path} has no column(s) {missing} (columns: {list(table.columns)})")
    out = to_float(table[["track_id", *targets]], targets, path, dataset) if targets else table[["track_id"]].copy()
    for target in targets:
        empty = out[target].isna().to_numpy()
        if empty.any():
            log.warning("%s: %s: %d track(s) without a value of %r lose that label only (ids: %s)", dataset, path,
                        int(empty.sum()), target, format_ids(out["track_id"][empty]))
        out = _blank_invalid(out, target, scales.get(target, scale), path, dataset)
    # a track keeps every usable label: a NaN in one target loses only that target (docs/datasets.md)
    complete = out[targets].notna().any(axis=1) if targets else pd.Series(False, index=out.index)
    classes: list[str] = []
    if class_column:
        values = table[class_column].where(table[class_column] != "", None)
        out[class_column] = values
        classes = sorted({str(v) for v in values.dropna()})
        complete |= values.notna()
    tag_table, tag_names = _tag_columns(table, tags, tags_column, path, dataset)
    clash = sorted(set(tag_names) & ({"track_id", class_column, *targets} - {""}))
    if clash:
        raise ValueError(f"dataset {dataset!r}: {path}: tag(s) {clash} have the name of a target or class column")
    for tag in tag_names:
        out[tag] = tag_table[tag].to_numpy()
    if tag_names:
        complete |= out[tag_names].notna().all(axis=1)
    if not complete.all():
        log.warning("%s: %s: %d row(s) without any usable label dropped (ids: %s)", dataset, path,
                    int((~complete).sum()), format_ids(out["track_id"][~complete]))
        out = out[complete.to_numpy()].reset_index(drop=True)
    task = "regression" if targets else "classification" if class_column else "tagging" if tag_names else "regression"
    spec = LabelSpec(task=task, static_targets=list(targets), scale=scale, scale_name=scale_text(scale),
                     class_column=class_column or None, classes=classes, tags=tag_names,
                     target_scales=dict(scales))
    return out, spec
