"""The report's cross-corpus matrices (``train.protocol.kind: cross``): rows the dataset a model
was trained on, columns the dataset it was tested on, each cell on the test dataset's own scale;
the diagonal is that dataset's own k-fold CV figure, for comparison. Recomputed from the run's
predictions.csv (every fold, :func:`moodflow.evaluation.cross.cross_matrix`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from moodflow.evaluation.cross import cross_matrix
from moodflow.report.document import Paragraph, Plain, Row, Section, Table
from moodflow.report.tables import Run, read_predictions

_TITLES = {"r2": "R²", "pr_auc": "PR-AUC", "macro_f1": "macro F1"}


def is_cross(run: Run) -> bool:
    return (run.manifest.get("protocol") or {}).get("kind") == "cross"


def run_matrix(run: Run) -> dict[str, Any]:
    """The run's matrix from every held-out row it saved."""
    protocol = run.manifest.get("protocol") or {}
    predictions = read_predictions(run.folder / "predictions.csv")
    return cross_matrix(predictions, run.manifest.get("members") or {}, list(protocol.get("train_on") or []),
                        list(protocol.get("test_on") or []))


def cross_section(runs: list[Run]) -> Section | None:
    """The "Cross-corpus evaluation" section for the cross runs among ``runs`` (None when none)."""
    crossed = [r for r in runs if r.ok and is_cross(r)]
    if not crossed:
        return None
    children: list[Any] = [Paragraph([
        "Trained on one dataset (rows: all its labelled tracks), tested on another (columns: all its labelled "
        "tracks), each score on the test dataset's own label scale; the diagonal (CV) is the dataset's own "
        "k-fold cross-validation figure, for comparison. A cell is scored only for label kinds both datasets "
        "have; the number of test tracks is in brackets. Also in each model folder's cross.csv."])]
    for run in crossed:
        matrix = run_matrix(run)
        cells = matrix["cells"]
        rows_of = list(dict.fromkeys([*matrix["train_on"], *matrix["test_on"]]))
        for key in dict.fromkeys((c["task"], c["target"], c["metric"]) for c in cells):
            found = {(c["train"], c["test"]): c for c in cells if (c["task"], c["target"], c["metric"]) == key}
            columns = matrix["test_on"]
            rows = []
            for t in rows_of:
                if not any((t, u) in found for u in columns):
                    continue
                rows.append(Row([t] + [_cell(found.get((t, u))) for u in columns]))
            title = f"{run.feature_set}/{run.model}: {key[1]} {_TITLES.get(key[2], key[2])}"
            children.append(Paragraph([title]))
            children.append(Table(["trained on ↓ / tested on →"] + list(columns), rows))
    return Section(["Cross-corpus evaluation"], 2, children)


def _cell(cell: dict[str, Any] | None) -> Plain:
    if cell is None or cell.get("value") is None or not np.isfinite(float(cell["value"])):
        return Plain("—")
    n = f" (n {int(cell['n_tracks'])})" if cell.get("n_tracks") else ""
    return Plain(f"{float(cell['value']):.3f}{n}" + (" CV" if cell["kind"] == "within" else ""))
