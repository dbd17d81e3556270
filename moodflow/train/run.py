"""Stage two: train one model on one feature store, evaluate it, save it with its predictions.

Output folder ``models/<set>/<model>/``::

    model.json        manifest: status, model kind, tasks, targets, label spec (names, scale),
                      feature set + its store config, protocol as run, metrics, package versions
    model.skops …     the static model's weights (format chosen by the model; never pickle)
    dynamic/          the dynamic model's weights, when a dynamic model was trained
    predictions.csv   every held-out prediction: task, track_id, time_s (dynamic), fold,
                      target, y_true, y_pred (+ score_<class> for classification)
    metrics.json      {"static"|"dynamic"|"classification"|"tagging": {target: {metric: mean,
                      metric_std, n_folds, n_tracks}}}
    tuning.csv        when settings were searched: fold, settings, inner_score, chosen
    importance.csv    held-out feature importance: method, level, name, target, mean, std, n
    attention.csv     seq with arch attention: track_id, fold, time_s, weight (held-out frames)
    confusion.csv     classification only: confusion counts per repetition

Which tasks run: the dataset's static task (``LabelSpec.task``) whenever the model supports
it (the multitask model trains on every label kind the dataset has; a single-task model learns
each other static kind it supports as a part of its own, ``<kind>/`` beside the main model,
e.g. a folder's tags next to its regression targets); the dynamic task when
the dataset has dynamic labels, ``dynamic`` is true (``train.dynamic``) and the model
supports it. When the protocol cannot give a number worth reporting (too few tracks, see
``moodflow.evaluation.protocols``) the stage still succeeds: ``model.json`` says
``status: insufficient data`` with the reason, and nothing is scored or saved as a model; a
dataset without any label (an extraction-only folder) gets ``status: no labels: nothing to
train`` the same way.
See docs/models.md.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from moodflow.core.atomic import atomic_path, write_json
from moodflow.core.config import build, to_dict
from moodflow.core.versions import package_versions
from moodflow.evaluation.cross import cross_matrix, cross_rows, cross_table
from moodflow.evaluation.joint import per_dataset_metrics
from moodflow.evaluation.protocols import InsufficientData, ProtocolRun, check_folds, class_name, make_folds
from moodflow.evaluation.summary import confusion_table, label_scales, metrics_from_predictions, nan_to_none
from moodflow.models import MODELS
from moodflow.models.base import Model, ModelRecipe
from moodflow.stores.feature_store import names_digest
from moodflow.stores.prepared import LabelSpec, PreparedDataset
from moodflow.train.crossval import cross_validate, fit_tuned, usable_cores
from moodflow.train.combined import combined_blocks, open_features
from moodflow.train.derived import drop_derived, mark_derived, mark_members
from moodflow.train.data import StaticData, class_strata, dynamic_data, label_kinds, static_data, track_groups
from moodflow.train.importance import Explainer
from moodflow.train.problems import (
    ClassesProblem, ColumnsProblem, DynamicProblem, MultitaskProblem, Problem,
)
from moodflow.train.settings import ProtocolSettings, TrainSettings

log = logging.getLogger(__name__)
FORMAT_VERSION = 3
OK = "ok"
NO_LABELS = "no labels: nothing to train"


def static_problem(recipe: ModelRecipe, data: StaticData, spec: LabelSpec) -> Problem:
    """The static learning problem of the dataset's task (every label kind for multitask)."""
    if recipe.cls.multitask:
        names = {"regression": list(spec.static_targets), "classification": (spec.class_column, list(spec.classes)),
                 "tagging": list(spec.tags)}
        labels = {spec.task: data.labels[spec.task], **{k: v for k, v in data.labels.items() if k != spec.task}}
        return MultitaskProblem(data.X, labels, names, data.track_ids, spec.task)
    if spec.task == "classification":
        return ClassesProblem(data.X, data.Y, data.track_ids, [str(c) for c in spec.classes], spec.class_column)
    return ColumnsProblem(spec.task, data.X, data.Y, data.track_ids, data.targets)


def recipe_for(recipe: ModelRecipe, kind: str, spec: LabelSpec) -> ModelRecipe:
    """The recipe for another static label kind than the main one (classes: their number)."""
    return dataclasses.replace(recipe, n_classes=len(spec.classes) if kind == "classification" else None)


def protocol_folds(problem: Problem, protocol: ProtocolSettings, settings: TrainSettings,
                   splits: pd.DataFrame | None, classify: bool, groups: dict[str, str] | None = None,
                   strata: dict[str, str] | None = None) -> ProtocolRun:
    """The protocol's folds over the problem's tracks, refused (InsufficientData) when too small.
    With ``groups`` every group's tracks stay on one side of each fold. A ``stratified`` protocol
    stratifies a part that does not learn classes on the dataset's class column (``strata``:
    track id → class), so it works whatever the other label kinds are."""
    classify = classify and problem.stratify is not None  # the classes it learns (not a multitask model's)
    names = problem.class_names if classify else None
    classes = problem.stratify if classify else None
    if classes is None and protocol.kind == "stratified" and strata is not None:
        classes = np.array([strata.get(t, "") for t in problem.track_ids])
    group_of = None
    if groups is not None:
        ungrouped = [t for t in problem.track_ids if t not in groups]
        if ungrouped:
            raise ValueError(f"train.protocol.group {protocol.group!r}: {len(ungrouped)} labelled track(s) have no "
                             f"{protocol.group} value in the prepared manifest (e.g. {ungrouped[0]!r})")
        group_of = np.array([groups[t] for t in problem.track_ids])
    run = make_folds(problem.track_ids, kind=protocol.kind, folds=protocol.folds, repeats=protocol.repeats,
                     seed=settings.seed, splits=splits, classes=classes, groups=group_of, class_names=names,
                     train_on=protocol.train_on, test_on=protocol.test_on)
    by_id = (dict(zip(problem.track_ids, [class_name(c, names) for c in problem.stratify])) if classify else None)
    check_folds(run, min_train=settings.min_train, min_test=settings.min_test, classes=by_id,
                min_per_class=settings.min_per_class if classify else 0)
    return run


@dataclass
class Part:
    """One learning problem of a training run: the static task, another static label kind, or
    the dynamic task; ``path`` is its folder inside the model folder (``.`` for the static part)."""

    name: str
    path: str
    problem: Problem
    classify: bool
    recipe: ModelRecipe
    task_info: dict[str, Any] = field(default_factory=dict)  # extra keys of model.json's tasks[<name>]


@dataclass
class PartResult:
    """A part cross-validated and refitted: what its share of the model folder holds."""

    part: Part
    final: Model  # refitted on every labelled track of the part
    predictions: pd.DataFrame  # held-out predictions of every fold
    tuning: list[pd.DataFrame]  # the folds' candidates, then the final model's (fold "all")
    importance: pd.DataFrame
    attention: pd.DataFrame
    protocol: dict[str, Any]  # the protocol as run (ProtocolRun.describe())
    task: dict[str, Any]  # model.json's tasks[<part>]
    baseline: pd.DataFrame  # the trivial predictors' rows on the same folds (moodflow.train.baseline)
    teachers: pd.DataFrame | None = None  # distillation: the teachers' held-out rows (moodflow.models.distill)


def train_and_evaluate(
    *,
    store_path: str | Path | Sequence[str | Path],
    prepared_dir: str | Path,
    feature_set: str,
    model_name: str,
    model_config: Mapping[str, Any] | None,
    out_dir: str | Path,
    settings: Mapping[str, Any] | TrainSettings | None = None,
    **train: Any,
) -> dict[str, Any]:
    """Cross-validate every task that applies, refit on all labelled tracks, and write the
    model folder atomically. Returns the metrics (as written to metrics.json; ``{}`` when the
    protocol refused, see the module docstring).

    ``store_path`` is the set's store, or for a combined set ``a+b`` one store per part, in
    order (:mod:`moodflow.train.combined`). ``model_config`` is ``train.<model_name>``; ``settings`` (or keywords: ``protocol``, ``seed``,
    ``dynamic``, ``min_train`` …) the ``train`` section's own settings (:class:`TrainSettings`).
    """
    model_cls = MODELS.get(model_name)
    config = build(model_cls.Config, model_config, f"train.{model_name}")
    values = to_dict(settings) if isinstance(settings, TrainSettings) else dict(settings or {})
    s = build(TrainSettings, {**values, **train}, "train")
    prepared = PreparedDataset.read(prepared_dir)
    spec = prepared.spec
    jobs = usable_cores(s.jobs)
    run_dynamic = s.dynamic and prepared.dynamic_labels is not None and "dynamic" in model_cls.tasks
    has_static = bool(spec.static_targets or spec.class_column or spec.tags)
    run_static = has_static and spec.task in model_cls.tasks
    if not has_static and prepared.dynamic_labels is not None and not s.dynamic:
        raise ValueError(f"dataset {prepared.name!r} has only dynamic labels and train.dynamic is false: "
                         "set it true (`-S train.dynamic=true`) to train on them")
    if spec.has_labels and not (run_static or run_dynamic):
        raise ValueError(
            f"model {model_name!r} does none of this run's tasks: static {spec.task}"
            f"{', dynamic' if s.dynamic and prepared.dynamic_labels is not None else ''} (it does {sorted(model_cls.tasks)})"
        )
    with open_features(store_path, feature_set) as store:  # refuses a store made by another extractor
        store_attrs, feature_names, frame_shape = store.attrs, store.feature_names, store.frame_shape
        feature_groups = store.feature_groups
        blocks = combined_blocks(store, model_cls, s.combine.block_weight, f"{feature_set}/{model_name}")
        recipe = ModelRecipe(
            model_name, config, input_shape=list(frame_shape) if len(frame_shape) == 2 else None,
            n_classes=len(spec.classes) if spec.task == "classification" else None, n_jobs=jobs,
            **blocks.get("static", {}),
        )
        static = static_data(store, prepared, all_kinds=model_cls.multitask) if run_static else None
        # a single-task model also learns the dataset's other static label kinds, each its own part
        extra = {} if model_cls.multitask or not has_static else {
            kind: static_data(store, prepared, kind=kind) for kind in label_kinds(prepared)[1:]
            if kind in model_cls.tasks}
        dyn = dynamic_data(store, prepared.dynamic_labels, list(spec.dynamic_targets)) if run_dynamic else None
    manifest = _manifest(model_cls, config, recipe, spec, prepared, feature_set, store_attrs, feature_names,
                         frame_shape, s)
    if s.combine.block_weight != "none" and recipe.blocks:
        manifest["block_weight"] = recipe.block_weight  # what the model applied (none: it does not scale)
    if not spec.has_labels:
        log.warning("%s/%s: %s (the dataset is extraction-only)", feature_set, model_name, NO_LABELS)
        return _write_refusal(out_dir, manifest, NO_LABELS)
    parts = _parts(recipe, spec, static, extra, dyn, blocks.get("dynamic"))
    mark_derived(parts, prepared)  # derived targets (dataset.<name>.derive_va) train, never score
    mark_members(parts, prepared)  # a joint run: each track's dataset (distillation's teachers)
    try:
        results, not_scored = _train_parts(parts, prepared, s, jobs, feature_set, model_name, feature_names,
                                           feature_groups)
    except InsufficientData as exc:
        log.warning("%s/%s: insufficient data, nothing scored: %s", feature_set, model_name, exc)
        return _write_refusal(out_dir, manifest, f"insufficient data: {exc}")
    results = drop_derived(results, prepared)
    predictions = pd.concat([r.predictions for r in results], ignore_index=True)
    cols = ["task", "track_id", "time_s", "fold", "target", "y_true", "y_pred"]
    predictions = predictions.reindex(columns=cols + [c for c in predictions.columns if c not in cols])
    scored = cross_rows(predictions) if s.protocol.kind == "cross" else predictions  # headline: cross folds
    metrics = nan_to_none(metrics_from_predictions(scored, [str(c) for c in spec.classes] or None,
                                                   label_scales(spec)))
    if prepared.info.get("members"):  # a joint run: every dataset scored alone, on its own scale
        manifest["members"] = prepared.info["members"]
        metrics["datasets"] = per_dataset_metrics(scored, prepared.info["members"], s.min_test)
    taught = [r.teachers for r in results if r.teachers is not None and len(r.teachers)]
    if taught and prepared.info.get("members"):  # distillation: each dataset's teacher, on its own scale
        metrics["teachers"] = per_dataset_metrics(pd.concat(taught, ignore_index=True), prepared.info["members"],
                                                  s.min_test)
    if s.protocol.kind == "cross":  # the matrix: rows trained on, columns tested on (cross.csv)
        metrics["cross"] = cross_matrix(predictions, prepared.info["members"], s.protocol.train_on,
                                        s.protocol.test_on)
    if not_scored:
        manifest["not_scored"] = not_scored
    tasks = {r.part.name: r.task for r in results}
    manifest.update(tasks=tasks, protocol_run={r.part.name: r.protocol for r in results}, metrics=metrics,
                    targets=tasks.get("static", tasks.get("dynamic", {})).get("targets", []))
    _write_model_folder(out_dir, manifest, results, predictions, metrics, [str(c) for c in spec.classes])
    return metrics


def _manifest(model_cls: type[Model], config: Any, recipe: ModelRecipe, spec: LabelSpec, prepared: PreparedDataset,
              feature_set: str, store_attrs: Mapping[str, Any], feature_names: list[str], frame_shape: Sequence[int],
              s: TrainSettings) -> dict[str, Any]:
    """model.json before training: the model, the data it learns from and the settings."""
    return {
        "format": "moodflow.model", "format_version": FORMAT_VERSION, "status": OK, "model": recipe.name,
        "model_class": f"{model_cls.__module__}.{model_cls.__qualname__}",
        "model_kind": "neural" if model_cls.neural else "classical",
        "params": to_dict(config), "data": {"input_shape": recipe.input_shape, "n_classes": recipe.n_classes},
        "task": spec.task, "label_spec": spec.to_dict(), "dataset": prepared.name, "feature_set": feature_set,
        "feature_extractor": store_attrs.get("extractor"),
        "feature_extractor_version": store_attrs.get("extractor_version"), "feature_config": store_attrs.get("config"),
        "feature_sample_rate": int(store_attrs.get("sample_rate", 0)),
        "feature_names_sha": names_digest(feature_names), "n_features": len(feature_names),
        "frame_shape": list(frame_shape), "protocol": to_dict(s.protocol), "seed": s.seed,
        "train_settings": {k: to_dict(v) if hasattr(v, "__dataclass_fields__") else v
                           for k, v in ((k, getattr(s, k)) for k in ("min_train", "min_test", "min_per_class", "tune",
                                                                     "importance"))},
        "versions": package_versions(model_cls.packages),
    }


def _parts(recipe: ModelRecipe, spec: LabelSpec, static: StaticData | None, extra: dict[str, StaticData],
           dyn: Any, frame_blocks: dict[str, Any] | None = None) -> list[Part]:
    """The parts to train, in order: the static task, the other static label kinds, the dynamic task."""
    parts = []
    if static is not None:
        parts.append(Part("static", ".", static_problem(recipe, static, spec), spec.task == "classification", recipe,
                          {"label_kinds": sorted(static.labels)}))
    for kind, data in extra.items():
        kind_recipe = recipe_for(recipe, kind, spec)
        parts.append(Part(kind, kind, static_problem(kind_recipe, data, dataclasses.replace(spec, task=kind)),
                          kind == "classification", kind_recipe,
                          {"label_kinds": [kind], "n_classes": kind_recipe.n_classes}))
    if dyn is not None:
        parts.append(Part("dynamic", "dynamic", DynamicProblem(dyn.X, dyn.Y, dyn.times, dyn.track_ids, dyn.targets),
                          False, dataclasses.replace(recipe, **(frame_blocks or {})), {"n_frames": dyn.n_frames}))
    return parts


def _train_parts(parts: list[Part], prepared: PreparedDataset, s: TrainSettings, jobs: int, feature_set: str,
                 model_name: str, feature_names: list[str], feature_groups: Any,
                 ) -> tuple[list[PartResult], dict[str, str]]:
    """Every part trained on its protocol's folds, and why any other label kind is not scored;
    InsufficientData when the main task (or the dynamic one) cannot be scored."""
    groups = track_groups(prepared, s.protocol.group)
    strata = class_strata(prepared)
    explainer = (Explainer(feature_names, feature_groups, s.importance.repeats, s.importance.max_features, s.seed)
                 if s.importance.repeats else None)
    results: list[PartResult] = []
    not_scored: dict[str, str] = {}
    for part in parts:
        try:
            if len(part.problem.track_ids) == 0:
                raise InsufficientData(f"no track has both {feature_set} features and {part.name} labels")
            run = protocol_folds(part.problem, s.protocol, s, prepared.splits, part.classify, groups=groups,
                                 strata=strata)
        except InsufficientData as exc:
            if part.name in ("static", "dynamic"):
                raise
            # another label kind too small to score (emotify's rarest dominant emotions) leaves
            # the main task scored; model.json and the report say why this part is not
            log.warning("%s/%s: %s not scored: insufficient data: %s", feature_set, model_name, part.name, exc)
            not_scored[part.name] = f"insufficient data: {exc}"
            continue
        results.append(train_part(part, run, s, jobs, explainer if part.name == "static" else None))
    return results, not_scored


def train_part(part: Part, run: ProtocolRun, s: TrainSettings, jobs: int, explainer: Explainer | None) -> PartResult:
    """Cross-validate ``part`` over the folds of ``run``, then refit it on all its tracks."""
    problem = part.problem
    predictions, records, explained, attended, trivial, teachers = cross_validate(
        part.recipe, problem, run.folds, seed=s.seed, jobs=jobs, tune_defaults=s.tune, explainer=explainer)
    all_rows = np.arange(len(problem.track_ids))
    final, final_records = fit_tuned(part.recipe, problem, all_rows, seed=s.seed, tune_defaults=s.tune, fold="all")
    task = {"task": problem.kind, "path": part.path, "targets": _targets(problem),
            "n_tracks": len(problem.track_ids), **part.task_info}
    return PartResult(part, final, predictions, [records, pd.DataFrame(final_records, columns=records.columns)],
                      explained, attended, run.describe(), task, trivial, teachers)


def _write_model_folder(out_dir: str | Path, manifest: dict[str, Any], results: list[PartResult],
                        predictions: pd.DataFrame, metrics: dict[str, Any], classes: list[str]) -> None:
    """The model folder, atomically: every part's weights, the held-out tables, metrics, manifest."""
    tuning_table = pd.concat([t for r in results for t in r.tuning], ignore_index=True)
    with atomic_path(out_dir) as tmp:
        tmp.mkdir(parents=True)
        for r in results:
            (tmp / r.part.path).mkdir(exist_ok=True)
            r.final.save(tmp / r.part.path)
        predictions.to_csv(tmp / "predictions.csv", index=False)
        baseline = pd.concat([r.baseline for r in results], ignore_index=True)
        baseline.reindex(columns=[*predictions.columns, "baseline"]).to_csv(tmp / "baseline_predictions.csv",
                                                                           index=False)
        importance_table = pd.concat([r.importance for r in results], ignore_index=True) if results else pd.DataFrame()
        if len(importance_table):
            importance_table.to_csv(tmp / "importance.csv", index=False)
        attention_table = pd.concat([r.attention for r in results], ignore_index=True) if results else pd.DataFrame()
        if len(attention_table):
            attention_table.to_csv(tmp / "attention.csv", index=False)
        if len(tuning_table):
            tuning_table.to_csv(tmp / "tuning.csv", index=False)
        if "classification" in metrics:
            rows = predictions[predictions["task"] == "classification"]
            confusion_table(rows, classes).to_csv(tmp / "confusion.csv")
        if "cross" in metrics:
            cross_table(metrics["cross"]).to_csv(tmp / "cross.csv", index=False)
        taught = [r.teachers for r in results if r.teachers is not None and len(r.teachers)]
        if taught:
            pd.concat(taught, ignore_index=True).to_csv(tmp / "teacher_predictions.csv", index=False)
        write_json(tmp / "metrics.json", metrics)
        write_json(tmp / "model.json", manifest)


def _targets(problem: Problem) -> list[str]:
    if isinstance(problem, MultitaskProblem):
        return list(problem.names.get(problem.main) if problem.main != "classification"
                    else [problem.names["classification"][0]])
    if isinstance(problem, ClassesProblem):
        return [problem.target]
    return list(getattr(problem, "columns", None) or getattr(problem, "targets", []))


def _write_refusal(out_dir: str | Path, manifest: dict[str, Any], status: str) -> dict[str, Any]:
    """A model folder that says why nothing was scored (no weights, no predictions)."""
    manifest.update(status=status, tasks={}, metrics={})
    with atomic_path(out_dir) as tmp:
        tmp.mkdir(parents=True)
        pd.DataFrame(columns=["task", "track_id", "time_s", "fold", "target", "y_true", "y_pred"]).to_csv(
            tmp / "predictions.csv", index=False)
        write_json(tmp / "metrics.json", {})
        write_json(tmp / "model.json", manifest)
    return {}
