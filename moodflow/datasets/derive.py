"""Valence/arousal derived from mood tags, as Music2Emo gives MTG-Jamendo tracks V/A targets.

Each tag has a valence and an arousal score (a table: ``MoodTag, Valence, Arousal``); a track's
derived targets are the means over its tags that the table scores (a track with none gets no
derived value). The default table is Music2Emo's (``moodflow/datasets/data/music2emo_moodtag_va.csv``,
MIT, see the README beside it), on 1–9. Derived values are marked as such in the prepared dataset
(:mod:`moodflow.stores.derived`) and are never scored.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pandas as pd

from moodflow.stores.derived import DERIVED_COLUMN
from moodflow.stores.prepared import PreparedDataset

PACKAGED_TABLE = Path(__file__).parent / "data" / "music2emo_moodtag_va.csv"
TABLE_COLUMNS = ["MoodTag", "Valence", "Arousal"]
TABLE_SCALE = (1.0, 9.0)
MAX_TABLE_BYTES = 1 << 20
MAX_TABLE_ROWS = 10_000
SOURCE = "Music2Emo (Kang & Herremans, 2025), meta/moodtag_va_scores.csv, MIT"


def read_va_table(path: str | Path | None = None) -> pd.DataFrame:
    """The tag → (valence, arousal) table, checked: its three columns, one row per tag, finite
    scores on 1–9, at most 1 MiB. ``None`` or ``""``: the packaged Music2Emo table."""
    path = Path(path) if path else PACKAGED_TABLE
    where = f"dataset.jamendo.va_table {path}"
    if not path.is_file():
        raise FileNotFoundError(f"{where}: not a file")
    if path.stat().st_size > MAX_TABLE_BYTES:
        raise ValueError(f"{where}: larger than {MAX_TABLE_BYTES} bytes; a tag table is a few kB")
    try:
        table = pd.read_csv(path, dtype={"MoodTag": str}, nrows=MAX_TABLE_ROWS + 1)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{where}: not a readable CSV ({exc})") from None
    if list(table.columns) != TABLE_COLUMNS:
        raise ValueError(f"{where}: columns {list(table.columns)[:5]}, expected {TABLE_COLUMNS}")
    if len(table) > MAX_TABLE_ROWS:
        raise ValueError(f"{where}: more than {MAX_TABLE_ROWS} rows")
    table["MoodTag"] = table["MoodTag"].astype(str).str.strip()
    dup = table["MoodTag"][table["MoodTag"].duplicated()]
    if len(dup):
        raise ValueError(f"{where}: tag {dup.iloc[0]!r} listed twice")
    for col in ("Valence", "Arousal"):
        values = pd.to_numeric(table[col], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values) | (values < TABLE_SCALE[0]) | (values > TABLE_SCALE[1])
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{where}: {col} of {table['MoodTag'].iloc[row]!r} is {table[col].iloc[row]!r}, "
                             f"not a number on {TABLE_SCALE[0]:g}-{TABLE_SCALE[1]:g}")
        table[col] = values
    return table


def derive_va_from_tags(prepared: PreparedDataset, table_path: str | Path | None = None) -> PreparedDataset:
    """``prepared`` with valence/arousal targets (1–9) derived from its tags, marked as derived."""
    spec = prepared.spec
    if not spec.tags:
        raise ValueError(f"dataset {prepared.name!r}: derive_va: tags needs mood tags, and this dataset has none")
    if spec.static_targets:
        raise ValueError(f"dataset {prepared.name!r}: derive_va: tags would overwrite its annotated targets "
                         f"{spec.static_targets}")
    table = read_va_table(table_path).set_index("MoodTag")
    scored = [t for t in spec.tags if t in table.index]
    if not scored:
        raise ValueError(f"dataset {prepared.name!r}: none of its {len(spec.tags)} tags is in the V/A table "
                         f"({table_path or PACKAGED_TABLE.name})")
    labels = prepared.static_labels.copy()
    tags = labels[scored].to_numpy(dtype=float)
    counts = np.nansum(tags, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        for target, col in (("valence", "Valence"), ("arousal", "Arousal")):
            labels[target] = np.where(counts > 0, np.nansum(tags * table.loc[scored, col].to_numpy(), axis=1)
                                      / np.where(counts > 0, counts, 1), math.nan)
    labels[DERIVED_COLUMN] = (counts > 0).astype(np.int8)
    data = Path(table_path) if table_path else PACKAGED_TABLE
    info = dict(prepared.info)
    info["derived"] = {
        "targets": ["valence", "arousal"], "from": "tags", "column": DERIVED_COLUMN,
        "table": str(table_path) if table_path else f"moodflow/datasets/data/{PACKAGED_TABLE.name} ({SOURCE})",
        "table_sha256": hashlib.sha256(data.read_bytes()).hexdigest(), "scale": list(TABLE_SCALE),
        "n_tracks": int((counts > 0).sum()), "unscored_tags": [t for t in spec.tags if t not in table.index],
        "note": "mean of the table's scores over a track's tags; a training target, never scored",
    }
    new_spec = type(spec).from_dict({**spec.to_dict(), "static_targets": ["valence", "arousal"],
                                     "scale": list(TABLE_SCALE), "scale_name": "1-9"})
    return PreparedDataset(prepared.name, prepared.manifest, labels, new_spec, dynamic_labels=prepared.dynamic_labels,
                           splits=prepared.splits, info=info)
