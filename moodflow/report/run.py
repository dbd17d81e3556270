"""The report stage: reports/metrics.json (the DVC metric), significance.csv, DVC plot data,
figures, and the comparison with the trivial predictors and published numbers
(reports/comparison.md and .html, rendered from one document; see docs/reports.md). All of them
are written as one set (moodflow.report.publish).

Keys name the feature set, model, target and metric: ``compare.svm.valence.r2``. Static
targets sit directly under the model; other tasks under their task name
(``compare.seq.dynamic.arousal.kendall_tau``, ``provided.svm.classification.macro_f1``); the
trivial predictors of a set are its model ``baseline``. ``best`` names the best scored model of
the dataset's task that beats chance (see :func:`moodflow.report.chance.best_model`); a run that
was not scored (too few tracks, no labels) appears as ``{"status": …}``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from moodflow.core.atomic import write_csv, write_json, write_text
from moodflow.evaluation.summary import confusion_table, metrics_from_predictions
from moodflow.report import figures
from moodflow.report.chance import HEADLINE, Judgement, judge, score_runs
from moodflow.report.content import build_document
from moodflow.report.document import render_html, render_markdown
from moodflow.report.explanations import explanation_figures
from moodflow.report.publish import report_set
from moodflow.report.references import load_references, references_for, scale_name
from moodflow.report.tables import Run, example_songs, load_runs, our_rows

log = logging.getLogger(__name__)
_HEADLINE = ("r2", "rmse", "pearson", "kendall_tau", "macro_f1", "weighted_pr_f1", "accuracy", "pr_auc", "roc_auc")


def _headline(entry: dict[str, Any]) -> dict[str, Any]:
    """Keep the metric means and their stds; drop counts and nested tables."""
    return {
        k: round(float(v), 6) if k != "n_tracks" else int(v)
        for k, v in entry.items()
        if isinstance(v, (int, float)) and np.isfinite(v)
        and (k in _HEADLINE or k.removesuffix("_std") in _HEADLINE or k.startswith(_HEADLINE) or k == "n_tracks")
    }


def _entry(raw: dict[str, Any]) -> dict[str, Any]:
    """One run's headline metrics: static targets at the top, other tasks nested by target."""
    entry: dict[str, Any] = {}
    for target, metrics in (raw.get("static") or {}).items():
        entry[target] = _headline(metrics)
    for task, per_target in raw.items():
        if task in ("static", "datasets") or not isinstance(per_target, dict):
            continue
        if all(isinstance(v, dict) for v in per_target.values()):
            entry[task] = {t: _headline(m) for t, m in per_target.items()}
        else:
            entry[task] = _headline(per_target)
    return entry


def collect_metrics(runs: list[Run], judgement: Judgement | None = None) -> dict[str, Any]:
    """Nested headline metrics of every run, recomputed from its predictions (diverged folds left
    out); a refused run gets ``{"status": …}`` instead. Each set gets model ``baseline`` (the
    strongest trivial predictor per target, ``predictor`` naming it); a target entry records
    ``beats_chance`` where it was tested. A joint run adds ``datasets.<member>``, each on that
    dataset's own scale."""
    out: dict[str, Any] = {}
    for run in runs:
        if not run.ok:
            out.setdefault(run.feature_set, {})[run.model] = {"status": run.status}
            continue
        from moodflow.core.schema import read_json_file  # checked: it may come from `dvc pull`

        entry = _entry(run.metrics)
        for (task, target), marks in run.diverged.items():
            _target_entry(entry, task, target)["diverged_folds"] = len(marks)
        if judgement is not None:
            for task, per_target in run.metrics.items():
                for target in per_target:
                    beats = judgement.beats_chance(run.feature_set, run.model, task, str(target))
                    if beats is not None:
                        _target_entry(entry, task, str(target))["beats_chance"] = beats
        path = run.folder / "metrics.json"
        raw = read_json_file(path, "model_metrics") if path.exists() else {}
        if isinstance(raw.get("datasets"), dict):
            entry["datasets"] = {name: {"status": m["status"]} if "status" in m else _entry(m)
                                 for name, m in raw["datasets"].items()}
        if isinstance(raw.get("teachers"), dict):  # distillation: each dataset's teacher, beside the student
            entry["teachers"] = {name: {"status": m["status"]} if "status" in m else _entry(m)
                                 for name, m in raw["teachers"].items() if isinstance(m, dict)}
        out.setdefault(run.feature_set, {})[run.model] = entry
    for fset in dict.fromkeys(r.feature_set for r in runs):
        first = next((r for r in runs if r.ok and r.feature_set == fset and r.baseline is not None), None)
        if first is not None:
            out[fset]["baseline"] = baseline_entry(first)
    return out


def _target_entry(entry: dict[str, Any], task: str, target: str) -> dict[str, Any]:
    return entry.setdefault(target, {}) if task == "static" else entry.setdefault(task, {}).setdefault(target, {})


def baseline_entry(run: Run) -> dict[str, Any]:
    """metrics.json's ``<set>.baseline``: per task and target, the trivial predictor with the best
    headline metric (``predictor``: mean, majority, prior, prevalence), scored like a model."""
    by_kind = {str(kind): metrics_from_predictions(rows.drop(columns="baseline"), run.classes)
               for kind, rows in run.baseline.groupby("baseline", sort=True)}
    combined: dict[str, Any] = {}
    chosen: dict[tuple[str, str], str] = {}
    for kind, metrics in by_kind.items():
        for task, per_target in metrics.items():
            for target, m in per_target.items():
                score = m.get(HEADLINE.get(task, ""), np.nan)
                held = combined.get(task, {}).get(target)
                best = held.get(HEADLINE.get(task, ""), np.nan) if held else np.nan
                if held is None or (np.isfinite(score) and not (np.isfinite(best) and best >= score)):
                    combined.setdefault(task, {})[target] = m
                    chosen[(task, target)] = kind
    entry = _entry(combined)
    for (task, target), kind in chosen.items():
        _target_entry(entry, task, target)["predictor"] = kind
    return entry


def write_report(
    params: dict[str, Any], models_dir: str | Path = "models", reports_dir: str | Path = "reports",
    references: str | Path | None = None,
) -> dict[str, Any]:
    """Write every report output for the feature sets and models listed in params, as one set
    (moodflow.report.publish): ``metrics.json`` (DVC metric), ``significance.csv``, ``plots/``
    (DVC plot data), ``figures/*.png`` and ``comparison.{md,html}``. Returns metrics.json's dict.
    """
    params = _report_params(params)
    sets, models = params["features"]["sets"], params["train"]["models"]
    runs = load_runs(sets, models, models_dir)
    refs = load_references(references)
    scored_runs = [r for r in runs if r.ok]
    task = scored_runs[0].manifest.get("task", "regression") if scored_runs else "regression"
    judgement = judge(score_runs(runs, int(params["train"].get("seed", 0))), task)
    report = {**collect_metrics(runs, judgement), "best": judgement.best}
    with report_set(reports_dir) as out:
        write_json(out / "metrics.json", report)
        write_csv(out / "significance.csv", judgement.table())
        write_plot_data(scored_runs, out / "plots")
        figs = write_figures(scored_runs, out / "figures", refs)
        explained = explanation_figures(scored_runs, out / "figures")
        relative = {name: Path(path).relative_to(out).as_posix() for name, path in {**figs, **explained}.items()}
        doc = build_document(params, runs, judgement, refs, {n: relative[n] for n in figs},
                             {n: relative[n] for n in explained})
        write_text(out / "comparison.md", render_markdown(doc))
        images = {name: (out / rel).read_bytes() for name, rel in relative.items()}
        write_text(out / "comparison.html", render_html(doc, images))
    return report


def _report_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The settings the report reads (and declares in dvc.yaml), as plain values."""
    train = params["train"]
    protocol = train.get("protocol") or {}
    combine = train.get("combine") or {}
    base, add = list(combine.get("base") or []), list(combine.get("add") or [])
    return {  # "sets": every trained set, the combined ones (train.combine) as <base>+<add>
        "dataset": {"name": params["dataset"]["name"]},
        "features": {"sets": list(params["features"]["sets"]) + [f"{b}+{a}" for b in base for a in add]},
        "train": {"models": list(train["models"]), "seed": train.get("seed", 0), "combine": {"base": base, "add": add},
                  "protocol": protocol.to_dict() if hasattr(protocol, "to_dict") else dict(protocol)},
    }


def _static_table(runs: list[Run]) -> pd.DataFrame:
    parts = [r.predictions[r.predictions["task"] == "static"].assign(set=r.feature_set, model=r.model)
             for r in runs if (r.manifest.get("label_spec") or {}).get("task", "regression") == "regression"]
    cols = ["set", "model", "target", "track_id", "fold", "y_true", "y_pred"]
    if not parts:
        return pd.DataFrame(columns=cols)
    return pd.concat(parts, ignore_index=True)[cols]


def _dynamic_examples(runs: list[Run], n_songs: int = 2) -> pd.DataFrame:
    parts = []
    for r in runs:
        songs = example_songs(r.predictions, n_songs)
        rows = r.predictions[(r.predictions["task"] == "dynamic") & r.predictions["track_id"].isin(songs)]
        parts.append(rows.assign(set=r.feature_set, model=r.model))
    cols = ["set", "model", "track_id", "target", "time_s", "y_true", "y_pred"]
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)


def write_plot_data(runs: list[Run], plots_dir: Path) -> None:
    """DVC plot data: ``predictions.csv`` (static; scatter y_pred vs y_true) and one
    ``dynamic/<set>-<model>.csv`` per run with dynamic predictions (the first example song's
    curves: time_s, <target>_true, <target>_pred)."""
    static = _static_table(runs).sort_values(["set", "model", "target", "track_id"], kind="stable")
    write_csv(plots_dir / "predictions.csv", static)
    dyn_dir = plots_dir / "dynamic"
    dyn_dir.mkdir(parents=True, exist_ok=True)
    for r in runs:
        songs = example_songs(r.predictions, 1)
        if not songs:
            continue
        rows = r.predictions[(r.predictions["task"] == "dynamic") & (r.predictions["track_id"] == songs[0])]
        wide = rows.pivot_table(index="time_s", columns="target", values=["y_true", "y_pred"], aggfunc="mean")
        table = pd.DataFrame({"time_s": wide.index.to_numpy()})
        for target in sorted(rows["target"].unique()):
            table[f"{target}_true"] = wide["y_true"][target].to_numpy()
            table[f"{target}_pred"] = wide["y_pred"][target].to_numpy()
        write_csv(figures.figure_file(dyn_dir, f"{r.feature_set}-{r.model}").with_suffix(".csv"), table)


def write_figures(runs: list[Run], fig_dir: Path, refs: pd.DataFrame) -> dict[str, Path]:
    """The PNG figures that apply to these runs, by name."""
    fig_dir.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    if not runs:
        return out
    first = runs[0]
    static = _static_table(runs)
    if {"valence", "arousal"} <= set(static["target"]):
        scale = first.scale("static")
        out["va_plane"] = figures.va_plane(static, fig_dir / "va_plane.png", scale, scale_name(scale))
    dyn = _dynamic_examples(runs)
    if len(dyn):
        out["dynamic_curves"] = figures.dynamic_curves(dyn, fig_dir / "dynamic_curves.png", scale_name(first.scale("dynamic")))
    for r in runs:
        rows = r.predictions[r.predictions["task"] == "classification"]
        if len(rows):
            classes = [str(c) for c in (r.manifest.get("label_spec") or {}).get("classes") or []]
            table = confusion_table(rows, classes)
            out[f"confusion_{r.feature_set}_{r.model}"] = figures.confusion(
                table.to_numpy(), classes, figures.figure_file(fig_dir, f"confusion_{r.feature_set}-{r.model}"),
                f"{r.feature_set}/{r.model}: confusion (per repeat)")
    ours = our_rows(runs)
    r2 = ours[(ours["task"] == "static") & (ours["metric"] == "r2")]
    if len(r2):
        bars = r2.rename(columns={"mean": "r2", "std": "r2_std"})
        published = references_for(first.manifest.get("dataset", ""), refs)
        published = published[(published["task"] == "static") & (published["metric"] == "r2")]
        out["r2_bars"] = figures.r2_bars(bars, fig_dir / "r2_bars.png", published)
    return out
