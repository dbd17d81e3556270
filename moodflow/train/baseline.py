"""The trivial predictor of each task, fitted on a fold's training tracks and scored on exactly
that fold's held-out tracks: what a model has to beat (``baseline_predictions.csv``).

- regression, static and dynamic (``mean``): every held-out value predicted as the training
  fold's mean of that target (dynamic: over the training songs' labelled frames);
- classification: ``majority`` — the training fold's most frequent class (ties: the first in the
  label spec's order), its scores the training fold's class shares; ``prior`` — a random guess
  drawn from those shares (seeded by the run's seed and the fold, so it is reproducible and the
  same on any number of cores), its scores one-hot on the class drawn (``y_pred`` stays the
  argmax of the scores, as in predictions.csv);
- tagging (``prevalence``): every tag scored by its share of the training fold's tracks.

Rows come out of the problem's own :meth:`~moodflow.train.problems.Problem.rows`, so they have
exactly the columns of the model's predictions plus ``baseline``, the predictor's name.
"""

from __future__ import annotations

import warnings
import zlib

import numpy as np
import pandas as pd

from moodflow.train.problems import ClassesProblem, ColumnsProblem, DynamicProblem, MultitaskProblem, Problem

KIND_OF_TASK = {"static": "mean", "dynamic": "mean", "tagging": "prevalence", "classification": "majority"}
BASELINES = ("mean", "majority", "prior", "prevalence")


def fold_rng(seed: int, fold: str) -> np.random.Generator:
    """The generator of one fold's random guesses: a function of the seed and the fold's name only."""
    return np.random.default_rng([int(seed) % 2**32, zlib.crc32(fold.encode())])


def _shares(y: np.ndarray, n_classes: int) -> np.ndarray:
    known = y[y >= 0]
    counts = np.bincount(known, minlength=n_classes).astype(np.float64)
    return counts / counts.sum() if counts.sum() else np.full(n_classes, 1.0 / n_classes)


def _draws(shares: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, C) one-hot rows of classes drawn from ``shares``."""
    picked = rng.choice(len(shares), size=n, p=shares)
    return np.eye(len(shares))[picked]


def _mean(values: np.ndarray) -> np.ndarray:
    """Column means over the rows that have the label (0 where none has)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a column without any label: its mean is 0
        return np.nan_to_num(np.nanmean(values, axis=0))


def _tile(values: np.ndarray, n: int) -> np.ndarray:
    return np.tile(np.asarray(values, dtype=np.float64), (n, 1))


def _tagged(rows: pd.DataFrame, kind: str | None = None) -> pd.DataFrame:
    rows = rows.copy()
    rows["baseline"] = kind if kind is not None else rows["task"].map(KIND_OF_TASK)
    return rows


def baseline_rows(problem: Problem, fold: str, train: np.ndarray, test: np.ndarray, seed: int) -> pd.DataFrame:
    """The trivial predictors' rows of one fold (``train``/``test``: row indices of ``problem``)."""
    rng = fold_rng(seed, fold)
    n = len(test)
    if isinstance(problem, ColumnsProblem):
        return _tagged(problem.rows(fold, test, _tile(_mean(problem.Y[train]), n)))
    if isinstance(problem, ClassesProblem):
        shares = _shares(problem.y[train], len(problem.classes))
        return pd.concat([_tagged(problem.rows(fold, test, _tile(shares, n)), "majority"),
                          _tagged(problem.rows(fold, test, _draws(shares, n, rng)), "prior")], ignore_index=True)
    if isinstance(problem, DynamicProblem):
        mean = np.concatenate([problem.Y[i] for i in train]).mean(axis=0)
        return _tagged(problem.rows(fold, test, [_tile(mean, len(problem.Y[i])) for i in test]))
    if isinstance(problem, MultitaskProblem):
        trivial, shares = {}, None
        for kind, labels in problem.labels.items():
            if kind == "classification":
                shares = _shares(labels[train], len(problem.names["classification"][1]))
                trivial[kind] = _tile(shares, n)
            else:
                trivial[kind] = _tile(_mean(labels[train]), n)
        out = [_tagged(problem.rows(fold, test, trivial))]
        if shares is not None:
            guess = problem.rows(fold, test, {**trivial, "classification": _draws(shares, n, rng)})
            out.append(_tagged(guess[guess["task"] == "classification"], "prior"))
        return pd.concat(out, ignore_index=True)
    raise TypeError(f"no trivial predictor for {type(problem).__name__}")
