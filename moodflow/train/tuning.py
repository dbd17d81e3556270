"""Model selection inside a training fold: candidate settings scored by inner cross-validation
on that fold's training tracks only, the best refitted on all of them.

The search space is ``train.<model>.search`` ({setting: [values…]}) when given, else the model's
documented default ranges (``Model.default_search``) when ``train.tune`` is true. With
``search_iter: n`` (> 0) n candidates are drawn from the grid (seeded) instead of trying all.
The outer fold's test tracks are never passed here, so they cannot influence the choice.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from typing import Any

import numpy as np

from moodflow.core.config import build, to_dict
from moodflow.models.base import ModelRecipe
from moodflow.train.problems import Problem


def search_space(recipe: ModelRecipe, tune: bool) -> dict[str, list]:
    """The grid to search for this recipe ({} = no search)."""
    explicit = dict(getattr(recipe.config, "search", None) or {})
    if explicit:
        return explicit
    return dict(recipe.cls.default_search) if tune else {}


def candidates(space: dict[str, list], n_iter: int, seed: int) -> list[dict[str, Any]]:
    """Every combination of the grid, or ``n_iter`` of them drawn without replacement."""
    keys = sorted(space)
    grid = [dict(zip(keys, values)) for values in itertools.product(*(list(space[k]) for k in keys))]
    if 0 < n_iter < len(grid):
        rng = np.random.default_rng(seed)
        grid = [grid[i] for i in sorted(rng.choice(len(grid), size=n_iter, replace=False))]
    return grid


def with_settings(recipe: ModelRecipe, settings: dict[str, Any]) -> ModelRecipe:
    """The recipe with some settings replaced (checked as params.yaml values are)."""
    values = {**to_dict(recipe.config), **settings, "search": {}}
    config = build(recipe.cls.Config, values, f"train.{recipe.name}.search")
    return dataclasses.replace(recipe, config=config)


def inner_folds(problem: Problem, rows: np.ndarray, n_folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Inner (train, validation) row splits of ``rows``; stratified for classes."""
    from sklearn.model_selection import KFold, StratifiedKFold

    n_folds = max(2, min(n_folds, len(rows)))
    if problem.stratify is not None:
        labels = problem.stratify[rows]
        smallest = int(np.bincount(labels[labels >= 0]).min()) if (labels >= 0).any() else 0
        if smallest >= n_folds:
            splits = StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(rows, labels)
            return [(rows[a], rows[b]) for a, b in splits]
    return [(rows[a], rows[b]) for a, b in KFold(n_folds, shuffle=True, random_state=seed).split(rows)]


def tune(recipe: ModelRecipe, problem: Problem, rows: np.ndarray, *, seed: int, tune_defaults: bool,
         fold: str) -> tuple[ModelRecipe, list[dict[str, Any]]]:
    """The recipe with the best candidate settings for the training ``rows``, and one record
    per candidate (fold, settings as JSON, mean inner score, chosen)."""
    space = search_space(recipe, tune_defaults)
    if not space:
        return recipe, []
    config = recipe.config
    n_iter = int(getattr(config, "search_iter", 0) or 0)
    n_folds = int(getattr(config, "search_folds", 3) or 3)
    splits = inner_folds(problem, rows, n_folds, seed)
    records, tried, best = [], [], 0
    for settings in candidates(space, n_iter, seed):
        candidate = with_settings(recipe, settings)
        scores = []
        for tr, va in splits:
            model = problem.fit(candidate.new(problem.kind, seed), tr)
            scores.append(problem.score(va, problem.predict(model, va)))
        score = float(np.mean(scores)) if np.all(np.isfinite(scores)) else -np.inf
        records.append({"fold": fold, "settings": json.dumps(settings, sort_keys=True), "inner_score": score,
                        "chosen": False})
        tried.append(candidate)
        if score > records[best]["inner_score"]:  # a tie keeps the earlier candidate
            best = len(records) - 1
    records[best]["chosen"] = True
    return tried[best], records
