"""The ``train`` section of params.yaml: which models, the protocol, the seed, dynamic labels.

``train.<model>`` subsections are each model's own settings (its ``Config`` dataclass).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from moodflow.core.config import build_section, setting
from moodflow.evaluation.protocols import PROTOCOLS


@dataclass
class ProtocolSettings:
    """``train.protocol``: how tracks are split into training and held-out folds."""

    kind: str = setting("auto", choices=PROTOCOLS)  # auto = the dataset's published split, else k-fold
    folds: int = setting(5, min=2)  # k of k-fold
    repeats: int = setting(1, min=1)  # repetitions of the k-fold split, each reshuffled
    group: str = ""  # a manifest column (e.g. emotify's genre): each fold keeps whole groups out; "" = none
    # kind cross (a joint run): each of these members trains a model on all its tracks …
    train_on: list[str] = field(default_factory=list)
    # … tested on all tracks of each of these (own scale, own metrics); their own k-fold CV on the diagonal
    test_on: list[str] = field(default_factory=list)


@dataclass
class ImportanceSettings:
    """``train.importance``: held-out permutation importance (moodflow.train.importance)."""

    repeats: int = setting(3, min=0)  # shuffles per unit and fold; 0 = no importance
    max_features: int = setting(300, min=0)  # per-column importance up to this many columns, else per descriptor


@dataclass
class CombineSettings:
    """``train.combine``: models also train on each ``<base>+<add>`` pair of stores, joined by
    track id (``moodflow.train.combined``); both lists name sets of ``features.sets``."""

    base: list[str] = field(default_factory=list)  # e.g. [compare, mert]
    add: list[str] = field(default_factory=list)  # e.g. [chords]: compare+chords, mert+chords
    # none = the stores' standardised columns side by side (the larger store dominates); equal =
    # each standardised store scaled by 1/sqrt(its columns), inside the fitted pipeline, so every
    # store weighs the same (models that scale their inputs: ridge, svm, knn; docs/models.md)
    block_weight: str = setting("none", choices=("none", "equal"))



@dataclass
class TrainSettings:
    """``train``: the models to train on every feature set, and how they are evaluated."""

    models: list[str] = field(default_factory=lambda: ["ridge", "svm"])  # models trained on every feature set
    seed: int = setting(0, min=0, max=2**32 - 1)  # every random choice: folds, models, shuffles
    dynamic: bool = False  # also per-frame valence/arousal where the dataset has dynamic labels
    protocol: ProtocolSettings = field(default_factory=ProtocolSettings)
    # a fold smaller than this is not scored: the report says "insufficient data" instead
    min_train: int = setting(20, min=1)
    min_test: int = setting(5, min=1)  # held-out tracks a fold needs to be scored
    min_per_class: int = setting(3, min=0)  # classification: training tracks of every class per fold
    # the limits stage, before decoding: a run that would score nothing stops (stop) or decodes and
    # extracts anyway (extract; the train stages then record "insufficient data")
    on_insufficient: str = setting("stop", choices=("stop", "extract"))
    tune: bool = False  # search each model's documented default ranges inside every training fold
    jobs: int = setting(0, min=0)  # folds (and searches) in parallel on this many cores; 0 = all
    importance: ImportanceSettings = field(default_factory=ImportanceSettings)
    combine: CombineSettings = field(default_factory=CombineSettings)  # combined stores (docs/models.md)


STAGE_KEYS = ("seed", "dynamic", "protocol", "min_train", "min_test", "min_per_class", "tune", "jobs", "importance")


def train_settings(section: Mapping[str, Any] | None) -> tuple[TrainSettings, dict[str, dict[str, Any]]]:
    """The ``train`` section's own settings and each model's subsection (as plain dicts)."""
    from moodflow.models import MODELS

    return build_section(TrainSettings, section, "train", MODELS.names())
