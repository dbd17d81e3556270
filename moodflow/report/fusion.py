"""Which runs a fused run is tested against: a model on a combined set ``a+b`` (a concatenation,
``train.combine``) against the best run of the same model on one of its parts (its best base),
and a model that fuses per store (settings naming a ``base`` model: ``stack``) against the best
run of that base model on a part and against the concatenation ``a+b`` with that base model.
The report adds each pair to the significance table with role ``fusion`` (moodflow.report.chance).
"""

from __future__ import annotations

from typing import Any

import numpy as np

SEPARATOR = "+"  # a combined set's name: <base>+<add> (the report reads model folders, not moodflow.train)

BEST_BASE = "best base"
CONCATENATION = "concatenation"


def base_model_of(manifest: dict[str, Any], model: str) -> str:
    """The model each store's predictions come from: a per-store fusion's ``base`` setting, else
    the model itself."""
    base = (manifest.get("params") or {}).get("base")
    return base if isinstance(base, str) and base else model


def fusion_pairs(scored: list[Any], key: tuple[str, str, str]) -> list[tuple[Any, Any, str]]:
    """(fused run, run it is tested against, why) for every run on a combined set scored on ``key``."""
    def score(s: Any) -> float:
        return float(s.scores.value(key))

    runs = {(s.run.feature_set, s.run.model): s for s in scored
            if key in s.scores.units.columns and np.isfinite(score(s))}
    out = []
    for (fset, model), s in runs.items():
        if SEPARATOR not in fset:
            continue
        base_model = base_model_of(s.run.manifest, model)
        bases = [runs[(part, base_model)] for part in fset.split(SEPARATOR) if (part, base_model) in runs]
        if bases:
            out.append((s, max(bases, key=score), BEST_BASE))  # the first of equals, in the set's order
        if base_model != model and (fset, base_model) in runs:
            out.append((s, runs[(fset, base_model)], CONCATENATION))
    return out
