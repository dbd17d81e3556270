"""The ``limits`` stage, between prepare and decode: every limit the training protocol will hit,
said once, before any audio is decoded.

From the prepared dataset alone (labelled tracks, their classes, groups and split files) it
makes the folds every train stage would make and lists, in one message, each limit any part of
the run hits (fold sizes against ``train.min_train`` / ``min_test``, per-class training counts
with the class names against ``min_per_class``, too few tracks, tracks of a class or groups for
the number of folds) with the settings that would avoid it, and one set of settings that scores
every part (:mod:`moodflow.evaluation.limits`).

When the run would score nothing (the main static task or the dynamic one cannot be scored) the
stage stops with that message, unless ``train.on_insufficient: extract`` asks to decode and
extract anyway (extraction-only runs, and datasets without labels, always pass). A label kind
beside the main one that is too small is only warned about: the train stages leave it out and
score the rest. The stage writes a constant marker, so changing the ``train`` settings it reads
re-runs this stage only, never decode.

The tracks counted are the labelled tracks with an audio file, or every labelled track when a
feature set in ``features.sets`` imports the dataset's own features (``needs_audio`` false); a
track that later fails to decode or extract can still make a train stage refuse.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from moodflow.core.atomic import write_text
from moodflow.evaluation.limits import Minima, PartTracks, Plan, describe, plan_limits
from moodflow.evaluation.protocols import InsufficientData
from moodflow.stores.prepared import PreparedDataset
from moodflow.train.data import class_strata, label_columns, label_kinds, track_groups
from moodflow.train.settings import TrainSettings

log = logging.getLogger(__name__)
MARKER_TEXT = "the training protocol's limits were checked before decoding (stage limits)\n"
# the train.* settings the stage reads (dvc.yaml declares exactly these)
LIMIT_KEYS = ("seed", "dynamic", "protocol", "min_train", "min_test", "min_per_class", "on_insufficient")


def audio_free(feature_sets: Iterable[str]) -> bool:
    """Whether a listed feature set imports the dataset's own features instead of reading audio."""
    from moodflow.features import EXTRACTORS

    return any(not EXTRACTORS.get(name).needs_audio for name in feature_sets)


def usable_tracks(prepared: PreparedDataset, prepared_dir: str | Path, any_track: bool) -> list[str]:
    """Manifest track ids, in order, that can get features: those with audio (the prepare stage
    lists labelled tracks without it in missing_audio.csv), or all with ``any_track``."""
    ids = [str(t) for t in prepared.manifest["track_id"]]
    missing = Path(prepared_dir) / "missing_audio.csv"
    if any_track or not missing.exists():
        return ids
    gone = set(pd.read_csv(missing, dtype={"track_id": str})["track_id"])
    return [t for t in ids if t not in gone]


def _part_name(kind: str, columns: list[str]) -> str:
    if kind == "classification":
        return f"{columns[0]} classes"
    if kind == "tagging":
        return f"{len(columns)} tags"
    return ", ".join(columns)


def limit_parts(prepared: PreparedDataset, tracks: list[str], settings: TrainSettings) -> list[PartTracks]:
    """The parts a train stage learns (main static kind, other static kinds, dynamic), each with
    the tracks that have its labels and what a stratified protocol stratifies it on."""
    labels = prepared.static_labels.drop_duplicates("track_id").copy()
    labels["track_id"] = labels["track_id"].astype(str)
    labels = labels.set_index("track_id")
    order = [t for t in tracks if t in labels.index]
    columns = label_columns(prepared.spec, labels.columns)
    strata = class_strata(prepared)
    stratified = settings.protocol.kind == "stratified" and strata is not None
    parts = []
    for i, kind in enumerate(label_kinds(prepared)):
        have = labels.loc[order, columns[kind]].notna().all(axis=1)
        ids = np.array([t for t, ok in zip(order, have) if ok], dtype=str)
        if kind == "classification":
            classes = np.array([str(labels.at[t, columns[kind][0]]) for t in ids], dtype=str)
        else:
            classes = np.array([strata.get(t, "") for t in ids], dtype=str) if stratified else None
        parts.append(PartTracks(f"static {_part_name(kind, columns[kind])}" if kind == "regression"
                                else _part_name(kind, columns[kind]), ids, classes, kind == "classification",
                                main=i == 0))
    dynamic = prepared.dynamic_labels
    if settings.dynamic and dynamic is not None and len(dynamic):
        have = set(dynamic["track_id"].astype(str))
        ids = np.array([t for t in tracks if t in have], dtype=str)
        classes = np.array([strata.get(t, "") for t in ids], dtype=str) if stratified else None
        parts.append(PartTracks(f"dynamic {', '.join(prepared.spec.dynamic_targets)}", ids, classes))
    return [p for p in parts if len(p.track_ids) or p.main]


def plan_for(prepared_dir: str | Path, settings: TrainSettings, feature_sets: Iterable[str] = ()) -> tuple[Plan, str]:
    """The limits of the run and their description (what the stage says)."""
    prepared = PreparedDataset.read(prepared_dir)
    tracks = usable_tracks(prepared, prepared_dir, audio_free(feature_sets))
    parts = limit_parts(prepared, tracks, settings)
    protocol = settings.protocol
    groups = track_groups(prepared, protocol.group)
    minima = Minima(settings.min_train, settings.min_test, settings.min_per_class)
    plan = plan_limits(parts, kind=protocol.kind, folds=protocol.folds, repeats=protocol.repeats, seed=settings.seed,
                       minima=minima, splits=prepared.splits, groups=groups,
                       sides=(protocol.train_on, protocol.test_on))
    main = next((p for p in parts if p.main), None)
    counts = None
    if main is not None and main.classify:
        counts = dict(zip(*np.unique(main.classes, return_counts=True)))
    elif prepared.spec.classes and main is not None:
        strata = class_strata(prepared) or {}
        kept = pd.Series([strata.get(t) for t in main.track_ids]).dropna().value_counts()
        counts = {str(c): int(kept.get(str(c), 0)) for c in prepared.spec.classes}
    n_groups = len({groups[t] for t in main.track_ids if t in groups}) if groups and main is not None else 0
    text = describe(plan, n_tracks=len(main.track_ids) if main is not None else 0, class_counts=counts,
                    kind=protocol.kind, group=protocol.group, n_groups=n_groups)
    return plan, text


def check_limits(prepared_dir: str | Path, settings: TrainSettings, feature_sets: Iterable[str],
                 marker: str | Path | None = None) -> Plan | None:
    """Say every limit at once; stop (InsufficientData) when the run would score nothing and
    ``train.on_insufficient`` is ``stop``. Writes the constant ``marker`` when the run goes on."""
    prepared = PreparedDataset.read(prepared_dir)
    plan = None
    if prepared.spec.has_labels:
        plan, text = plan_for(prepared_dir, settings, feature_sets)
        if plan.blocking and settings.on_insufficient == "stop":
            raise InsufficientData(
                "limits: this run would score nothing, so it stops before decoding any audio. " + text
                + "\n  or decode and extract anyway (the train stages then record 'insufficient data'): "
                "-S train.on_insufficient=extract")
        if plan.blocking:
            log.warning("limits: this run will score nothing (train.on_insufficient is extract: decoding and "
                        "extracting anyway). %s", text)
        elif not plan.ok:
            log.warning("limits: %s", text)
    if marker is not None:
        write_text(marker, MARKER_TEXT)
    return plan
