"""Extraction on this machine's cores: the pool an extractor wants, tasks kept in a bounded
window, and :func:`run_locally`, which fills the per-track cache (the local counterpart of
:func:`moodflow.extract.distributed.run_on_dask`, used by the stage and by ``--shard`` parts)."""

from __future__ import annotations

from collections import deque
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from contextlib import closing
from typing import Any, Callable, Iterable, Iterator

from moodflow.extract.cache import TrackCache
from moodflow.extract.worker import extract_track_to_cache, init_process, save_outcome, warm_up
from moodflow.features.base import Extractor, TrackFeatures


def local_pool(extractor: Extractor, n_workers: int) -> Executor | None:
    """Threads (openSMILE releases the GIL) or processes for ``extractor``; None: run in this
    process (``parallel: none``, or one worker)."""
    parallel = extractor.parallel
    if parallel == "none" or n_workers <= 1:
        return None
    if parallel == "threads":
        return ThreadPoolExecutor(max_workers=n_workers)
    warm_up(extractor)
    return ProcessPoolExecutor(max_workers=n_workers, initializer=init_process)


def ordered(pool: Executor, fn: Callable, ids: list[str], window: int) -> Iterator[TrackFeatures | BaseException]:
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


def unordered(pool: Executor, fn: Callable, items: Iterable[tuple], window: int) -> Iterator[tuple[tuple, Any]]:
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


class BoundJob:
    """``functools.partial(fn, job)`` that pickles by reference to a module-level function."""

    def __init__(self, fn: Callable, job: dict):
        self.fn, self.job = fn, job

    def __call__(self, *args):
        return self.fn(self.job, *args)


def run_locally(extractor: Extractor, job: dict[str, Any], items: list[tuple[str, str]],
                n_workers: int) -> Iterator[tuple[tuple[str, str], str | None]]:
    """Extract every (track_id, audio hash) item into the cache of ``job`` (a
    :func:`~moodflow.extract.worker.make_job` with a cache) on ``n_workers`` local cores.

    Yields (item, error text or None) as tracks finish. A failure of the machine is raised."""
    pool = local_pool(extractor, min(n_workers, len(items)))
    if pool is None:  # in this process, with the caller's own extractor (MERT loads its model once)
        cache = TrackCache.from_spec(job["cache"])
        with closing(extractor.extract_many(job["audio_path"], [track_id for track_id, _ in items])) as stream:
            for item, (_, outcome) in zip(items, stream):
                yield item, save_outcome(cache, item[1], outcome)
        return
    try:
        for item, error in unordered(pool, BoundJob(extract_track_to_cache, job), items, window=2 * n_workers):
            yield item, error
    finally:
        pool.shutdown(cancel_futures=True)
