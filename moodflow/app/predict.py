"""``moodflow predict`` and the Python API: the targets a model learned (valence/arousal, or any a
dataset names; class, tags) of audio files with a trained model folder or a bundle, plus
zero-shot mood tags, through the pipeline's own path.

```python
from moodflow import Predictor
p = Predictor("models/compare/ridge")        # a model folder, a NAME.moodflow bundle, or None
rows = p.predict(["song.mp3", "album/"])     # plain dicts: values, scale, mood_tags, provenance
table = p.predict_frame(["album/"])          # one pandas row per file
```

``Predictor()`` takes the last run's best model only when it was trained on a real dataset;
otherwise (no run, or the synthetic demo's toy model) it gives mood tags only and says once
how to get valence/arousal. The demo's model is used only when named, and labelled toy.

Each file is decoded by the pipeline's decoder at the model's feature sample rate and analysed by
the extractor the model was trained on (its manifest's ``feature_config``), cast to float32 as
the store holds it: the same numbers as the pipeline. A file that fails is reported with its
problem; the others are still predicted. Many files go through the extract stage's workers and
per-track cache, with progress on stderr (``moodflow.app.batch``); a long file is streamed.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from moodflow.app.errors import ModelLoadError, PredictError
from moodflow.app.output import outside_scale_notes  # noqa: F401 - part of this module's API
from moodflow.app.which_model import (  # noqa: F401 - part of this module's API
    DEFAULT_MODEL, HOW_TO_GET_VALENCE_AROUSAL, TOY_BANNER, PredictorNote, best_model_dir, default_model,
)
from moodflow.core.errors import api_boundary
from moodflow.datasets import is_synthetic
from moodflow.decode.audio import open_audio
from moodflow.features.base import TrackFeatures
from moodflow.stores.signal import ArraySignal, Signal


@dataclass
class Prediction:
    """One file's predictions: ``values`` (target → value on the training scale), ``curve``
    (target → (T,) over ``times_s``) with ``dynamic``, ``predicted_class`` + ``class_scores``
    (probabilities when ``scores_are_probabilities``), ``tags`` (the model's), ``mood_tags``
    (zero-shot musicnn)."""

    path: str
    duration_s: float
    values: dict[str, float] = field(default_factory=dict)
    times_s: list[float] = field(default_factory=list)
    curve: dict[str, list[float]] = field(default_factory=dict)
    predicted_class: str | None = None
    class_scores: dict[str, float] = field(default_factory=dict)
    tags: dict[str, float] = field(default_factory=dict)
    mood_tags: dict[str, float] = field(default_factory=dict)
    scores_are_probabilities: bool = True

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "duration_s": round(self.duration_s, 3), **self.values}
        if self.predicted_class is not None:
            out["class"] = self.predicted_class
            out["class_probabilities" if self.scores_are_probabilities else "class_scores"] = self.class_scores
        if self.tags:
            out["tags"] = self.tags
        if self.mood_tags:
            out["mood_tags"] = self.mood_tags
        if self.times_s:
            out["dynamic"] = {"time_s": self.times_s, **self.curve}
        return out


class Predictor:
    """A loaded model (folder or ``.moodflow`` bundle) and/or the zero-shot mood tagger.

    ``model``: a model folder or bundle; ``None``: mood tags only; left out
    (:data:`DEFAULT_MODEL`): the best model of ``reports/metrics.json`` when it was trained on a
    real dataset, else mood tags only. ``note`` says why there is no model and how to get one
    (also warned once, :class:`PredictorNote`); a model trained on the synthetic demo is used
    only when named, and every output labels it toy (``model.toy_model``).
    """

    @api_boundary(lambda self, model=DEFAULT_MODEL, **kw: "predictor" if model is None or model is DEFAULT_MODEL
                  else f"model {model}", PredictError)
    def __init__(self, model: str | Path | None = DEFAULT_MODEL, *, mood_tags: bool = True,
                 reports_dir: str | Path = "reports", models_dir: str | Path = "models"):
        self.note = ""
        self.folder: Path | None = None
        self.bundle: Path | None = None
        self.manifest: dict[str, Any] = {}
        self._models: Any = None  # (static, dynamic)
        self._extra: dict[str, Any] = {}  # other static label kinds a single-task model learned
        self._tasks: dict[str, Any] = {}
        self.last: list[Prediction] = []
        self.errors: list[tuple[str, str]] = []
        announce = ""
        if model is DEFAULT_MODEL:
            model, why = default_model(reports_dir, models_dir)
            if model is None:
                if not mood_tags:
                    raise PredictError(f"nothing to predict without mood tags: {why}; {HOW_TO_GET_VALENCE_AROUSAL}")
                self.note = announce = f"mood tags only: {why}; {HOW_TO_GET_VALENCE_AROUSAL}"
        elif model is None:
            if not mood_tags:
                raise PredictError("no model and no mood tags (mood_tags=False): nothing to predict")
            self.note = "mood tags only (no model asked for)"
        if model is not None:
            self._load(Path(model))
            if self.is_toy:
                announce = TOY_BANNER
        self.tagger = None
        if mood_tags:
            from moodflow.app.mood import MoodTagger

            self.tagger = MoodTagger()
            self.tagger.check()
        if announce:
            warnings.warn(announce, PredictorNote, stacklevel=2)

    # -- loading ----------------------------------------------------------------------------
    def _load(self, path: Path) -> None:
        from moodflow.app.bundle import model_extractor
        from moodflow.features import audio_feature_sets
        from moodflow.models.io import read_manifest

        if path.is_file():
            from moodflow.app.bundle import open_bundle

            self.bundle = path
            self._unpacked = open_bundle(path)  # checked: safe members, hashes, reproducible features
            self.folder = Path(self._unpacked.name)
            self.note = "; ".join(self._unpacked.notes)
        else:
            self.folder = path
        try:
            self.manifest = read_manifest(self.folder)
        except (OSError, ValueError) as exc:
            raise PredictError(str(exc)) from exc
        self.spec = self.manifest.get("label_spec") or {}
        try:
            self.extractor = model_extractor(self.manifest)
        except ValueError as exc:
            raise PredictError(f"{self.source}: {exc}") from exc
        name = self.extractor.name
        if not self.extractor.needs_audio:
            raise PredictError(
                f"{self.source}: feature set {name!r} is imported from the dataset's files, so the model "
                f"cannot predict from audio; train on an audio feature set ({', '.join(audio_feature_sets())})")
        self.sample_rate = int(self.manifest.get("feature_sample_rate") or 0)
        if self.sample_rate <= 0:
            raise PredictError(f"{self.source}: model.json records no feature_sample_rate")
        tasks = self._tasks = self.manifest.get("tasks") or {"static": {}}
        self.targets = list((tasks.get("static") or {}).get("targets") or self.manifest.get("targets") or [])
        self.dynamic_targets = list((tasks.get("dynamic") or {}).get("targets") or self.spec.get("dynamic_targets") or [])

    def _loaded(self) -> tuple[Any, Any]:
        """(static, dynamic) models, loaded on first use (scikit-learn, skops, torch imports)."""
        if self._models is None and self.manifest:
            from moodflow.models.io import load_model

            try:
                self._models = (load_model(self.folder, "static") if "static" in self._tasks else None,
                                load_model(self.folder, "dynamic") if "dynamic" in self._tasks else None)
                self._extra = {part: load_model(self.folder, part) for part in self._tasks
                               if part not in ("static", "dynamic")}
            except Exception as exc:
                raise ModelLoadError(f"{self.source}: cannot load the model ({type(exc).__name__}: {exc})") from exc
        return self._models if self._models is not None else (None, None)

    @property
    def static(self) -> Any:
        """The static model, or None."""
        return self._loaded()[0]

    @property
    def dynamic(self) -> Any:
        """The dynamic model, or None."""
        return self._loaded()[1]

    @property
    def has_dynamic(self) -> bool:
        """Whether the model has a dynamic part (from the manifest)."""
        return "dynamic" in self._tasks

    @property
    def source(self) -> str:
        """Where the model came from (bundle file or folder), for messages."""
        return str(self.bundle or self.folder or "")

    @property
    def predicts_values(self) -> bool:
        """Whether the model gives values on a scale (regression targets), not only a class or tags."""
        static = self._tasks.get("static") or {}
        kinds = static.get("label_kinds") or [static.get("task") or "regression"]
        return bool(self.manifest) and ("regression" in kinds or "dynamic" in self._tasks)

    @property
    def scale_name(self) -> str:
        """The label scale of the model's values ("" for a model of classes or tags only: no scale)."""
        return (self.spec.get("scale_name") or "") if self.predicts_values else ""

    @property
    def dynamic_scale_name(self) -> str:
        return self.spec.get("dynamic_scale_name") or self.scale_name if self.manifest else ""

    @property
    def is_toy(self) -> bool:
        """True for a model trained on the synthetic demo dataset."""
        return is_synthetic(self.manifest.get("dataset"))

    def provenance(self) -> dict[str, Any]:
        """What every output says about the model: source, dataset, features, protocol, score, scale."""
        from moodflow.app.output import heldout_summary

        out: dict[str, Any] = {}
        if self.manifest:
            m = self.manifest
            out["model"] = {
                "source": self.source, "dataset": m.get("dataset"), "feature_set": m.get("feature_set"),
                "model": m.get("model"), "task": m.get("task"), "protocol": m.get("protocol"),
                "heldout": heldout_summary(m.get("metrics") or {}), "scale": self.scale_name,
                "scale_range": self.spec.get("scale"), "toy_model": self.is_toy,
            }
            if self.is_toy:
                out["model"]["warning"] = TOY_BANNER
        if self.tagger is not None:
            from moodflow.app.mood import PROVENANCE

            out["mood_tagger"] = PROVENANCE  # the scores are each prediction's "mood_tags"
        if self.note:
            out["note"] = self.note
        return out

    # -- predicting -------------------------------------------------------------------------
    _job: dict[str, Any] | None = None  # what moodflow.app.batch.analyse_file works from

    def features(self, y: np.ndarray | Signal) -> TrackFeatures:
        """A signal's features as the feature store holds them (float32; computed as the extract
        stage computes them); a long :class:`~moodflow.stores.signal.Signal` block by block."""
        from moodflow.extract.worker import one_thread

        with one_thread(self.extractor):
            feats = self.extractor.extract_signal(y, self.sample_rate)
        return self.checked(feats)

    def checked(self, feats: TrackFeatures) -> TrackFeatures:
        """``feats`` in the store's dtypes; PredictError when its static vector is not finite."""
        static = np.asarray(feats.static, dtype=np.float32)
        if not np.all(np.isfinite(static)):
            raise PredictError(f"the {self.extractor.name} features are not finite (audio too short or silent?)")
        return TrackFeatures(static, np.asarray(feats.frames, dtype=np.float32), np.asarray(feats.start_s),
                             np.asarray(feats.end_s))

    def use_cache(self, cache_dir: str | Path | bool | None = True) -> None:
        """Keep each file's features in the extract stage's per-track cache: ``True`` = the
        project's (``features.cache_dir`` of ./params.yaml) or ``~/.cache/moodflow``
        (``moodflow.app.batch.default_cache_dir``); a folder; ``False``/``None`` = no cache."""
        from moodflow.app.batch import default_cache_dir, make_job

        if self.manifest:
            folder = default_cache_dir() if cache_dir is True else (cache_dir or None)
            self._job = make_job(self.extractor, self.sample_rate, folder)

    def predict_static(self, static: np.ndarray) -> dict[str, Any]:
        """Static outputs of one (F,) vector: values by target, class, class scores, tags."""
        out: dict[str, Any] = {"values": {}, "class": None, "class_scores": {}, "tags": {}, "probabilities": True}
        if self.static is None:
            return out
        X = static.astype(np.float64)[None, :]
        heads = self.static.predict_all(X) if getattr(self.static, "multitask", False) else {self.static.kind: self.static.predict(X)}
        for kind, model in self._extra.items():  # other label kinds, learned as parts of their own
            heads.setdefault(kind, model.predict(X))
        if "regression" in heads:
            names = list(self.spec.get("static_targets") or self.targets)
            out["values"] = {t: float(v) for t, v in zip(names, heads["regression"][0])}
        if "classification" in heads:
            classes = [str(c) for c in self.spec.get("classes") or []]
            scores = np.asarray(heads["classification"][0], dtype=np.float64)
            out["class"] = classes[int(np.argmax(scores))]
            classifier = self.static if self.static.kind == "classification" else self._extra.get(
                "classification")
            if classifier is not None:
                out["class"] = classes[int(classifier.predict_classes(X)[0])]
            out["class_scores"] = {c: float(s) for c, s in zip(classes, scores)}
            pipeline = getattr(classifier or self.static, "pipeline", None)
            out["probabilities"] = (hasattr(pipeline, "predict_proba") if pipeline is not None
                                    else bool(np.all(scores >= 0) and abs(scores.sum() - 1) < 1e-6))
        if "tagging" in heads:
            out["tags"] = {t: float(s) for t, s in zip(self.spec.get("tags") or [], heads["tagging"][0])}
        return out

    def predict_dynamic(self, feats: TrackFeatures) -> tuple[np.ndarray, np.ndarray]:
        """(times (T,), predictions (T, k)) over the file's frames (frame centres)."""
        if self.dynamic is None:
            raise PredictError(
                f"{self.source}: this model has no dynamic part (train it with `dvc exp run -S train.dynamic=true` "
                "on a dataset with dynamic labels)")
        X = feats.frames.reshape(len(feats.frames), -1).astype(np.float64)
        times = (feats.start_s + feats.end_s) / 2.0
        if len(X) == 0:
            return times, np.empty((0, len(self.dynamic_targets)))
        pred = self.dynamic.predict([X])[0] if self.dynamic.sequence_input else self.dynamic.predict(X)
        return times, np.asarray(pred)

    def analyse(self, path: str | Path) -> tuple[Signal, TrackFeatures | None]:
        """A file decoded at the model's rate and its features (None without a model); a long
        file is a stream read block by block (``moodflow.decode.audio.open_audio``), never held."""
        rate = self.sample_rate if self.manifest else 16000
        if not self.manifest:
            return open_audio(path, rate), None
        from moodflow.app.batch import analyse_file

        if self._job is None:
            self.use_cache(True)
        y, feats, _ = analyse_file(self._job, str(path), self.extractor)
        try:
            return y, self.checked(feats)
        except PredictError as exc:
            raise PredictError(f"{path}: {exc}") from exc

    def mood_tags_of(self, path: str | Path, y: np.ndarray | Signal | None = None) -> dict[str, float]:
        """Zero-shot mood tags of a file (decoded as :meth:`analyse` decodes it, unless ``y``)."""
        rate = self.sample_rate if self.manifest else 16000
        if y is None:
            y = open_audio(path, rate)
        try:
            self.tagger.extractor.load()  # once: torch and the packaged weights
        except Exception as exc:
            raise ModelLoadError(f"the musicnn mood tagger cannot be loaded ({type(exc).__name__}: {exc}); "
                                 "pass --no-tags") from exc
        return self.tagger.tags(y, rate)

    def predict_file(self, path: str | Path, dynamic: bool = False,
                     analysed: tuple[np.ndarray | Signal, TrackFeatures | None] | None = None,
                     mood_tags: dict[str, float] | None = None) -> Prediction:
        """Every output the model (and the mood tagger) has for one audio file; ``analysed`` and
        ``mood_tags`` are :meth:`analyse`'s and :meth:`mood_tags_of`'s results when computed elsewhere."""
        if dynamic and not self.has_dynamic:
            raise PredictError(f"{self.source or 'mood tags only'}: this model has no dynamic part (train it with "
                               "`dvc exp run -S train.dynamic=true` on a dataset with dynamic labels)")
        rate = self.sample_rate if self.manifest else 16000
        y, feats = analysed if analysed is not None else self.analyse(path)
        if not isinstance(y, Signal):
            y = ArraySignal(y, rate)
        pred = Prediction(str(path), y.duration_s)
        if self.manifest:
            s = self.predict_static(feats.static)
            pred.values, pred.predicted_class, pred.class_scores = s["values"], s["class"], s["class_scores"]
            pred.tags, pred.scores_are_probabilities = s["tags"], s["probabilities"]
            if dynamic:
                times, values = self.predict_dynamic(feats)
                pred.times_s = [round(float(t), 4) for t in times]
                pred.curve = {t: values[:, i].astype(float).tolist() for i, t in enumerate(self.dynamic_targets)}
        if self.tagger is not None:
            pred.mood_tags = mood_tags if mood_tags is not None else self.mood_tags_of(path, y)
        return pred

    @api_boundary(lambda self, paths, *a, **kw: f"predict {paths}", PredictError)
    def predict(self, paths: str | Path | list[str | Path], dynamic: bool = False, *,
                progress: Callable[[int, int, str], None] | bool | None = None,
                cache_dir: str | Path | bool | None = True) -> list[dict[str, Any]]:
        """Plain dicts, one per readable file (folders and globs expanded); failures are in
        ``self.errors`` as (path, problem). Each dict holds ``scale`` and ``model`` provenance.

        ``progress``: ``None`` shows a bar on stderr (a line every few seconds when stderr is
        not a terminal); a callable is called ``progress(done, total, path)`` after every file
        instead; ``False`` shows nothing. ``cache_dir``: see :meth:`use_cache`."""
        from moodflow.app.inputs import expand_inputs

        files, self.errors = expand_inputs([paths] if isinstance(paths, (str, Path)) else list(paths))
        done, failed = predict_files(self, files, dynamic, progress=progress, cache_dir=cache_dir)
        self.errors += failed
        prov = self.provenance()
        return [{**p.to_dict(), "scale": self.scale_name or None, **prov} for p in done]

    @api_boundary(lambda self, paths, *a, **kw: f"predict {paths}", PredictError)
    def predict_frame(self, paths: str | Path | list[str | Path], *,
                      progress: Callable[[int, int, str], None] | bool | None = None,
                      cache_dir: str | Path | bool | None = True):
        """A pandas DataFrame, one row per file: values, class, ``tag_*``, ``mood_*``, scale, model
        (``progress``, ``cache_dir``: as :meth:`predict`)."""
        import pandas as pd

        from moodflow.app.output import flat_rows

        self.predict(paths, progress=progress, cache_dir=cache_dir)
        header, table = flat_rows(self, self.last, dynamic=False)
        return pd.DataFrame(table, columns=header)


def predict_files(predictor: Predictor, paths: list[str | Path], dynamic: bool = False, **options: Any
                  ) -> tuple[list[Prediction], list[tuple[str, str]]]:
    """Predictions of every file that works, and (path, problem) of the others: one bad file
    never stops the batch. The extract stage's workers, its cache and progress on stderr
    (:func:`moodflow.app.batch.predict_files`: ``progress``, ``cache_dir``, ``workers``)."""
    from moodflow.app.batch import predict_files as run

    return run(predictor, paths, dynamic, **options)
