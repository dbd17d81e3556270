"""Scoring many files at the extract stage's pace: the stage's workers, its per-track cache, progress.

- **Workers**: files are decoded and featurised in a process pool started like the extract
  stage's (``moodflow.extract.worker.init_process``: one BLAS thread a process, so the values are
  the stage's bit for bit); extractors that use every core themselves (MERT, musicnn) run in
  this process, one file after another, as in the stage.
- **Cache**: every file's features are kept in the extract stage's per-track cache
  (``moodflow.extract.cache.TrackCache``: keyed by the decoded audio's hash and the extractor's
  full configuration), so scoring a file again — or a file the pipeline already extracted, when
  predicting inside the project — reads its entry instead of computing it.
- **Progress**: a bar on stderr when it is a terminal, else a line every few seconds; the Python
  API passes a callback ``progress(done, total, path)``.
"""

from __future__ import annotations

import os
import sys
import time
from collections import deque
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any, Callable, Iterator

from moodflow.features.base import TrackFeatures

ProgressCallback = Callable[[int, int, str], None]
LOG_EVERY_S = 5.0  # seconds between progress lines when stderr is not a terminal


def default_cache_dir(project: str | Path = ".") -> Path:
    """The extract stage's cache of the project in ``project`` (``features.cache_dir`` of its
    params.yaml) when there is one, else ``$XDG_CACHE_HOME/moodflow`` (``~/.cache/moodflow``)."""
    params = Path(project) / "params.yaml"
    if params.is_file() and params.stat().st_size < 1 << 20:
        try:
            import yaml

            cache = ((yaml.safe_load(params.read_text(encoding="utf-8")) or {}).get("features") or {}).get("cache_dir")
        except Exception:  # noqa: BLE001 - an unreadable params.yaml only means: not this project's cache
            cache = None
        if isinstance(cache, str) and cache:
            path = Path(cache)
            return path if path.is_absolute() else Path(project) / path
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "moodflow"


def make_job(extractor: Any, sample_rate: int, cache_dir: str | Path | None) -> dict[str, Any]:
    """Plain values a worker process rebuilds the extractor and cache from."""
    import dataclasses

    from moodflow.extract.cache import TrackCache

    job: dict[str, Any] = {"name": extractor.name, "config": extractor.worker_config(),
                           "grid": dataclasses.asdict(extractor.grid), "sample_rate": int(sample_rate)}
    if cache_dir:
        cache = TrackCache.for_extractor(cache_dir, extractor)
        cache.prepare()
        job["cache"] = cache.spec()
    return job


_STATE: dict[str, tuple[Any, Any]] = {}


def _state(job: dict[str, Any], extractor: Any = None) -> tuple[Any, Any]:
    import json

    from moodflow.extract.cache import TrackCache
    from moodflow.features import build_extractor

    key = json.dumps(job, sort_keys=True, default=str)
    if key not in _STATE:
        cache = TrackCache.from_spec(job["cache"]) if "cache" in job else None
        _STATE[key] = (extractor or build_extractor(job["name"], job["config"], job["grid"]), cache)
    return _STATE[key]


def analyse_file(job: dict[str, Any], path: str, extractor: Any = None) -> tuple[Any, TrackFeatures, bool]:
    """(the decoded signal, its features as the store keeps them, whether they came from the
    cache) of one audio file: decoded as the decode stage decodes (a long file is a stream that
    pickles without its samples), looked up in the cache by its audio hash, else extracted as
    the stage extracts and cached."""
    import numpy as np

    from moodflow.decode.audio import open_audio
    from moodflow.extract.worker import one_thread
    from moodflow.stores.audio_store import audio_hash

    extractor, cache = _state(job, extractor)
    signal = open_audio(path, job["sample_rate"])
    key = audio_hash(signal, signal.sample_rate) if cache is not None else None
    feats = cache.load(key) if cache is not None else None
    if feats is not None:
        return signal, feats, True
    with one_thread(extractor):
        feats = extractor.extract_signal(signal)
    feats = TrackFeatures(np.asarray(feats.static, dtype=np.float32), np.asarray(feats.frames, dtype=np.float32),
                          np.asarray(feats.start_s, dtype=np.float64), np.asarray(feats.end_s, dtype=np.float64))
    if cache is not None and np.isfinite(feats.static).any():
        cache.save(key, feats)
    return signal, feats, False


def start_pool(extractor: Any, n_files: int, workers: int = 0) -> Executor | None:
    """The extract stage's kind of pool for ``extractor`` (None: run in this process). Started
    before any model is loaded, so that it forks a process without torch in it (else: spawn)."""
    from moodflow.extract.worker import default_workers

    n = min(default_workers(workers), n_files)
    if extractor.parallel == "none" or n <= 1:
        return None
    return _new_pool(extractor, n)


def _new_pool(extractor: Any, n: int) -> Executor:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from moodflow.extract.worker import init_process, warm_up

    method = "fork" if "torch" not in sys.modules and hasattr(os, "fork") else "spawn"
    if method == "fork":
        warm_up(extractor)  # librosa's JIT once here, not in every worker at once
    return ProcessPoolExecutor(max_workers=n, initializer=init_process, mp_context=multiprocessing.get_context(method))


def analysed(pool: Executor | None, job: dict[str, Any], paths: list[str], extractor: Any,
             window: int = 4) -> Iterator[tuple[str, Any]]:
    """(path, (signal, features, cached) or the exception) for every path, in order, at most
    ``window`` files in flight. A worker that dies (a decoder crashing on a crafted file) breaks
    the pool: the files that were in flight are then tried again one at a time in fresh pools,
    so only the file that kills its worker fails."""
    if pool is None:
        for path in paths:
            try:
                yield path, analyse_file(job, path, extractor)
            except Exception as exc:  # noqa: BLE001 - reported for this file
                yield path, exc
        return
    from concurrent.futures.process import BrokenProcessPool

    workers = pool._max_workers  # type: ignore[attr-defined]
    pending: deque[tuple[str, Future]] = deque()
    todo = deque(paths)
    try:
        while todo or pending:
            while todo and len(pending) < window:
                path = todo.popleft()
                pending.append((path, pool.submit(analyse_file, job, path)))
            path, future = pending.popleft()
            try:
                yield path, future.result()
            except BrokenProcessPool:
                suspects = [path] + [p for p, _ in pending]
                pending.clear()
                pool.shutdown(cancel_futures=True)
                for suspect in suspects:
                    pool = _new_pool(extractor, 1)
                    try:
                        yield suspect, pool.submit(analyse_file, job, suspect).result()
                    except BrokenProcessPool:
                        from moodflow.decode.audio import AudioError

                        pool.shutdown(cancel_futures=True)
                        yield suspect, AudioError(suspect, "the worker process analysing it died (a decoder crash "
                                                           "on a damaged or crafted file?)")
                    except Exception as exc:  # noqa: BLE001 - reported for this file
                        yield suspect, exc
                pool.shutdown(cancel_futures=True)
                pool = _new_pool(extractor, workers)
            except Exception as exc:  # noqa: BLE001 - reported for this file
                yield path, exc
    finally:
        pool.shutdown(cancel_futures=True)


class Progress:
    """Files done out of ``total``: a tqdm bar on stderr when it is a terminal, a line every
    ``LOG_EVERY_S`` seconds otherwise, and ``callback(done, total, path)`` after every file.
    ``show=False``: the callback only."""

    def __init__(self, total: int, callback: ProgressCallback | None = None, *, show: bool = True):
        self.total, self.callback, self.done, self.audio_s = total, callback, 0, 0.0
        self.start = self.last = time.monotonic()
        self.bar = None
        self.lines = show and not sys.stderr.isatty()
        if show and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc="predict", unit="file", file=sys.stderr, leave=False)

    def update(self, path: str, audio_s: float = 0.0) -> None:
        self.done += 1
        self.audio_s += audio_s
        if self.bar is not None:
            self.bar.update(1)
        now = time.monotonic()
        if self.lines and (now - self.last >= LOG_EVERY_S or self.done == self.total) and self.total > 1:
            self.last = now
            print(f"moodflow: predict: {self.done}/{self.total} files, {self.audio_s / 60:.1f} min of audio "
                  f"in {now - self.start:.0f} s", file=sys.stderr, flush=True)
        if self.callback is not None:
            self.callback(self.done, self.total, str(path))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def predict_files(predictor: Any, paths: list[str | Path], dynamic: bool = False, *,
                  progress: Callable[[int, int, str], None] | bool | None = None,
                  cache_dir: str | Path | bool | None = True, workers: int = 0,
                  ) -> tuple[list[Any], list[tuple[str, str]]]:
    """Predictions of every file that works, and (path, problem) of the others: one bad file
    never stops the batch (its error names it). Several files are decoded and featurised in the
    extract stage's kind of process pool (``workers``: 0 = every core), one file with its
    analysis forked off while the model loads; features go through the per-track cache
    (``cache_dir``, ``Predictor.use_cache``); ``progress`` as in ``Predictor.predict``."""
    from moodflow.app.errors import ModelLoadError, PredictError

    done, failed = [], []
    bar = Progress(len(paths), progress if callable(progress) else None, show=progress is None)
    pool = first_features = first_tags = results = None
    if predictor.manifest:
        predictor.use_cache(cache_dir)
        if len(paths) > 1:
            pool = start_pool(predictor.extractor, len(paths), workers)  # before torch may be imported
    if paths and pool is None and predictor._models is None:
        from moodflow.app.prefetch import start

        first_features, first_tags = start(predictor, paths[0])  # the first file in children, meanwhile:
    try:
        predictor._loaded()  # the model loads here (ModelLoadError: nothing can be predicted)
        results = analysed(pool, predictor._job, [str(p) for p in paths], predictor.extractor,
                           window=2 * pool._max_workers) if pool is not None else None
        for i, path in enumerate(paths):
            pred = None
            try:
                analysed_ = tags = None
                if results is not None:
                    _, value = next(results)
                    if isinstance(value, BaseException):
                        raise value
                    try:
                        analysed_ = (value[0], predictor.checked(value[1]))
                    except PredictError as exc:
                        raise PredictError(f"{path}: {exc}") from exc
                elif i == 0:  # wait for both children before looking at either
                    children = [c.result() if c is not None else ("none", None) for c in (first_features, first_tags)]
                    analysed_, tags = (_child_value(r, path) for r in children)
                pred = predictor.predict_file(path, dynamic, analysed_, tags)
                done.append(pred)
            except ModelLoadError:
                raise
            except PredictError as exc:
                failed.append((str(path), str(exc)))
            except Exception as exc:  # noqa: BLE001 - decoder, extractor, OS: reported for this file only
                text = str(exc)
                failed.append((str(path), text if str(path) in text else f"{path}: {type(exc).__name__}: {text}"))
            bar.update(str(path), pred.duration_s if pred is not None else 0.0)
    finally:
        bar.close()
        if results is not None:
            results.close()  # its pool, or the pool that replaced a broken one, shuts down
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    predictor.last = done
    return done, failed


def _child_value(result: tuple[str, Any], path: str | Path) -> Any:
    """A prefetch child's value; None when there was none or it died; its error raised here."""
    from moodflow.app.errors import ModelLoadError, PredictError

    status, value = result
    if status == "error":
        kind, message = value
        if kind == "ModelLoadError":
            raise ModelLoadError(message)
        raise PredictError(message if str(path) in message else f"{path}: {kind}: {message}")
    return value if status == "ok" else None
