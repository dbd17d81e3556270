"""Cross-validation: for each fold, (tune and) fit a fresh model on the training tracks and
predict the held-out ones; every held-out prediction is returned as one long table.

Folds run in parallel on ``jobs`` processes (each single-threaded), and each fold's work depends
only on the fold and the seed, so the predictions are the same bytes on one core or many
(tested). Folds are sets of track ids (:mod:`moodflow.evaluation.protocols`): the frames of a
song never straddle training and test.
"""

from __future__ import annotations

import json
import os
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from moodflow.evaluation.protocols import Fold
from moodflow.models.base import Model, ModelRecipe
from moodflow.train.baseline import baseline_rows
from moodflow.train.importance import Explainer, summarise
from moodflow.train.problems import Problem
from moodflow.train.tuning import tune


class CVResult(NamedTuple):
    """Held-out predictions, every tuning candidate, the held-out feature importance, (sequence
    models with attention) the attention each held-out frame received, and the trivial
    predictors' rows on the same folds (:mod:`moodflow.train.baseline`), and a distilled model's
    teachers' held-out rows (:mod:`moodflow.models.distill`)."""

    predictions: pd.DataFrame
    tuning: pd.DataFrame
    importance: pd.DataFrame
    attention: pd.DataFrame
    baseline: pd.DataFrame
    teachers: pd.DataFrame  # a distilled multitask model's teachers' held-out rows (empty otherwise)


def usable_cores(jobs: int = 0) -> int:
    """``jobs`` when positive, else the cores this process may use."""
    if jobs > 0:
        return jobs
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def fit_tuned(recipe: ModelRecipe, problem: Problem, rows: np.ndarray, *, seed: int, tune_defaults: bool,
              fold: str) -> tuple[Model, list[dict[str, Any]]]:
    """The model fitted on ``rows`` with the settings inner CV chose among them (if searching),
    and the tuning records: every candidate searched, then what the fit chose itself (ridge's
    ``alpha: auto``, per target)."""
    chosen, records = tune(recipe, problem, rows, seed=seed, tune_defaults=tune_defaults, fold=fold)
    model = problem.fit(chosen.new(problem.kind, seed), rows)
    targets = list(getattr(problem, "columns", None) or getattr(problem, "targets", None) or [])
    for record in model.selection():
        settings = dict(record["settings"])
        if "target" in settings and isinstance(settings["target"], int) and settings["target"] < len(targets):
            settings["target"] = targets[settings["target"]]
        records.append({"fold": fold, "settings": json.dumps(settings, sort_keys=True),
                        "inner_score": record["inner_score"], "chosen": record["chosen"]})
    return model, records


def _one_fold(recipe: ModelRecipe, problem: Problem, fold: Fold, index: dict[str, int], seed: int,
              tune_defaults: bool, single_thread: bool, explainer: Explainer | None = None,
              ) -> tuple[pd.DataFrame, list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], pd.DataFrame,
           pd.DataFrame | None]:
    if single_thread:  # a worker process among several: no BLAS/OpenMP/torch oversubscription
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
        import sys

        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(1)
    tr = np.array([index[t] for t in fold.train], dtype=np.int64)
    te = np.array([index[t] for t in fold.test], dtype=np.int64)
    model, records = fit_tuned(recipe, problem, tr, seed=seed, tune_defaults=tune_defaults, fold=fold.name)
    explained = explainer.explain(model, problem, problem.scored_rows(te), fold.name) if explainer is not None else []
    attention = problem.attention_rows(model, te, fold.name)
    trivial = baseline_rows(problem, fold.name, tr, te, seed)
    teachers = problem.teacher_rows(model, te, fold.name)
    return (problem.rows(fold.name, te, problem.predict(model, te)), records, explained, attention, trivial,
            teachers)


def cross_validate(recipe: ModelRecipe, problem: Problem, folds: list[Fold], *, seed: int = 0,
                   jobs: int = 1, tune_defaults: bool = False, explainer: Explainer | None = None) -> CVResult:
    """Held-out predictions, tuning records and (with an ``explainer``) feature importance over
    ``folds``, on ``jobs`` parallel processes."""
    index = {t: i for i, t in enumerate(problem.track_ids)}
    n = min(usable_cores(jobs), len(folds))
    if n <= 1:
        results = [_one_fold(recipe, problem, f, index, seed, tune_defaults, False, explainer) for f in folds]
    else:
        from joblib import Parallel, delayed

        single = dataclass_copy(recipe, n_jobs=1)
        results = Parallel(n_jobs=n, backend="loky")(
            delayed(_one_fold)(single, problem, f, index, seed, tune_defaults, True, explainer) for f in folds)
    predictions = pd.concat([r[0] for r in results], ignore_index=True)
    tuning = pd.DataFrame([rec for r in results for rec in r[1]],
                          columns=["fold", "settings", "inner_score", "chosen"])
    attention = pd.DataFrame([rec for r in results for rec in r[3]], columns=["track_id", "fold", "time_s", "weight"])
    baseline = pd.concat([r[4] for r in results], ignore_index=True)
    taught = [r[5] for r in results if r[5] is not None]
    teachers = pd.concat(taught, ignore_index=True) if taught else pd.DataFrame()
    return CVResult(predictions, tuning, summarise([rec for r in results for rec in r[2]]), attention, baseline,
                    teachers)


def dataclass_copy(recipe: ModelRecipe, **changes: Any) -> ModelRecipe:
    import dataclasses

    return dataclasses.replace(recipe, **changes)
