"""``moodflow predict``: valence/arousal (and quadrant / mood tags) of audio files with a
trained model folder, using exactly the pipeline's decode → extract → model path.

Each file is decoded with :func:`moodflow.decode.audio.load_audio` at the model's feature sample
rate, its features computed by the extractor the model was trained on, built from the
manifest's ``feature_config`` with :func:`moodflow.extract.run.build_extractor`, and cast as
the feature store stores them (float32), so a file gives the same numbers here as in the
pipeline. Dynamic curves need a dynamic model in the folder (``train.dynamic: true``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from moodflow.decode.audio import AudioError, load_audio
from moodflow.features import build_extractor
from moodflow.features.base import Extractor, TrackFeatures
from moodflow.models.base import Model
from moodflow.models.io import load_model, read_manifest


class PredictError(Exception):
    """A file or model that cannot be predicted with; the message names it."""


@dataclass
class Prediction:
    """One file's predictions: ``values`` (target → value on the training scale), ``curve``
    (target → (T,) over ``times_s``) with ``dynamic``, ``quadrant`` + ``class_scores``, ``tags``."""

    path: str
    duration_s: float
    values: dict[str, float] = field(default_factory=dict)
    times_s: list[float] = field(default_factory=list)
    curve: dict[str, list[float]] = field(default_factory=dict)
    predicted_class: str | None = None
    class_scores: dict[str, float] = field(default_factory=dict)
    tags: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "duration_s": round(self.duration_s, 3), **self.values}
        if self.predicted_class is not None:
            out["class"] = self.predicted_class
            out["class_scores"] = self.class_scores
        if self.tags:
            out["tags"] = self.tags
        if self.times_s:
            out["dynamic"] = {"time_s": self.times_s, **self.curve}
        return out


def outside_scale_notes(predictions: list[Prediction], scale: list[float] | tuple[float, float] | None,
                        scale_name: str = "") -> list[str]:
    """A note per file whose predicted values fall outside the training labels' range.

    Such values are kept as predicted (clipping would hide it): they say the model
    extrapolates, i.e. the music is unlike what it was trained on.
    """
    if not scale:
        return []
    low, high = float(scale[0]), float(scale[1])
    notes = []
    for p in predictions:
        outside = {k: v for k, v in p.values.items() if isinstance(v, float) and not low <= v <= high}
        if outside:
            values = ", ".join(f"{k} {v:.2f}" for k, v in outside.items())
            notes.append(f"{p.path}: {values} outside the {scale_name or f'{low:g}..{high:g}'} range of the "
                         "training labels: the model extrapolates (this music is unlike its training data)")
    return notes


def best_model_dir(reports_dir: str | Path = "reports", models_dir: str | Path = "models") -> Path:
    """``models/<set>/<model>`` named by ``best`` in the last run's ``reports/metrics.json``."""
    path = Path(reports_dir) / "metrics.json"
    if not path.exists():
        raise PredictError(f"{path}: not found; run the pipeline (`dvc repro`) first or pass --model DIR")
    best = json.loads(path.read_text()).get("best") or {}
    if not best.get("feature_set") or not best.get("model"):
        raise PredictError(f"{path}: no 'best' model recorded (did any static model train?); pass --model DIR")
    folder = Path(models_dir) / best["feature_set"] / best["model"]
    if not (folder / "model.json").exists():
        raise PredictError(f"{folder}: the best model of {path} is missing; run `dvc repro` or pass --model DIR")
    return folder


class Predictor:
    """A loaded model folder: the extractor and the static (and dynamic) model."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.manifest = read_manifest(self.folder)
        self.spec = self.manifest.get("label_spec") or {}
        config = self.manifest.get("feature_config") or {}
        if isinstance(config, str):
            config = json.loads(config)
        name = self.manifest.get("feature_extractor") or self.manifest.get("feature_set")
        settings = dict(config.get("extractor") or {})
        if settings.get("dtype") == "auto" and config.get("compute_dtype"):
            settings["dtype"] = config["compute_dtype"]  # the precision the training features had
        self.extractor: Extractor = build_extractor(name, settings, config.get("grid") or {})
        if not self.extractor.needs_audio:
            raise PredictError(
                f"{self.folder}: feature set {name!r} is imported from the dataset's files, so the model "
                "cannot predict from audio; train on an audio feature set (compare, egemaps, chroma, mert)"
            )
        self.sample_rate = int(self.manifest.get("feature_sample_rate") or 0)
        if self.sample_rate <= 0:
            raise PredictError(f"{self.folder / 'model.json'}: no feature_sample_rate recorded")
        tasks = self.manifest.get("tasks") or {"static": {}}
        self.static: Model | None = load_model(self.folder, "static") if "static" in tasks else None
        self.dynamic: Model | None = load_model(self.folder, "dynamic") if "dynamic" in tasks else None
        self.targets = list((tasks.get("static") or {}).get("targets") or self.manifest.get("targets") or [])
        self.dynamic_targets = list((tasks.get("dynamic") or {}).get("targets") or self.spec.get("dynamic_targets") or [])

    @property
    def scale_name(self) -> str:
        return self.spec.get("scale_name") or ""

    @property
    def dynamic_scale_name(self) -> str:
        return self.spec.get("dynamic_scale_name") or self.scale_name

    def features(self, path: str | Path) -> tuple[TrackFeatures, float]:
        """The file's features as the feature store holds them (float32), and its duration."""
        y = load_audio(path, self.sample_rate)
        feats = self.extractor.extract(y, self.sample_rate)
        static = np.asarray(feats.static, dtype=np.float32)
        if not np.all(np.isfinite(static)):
            raise PredictError(f"{path}: the {self.extractor.name} features are not finite (audio too short or silent?)")
        frames = np.asarray(feats.frames, dtype=np.float32)
        return TrackFeatures(static, frames, np.asarray(feats.start_s), np.asarray(feats.end_s)), len(y) / self.sample_rate

    def predict_static(self, static: np.ndarray) -> dict[str, Any]:
        """Static outputs of one (F,) vector: values by target, class, tags."""
        out: dict[str, Any] = {"values": {}, "class": None, "class_scores": {}, "tags": {}}
        if self.static is None:
            return out
        X = static.astype(np.float64)[None, :]
        heads = self.static.predict_all(X) if getattr(self.static, "multitask", False) else {self.static.kind: self.static.predict(X)}
        if "regression" in heads:
            names = list(self.spec.get("static_targets") or self.targets)
            out["values"] = {t: float(v) for t, v in zip(names, heads["regression"][0])}
        if "classification" in heads:
            classes = [str(c) for c in self.spec.get("classes") or []]
            scores = heads["classification"][0]
            out["class"] = classes[int(np.argmax(scores))]
            if self.static.kind == "classification":
                out["class"] = classes[int(self.static.predict_classes(X)[0])]
            out["class_scores"] = {c: float(s) for c, s in zip(classes, scores)}
        if "tagging" in heads:
            out["tags"] = {t: float(s) for t, s in zip(self.spec.get("tags") or [], heads["tagging"][0])}
        return out

    def predict_dynamic(self, feats: TrackFeatures) -> tuple[np.ndarray, np.ndarray]:
        """(times (T,), predictions (T, k)) over the file's frames (frame centres)."""
        if self.dynamic is None:
            raise PredictError(
                f"{self.folder}: this model has no dynamic part (train it with `dvc exp run -S train.dynamic=true` "
                "on a dataset with dynamic labels)"
            )
        X = feats.frames.reshape(len(feats.frames), -1).astype(np.float64)
        times = (feats.start_s + feats.end_s) / 2.0
        if len(X) == 0:
            return times, np.empty((0, len(self.dynamic_targets)))
        pred = self.dynamic.predict([X])[0] if self.dynamic.sequence_input else self.dynamic.predict(X)
        return times, np.asarray(pred)

    def predict_file(self, path: str | Path, dynamic: bool = False) -> Prediction:
        """Every output the model has for one audio file."""
        feats, duration = self.features(path)
        s = self.predict_static(feats.static)
        pred = Prediction(str(path), duration, s["values"], predicted_class=s["class"],
                          class_scores=s["class_scores"], tags=s["tags"])
        if dynamic:
            times, values = self.predict_dynamic(feats)
            pred.times_s = [round(float(t), 4) for t in times]
            pred.curve = {t: values[:, i].astype(float).tolist() for i, t in enumerate(self.dynamic_targets)}
        return pred


def predict_files(
    predictor: Predictor, paths: list[str | Path], dynamic: bool = False
) -> tuple[list[Prediction], list[tuple[str, str]]]:
    """Predictions of every readable file, and (path, error) of the others."""
    done, failed = [], []
    for path in paths:
        try:
            done.append(predictor.predict_file(path, dynamic))
        except (AudioError, PredictError) as exc:
            failed.append((str(path), str(exc)))
    return done, failed
