"""Derived training targets (MTG-Jamendo's tag-derived valence/arousal) kept out of every score:
the problems skip them when scoring (tuning, importance) and the held-out tables lose their rows
before any metric is computed (:mod:`moodflow.stores.derived`)."""

from __future__ import annotations

import dataclasses
from typing import Any

from moodflow.stores.derived import derived_mask, derived_targets, derived_track_ids, drop_derived_rows
from moodflow.stores.prepared import PreparedDataset


def mark_derived(parts: list[Any], prepared: PreparedDataset) -> None:
    """Tell every static regression part which of its tracks carry derived targets."""
    ids = derived_track_ids(prepared.static_labels)
    if not ids:
        return
    for part in parts:
        if part.name != "dynamic":
            part.problem.unscored = derived_mask(part.problem.track_ids, ids)


def drop_derived(results: list[Any], prepared: PreparedDataset) -> list[Any]:
    """The parts' results without a held-out (or trivial predictor's) row of a derived target."""
    ids = derived_track_ids(prepared.static_labels)
    if not ids:
        return results
    targets = derived_targets(prepared.info)
    return [dataclasses.replace(r, predictions=drop_derived_rows(r.predictions, ids, targets),
                                baseline=drop_derived_rows(r.baseline, ids, targets),
                                teachers=None if r.teachers is None else drop_derived_rows(r.teachers, ids, targets))
            for r in results]


def mark_members(parts: list[Any], prepared: PreparedDataset) -> None:
    """In a joint run, tell every static part which dataset each of its tracks comes from."""
    if not prepared.info.get("members"):
        return
    from moodflow.stores.labelspace import member_of

    for part in parts:
        if part.name != "dynamic" and hasattr(part.problem, "members"):
            part.problem.members = member_of(part.problem.track_ids)
