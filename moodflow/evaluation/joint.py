"""Per-dataset evaluation of a model trained on a joint dataset (several datasets at once).

The held-out predictions of a joint run are on the training scale (``moodflow.stores.labelspace``);
each member's rows are mapped back to its own scale and scored alone, with the same metrics as a
single-dataset run, so ``metrics.json`` → ``datasets.<member>`` is comparable with that dataset's
papers. A member with too few held-out tracks in some fold reports its reason instead of numbers.
"""

from __future__ import annotations

from typing import Any, Mapping

import pandas as pd

from moodflow.evaluation.summary import metrics_from_predictions, nan_to_none
from moodflow.stores.labelspace import member_of, to_native


def native_predictions(predictions: pd.DataFrame, member: Mapping[str, Any]) -> pd.DataFrame:
    """One member's prediction rows with y_true / y_pred back on the member's own scale."""
    rows = predictions.copy()
    for part in ("static", "dynamic"):
        sel = (rows["task"] == part).to_numpy()
        if sel.any():
            for col in ("y_true", "y_pred"):
                rows.loc[sel, col] = to_native(rows.loc[sel, col].to_numpy(dtype=float), member, part)
    return rows


def per_dataset_metrics(predictions: pd.DataFrame, members: Mapping[str, Mapping[str, Any]],
                        min_test: int = 5) -> dict[str, Any]:
    """``{member: metrics on its own scale}`` (or ``{"status": reason}``) for a joint run."""
    datasets = member_of(predictions["track_id"])
    out: dict[str, Any] = {}
    for name, member in members.items():
        rows = predictions[datasets == name]
        if not len(rows):
            out[name] = {"status": "no held-out prediction (no track of this dataset has the model's labels)"}
            continue
        per_fold = rows.groupby("fold")["track_id"].nunique()
        if int(per_fold.min()) < min_test:
            out[name] = {"status": f"insufficient data: a test fold holds {int(per_fold.min())} of its tracks "
                                   f"(train.min_test = {min_test})"}
            continue
        classes = member.get("classes") or None
        out[name] = nan_to_none(metrics_from_predictions(native_predictions(rows, member), classes))
        out[name]["scale"] = member.get("scale_name") or ""
    return out
