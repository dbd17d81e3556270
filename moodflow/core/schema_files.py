"""The schema of each JSON file moodflow reads back (see :mod:`moodflow.core.schema`, which
parses and checks): types, ranges and required keys; extra keys are allowed (a newer moodflow
may add some), a ``format_version`` from the future is refused before these run."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

from moodflow.core.errors import SchemaError, value_kind

Finite = Annotated[float, Field(allow_inf_nan=False, ge=-1e30, le=1e30)]
Small = Annotated[int, Field(ge=-(1 << 31), lt=1 << 31)]
Count = Annotated[int, Field(ge=0, lt=1 << 31)]
Text = Annotated[str, Field(max_length=10_000)]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class _Schema(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


def _range(value: Any) -> Any:
    if value is not None and not (value[0] < value[1]):
        raise ValueError(f"low {value[0]:g} must be below high {value[1]:g}")
    return value


Range = Annotated[list[Finite], Field(min_length=2, max_length=2)]


class LabelSpecSchema(_Schema):
    task: Literal["regression", "classification", "tagging"] = "regression"
    static_targets: list[Text] = []
    dynamic_targets: list[Text] = []
    scale: Optional[Range] = None
    scale_name: Text = ""
    class_column: Optional[Text] = None
    classes: list[Text] = []
    tags: list[Text] = []
    dynamic_hop_s: Optional[Annotated[float, Field(allow_inf_nan=False, gt=0, le=1e6)]] = None
    dynamic_scale: Optional[Range] = None
    dynamic_scale_name: Text = ""
    target_scales: dict[Text, Range] = {}

    _ranges = field_validator("scale", "dynamic_scale")(_range)

    @field_validator("target_scales")
    @classmethod
    def _target_ranges(cls, value: dict[str, list[float]]) -> dict[str, list[float]]:
        for target, pair in value.items():
            if not pair[0] < pair[1]:
                raise ValueError(f"{target}: low {pair[0]:g} must be below high {pair[1]:g}")
        return value


class TaskEntry(_Schema):
    task: Literal["regression", "classification", "tagging", "dynamic"]
    path: Text = "."
    targets: list[Text] = []
    n_tracks: Optional[Count] = None
    n_classes: Optional[Count] = None
    n_frames: Optional[Count] = None
    label_kinds: list[Text] = []

    @field_validator("path")
    @classmethod
    def _inside(cls, value: str) -> str:
        from moodflow.core.paths import path_problem

        problem = None if value == "." else path_problem(value)
        if problem:
            raise ValueError(f"{value!r} {problem}")
        return value


class ModelData(_Schema):
    input_shape: Optional[Annotated[list[Count], Field(max_length=8)]] = None
    n_classes: Optional[Count] = None


def _metric_tree(value: Any, where: str = "", depth: int = 0) -> None:
    """Scores: objects of numbers, strings, null and lists of them (shallow)."""
    if depth > 8:
        raise ValueError(f"{where or '(top)'}: nested too deeply")
    if isinstance(value, dict):
        for key, item in value.items():
            _metric_tree(item, f"{where}.{key}" if where else str(key), depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _metric_tree(item, f"{where}.{i}", depth + 1)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where}: must be a finite number")


_SCORES = ("r2", "macro_f1", "accuracy", "roc_auc", "pr_auc", "pearson", "rmse", "weighted_pr_f1")


def _check_metrics(value: Any, where: str = "") -> None:
    """``{task: {target: {metric: number|null, …}}}`` (plus ``datasets.<name>`` of the same shape)."""
    if not isinstance(value, dict):
        raise ValueError(f"{where or '(top)'}: must be an object (got {value_kind(value)})")
    _metric_tree(value, where)
    for task, targets in value.items():
        if task == "datasets" and isinstance(targets, dict):
            for name, member in targets.items():
                if isinstance(member, dict) and "status" not in member:
                    _check_metrics(member, f"{where}datasets.{name}.")
            continue
        if targets is None or task in ("status", "best") or (where.startswith("datasets.") and task == "scale" and isinstance(targets, str)):
            continue  # a member's "scale" is its scale's name ("1-9")
        if not isinstance(targets, dict):
            raise ValueError(f"{where}{task}: must be an object (got {value_kind(targets)})")
        for target, scores in targets.items():
            if not isinstance(scores, dict):
                continue
            for key, score in scores.items():
                base = key.removesuffix("_std")
                if base in _SCORES and score is not None and (isinstance(score, bool) or not isinstance(score, (int, float))):
                    raise ValueError(f"{where}{task}.{target}.{key}: must be a number or null (got {value_kind(score)})")


class ModelManifest(_Schema):
    format: Literal["moodflow.model"]
    format_version: Optional[Count] = None
    status: Text = "ok"
    model: Text
    model_class: Optional[Text] = None
    model_kind: Optional[Literal["neural", "classical"]] = None
    params: dict[str, Any] = {}
    data: ModelData = ModelData()
    task: Literal["regression", "classification", "tagging"] = "regression"
    label_spec: Optional[LabelSpecSchema] = None
    dataset: Optional[Text] = None
    feature_set: Optional[Text] = None
    feature_extractor: Optional[Text] = None
    feature_extractor_version: Optional[Text | Small] = None
    feature_config: Optional[dict[str, Any] | Annotated[str, Field(max_length=1 << 20)]] = None
    feature_sample_rate: Annotated[int, Field(ge=0, le=1_000_000)] = 0
    feature_names_sha: Optional[Annotated[str, Field(pattern=r"^[0-9a-f]{1,64}$")]] = None
    n_features: Optional[Count] = None
    frame_shape: Annotated[list[Count], Field(max_length=8)] = []
    protocol: Optional[dict[str, Any]] = None
    protocol_run: dict[str, Any] = {}
    seed: Small = 0
    tasks: Optional[dict[Text, TaskEntry]] = None
    targets: list[Text] = []
    metrics: dict[str, Any] = {}
    not_scored: dict[Text, Text] = {}
    versions: dict[Text, Optional[Text]] = {}

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, value: dict[str, Any]) -> dict[str, Any]:
        _check_metrics(value)
        return value


class FeatureRecord(_Schema):
    extractor: Text
    extractor_version: Text
    config: dict[str, Any]
    feature_names_sha: Annotated[str, Field(pattern=r"^[0-9a-f]{1,64}$")]
    packages: dict[Text, Optional[Text]]


class BundleModel(_Schema):
    model: Optional[Text] = None
    feature_set: Optional[Text] = None
    dataset: Optional[Text] = None
    task: Optional[Text] = None
    targets: Optional[list[Text]] = None
    protocol: Optional[dict[str, Any]] = None


class BundleHeader(_Schema):
    format: Literal["moodflow.bundle"]
    format_version: Count
    moodflow_version: Optional[Text] = None
    model: BundleModel = BundleModel()
    label_spec: Optional[LabelSpecSchema] = None
    metrics: Optional[dict[str, Any]] = None
    features: FeatureRecord
    files: Annotated[dict[Annotated[str, Field(max_length=1000)], Sha256], Field(max_length=1000)]

    @field_validator("files")
    @classmethod
    def _model_listed(cls, value: dict[str, str]) -> dict[str, str]:
        if "model.json" not in value:
            raise ValueError("lists no model.json")
        return value

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, value: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
        if value is not None:
            _check_metrics(value)
        return value


class DatasetFile(_Schema):
    name: Text
    spec: LabelSpecSchema
    info: dict[str, Any] = {}


class BestModel(_Schema):
    feature_set: Text
    model: Text
    task: Optional[Text] = None
    metric: Optional[Text] = None
    score: Optional[Finite] = None

    @field_validator("feature_set", "model")
    @classmethod
    def _one_name(cls, value: str) -> str:
        from moodflow.core.paths import path_problem

        problem = path_problem(value, strict=True)
        if problem or "/" in value:
            raise ValueError(f"{value!r} must be one folder name" + (f" ({value!r} {problem})" if problem else ""))
        return value


class RunMetrics(_Schema):
    """``reports/metrics.json``: per feature set and model the headline scores, and ``best``."""

    best: Optional[BestModel] = None

    @field_validator("best", mode="before")
    @classmethod
    def _empty_best(cls, value: Any) -> Any:
        return None if value == {} else value


def _check_model_metrics(value: Any, source: str) -> None:
    try:
        _check_metrics(value)
    except ValueError as exc:
        raise SchemaError(f"{source}: {exc}") from None


_MAX_INT = 1 << 31


def _check_network(value: Any, source: str) -> None:
    """network.json: an object of bounded numbers only (integers below 2**31, finite floats),
    strings, lists and objects a few levels deep."""
    if not isinstance(value, dict):
        raise SchemaError(f"{source}: must be a JSON object (got {value_kind(value)})")

    def walk(node: Any, where: str, depth: int) -> None:
        if depth > 8:
            raise SchemaError(f"{source}: {where} is nested too deeply")
        if isinstance(node, dict):
            for key, item in node.items():
                walk(item, f"{where}.{key}", depth + 1)
        elif isinstance(node, list):
            if len(node) > 1 << 16:
                raise SchemaError(f"{source}: {where} lists {len(node)} values")
            for i, item in enumerate(node):
                walk(item, f"{where}.{i}", depth + 1)
        elif isinstance(node, bool) or node is None or isinstance(node, str):
            return
        elif isinstance(node, int):
            if not -_MAX_INT < node < _MAX_INT:
                raise SchemaError(f"{source}: {where} is {node}, beyond any network moodflow trains")
        elif isinstance(node, float):
            if not math.isfinite(node):
                raise SchemaError(f"{source}: {where} is not finite")
        else:
            raise SchemaError(f"{source}: {where} is a {type(node).__name__}")

    walk(value, "network", 0)


SCHEMAS: dict[str, Any] = {
    "bundle": BundleHeader,  # bundle.json
    "model": ModelManifest,  # model.json
    "model_metrics": _check_model_metrics,  # models/<set>/<model>/metrics.json
    "run_metrics": RunMetrics,  # reports/metrics.json
    "dataset": DatasetFile,  # data/prepared/dataset.json
    "network": _check_network,  # models/…/network.json
}
