"""The report stage: reports/metrics.json (the DVC metric), DVC plot data, figures, and the
comparison with published numbers (reports/comparison.md and .html; see docs/reports.md).

Keys name the feature set, model, target and metric: ``compare.svm.valence.r2``. Static
targets sit directly under the model; other tasks under their task name
(``compare.seq.dynamic.arousal.kendall_tau``, ``provided.svm.classification.macro_f1``).
``best`` names the best scored model of the dataset's task (see :func:`best_model`); a run
that was not scored (too few tracks, no labels) appears as ``{"status": …}``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from moodflow.report import figures
from moodflow.report.explanations import explanation_figures, explanations_markdown
from moodflow.report.html import markdown_to_html
from moodflow.report.joint import joint_markdown
from moodflow.core.atomic import write_csv, write_json, write_text
from moodflow.datasets import is_synthetic
from moodflow.evaluation.summary import confusion_table
from moodflow.report.references import describe_protocol, load_references, references_for, scale_name
from moodflow.report.tables import Run, comparison_rows, example_songs, load_runs, our_rows, protocol_of

log = logging.getLogger(__name__)
_HEADLINE = ("r2", "rmse", "pearson", "kendall_tau", "macro_f1", "weighted_pr_f1", "accuracy", "pr_auc", "roc_auc")


def _headline(entry: dict[str, Any]) -> dict[str, Any]:
    """Keep the metric means and their stds; drop counts and nested tables."""
    return {
        k: round(float(v), 6)
        for k, v in entry.items()
        if isinstance(v, (int, float)) and (k in _HEADLINE or k.removesuffix("_std") in _HEADLINE or k.startswith(_HEADLINE))
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


def collect_metrics(runs: list[Run]) -> dict[str, Any]:
    """Nested headline metrics of every run; a refused run gets ``{"status": …}`` instead. A joint
    run adds ``datasets.<member>`` with the same shape, each on that dataset's own scale."""
    out: dict[str, Any] = {}
    for run in runs:
        if not run.ok:
            out.setdefault(run.feature_set, {})[run.model] = {"status": run.status}
            continue
        raw = json.loads((run.folder / "metrics.json").read_text())
        entry = _entry(raw)
        if raw.get("datasets"):
            entry["datasets"] = {name: {"status": m["status"]} if "status" in m else _entry(m)
                                 for name, m in raw["datasets"].items()}
        out.setdefault(run.feature_set, {})[run.model] = entry
    return out


# what "best" means per task: (metrics.json section, metric, threshold a model must beat)
BEST_BY = {"regression": ("static", "r2", 0.0), "classification": ("classification", "macro_f1", None),
           "tagging": ("tagging", "pr_auc", None)}


def best_model(runs: list[Run]) -> dict[str, Any]:
    """The best scored run for the dataset's task: highest mean held-out R² over the targets
    (regression; only above 0 — a model worse than the mean names no best), macro F1
    (classification) or macro PR-AUC (tagging). ``{}`` when none qualifies."""
    best: dict[str, Any] = {}
    for run in runs:
        if not run.ok:
            continue
        task = run.manifest.get("task", "regression")
        section, metric, floor = BEST_BY.get(task, BEST_BY["regression"])
        values = [m[metric] for m in (run.metrics.get(section) or {}).values()
                  if isinstance(m, dict) and m.get(metric) is not None and np.isfinite(m[metric])]
        if not values:
            continue
        score = float(np.mean(values))
        if floor is not None and score <= floor:
            continue
        if not best or score > best["score"]:
            best = {"feature_set": run.feature_set, "model": run.model, "task": task, "metric": metric,
                    "score": round(score, 6)}
    return best


def write_report(
    params: dict[str, Any], models_dir: str | Path = "models", reports_dir: str | Path = "reports",
    references: str | Path | None = None,
) -> dict[str, Any]:
    """Write every report output for the feature sets and models listed in params.

    ``reports/metrics.json`` (DVC metric), ``reports/plots/`` (DVC plot data),
    ``reports/figures/*.png`` and ``reports/comparison.{md,html}``. Returns metrics.json's dict.
    """
    reports_dir = Path(reports_dir)
    params = _report_params(params)
    sets, models = params["features"]["sets"], params["train"]["models"]
    runs = load_runs(sets, models, models_dir)
    best = best_model(runs)
    report = {**collect_metrics(runs), "best": best}
    write_json(reports_dir / "metrics.json", report)
    scored = [r for r in runs if r.ok]
    write_plot_data(scored, reports_dir / "plots")
    figs = write_figures(scored, reports_dir / "figures", load_references(references))
    explained = explanation_figures(scored, reports_dir / "figures")
    text = comparison_markdown(params, runs, best, figs, reports_dir, load_references(references), explained)
    write_text(reports_dir / "comparison.md", text)
    write_text(reports_dir / "comparison.html", markdown_to_html(text, reports_dir))
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
    for stale in dyn_dir.glob("*.csv"):
        stale.unlink()
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
        write_csv(dyn_dir / f"{r.feature_set}-{r.model}.csv", table)


def write_figures(runs: list[Run], fig_dir: Path, refs: pd.DataFrame) -> dict[str, Path]:
    """The PNG figures that apply to these runs, by name."""
    fig_dir.mkdir(parents=True, exist_ok=True)
    for stale in fig_dir.glob("*.png"):
        stale.unlink()
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
                table.to_numpy(), classes, fig_dir / f"confusion_{r.feature_set}-{r.model}.png",
                f"{r.feature_set}/{r.model}: confusion (per repeat)")
    ours = our_rows(runs)
    r2 = ours[(ours["task"] == "static") & (ours["metric"] == "r2")]
    if len(r2):
        bars = r2.rename(columns={"mean": "r2", "std": "r2_std"})
        published = references_for(first.manifest.get("dataset", ""), refs)
        published = published[(published["task"] == "static") & (published["metric"] == "r2")]
        out["r2_bars"] = figures.r2_bars(bars, fig_dir / "r2_bars.png", published)
    return out


def _fmt(mean: Any, std: Any = np.nan) -> str:
    if mean is None or (isinstance(mean, float) and np.isnan(mean)):
        return "—"
    text = f"{mean:.3f}"
    if std is not None and not (isinstance(std, float) and np.isnan(std)):
        text += f" ± {std:.3f}"
    return text


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    clean = lambda c: str(c).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(clean(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _best_line(best: dict[str, Any], runs: list[Run]) -> str:
    if best:
        what = {"r2": "mean held-out R² over targets", "macro_f1": "macro F1", "pr_auc": "macro PR-AUC"}[best["metric"]]
        return f"- best model ({what}): {best['feature_set']}/{best['model']} ({best['score']:.3f})"
    scored = [r for r in runs if r.ok]
    if scored and all(r.manifest.get("task", "regression") == "regression" for r in scored):
        return "- best model: none — no model's held-out R² is above 0 (each predicts worse than the mean)"
    return "- best model: none — no model was scored"


def _labels_line(spec: dict[str, Any], runs: list[Run]) -> str:
    """What the labels are: targets with their scales, classes, tags, dynamic targets — or none."""
    if runs and all(r.unlabelled for r in runs):
        return "- labels: none (extraction-only: nothing to train)"
    own = spec.get("target_scales") or {}
    overall = scale_name(spec.get("scale_name") or spec.get("scale"))
    parts = []
    targets = spec.get("static_targets") or []
    if targets:
        named = [f"{t} ({scale_name(own[t])})" if t in own else t for t in targets]
        parts.append(f"targets {', '.join(named)}" + (f" on {overall}" if overall else ""))
    if spec.get("class_column"):
        parts.append(f"classes of {spec['class_column']} ({', '.join(map(str, spec.get('classes') or []))})")
    if spec.get("tags"):
        parts.append(f"{len(spec['tags'])} tags")
    if spec.get("dynamic_targets"):
        dyn = scale_name(spec.get("dynamic_scale")) or overall
        parts.append(f"dynamic {', '.join(spec['dynamic_targets'])}" + (f" on {dyn}" if dyn else ""))
    if not parts:
        return f"- label scale: {overall or 'none (classes/tags)'}"
    return f"- labels: {'; '.join(parts)}"


def comparison_markdown(params: dict[str, Any], runs: list[Run], best: dict[str, Any], figs: dict[str, Path],
                        reports_dir: Path, refs: pd.DataFrame, explained: dict[str, Path] | None = None) -> str:
    """The report as Markdown (comparison.html renders the same text)."""
    dataset = runs[0].manifest.get("dataset") if runs else params.get("dataset", {}).get("name", "?")
    scored = [r for r in runs if r.ok]
    lines = [f"# moodflow report: {dataset}", "", "## Experiment", ""]
    protocols = {describe_protocol(protocol_of(r)) for r in scored}
    spec = runs[0].manifest.get("label_spec", {}) if runs else {}
    rates = sorted({f"{r.feature_set}: {r.manifest.get('feature_sample_rate') or '—'} Hz" for r in runs})
    lines += [
        f"- dataset: `{dataset}` (params `dataset.name: {params.get('dataset', {}).get('name')}`)",
        _labels_line(spec, runs),
        f"- feature sets: {', '.join(params['features']['sets'])} (audio decoded at {'; '.join(rates) or '—'})",
        f"- models: {', '.join(params['train']['models'])}",
        f"- protocol (params `train.protocol`): {json.dumps(params['train'].get('protocol') or {}, sort_keys=True)};"
        f" as run: {', '.join(sorted(protocols)) or '—'}; seed {params['train'].get('seed', 0)}",
        _best_line(best, runs),
        "",
    ]
    missing = [f"{s}/{m}" for s in params["features"]["sets"] for m in params["train"]["models"]
               if not any(r.feature_set == s and r.model == m for r in runs)]
    if missing:
        lines += [f"Not in this report (no trained model folder): {', '.join(missing)}.", ""]
    refused = [r for r in runs if not r.ok]
    parts = [f"- {r.feature_set}/{r.model} {part}: {why}" for r in runs if r.ok
             for part, why in sorted((r.manifest.get("not_scored") or {}).items())]
    if refused and all(r.unlabelled for r in runs):
        lines += ["## No labels", "", f"`{dataset}` has no labels: it is extraction-only. The feature stores "
                  f"(features/<set>.h5) were built; no model was trained, so there are no numbers to report. "
                  "Give the folder a labels CSV (docs/datasets.md) to train.", ""]
        refused = []
    if refused:
        lines += ["## Not scored", "", "These runs report no number, because none would mean anything:", ""]
        lines += [f"- {r.feature_set}/{r.model}: {r.status}" for r in refused] + [""]
    if parts:
        lines += ["## Label kinds not scored", "", "These runs scored their main task, but not these labels:", ""]
        lines += parts + [""]
    ours = our_rows(scored)
    lines += ["## Our results", ""]
    if not len(ours):
        lines += ["No run was scored.", ""]
    else:
        lines += ["Mean ± std over folds, recomputed from each model's predictions.csv.", ""]
    for task, group in ours.groupby("task", sort=False):
        metrics = list(dict.fromkeys(group["metric"]))
        scales = list(dict.fromkeys(group["scale"]))
        mixed = len(scales) > 1  # targets on scales of their own: one column says which
        lines += [f"### {task}" + (f" (labels {scales[0]})" if scales[0] and not mixed else ""), ""]
        rows = []
        for (fset, model, target), g in group.groupby(["set", "model", "target"], sort=False):
            by = g.set_index("metric")
            rows.append([fset, model, target] + ([g["scale"].iloc[0] or "—"] if mixed else [])
                        + [_fmt(by["mean"].get(m, np.nan), by["std"].get(m, np.nan)) for m in metrics])
        lines += _md_table(["set", "model", "target", *(["labels"] if mixed else []), *metrics], rows)
    lines += joint_markdown(scored)
    lines += ["## Published numbers", ""]
    published = references_for(dataset, refs)
    if is_synthetic(dataset):
        lines += ["No published number exists for the demo dataset: it is synthesised by moodflow "
                  "(moodflow/datasets/demo.py) and only shows that the pipeline learns.", ""]
    elif not len(published) and "+" in str(dataset):
        lines += ["A joint run: the published numbers are per dataset, beside ours in \"Joint training\".", ""]
    elif not len(published):
        lines += [f"No published number for `{dataset}` is in moodflow/report/references.csv.", ""]
    else:
        proto = protocol_of(scored[0]) if scored else {}
        comp = comparison_rows(ours, published, proto)
        lines += ["Each paper's number beside ours for the same task, target, metric and protocol kind, from "
                  "our run closest to the paper's features and model (the words say how close). RMSE is "
                  "shown on the paper's label scale (−1..1 = 2 × 0–1, 1–9 = 8 × 0–1); R², r, τ, F1 and AUC "
                  "are scale-free. Where no run of ours matches, the row says why instead of a number.", ""]
        rows = []
        for _, c in comp.iterrows():
            if c["no_counterpart"]:
                ours_cells = [f"— ({c['no_counterpart']})", "—", "—"]
            else:
                ours_cells = [_fmt(c["ours"], c["ours_std"]), f"{c['ours_from']}: {c['closeness']}", c["scales"]]
            rows.append([c["id"], c["task"], c["target"], c["metric"], _fmt(c["paper"], c["paper_std"]), *ours_cells,
                         ("yes: " if c["protocol_match"] else "no: ") + c["protocol_note"],
                         f"{c['features']}; {c['paper_model']}", c["source"]])
        lines += _md_table(["paper", "task", "target", "metric", "paper value", "ours", "our run", "label scales",
                            "protocol matches", "paper's features + model", "source"], rows)
    lines += explanations_markdown(scored, explained or {}, reports_dir)
    if figs:
        lines += ["## Figures", ""]
        for name, path in figs.items():
            lines += [f"![{name}]({Path(path).relative_to(reports_dir).as_posix()})", ""]
    return "\n".join(lines)
