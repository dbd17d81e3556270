"""Every model against the trivial predictor of its folds, against the best model, and the best
model's lead over the runner-up (the report's verdicts; statistics in moodflow.evaluation.significance).

The trivial predictors come from each model folder's ``baseline_predictions.csv`` (same folds
as the model): ``mean`` (regression), ``majority`` and ``prior`` (classification),
``prevalence`` (tagging). A model *beats chance* on a task and target when it is significantly
better (interval of the difference above 0) than every trivial predictor of its folds on the
task's headline metric (:data:`HEADLINE`); otherwise it is "no better than chance" and is never
named best.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from moodflow.evaluation.significance import Comparison
from moodflow.report.fusion import fusion_pairs
from moodflow.report.scoring import HEADLINE, Key, Scores, compare, score_predictions
from moodflow.report.tables import Run

# what "best" means per task: (metrics section, metric, threshold a model must exceed)
BEST_BY = {"regression": ("static", "r2", 0.0), "classification": ("classification", "macro_f1", None),
           "tagging": ("tagging", "pr_auc", None)}
_MEAN = "mean over targets"


@dataclass
class Scored:
    """A run's scores and those of the trivial predictors on its folds (by kind)."""

    run: Run
    scores: Scores
    baselines: dict[str, Scores] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.run.feature_set}/{self.run.model}"


def score_runs(runs: list[Run], seed: int = 0) -> list[Scored]:
    """Scores of every scored run and of its trivial predictors."""
    out = []
    for run in runs:
        if not run.ok:
            continue
        scores = score_predictions(run.predictions, run.classes, seed=seed, fold_sizes=run.fold_sizes)
        baselines = {}
        if run.baseline is not None:
            for kind, rows in run.baseline.groupby("baseline", sort=True):
                baselines[str(kind)] = score_predictions(rows.drop(columns="baseline"), run.classes, seed=seed,
                                                         fold_sizes=run.fold_sizes)
        out.append(Scored(run, scores, baselines))
    return out


@dataclass
class Verdict:
    """One line of reports/significance.csv: model A against B (a trivial predictor or the best)."""

    task: str
    target: str
    metric: str
    a: str  # set/model
    b: str  # "baseline (kind)" or "set/model (best)"
    role: str  # "chance" | "best" | "fusion" (a combined set's run against its best base, moodflow.report.fusion)
    comparison: Comparison | None
    reason: str = ""
    tracks: int = 0

    def words(self) -> str:
        c = self.comparison
        if c is None:
            return f"not tested: {self.reason}"
        if not c.significant:
            return "no significant difference (the interval includes 0)"
        return f"{self.a} is better than {self.b}" if c.difference > 0 else f"{self.b} is better than {self.a}"

    def row(self) -> dict[str, Any]:
        c = self.comparison
        num = (lambda v: round(float(v), 6) if v is not None and np.isfinite(v) else None)  # noqa: E731
        return {"task": self.task, "target": self.target, "metric": self.metric, "model": self.a, "versus": self.b,
                "role": self.role, "difference": num(c.difference) if c else None, "low": num(c.low) if c else None,
                "high": num(c.high) if c else None, "p": float(f"{c.p:.6g}") if c else None, "method": c.method if c else "",
                "units": c.n if c else None, "tracks": self.tracks, "verdict": self.words()}


@dataclass
class Judgement:
    """Chance verdicts per (set, model, task, target), the per-target best, every test, and ``best``."""

    scored: list[Scored]
    chance: dict = field(default_factory=dict)  # (set, model, task, target) -> list[Verdict]
    best_of: dict = field(default_factory=dict)  # (task, target) -> set/model
    verdicts: list[Verdict] = field(default_factory=list)
    best: dict = field(default_factory=dict)
    has_baseline: bool = False

    def beats_chance(self, fset: str, model: str, task: str, target: str) -> bool | None:
        """True/False, or None when no trivial predictor was saved for that run."""
        tests = self.chance.get((fset, model, task, target))
        if not tests:
            return None
        return all(v.comparison is not None and v.comparison.better() > 0 for v in tests)

    def table(self) -> pd.DataFrame:
        columns = ["task", "target", "metric", "model", "versus", "role", "difference", "low", "high", "p", "method",
                   "units", "tracks", "verdict"]
        return pd.DataFrame([v.row() for v in self.verdicts], columns=columns)


def _keys(scored: list[Scored]) -> list[Key]:
    seen: dict[Key, None] = {}
    for s in scored:
        for key in s.scores.units.columns:
            task, target, metric = key
            if HEADLINE.get(task) == metric:
                seen.setdefault(key, None)
    return list(seen)


def _chance_tests(s: Scored, key: Key) -> list[Verdict]:
    task, target, metric = key
    out = []
    for kind, base in sorted(s.baselines.items()):
        if key not in base.units.columns:  # a trivial predictor of another task (majority: classes only)
            continue
        comp, why = compare(s.scores, base, key)
        out.append(Verdict(task, target, metric, s.name, f"baseline ({kind})", "chance", comp, why,
                           s.scores.tracks.get((task, target), 0)))
    return out


def judge(scored: list[Scored], task: str) -> Judgement:
    """Every verdict of the report; ``task`` is the dataset's (regression, classification, tagging)."""
    j = Judgement(scored, has_baseline=any(s.baselines for s in scored))
    for key in _keys(scored):
        task_key, target, metric = key
        runs = [s for s in scored if key in s.scores.units.columns and np.isfinite(s.scores.value(key))]
        for s in runs:
            tests = _chance_tests(s, key)
            j.chance[(s.run.feature_set, s.run.model, task_key, target)] = tests
            j.verdicts += tests
        for a, b, why in fusion_pairs(runs, key):  # a fused run against its best base (and the concatenation)
            comp, reason = compare(a.scores, b.scores, key)
            j.verdicts.append(Verdict(task_key, target, metric, a.name, f"{b.name} ({why})", "fusion", comp, reason,
                                      a.scores.tracks.get((task_key, target), 0)))
        eligible = [s for s in runs if j.beats_chance(s.run.feature_set, s.run.model, task_key, target) is not False]
        if not eligible:
            continue
        best = max(eligible, key=lambda s: s.scores.value(key))  # first of equals, in params order
        j.best_of[(task_key, target)] = best.name
        for s in runs:
            if s is not best:
                comp, why = compare(s.scores, best.scores, key)
                j.verdicts.append(Verdict(task_key, target, metric, s.name, f"{best.name} (best)", "best", comp, why,
                                          s.scores.tracks.get((task_key, target), 0)))
    j.best = best_model(scored, task)
    return j


def _fmt(v: float) -> float | None:
    return round(float(v), 6) if v is not None and np.isfinite(v) else None


def keys_of(s: Scored, section: str, metric: str) -> list[Key]:
    return [k for k in s.scores.units.columns if k[0] == section and k[2] == metric]


def best_model(scored: list[Scored], task: str) -> dict[str, Any]:
    """The best run for the dataset's task: highest mean of the task's metric over its targets
    (held-out R² — only above 0 —, macro F1, macro PR-AUC), among runs significantly better
    than chance on that mean (runs without saved trivial predictors: not checked). Records its
    interval and whether its lead over the runner-up is significant. ``{}`` when none qualifies."""
    section, metric, floor = BEST_BY.get(task, BEST_BY["regression"])
    name = (section, _MEAN, metric)
    candidates = []
    for s in scored:
        if s.run.manifest.get("task", "regression") != task:
            continue
        keys = keys_of(s, section, metric)
        if not keys:
            continue
        mean = s.scores.with_mean(keys, name)
        bases = {kind: b.with_mean(keys, name) for kind, b in s.baselines.items()
                 if all(k in b.units.columns for k in keys)}  # the trivial predictors of this task
        if np.isfinite(mean.value(name)):
            candidates.append((s, mean, bases))
    if not candidates:
        return {}
    ranked = sorted(candidates, key=lambda c: -c[1].value(name))  # stable: params order among equals
    for s, mean, bases in ranked:
        score = mean.value(name)
        if floor is not None and score <= floor:
            continue
        vs_chance = [compare(mean, b, name)[0] for b in bases.values()]
        beats = all(c is not None and c.better() > 0 for c in vs_chance) if bases else None
        if beats is False:
            continue
        interval = mean.interval(name)
        best = {"feature_set": s.run.feature_set, "model": s.run.model, "task": task, "metric": metric,
                "score": round(score, 6), "low": _fmt(interval.low), "high": _fmt(interval.high),
                "n_tracks": max(s.scores.tracks.get((k[0], k[1]), 0) for k in keys_of(s, section, metric)),
                "beats_chance": beats, "runner_up": "", "significant_lead": None}
        below = ranked[ranked.index((s, mean, bases)) + 1:]
        if below:
            runner, runner_mean, _ = below[0]
            lead, _ = compare(mean, runner_mean, name)
            best["runner_up"] = f"{runner.run.feature_set}/{runner.run.model}"
            if lead is not None:
                best.update(lead=_fmt(lead.difference), lead_low=_fmt(lead.low), lead_high=_fmt(lead.high),
                            lead_p=float(f"{lead.p:.6g}"), significant_lead=lead.better() > 0)
        return best
    return {}
