"""The comparison report as a :class:`~moodflow.report.document.Document` (rendered to
comparison.md and comparison.html): experiment, refused runs, our results with intervals, the
trivial predictors and significance, the published numbers, explanations and figures.

Every string that comes from a dataset, a label file or a model folder goes in as plain text
(escaped by the renderers); only numbers moodflow formats are :class:`Plain`.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from moodflow.datasets import is_synthetic
from moodflow.evaluation.significance import Interval
from moodflow.report.chance import HEADLINE, Judgement, Scored
from moodflow.report.document import Bullets, Code, Document, Figure, Paragraph, Plain, Row, Section, Table
from moodflow.report.explanations import explanations_section
from moodflow.report.cross import cross_section
from moodflow.report.joint import joint_section
from moodflow.report.references import describe_protocol, references_for, rescale, scale_name
from moodflow.report.tables import TASK_METRICS, Run, comparison_rows, protocol_of

_BEST_WHAT = {"r2": "mean held-out R² over targets", "macro_f1": "macro F1", "pr_auc": "macro PR-AUC"}


def number(value: Any, digits: int = 3) -> str:
    if value is None or not np.isfinite(float(value)):
        return "—"
    return f"{float(value):.{digits}f}"


def interval_text(iv: Interval | None, scale: float = 1.0) -> Plain:
    """``0.512 [0.431, 0.593]`` (the value and its 95 % interval), ``0.512`` without one, ``—``."""
    if iv is None or not np.isfinite(iv.value):
        return Plain("—")
    text = number(iv.value * scale)
    if np.isfinite(iv.low) and np.isfinite(iv.high):
        lo, hi = sorted((iv.low * scale, iv.high * scale))
        text += f" [{number(lo)}, {number(hi)}]"
    return Plain(text)


def _num(value: Any) -> float:
    return float(value) if value is not None else np.nan


def difference_text(c) -> Plain:
    return Plain(f"{c.difference:+.3f} [{c.low:+.3f}, {c.high:+.3f}]")


def p_text(p: float) -> Plain:
    return Plain("< 0.001" if p < 0.001 else f"{p:.3f}")


def _labels_line(spec: dict[str, Any], runs: list[Run]) -> list:
    """What the labels are: targets with their scales, classes, tags, dynamic targets — or none."""
    if runs and all(r.unlabelled for r in runs):
        return ["labels: none (extraction-only: nothing to train)"]
    own = spec.get("target_scales") or {}
    overall = spec.get("scale_name") or scale_name(spec.get("scale"))
    parts: list[list] = []
    targets = spec.get("static_targets") or []
    if targets:
        named = ", ".join(f"{t} ({scale_name(own[t])})" if t in own else str(t) for t in targets)
        parts.append([f"targets {named}" + (f" on {overall}" if overall else "")])
    if spec.get("class_column"):
        parts.append([f"classes of {spec['class_column']} ({', '.join(map(str, spec.get('classes') or []))})"])
    if spec.get("tags"):
        parts.append([f"{len(spec['tags'])} tags"])
    if spec.get("dynamic_targets"):
        dyn = scale_name(spec.get("dynamic_scale")) or overall
        parts.append([f"dynamic {', '.join(map(str, spec['dynamic_targets']))}" + (f" on {dyn}" if dyn else "")])
    if not parts:
        return [f"label scale: {overall or 'none (classes/tags)'}"]
    line: list = ["labels: "]
    for i, part in enumerate(parts):
        line += (["; "] if i else []) + part
    return line


def _best_line(best: dict[str, Any], judgement: Judgement, runs: list[Run]) -> list:
    if best:
        line = [f"best model ({_BEST_WHAT[best['metric']]}): {best['feature_set']}/{best['model']} ",
                interval_text(Interval(best["score"], _num(best.get("low")), _num(best.get("high")), "", 0)),
                Plain(f" over {best.get('n_tracks', 0)} held-out tracks")]
        if best.get("beats_chance") is None:
            line.append(" (not checked against chance: no baseline predictions)")
        if best.get("runner_up") and best.get("lead") is not None:
            lead = Plain(f"{best['lead']:+.3f} [{best['lead_low']:+.3f}, {best['lead_high']:+.3f}], p ")
            verdict = ("significant: it is better than " if best["significant_lead"]
                       else "not significant: it is not distinguishable from ")
            line += ["; its lead over ", best["runner_up"], ": ", lead, p_text(best["lead_p"]), f" — {verdict}",
                     best["runner_up"]]
        elif best.get("runner_up"):
            line += ["; its lead over ", best["runner_up"], " was not tested (not on the same folds)"]
        return line
    scored = [r for r in runs if r.ok]
    if scored and judgement.has_baseline:
        return ["best model: none — no model is significantly better than chance (the trivial predictors "
                "on the same folds)"]
    if scored and all(r.manifest.get("task", "regression") == "regression" for r in scored):
        return ["best model: none — no model's held-out R² is above 0 (each predicts worse than the mean)"]
    return ["best model: none — no model was scored"]


def _experiment(doc: Document, params: dict[str, Any], runs: list[Run], judgement: Judgement, dataset: str) -> None:
    scored = [r for r in runs if r.ok]
    protocols = sorted({describe_protocol(protocol_of(r)) for r in scored})
    spec = runs[0].manifest.get("label_spec", {}) if runs else {}
    rates = sorted({f"{r.feature_set}: {r.manifest.get('feature_sample_rate') or '—'} Hz" for r in runs})
    name = params.get("dataset", {}).get("name")
    items = [
        ["dataset: ", str(dataset), " (params ", Code(f"dataset.name: {name}"), ")"],
        _labels_line(spec, runs),
        [f"feature sets: {', '.join(params['features']['sets'])} (audio decoded at {'; '.join(rates) or '—'})"],
        [f"models: {', '.join(params['train']['models'])}"],
        ["protocol (params ", Code("train.protocol"), "): ",
         Code(json.dumps(params["train"].get("protocol") or {}, sort_keys=True)),
         f"; as run: {', '.join(protocols) or '—'}; seed {params['train'].get('seed', 0)}"],
        _best_line(judgement.best, judgement, runs),
    ]
    if scored and not judgement.has_baseline:
        items.append(["chance: the model folders hold no ", Code("baseline_predictions.csv"), " (trained before "
                      "moodflow saved the trivial predictors): no score is checked against chance; retrain to add them"])
    section = doc.section("Experiment").add(Bullets(items))
    missing = [f"{s}/{m}" for s in params["features"]["sets"] for m in params["train"]["models"]
               if not any(r.feature_set == s and r.model == m for r in runs)]
    if missing:
        section.add(Paragraph([f"Not in this report (no trained model folder): {', '.join(missing)}."]))


def _refused(doc: Document, runs: list[Run], dataset: str) -> None:
    refused = [r for r in runs if not r.ok]
    parts = [[f"{r.feature_set}/{r.model} {part}: ", str(why)] for r in runs if r.ok
             for part, why in sorted((r.manifest.get("not_scored") or {}).items())]
    if refused and all(r.unlabelled for r in runs):
        doc.section("No labels").add(Paragraph([
            str(dataset), " has no labels: it is extraction-only. The feature stores (features/<set>.h5) were "
            "built; no model was trained, so there are no numbers to report. Give the folder a labels CSV "
            "(docs/datasets.md) to train."]))
        refused = []
    if refused:
        doc.section("Not scored").add(
            Paragraph(["These runs report no number, because none would mean anything:"]),
            Bullets([[f"{r.feature_set}/{r.model}: ", r.status] for r in refused]))
    if parts:
        doc.section("Label kinds not scored").add(
            Paragraph(["These runs scored their main task, but not these labels:"]), Bullets(parts))


def _flag(judgement: Judgement, s: Scored, task: str, target: str) -> list | None:
    """Why a row is flagged: no better than chance (with the closest test), diverged folds."""
    out: list = []
    if judgement.beats_chance(s.run.feature_set, s.run.model, task, target) is False:
        out.append("no better than chance")
        for v in judgement.chance[(s.run.feature_set, s.run.model, task, target)]:
            if v.comparison is None:
                out += [f"; {v.b}: not tested (", v.reason, ")"]
            elif v.comparison.better() <= 0:
                out += [f"; vs {v.b} {v.metric} ", difference_text(v.comparison), Plain(", p "), p_text(v.comparison.p)]
    marks = s.run.diverged.get((task, target))
    if marks:
        out += (["; "] if out else []) + ["diverged in fold " + ", ".join(m["fold"] for m in marks) + " ("]
        out += ["; ".join(m.get("reason", "no reason given") for m in marks), "): means over the other folds"]
    return out or None


def _results(doc: Document, judgement: Judgement, sets: list[str]) -> None:
    section = doc.section("Our results")
    scored = judgement.scored
    if not scored:
        section.add(Paragraph(["No run was scored."]))
        return
    section.add(Paragraph([
        "Each metric as its mean over the folds with a 95 % interval in brackets (the corrected resampled t "
        "interval over folds × repeats; a single split: a bootstrap over its test tracks), recomputed from each "
        "model's predictions.csv; tracks: the distinct held-out tracks the numbers rest on. The first rows are "
        "the trivial predictors (baseline) on the same folds; a model that is not significantly better than every "
        "one of them is flagged \"no better than chance\"."]))
    tasks = list(dict.fromkeys(k[0] for s in scored for k in s.scores.units.columns))
    for task in tasks:
        metrics = [m for m in TASK_METRICS.get(task, ()) if any((task, k[1], m) in s.scores.units.columns
                                                                for s in scored for k in s.scores.units.columns)]
        targets = list(dict.fromkeys(k[1] for s in scored for k in s.scores.units.columns if k[0] == task))
        scales = list(dict.fromkeys(scale_name(s.run.scale(task, t)) for s in scored for t in targets))
        mixed = len(scales) > 1
        rows: list[Row] = []

        def cells(sc, label: str, fset: str, target: str, run: Run) -> list:
            scale = [scale_name(run.scale(task, target)) or "—"] if mixed else []
            return ([fset, label, target] + scale + [Plain(str(sc.tracks.get((task, target), 0)))]
                    + [interval_text(sc.interval((task, target, m))) for m in metrics])

        for fset in sets:  # the trivial predictors of each set, from its first run that saved them
            first = next((s for s in scored if s.run.feature_set == fset and s.baselines), None)
            for target in targets if first else []:
                for kind, base in sorted(first.baselines.items()):
                    if (task, target, HEADLINE.get(task)) in base.units.columns:
                        rows.append(Row(cells(base, f"baseline ({kind})", fset, target, first.run)))
        for s in scored:
            for target in targets:
                if any(k[0] == task and k[1] == target for k in s.scores.units.columns):
                    rows.append(Row(cells(s.scores, s.run.model, s.run.feature_set, target, s.run),
                                    _flag(judgement, s, task, target)))
        header = ["set", "model", "target", *(["labels"] if mixed else []), "tracks", *metrics]
        title = [task] + ([" (labels ", Plain(scales[0]), ")"] if scales and scales[0] and not mixed else [])
        doc.sections.append(Section(title, 3, [Table(header, rows)]))
    doc.sections.append(Section(["Significance"], 2, _significance_blocks(judgement)))


FUSION_NOTE = ("Fusion: a model on a combined set (<base>+<add>) is also tested against its best base — the same "
               "model (for a per-store fusion such as stack: its base model) on one of the stores alone — and a "
               "per-store fusion against the concatenation of the stores with its base model (\"best base\", "
               "\"concatenation\" in the versus column).")


def _significance_blocks(judgement: Judgement) -> list:
    if not judgement.verdicts:
        return [Paragraph(["No comparison: one run and no trivial predictors."])]
    blocks: list = [Paragraph([
        "Per task and target, on the task's headline metric: every model against the trivial predictors of its "
        "own folds and against the best model. Cross-validation: the corrected resampled t-test (Nadeau & Bengio "
        "2003; Bouckaert & Frank 2004: variance × (1/(k·r) + n_test/n_train), t with k·r − 1 degrees of freedom); "
        "a single split: a paired bootstrap over the test tracks. The difference is A − B with its 95 % interval; "
        "\"A is better than B\" is said only when the interval excludes 0. All rows: reports/significance.csv."])]
    table = judgement.table()
    if (table["role"] == "fusion").any():
        blocks.append(Paragraph([FUSION_NOTE]))
    for (task, target), g in table.groupby(["task", "target"], sort=False):
        rows = [Row([r.model, r.versus, Plain(f"{r.difference:+.3f} [{r.low:+.3f}, {r.high:+.3f}]")
                     if pd.notna(r.difference) else Plain("—"), p_text(r.p) if pd.notna(r.p) else Plain("—"),
                     f"{r.method} ({int(r.units)} {'folds' if r.method != 'paired bootstrap' else 'tracks'})"
                     if r.method else "—", r.verdict]) for r in g.itertuples()]
        blocks += [Paragraph([f"{task} · ", str(target), f" · {g['metric'].iloc[0]}"]),
                   Table(["model (A)", "versus (B)", Plain("A − B [95 % interval]"), "p", "test", "verdict"], rows)]
    return blocks


def _published(doc: Document, dataset: str, ours: pd.DataFrame, refs: pd.DataFrame, runs: list[Run]) -> None:
    section = doc.section("Published numbers")
    published = references_for(dataset, refs)
    if is_synthetic(dataset):
        section.add(Paragraph([f"No published number exists for the {dataset} dataset: moodflow synthesises it "
                               "(moodflow/datasets/), so it only shows that the pipeline learns."]))
        return
    if not len(published) and "+" in str(dataset):
        section.add(Paragraph(["A joint run: the published numbers are per dataset, beside ours in \"Joint training\"."]))
        return
    if not len(published):
        section.add(Paragraph(["No published number for ", str(dataset), " is in moodflow/report/references.csv."]))
        return
    scored = [r for r in runs if r.ok]
    comp = comparison_rows(ours, published, protocol_of(scored[0]) if scored else {})
    section.add(Paragraph([
        "Each paper's number beside ours for the same task, target, metric and protocol kind, from our run closest "
        "to the paper's features and model (the words say how close), ours with its 95 % interval and the tracks "
        "it rests on. RMSE is shown on the paper's label scale (−1..1 = 2 × 0–1, 1–9 = 8 × 0–1); R², r, τ, F1 "
        "and AUC are scale-free. Where no run of ours matches, the row says why instead of a number."]))
    rows = []
    for _, c in comp.iterrows():
        if c["no_counterpart"]:
            ours_cells = [["— (", c["no_counterpart"], ")"], Plain("—"), "—", "—"]
        else:
            factor = rescale(1.0, c["metric"], c["our_scale"] or None, c["paper_scale"] or None)
            iv = Interval(c["ours_native"], c["ours_low"], c["ours_high"], "", 0)
            ours_cells = [interval_text(iv, factor), Plain(str(int(c["ours_tracks"]))),
                          f"{c['ours_from']}: {c['closeness']}", c["scales"]]
        paper = Plain(number(c["paper"]) + (f" ± {number(c['paper_std'])}" if pd.notna(c["paper_std"]) else ""))
        rows.append(Row([c["id"], c["task"], c["target"], c["metric"], paper, *ours_cells,
                         ("yes: " if c["protocol_match"] else "no: ") + str(c["protocol_note"]),
                         f"{c['features']}; {c['paper_model']}", c["source"]]))
    section.add(Table(["paper", "task", "target", "metric", "paper value", "ours", "our tracks", "our run",
                       "label scales", "protocol matches", "paper's features + model", "source"], rows))


def our_table(judgement: Judgement) -> pd.DataFrame:
    """One row per (set, model, task, target, metric): mean, std, interval, tracks, label scale."""
    rows = []
    for s in judgement.scored:
        for task, per_target in s.run.metrics.items():
            for target, m in per_target.items():
                for metric in TASK_METRICS.get(task, ()):
                    if metric not in m:
                        continue
                    iv = s.scores.interval((task, str(target), metric))
                    rows.append({"set": s.run.feature_set, "model": s.run.model, "task": task, "target": target,
                                 "metric": metric, "mean": m[metric], "std": m.get(f"{metric}_std", np.nan),
                                 "low": iv.low, "high": iv.high, "tracks": s.scores.tracks.get((task, str(target)), 0),
                                 "n_folds": m.get("n_folds"), "scale": scale_name(s.run.scale(task, target))})
    return pd.DataFrame(rows, columns=["set", "model", "task", "target", "metric", "mean", "std", "low", "high",
                                       "tracks", "n_folds", "scale"])


def build_document(params: dict[str, Any], runs: list[Run], judgement: Judgement, refs: pd.DataFrame,
                   figures: dict[str, str], explained: dict[str, str]) -> Document:
    """The whole report; ``figures``/``explained``: figure name → path inside reports/ (written this run)."""
    dataset = runs[0].manifest.get("dataset") if runs else params.get("dataset", {}).get("name", "?")
    doc = Document(["moodflow report: ", str(dataset)])
    _experiment(doc, params, runs, judgement, str(dataset))
    _refused(doc, runs, str(dataset))
    _results(doc, judgement, list(params["features"]["sets"]))
    joint = joint_section([s.run for s in judgement.scored])
    if joint is not None:
        doc.sections.append(joint)
    crossed = cross_section([s.run for s in judgement.scored])
    if crossed is not None:
        doc.sections.append(crossed)
    _published(doc, str(dataset), our_table(judgement), refs, runs)
    doc.sections += explanations_section([s.run for s in judgement.scored], explained)
    if figures:
        doc.section("Figures").add(*[Figure(name, path) for name, path in figures.items()])
    return doc
