"""Per-track extraction as Dask distributed tasks (``features.executor: dask``).

Each task reads one track from the decoded-audio store, extracts it and writes the result as
a cache entry (``moodflow.extract.cache``); only the error text (or None) travels back. The stage
process then consolidates the entries into the feature store — it stays the only writer.
With a remote scheduler the audio store and the cache folder must be on a filesystem every
worker sees at the same absolute path, and moodflow must be installed on the workers.
"""

from __future__ import annotations

import logging
from typing import Any, Iterator

log = logging.getLogger(__name__)


def dask_client(scheduler: str = "", n_workers: int = 0):
    """(client, cluster) for ``scheduler``; an empty address starts a LocalCluster.

    The LocalCluster has ``n_workers`` single-threaded worker processes (0: one per core).
    ``cluster`` is None when connecting to an existing scheduler.
    """
    from dask.distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler), None
    from moodflow.extract.worker import default_workers

    cluster = LocalCluster(
        n_workers=default_workers(n_workers), threads_per_worker=1, processes=True,
        dashboard_address=None, silence_logs=logging.WARNING,
    )
    return Client(cluster), cluster


def run_on_dask(
    job: dict[str, Any], items: list[tuple[str, str]], *, scheduler: str = "", n_workers: int = 0, client=None,
) -> Iterator[tuple[tuple[str, str], str | None]]:
    """Extract every (track_id, audio hash) item into the job's cache on Dask workers.

    Yields (item, error text or None) as tasks finish. ``client``: an existing
    ``dask.distributed.Client`` to use (then ``scheduler``/``n_workers`` are ignored and the
    client is left open).
    """
    if not items:
        return
    from dask.distributed import as_completed

    from moodflow.extract.worker import extract_track_to_cache

    own = client is None
    cluster = None
    if own:
        client, cluster = dask_client(scheduler, n_workers)
    try:
        log.info("dask: %d tracks on %s", len(items), client)
        futures = {}
        for track_id, key in items:
            fut = client.submit(extract_track_to_cache, job, track_id, key, pure=False)
            futures[fut] = (track_id, key)
        for fut in as_completed(futures):
            yield futures[fut], fut.result()
    finally:
        if own:
            client.close()
            if cluster is not None:
                cluster.close()
