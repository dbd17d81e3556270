"""The worker side of extraction: one track of a job's audio store → features (or a cache entry).

A *job* is a plain-value description of an extraction (extractor name and settings, grid, audio
store path, cache folder) that threads, pool processes and Dask workers rebuild their own
extractor, audio store and cache from, once per (job, thread).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from moodflow.core.errors import is_environment_error
from moodflow.extract.cache import TrackCache
from moodflow.features import build_extractor
from moodflow.features.base import Extractor, TrackFeatures
from moodflow.stores.audio_store import AudioStore

log = logging.getLogger(__name__)


def default_workers(requested: int = 0) -> int:
    """``requested`` when positive, else the number of usable cores."""
    if requested and requested > 0:
        return requested
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


_LOCAL = threading.local()


def make_job(name: str, config: dict | None, grid: dict | None, audio_path: str | Path,
             cache: TrackCache | None = None) -> dict[str, Any]:
    """Plain-value description of an extraction job, sent to workers (threads, processes, Dask)."""
    job = {"name": name, "config": config or {}, "grid": grid or {}, "audio_path": str(Path(audio_path).resolve())}
    if cache is not None:
        job["cache"] = cache.spec()
    return job


class _OneThread:
    """Process-wide BLAS/OpenMP limit of one thread while any thread of this process is inside
    (reference-counted: threads of one process, e.g. an in-process Dask cluster, share it)."""

    _lock = threading.Lock()
    _depth = 0
    _limits: Any = None

    def __enter__(self) -> "_OneThread":
        with self._lock:
            if _OneThread._depth == 0:
                from threadpoolctl import threadpool_limits

                _OneThread._limits = threadpool_limits(1)
            _OneThread._depth += 1
        return self

    def __exit__(self, *exc: Any) -> None:
        with self._lock:
            _OneThread._depth -= 1
            if _OneThread._depth == 0:
                _OneThread._limits.restore_original_limits()
                _OneThread._limits = None


def one_thread(extractor: Extractor) -> AbstractContextManager:
    """BLAS/OpenMP limited to one thread while a pooled extractor (``parallel`` not ``none``)
    runs in this process: their values depend on the BLAS thread count in the last float32 bit
    (measured: chroma frames 6e-8 apart between 1 and 2 threads), and pool workers, Dask workers
    and the stage process must write the same bytes whatever ``features.workers`` is.

    Enter it in the main thread (the stage does): OpenBLAS limits set from a worker thread did
    not hold for a second thread computing at the same time (measured with two threads). Pool
    processes are limited by :func:`init_process`, Dask's nanny starts workers with
    ``OPENBLAS_NUM_THREADS=1``; the worker functions enter it too, for workers started otherwise."""
    return nullcontext() if extractor.parallel == "none" else _OneThread()  # MERT, musicnn: torch's own threads


def _worker_state(job: dict[str, Any]) -> tuple[Extractor, AudioStore, TrackCache | None]:
    states = _LOCAL.__dict__.setdefault("states", {})
    key = json.dumps(job, sort_keys=True)
    if key not in states:
        cache = TrackCache.from_spec(job["cache"]) if "cache" in job else None
        states[key] = (build_extractor(job["name"], job["config"], job["grid"]), AudioStore(job["audio_path"]), cache)
    return states[key]


def extract_track(job: dict[str, Any], track_id: str) -> TrackFeatures:
    """Worker side: features of one track of the job's audio store."""
    extractor, audio, _ = _worker_state(job)
    with one_thread(extractor):
        return extractor.extract_signal(audio.track_signal(track_id))


def extract_track_to_cache(job: dict[str, Any], track_id: str, key: str) -> str | None:
    """Worker side: extract one track into the job's cache; the error text, or None when done.

    Only a failure of the track's extraction comes back as text; anything else — the audio
    store not reachable from this worker, a full disk, no memory — is raised: it fails the
    stage, it is not the track's fault."""
    return extract_into(*_worker_state(job), track_id, key)


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def save_outcome(cache: TrackCache, key: str, outcome: TrackFeatures | BaseException) -> str | None:
    """Cache one track's features; the error text of its extraction, or None when saved.

    A failure of the machine (the extraction ran out of memory, the cache folder is full or
    read-only) is raised instead: it must fail the stage, not mark the track failed."""
    if isinstance(outcome, BaseException):
        if is_environment_error(outcome):
            raise outcome
        return _error_text(outcome)
    cache.save(key, outcome)
    return None


def extract_into(extractor: Extractor, audio: AudioStore, cache: TrackCache, track_id: str, key: str) -> str | None:
    try:
        with one_thread(extractor):  # also on a Dask worker, which has no pool initializer
            outcome = extractor.extract_signal(audio.track_signal(track_id))
    except Exception as exc:  # noqa: BLE001 - sorted by save_outcome; one bad track must not stop the others
        outcome = exc
    return save_outcome(cache, key, outcome)


def init_process() -> None:
    """Process-pool initializer: one core per worker, no BLAS/OpenMP/torch oversubscription."""
    os.environ["OMP_NUM_THREADS"] = "1"
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def warm_up(extractor: Extractor, sample_rate: int = 22050) -> None:
    """Run a JIT-compiling extractor (``jit_compiled``) once on 2 s of quiet noise in this process.

    librosa's numba functions are compiled and written to numba's on-disk cache on first use;
    several pool workers compiling them at the same moment can corrupt that cache (seen here as
    a segfault in every later ``chroma_cqt``). Compiling once before the workers start avoids it.
    """
    if not extractor.jit_compiled:
        return
    noise = np.random.default_rng(0).normal(scale=0.01, size=2 * sample_rate).astype(np.float32)
    try:
        extractor.extract(noise, sample_rate)
    except Exception as exc:  # noqa: BLE001 - a warm-up failure is reported by the real tracks
        log.debug("warm-up of %s failed: %s", extractor.name, exc)
