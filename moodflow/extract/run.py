"""The extract stage: run one extractor over every decoded track into one feature store.

Two ways through:

- without a cache (``cache_dir=None``, local executor) tracks stream from the workers into the
  store writer in order;
- with a per-track cache (``moodflow.extract.cache``) every track's audio is hashed, only tracks
  without an entry are extracted — each result saved as its own entry the moment it is done,
  by local threads/processes (``moodflow.extract.local``) or by Dask workers
  (``moodflow.extract.distributed``: a LocalCluster, a running scheduler or Slurm jobs) — and then
  this process alone consolidates the entries into the store. A killed run keeps its finished
  entries and leaves no store; the next run resumes. The store holds the same values either way.

Both ways end in one loop (:func:`_write_rows`): a track whose extraction raised (its audio is
too short, silent, …) gets an all-NaN row and is listed with the reason in the failures CSV; a
failure of the machine (a full disk, out of memory, a worker process killed) stops the stage
with :class:`EnvironmentFailure` instead — no store, no CSV, so DVC runs the stage again next time.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from contextlib import closing, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
from tqdm import tqdm

from moodflow.core.atomic import write_csv
from moodflow.core.config import build, to_dict
from moodflow.core.errors import EnvironmentFailure, MoodflowError, is_environment_error, one_line
from moodflow.extract.cache import TrackCache
from moodflow.extract.local import BoundJob, local_pool, ordered, run_locally
from moodflow.extract.settings import CLUSTERS, EXECUTORS, SlurmSettings
from moodflow.extract.worker import default_workers, extract_into, extract_track, make_job, one_thread, warm_up
from moodflow.features import build_extractor
from moodflow.features.base import Extractor, TrackFeatures
from moodflow.stores.audio_store import AudioStore
from moodflow.stores.feature_store import FeatureStoreWriter

log = logging.getLogger(__name__)
NO_VALUES = "no values (all NaN): the audio is too short or too quiet for this extractor"
Counts = dict[str, int]
Failures = list[tuple[str, str]]
# (track id, duration in seconds, its features or the error text of its extraction)
Row = tuple[str, float, "TrackFeatures | str"]


@dataclass
class ExtractJob:
    """One run of the extract stage as a value: the bound extractor, the files it reads and
    writes, and where the work runs. Built once by :func:`extract_store`, read by every step."""

    extractor: Extractor
    config: dict[str, Any] | None  # what workers rebuild the extractor from (plain values)
    grid: dict[str, Any]
    audio_path: Path
    prepared_dir: Path
    out_path: Path
    dataset: str
    workers: int = 0
    cache_dir: Path | None = None
    executor: str = "local"
    scheduler: str = ""
    cluster: str = "local"
    slurm: SlurmSettings = field(default_factory=SlurmSettings)

    @property
    def name(self) -> str:
        return self.extractor.name

    def writer_args(self) -> dict[str, Any]:
        """The feature store's description of this extraction (FeatureStoreWriter's arguments)."""
        ex = self.extractor
        return dict(feature_names=ex.feature_names(), frame_shape=ex.frame_shape(), frame_names=ex.frame_names(),
                    feature_groups=ex.feature_groups(), extractor=ex.name, extractor_version=ex.version,
                    config=ex.config_dict(), dataset=self.dataset, packages=ex.packages)

    def worker_job(self, cache: TrackCache | None = None) -> dict[str, Any]:
        """The plain-value job workers rebuild their extractor from (:func:`make_job`)."""
        return make_job(self.name, self.config, self.grid, self.audio_path, cache)


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
    cluster: str = "local",
    slurm: SlurmSettings | dict[str, Any] | None = None,
) -> Counts:
    """Extract feature set ``name`` for every track into ``out_path`` (written atomically).

    ``cache_dir``: root of the per-track cache (None: no cache). ``executor``: ``local``
    (threads/processes on ``workers`` cores) or ``dask``: at ``scheduler``, or on a cluster
    started here — ``cluster: local`` (a LocalCluster of ``workers`` processes) or ``slurm`` (a
    dask-jobqueue SLURMCluster shaped by ``slurm``); without ``cache_dir`` Dask hands results
    over through a temporary cache beside ``out_path``. A track whose extraction raises keeps a
    NaN static row and no frames, and is listed in ``failures_path`` (CSV: track_id, error); the
    run goes on. A failure of the machine raises :class:`EnvironmentFailure` and writes neither
    file. Returns counts: tracks, failed, cached (entries reused) and extracted (tracks computed
    in this run).
    """
    if executor not in EXECUTORS:
        raise ValueError(f"features.executor: {executor!r} is not one of {', '.join(EXECUTORS)}")
    if cluster not in CLUSTERS:
        raise ValueError(f"features.cluster: {cluster!r} is not one of {', '.join(CLUSTERS)}")
    extractor, config, grid = bound_extractor(name, config, grid, prepared_dir)
    job = ExtractJob(
        extractor=extractor, config=config, grid=grid, audio_path=Path(audio_path), prepared_dir=Path(prepared_dir),
        out_path=Path(out_path), dataset=dataset, workers=workers, cache_dir=Path(cache_dir) if cache_dir else None,
        executor=executor, scheduler=scheduler, cluster=cluster, slurm=build(SlurmSettings, slurm, "features.slurm"),
    )
    try:
        counts, failures = _extract(job)
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


def _extract(job: ExtractJob) -> tuple[Counts, Failures]:
    if not job.extractor.needs_audio:
        return _import_store(job), []
    with AudioStore(job.audio_path) as audio:
        if not audio.ids:
            raise MoodflowError(f"{job.audio_path}: the audio store holds no tracks (decode found no audio file; see "
                                f"its errors CSV): {job.name} needs audio — only the dataset's provided features "
                                "need none")
    with one_thread(job.extractor):  # set from this main thread: it holds for threads started here too
        if job.cache_dir is None and job.executor == "local":
            return _stream_store(job)
        if job.cache_dir is not None:
            return _cached_store(job, job.cache_dir)
        job.out_path.parent.mkdir(parents=True, exist_ok=True)  # Dask workers hand results over through a cache
        tmp_cache = Path(tempfile.mkdtemp(prefix=f".{job.out_path.name}.cache-", dir=job.out_path.parent))
        try:
            return _cached_store(job, tmp_cache)
        finally:
            shutil.rmtree(tmp_cache, ignore_errors=True)


def _import_store(job: ExtractJob) -> Counts:
    """Imported features: every row as the dataset's files give it (no extraction to fail)."""
    counts = {"tracks": 0, "failed": 0, "cached": 0, "extracted": 0}
    with FeatureStoreWriter(job.out_path, sample_rate=None, **job.writer_args()) as writer:
        for track_id, duration, feats in tqdm(
            job.extractor.import_tracks(str(job.prepared_dir)), desc=f"import {job.name}", unit="track"
        ):
            writer.append(track_id, duration, feats.static, feats.frames, feats.start_s, feats.end_s)
            counts["tracks"] += 1
    return counts


def _write_rows(job: ExtractJob, sample_rate: int, rows: Iterator[Row], counts: Counts) -> Failures:
    """The one loop both ways share: every row into the store, in order. A failed track gets a
    NaN static row and no frames; it and a track without any value are listed in the failures."""
    extractor = job.extractor
    failures: Failures = []
    empty = np.empty((0, *extractor.frame_shape()), dtype=np.float32)
    nan = np.full(len(extractor.feature_names()), np.nan, dtype=np.float32)
    # closing(rows) ends the rows' own stream (MERT's loader) before the store closes
    with FeatureStoreWriter(job.out_path, sample_rate=sample_rate, **job.writer_args()) as writer, closing(rows):
        for track_id, duration, feats in rows:
            if isinstance(feats, str):  # one bad track must not lose the others
                log.debug("extract %s: track %s failed: %s", job.name, track_id, feats)
                failures.append((track_id, feats))
                counts["failed"] += 1
                writer.append(track_id, duration, nan, empty, np.empty(0), np.empty(0))
                continue
            if not np.isfinite(feats.static).any():
                failures.append((track_id, NO_VALUES))
            writer.append(track_id, duration, feats.static, feats.frames, feats.start_s, feats.end_s)
            counts["tracks"] += 1
    return failures


def _error_text(outcome: TrackFeatures | BaseException) -> TrackFeatures | str:
    """A track's outcome with its exception as text; a failure of the machine is raised."""
    if not isinstance(outcome, BaseException):
        return outcome
    if is_environment_error(outcome):
        raise outcome
    return f"{type(outcome).__name__}: {outcome}"


def _stream_store(job: ExtractJob) -> tuple[Counts, Failures]:
    """No cache: results go from the workers straight into the writer, in track order."""
    n_workers = default_workers(job.workers)
    counts = {"tracks": 0, "failed": 0, "cached": 0, "extracted": 0}
    audio = AudioStore(job.audio_path)
    pool = local_pool(job.extractor, n_workers)

    def rows() -> Iterator[Row]:
        ids = list(audio.ids)
        if pool:
            outcomes: Iterable = ordered(pool, BoundJob(extract_track, job.worker_job()), ids, window=2 * n_workers)
            stream = None
        else:
            stream = job.extractor.extract_many(str(job.audio_path), ids)
            outcomes = (outcome for _, outcome in stream)
        with closing(stream) if stream is not None else nullcontext():
            for i, (track_id, outcome) in enumerate(zip(tqdm(ids, desc=f"extract {job.name}", unit="track"),
                                                        outcomes)):
                yield track_id, float(audio.durations[i]), _error_text(outcome)

    try:
        failures = _write_rows(job, audio.sample_rate, rows(), counts)
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
        audio.close()
    counts["extracted"] = counts["tracks"]
    return counts, failures


def _cached_store(job: ExtractJob, cache_dir: Path) -> tuple[Counts, Failures]:
    """Extract the tracks without a cache entry (locally or on Dask), then consolidate."""
    cache = TrackCache.for_extractor(cache_dir, job.extractor)
    cache.prepare()
    audio = AudioStore(job.audio_path)
    try:
        ids = list(audio.ids)
        keys = audio.audio_hashes()
        todo: dict[str, str] = {}  # key -> one track id with that audio
        for track_id, key in zip(ids, keys):
            if key not in cache and key not in todo:
                todo[key] = track_id
        where = job.executor if job.executor == "local" or job.scheduler else f"dask on a {job.cluster} cluster"
        log.info("extract %s: %d of %d tracks cached in %s, %d to extract (%s)",
                 job.name, len(ids) - len(todo), len(ids), cache.dir, len(todo), where)
        items = [(tid, key) for key, tid in todo.items()]
        errors: dict[str, str] = {}
        for (track_id, key), error in tqdm(_fill(job, cache, items, audio.sample_rate), total=len(items),
                                           desc=f"extract {job.name}", unit="track"):
            if error is not None:
                log.debug("extract %s: track %s failed: %s", job.name, track_id, error)
                errors[key] = error
        counts = {"tracks": 0, "failed": 0, "cached": len(ids) - len(items), "extracted": len(items)}

        def rows() -> Iterator[Row]:
            for i, (track_id, key) in enumerate(zip(ids, keys)):
                feats = None if key in errors else cache.load(key)
                if feats is None and key not in errors:  # entry damaged or removed meanwhile: redo here
                    error = extract_into(job.extractor, audio, cache, track_id, key)
                    feats = cache.load(key) if error is None else None
                    counts["extracted"] += 1
                    if error is not None:
                        errors[key] = error
                yield track_id, float(audio.durations[i]), feats if feats is not None else \
                    errors.get(key, "cache entry unreadable")

        failures = _write_rows(job, audio.sample_rate, rows(), counts)
    finally:
        audio.close()
    return counts, failures


def _fill(job: ExtractJob, cache: TrackCache, items: list[tuple[str, str]],
          sample_rate: int) -> Iterator[tuple[tuple[str, str], str | None]]:
    """Extract ``items`` into ``cache`` where the job says; (item, error text or None) each."""
    worker_job = job.worker_job(cache)
    if job.executor != "dask":
        return run_locally(job.extractor, worker_job, items, default_workers(job.workers))
    from moodflow.extract.distributed import run_on_dask

    if items:
        warm_up(job.extractor, sample_rate)
    log_dir = job.slurm.log_dir or Path(cache.dir).parents[1] / "slurm-logs"
    return run_on_dask(worker_job, items, scheduler=job.scheduler, n_workers=job.workers, cluster=job.cluster,
                       slurm=job.slurm, log_dir=log_dir)
