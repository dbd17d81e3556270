"""Published numbers to compare against (``moodflow/report/references.csv``, shipped in the package).

One row per (paper result, target, metric): ``id, dataset, task, target, metric, value, std,
scale, protocol_kind, protocol_folds, protocol_repeats, protocol, features, model, source,
note``. ``dataset`` uses moodflow's dataset names, ``task``/``target``/``metric`` the names of
our ``metrics.json`` so a paper number and ours line up by key. Values are fractions (a
macro F1 of 76.4 % is 0.764). Sources: ``shared/notes/references.md``.

R², Pearson r, Kendall's τ, F1 and AUCs do not change when labels are rescaled affinely;
RMSE scales with the width of the label range (−1..1 RMSE = 2 × 0–1 RMSE, 1–9 RMSE =
8 × 0–1 RMSE), so RMSEs are compared on the paper's scale (:func:`rescale`).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from moodflow.stores.scale import Scale, scale_text

SCALE_DEPENDENT = ("rmse", "rmse_song")
SPLIT_COVERAGE = 0.95  # share of a published test set that must have run for "same split"
# metrics where smaller is better; every other metric is "higher is better"
LOWER_IS_BETTER = frozenset(SCALE_DEPENDENT)
COLUMNS = [
    "id", "dataset", "task", "target", "metric", "value", "std", "scale", "protocol_kind",
    "protocol_folds", "protocol_repeats", "protocol", "features", "model", "feature_family", "model_family",
    "source", "note",
]


def load_references(path: str | Path | None = None) -> pd.DataFrame:
    """The references table (the packaged CSV unless ``path`` names another one)."""
    if path is None:
        with resources.files("moodflow.report").joinpath("references.csv").open("r", encoding="utf-8") as fh:
            table = pd.read_csv(fh, dtype=str, keep_default_na=False)
        where = "moodflow/report/references.csv"
    else:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        where = str(path)
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{where}: missing columns {missing}")
    for col in ("value", "std"):
        table[col] = pd.to_numeric(table[col].replace("", None), errors="raise")
    for col in ("protocol_folds", "protocol_repeats"):
        table[col] = pd.to_numeric(table[col].replace("", None)).astype("Int64")
    bad = table[table["value"].isna()]
    if len(bad):
        raise ValueError(f"{where}: rows without a value: {list(bad['id'])}")
    for scale in set(table["scale"]) - {""}:
        parse_scale(scale)  # fail early, naming the scale
    return table


def references_for(dataset: str, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """The rows published for ``dataset`` (moodflow's dataset name)."""
    table = load_references() if table is None else table
    return table[table["dataset"] == dataset].reset_index(drop=True)


parse_scale = Scale.parse  # "1-9" → (1, 9), "-1..1" → (-1, 1), "" → None
scale_name = scale_text  # (1, 9) or "1..9" → "1-9", (-1, 1) → "-1..1", None → ""


def rescale(value: float, metric: str, from_scale: Any, to_scale: Any) -> float:
    """``value`` of ``metric`` measured on labels in ``from_scale`` expressed on ``to_scale``.

    Only RMSE-like metrics change (by the ratio of the range widths); the others are
    returned as they are. Scales may be names (``"1-9"``) or (low, high) pairs.
    """
    if metric.removesuffix("_std") not in SCALE_DEPENDENT:
        return value
    src = parse_scale(from_scale) if isinstance(from_scale, str) else from_scale
    dst = parse_scale(to_scale) if isinstance(to_scale, str) else to_scale
    if src is None or dst is None:
        return value
    return float(value) * (dst[1] - dst[0]) / (src[1] - src[0])


def same_scale(a: Any, b: Any) -> bool:
    """Whether two scales (names or pairs) are the same range; unscaled metrics count as equal."""
    sa = parse_scale(a) if isinstance(a, str) else (tuple(float(v) for v in a) if a is not None else None)
    sb = parse_scale(b) if isinstance(b, str) else (tuple(float(v) for v in b) if b is not None else None)
    return sa is None or sb is None or sa == sb


def protocol_matches(ref: pd.Series | dict[str, Any], ours: dict[str, Any]) -> tuple[bool, str]:
    """Whether our evaluation protocol is the paper's, with a short reason.

    ``ours``: ``{"kind": split|kfold|stratified, "folds": n, "repeats": r}`` as run (see
    :func:`moodflow.report.tables.protocol_of`).
    """
    kind = ref["protocol_kind"]
    if kind in ("holdout", "other", ""):
        return False, f"paper: {ref['protocol'] or 'unknown protocol'}; ours: {describe_protocol(ours)}"
    if kind != ours.get("kind"):
        return False, f"paper: {kind}; ours: {describe_protocol(ours)}"
    if kind == "split":
        coverage = ours.get("test_coverage")
        if coverage is not None and coverage < SPLIT_COVERAGE:
            return False, (f"same split files, but only {coverage:.0%} of the published test set had features and "
                           f"labels (≥ {SPLIT_COVERAGE:.0%} needed)")
        return True, "same published split" + (f" ({coverage:.0%} of its test set)" if coverage is not None else "")
    folds, repeats = ref["protocol_folds"], ref["protocol_repeats"]
    if pd.notna(folds) and int(folds) != int(ours.get("folds", 0)):
        return False, f"paper: {int(folds)} folds; ours: {ours.get('folds')}"
    if pd.notna(repeats) and int(repeats) != int(ours.get("repeats", 1)):
        return False, f"paper: {int(repeats)} repeats; ours: {ours.get('repeats')}"
    return True, describe_protocol(ours)


def describe_protocol(p: dict[str, Any]) -> str:
    """Human-readable protocol: ``5-fold CV``, ``20 × 10-fold stratified CV``, ``published split``."""
    if p.get("kind") == "split":
        return "published split"
    reps = int(p.get("repeats", 1))
    text = f"{p.get('folds')}-fold {'stratified ' if p.get('kind') == 'stratified' else ''}CV"
    if p.get("group"):
        text += f" keeping each {p['group']} out"
    return f"{reps} × {text}" if reps > 1 else text
