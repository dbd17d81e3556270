"""The extract stage: run one extractor over every decoded track into one feature store.

Two ways through:

- without a cache (``cache_dir=None``, local executor) tracks stream from the workers into the
  store writer in order;
- with a per-track cache (``moodflow.extract.cache``) every track's audio is hashed, only tracks
  without an entry are extracted — each result saved as its own entry the moment it is done,
  by local threads/processes or by Dask workers (``moodflow.extract.distributed``) — and then this
  process alone consolidates the entries into the store. A killed run keeps its finished
  entries and leaves no store; the next run resumes. The store holds the same values either way.

A track whose extraction raises (its audio is too short, silent, …) gets an all-NaN row and is
listed with the reason in the failures CSV; a failure of the machine (a full disk, out of
memory, a worker process killed) stops the stage with :class:`EnvironmentFailure` instead —
no store, no CSV, so DVC runs the stage again next time.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections import deque
from contextlib import ExitStack, closing
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
from tqdm import tqdm

from moodflow.core.atomic import write_csv
from moodflow.core.config import to_dict
from moodflow.core.errors import EnvironmentFailure, MoodflowError, is_environment_error, one_line
from moodflow.extract.cache import TrackCache
from moodflow.extract.settings import EXECUTORS
from moodflow.extract.worker import (
    extract_into, init_process, save_outcome, default_workers, extract_track, extract_track_to_cache,
    make_job, one_thread, warm_up,
)
from moodflow.features import build_extractor
from moodflow.features.base import Extractor, TrackFeatures
from moodflow.stores.audio_store import AudioStore
from moodflow.stores.feature_store import FeatureStoreWriter

log = logging.getLogger(__name__)
NO_VALUES = "no values (all NaN): the audio is too short or too quiet for this extractor"



def _local_pool(extractor: Extractor, n_workers: int) -> Executor | None:
    parallel = extractor.parallel
    if parallel == "none" or n_workers <= 1:
        return None
    if parallel == "threads":  # openSMILE releases the GIL
        return ThreadPoolExecutor(max_workers=n_workers)
    warm_up(extractor)
    return ProcessPoolExecutor(max_workers=n_workers, initializer=init_process)


def _ordered(pool: Executor, fn: Callable, ids: list[str], window: int) -> Iterator[TrackFeatures | BaseException]:
    """Submit ``fn(id)`` keeping at most ``window`` tasks in flight; yield outcomes in order
    (the result, or the exception the task raised)."""
    pending: deque[Future] = deque()

    def outcome(future: Future) -> TrackFeatures | BaseException:
        try:
            return future.result()
        except Exception as exc:  # noqa: BLE001 - reported for this track only
            return exc

    for track_id in ids:
        pending.append(pool.submit(fn, track_id))
        if len(pending) >= window:
            yield outcome(pending.popleft())
    while pending:
        yield outcome(pending.popleft())


def _unordered(pool: Executor, fn: Callable, items: Iterable[tuple], window: int) -> Iterator[tuple[tuple, Any]]:
    """Submit ``fn(*item)`` with at most ``window`` in flight; yield (item, result) as they finish."""
    pending: dict[Future, tuple] = {}
    for item in items:
        pending[pool.submit(fn, *item)] = item
        while len(pending) >= window:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                yield pending.pop(fut), fut.result()
    while pending:
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        for fut in done:
            yield pending.pop(fut), fut.result()


def extract_store(
    *,
    name: str,
    config: dict[str, Any] | None,
    grid: dict[str, Any] | None,
    audio_path: str | Path,
    prepared_dir: str | Path,
    out_path: str | Path,
    dataset: str,
    workers: int = 0,
    cache_dir: str | Path | None = None,
    executor: str = "local",
    scheduler: str = "",
    failures_path: str | Path | None = None,
) -> dict[str, int]:
    """Extract feature set ``name`` for every track into ``out_path`` (written atomically).

    ``cache_dir``: root of the per-track cache (None: no cache). ``executor``: ``local``
    (threads/processes on ``workers`` cores) or ``dask`` (``scheduler`` address, empty = a
    LocalCluster of ``workers`` processes; without ``cache_dir`` a temporary cache beside
    ``out_path`` is used). A track whose extraction raises keeps a NaN static row and no
    frames, and is listed in ``failures_path`` (CSV: track_id, error); the run goes on. A failure
    of the machine raises :class:`EnvironmentFailure` and writes neither file. Returns counts:
    tracks, failed, cached (entries reused) and extracted (tracks computed in this run).
    """
    try:
        counts, failures = _extract(name, config, grid, audio_path, prepared_dir, out_path, dataset, workers,
                                    cache_dir, executor, scheduler)
    except Exception as exc:
        if not is_environment_error(exc) or isinstance(exc, EnvironmentFailure):
            raise
        kept = f"; tracks already extracted stay in the cache ({cache_dir}) for the next run" if cache_dir else ""
        raise EnvironmentFailure(
            f"extract {name}: {one_line(exc)} — a failure of the machine, not of the audio: "
            f"{out_path} was not written{kept}; fix it (free space, memory, permissions) and run again") from exc
    if failures_path is not None:
        import pandas as pd

        write_csv(failures_path, pd.DataFrame(failures, columns=["track_id", "error"]))
    total = counts["tracks"] + counts["failed"]
    line = f"extract {name}: {total - len(failures)} of {total} tracks extracted into {out_path}"
    if failures:
        shown = "; ".join(f"{t}: {e}" for t, e in failures[:3])
        line += f", {len(failures)} without values (NaN rows; {shown}{' …' if len(failures) > 3 else ''})"
        line += f", listed in {failures_path}" if failures_path else ""
    (log.warning if failures else log.info)(line)
    return counts


def bound_extractor(name: str, config: dict[str, Any] | None, grid: Any,
                    prepared_dir: str | Path | None = None) -> tuple[Extractor, dict[str, Any] | None, dict[str, Any]]:
    """The extractor, the config its workers get and the grid as plain values (jobs travel to
    worker processes as JSON); the stage and ``moodflow extract --shard`` share it, so both
    write cache entries under the same fingerprint."""
    extractor = build_extractor(name, config, grid)
    grid = to_dict(extractor.grid)
    if not extractor.needs_audio:
        if prepared_dir is not None:
            extractor.bind(prepared_dir)  # imported features take their names from the dataset's files
    else:
        config = extractor.worker_config()  # e.g. MERT's `dtype: auto` resolved once, here
    return extractor, config, grid


def _extract(name, config, grid, audio_path, prepared_dir, out_path, dataset, workers, cache_dir, executor,
             scheduler) -> tuple[dict[str, int], list[tuple[str, str]]]:
    if executor not in EXECUTORS:
        raise ValueError(f"features.executor: {executor!r} is not one of {', '.join(EXECUTORS)}")
    extractor, config, grid = bound_extractor(name, config, grid, prepared_dir)
    writer_args = dict(
        feature_names=extractor.feature_names(), frame_shape=extractor.frame_shape(),
        frame_names=extractor.frame_names(), feature_groups=extractor.feature_groups(), extractor=name,
        extractor_version=extractor.version, config=extractor.config_dict(), dataset=dataset,
        packages=extractor.packages,
    )
    if not extractor.needs_audio:
        return _import_store(extractor, prepared_dir, out_path, writer_args), []
    with AudioStore(audio_path) as audio:
        if not audio.ids:
            raise MoodflowError(f"{audio_path}: the audio store holds no tracks (decode found no audio file; see "
                                f"its errors CSV): {name} needs audio — only the dataset's provided features need none")
    with one_thread(extractor):  # set from this main thread: it holds for threads started here too
        return _audio_store(extractor, config, grid, audio_path, out_path, writer_args, workers, cache_dir,
                            executor, scheduler)


def _audio_store(extractor, config, grid, audio_path, out_path, writer_args, workers, cache_dir, executor,
                 scheduler) -> tuple[dict[str, int], list[tuple[str, str]]]:
    if cache_dir is None and executor == "local":
        return _stream_store(extractor, config, grid, audio_path, out_path, writer_args, default_workers(workers))
    tmp_cache = None
    if cache_dir is None:  # Dask workers hand results over through a cache folder
        Path(out_path).parent.mkdir(parents=True, exist_ok=True)
        cache_dir = tmp_cache = tempfile.mkdtemp(prefix=f".{Path(out_path).name}.cache-", dir=Path(out_path).parent)
    try:
        return _cached_store(
            extractor, config, grid, audio_path, out_path, writer_args, workers=workers,
            cache_dir=cache_dir, executor=executor, scheduler=scheduler,
        )
    finally:
        if tmp_cache:
            shutil.rmtree(tmp_cache, ignore_errors=True)


def _import_store(extractor: Extractor, prepared_dir, out_path, writer_args) -> dict[str, int]:
    """Imported features: every row as the dataset's files give it (no extraction to fail)."""
    counts = {"tracks": 0, "failed": 0, "cached": 0, "extracted": 0}
    with FeatureStoreWriter(out_path, sample_rate=None, **writer_args) as writer:
        for track_id, duration, feats in tqdm(
            extractor.import_tracks(str(prepared_dir)), desc=f"import {extractor.name}", unit="track"
        ):
            writer.append(track_id, duration, feats.static, feats.frames, feats.start_s, feats.end_s)
            counts["tracks"] += 1
    return counts


def _append_failed(writer: FeatureStoreWriter, extractor: Extractor, track_id: str, duration: float) -> None:
    empty = np.empty((0, *extractor.frame_shape()), dtype=np.float32)
    nan = np.full(len(extractor.feature_names()), np.nan, dtype=np.float32)
    writer.append(track_id, duration, nan, empty, np.empty(0), np.empty(0))


def _stream_store(extractor, config, grid, audio_path, out_path, writer_args,
                  n_workers: int) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """No cache: results go from the workers straight into the writer, in track order."""
    name = extractor.name
    counts = {"tracks": 0, "failed": 0, "cached": 0, "extracted": 0}
    failures: list[tuple[str, str]] = []
    audio = AudioStore(audio_path)
    job = make_job(name, config, grid, audio_path)
    pool = _local_pool(extractor, n_workers)
    try:
        # the ExitStack ends the extractor's own stream (MERT's loader) before the store closes
        with FeatureStoreWriter(out_path, sample_rate=audio.sample_rate, **writer_args) as writer, ExitStack() as stack:
            ids = list(audio.ids)
            if pool:
                outcomes = _ordered(pool, _bind(extract_track, job), ids, window=2 * n_workers)
            else:
                stream = stack.enter_context(closing(extractor.extract_many(str(audio_path), ids)))
                outcomes = (outcome for _, outcome in stream)
            for i, (track_id, feats) in enumerate(zip(tqdm(ids, desc=f"extract {name}", unit="track"), outcomes)):
                duration = float(audio.durations[i])
                if isinstance(feats, BaseException):  # one bad track must not lose the others
                    if is_environment_error(feats):
                        raise feats
                    log.debug("extract %s: track %s failed: %s", name, track_id, feats)
                    failures.append((track_id, f"{type(feats).__name__}: {feats}"))
                    counts["failed"] += 1
                    _append_failed(writer, extractor, track_id, duration)
                    continue
                if not np.isfinite(feats.static).any():
                    failures.append((track_id, NO_VALUES))
                writer.append(track_id, duration, feats.static, feats.frames, feats.start_s, feats.end_s)
                counts["tracks"] += 1
                counts["extracted"] += 1
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
        audio.close()
    return counts, failures


class _bind:
    """``functools.partial`` that pickles by reference to a module-level function."""

    def __init__(self, fn: Callable, job: dict):
        self.fn, self.job = fn, job

    def __call__(self, *args):
        return self.fn(self.job, *args)


def _cached_store(extractor, config, grid, audio_path, out_path, writer_args, *, workers, cache_dir,
                  executor, scheduler) -> tuple[dict[str, int], list[tuple[str, str]]]:
    name = extractor.name
    cache = TrackCache.for_extractor(cache_dir, extractor)
    cache.prepare()
    audio = AudioStore(audio_path)
    try:
        ids = list(audio.ids)
        keys = audio.audio_hashes()
        todo: dict[str, str] = {}  # key -> one track id with that audio
        for track_id, key in zip(ids, keys):
            if key not in cache and key not in todo:
                todo[key] = track_id
        log.info("extract %s: %d of %d tracks cached in %s, %d to extract (%s)",
                 name, len(ids) - len(todo), len(ids), cache.dir, len(todo), executor)
        job = make_job(name, config, grid, audio_path, cache)
        errors: dict[str, str] = {}
        items = [(tid, key) for key, tid in todo.items()]
        if executor == "dask":
            from moodflow.extract.distributed import run_on_dask

            warm_up(extractor, audio.sample_rate)
            results = run_on_dask(job, items, scheduler=scheduler, n_workers=workers)
        else:
            results = _run_local(extractor, job, items, default_workers(workers))
        for (track_id, key), error in tqdm(results, total=len(items), desc=f"extract {name}", unit="track"):
            if error is not None:
                log.debug("extract %s: track %s failed: %s", name, track_id, error)
                errors[key] = error
        counts = {"tracks": 0, "failed": 0, "cached": len(ids) - len(items), "extracted": len(items)}
        failures: list[tuple[str, str]] = []
        with FeatureStoreWriter(out_path, sample_rate=audio.sample_rate, **writer_args) as writer:
            for i, (track_id, key) in enumerate(zip(ids, keys)):
                duration = float(audio.durations[i])
                feats = None if key in errors else cache.load(key)
                if feats is None and key not in errors:  # entry damaged or removed meanwhile: redo here
                    error = extract_into(extractor, audio, cache, track_id, key)
                    feats = cache.load(key) if error is None else None
                    counts["extracted"] += 1
                    if error is not None:
                        errors[key] = error
                if feats is None:
                    failures.append((track_id, errors.get(key, "cache entry unreadable")))
                    counts["failed"] += 1
                    _append_failed(writer, extractor, track_id, duration)
                    continue
                if not np.isfinite(feats.static).any():
                    failures.append((track_id, NO_VALUES))
                writer.append(track_id, duration, feats.static, feats.frames, feats.start_s, feats.end_s)
                counts["tracks"] += 1
    finally:
        audio.close()
    return counts, failures


def _run_local(extractor: Extractor, job: dict, items: list[tuple[str, str]], n_workers: int):
    """Yield ((track_id, key), error or None) for every item, extracted on this machine."""
    pool = _local_pool(extractor, min(n_workers, len(items)))
    if pool is None:  # in this process, with the stage's own extractor (MERT loads its model once)
        cache = TrackCache.from_spec(job["cache"])
        with closing(extractor.extract_many(job["audio_path"], [track_id for track_id, _ in items])) as stream:
            for item, (_, outcome) in zip(items, stream):
                yield item, save_outcome(cache, item[1], outcome)
        return
    try:
        for item, error in _unordered(pool, _bind(extract_track_to_cache, job), items, window=2 * n_workers):
            yield item, error
    finally:
        pool.shutdown(cancel_futures=True)
