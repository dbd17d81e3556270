"""Per-track extraction as Dask distributed tasks (``features.executor: dask``).

Each task reads one track from the decoded-audio store, extracts it and writes the result as
a cache entry (``moodflow.extract.cache``); only the error text (or None) travels back. The stage
process then consolidates the entries into the feature store — it stays the only writer.
With a remote scheduler or Slurm jobs the audio store and the cache folder must be on a
filesystem every worker sees at the same absolute path, and moodflow must be installed on the
workers.

Where the workers come from: ``features.scheduler`` (a running scheduler's address), else
``features.cluster``: ``local`` starts a LocalCluster of ``features.workers`` processes here,
``slurm`` a dask-jobqueue ``SLURMCluster`` whose scheduler runs in this process and whose
workers are Slurm jobs shaped by ``features.slurm`` (:func:`slurm_cluster`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterator

from moodflow.extract.settings import SlurmSettings

log = logging.getLogger(__name__)
# a worker leaves this long before its job's walltime (or a tenth of it, when shorter), so that
# Slurm never kills it inside a track; the adaptive cluster submits a job to replace it
_LEAVE_EARLY_S = 300


def slurm_cluster_options(settings: SlurmSettings, log_dir: str | Path) -> dict[str, Any]:
    """dask-jobqueue ``SLURMCluster`` arguments for ``settings``: ``cores`` single-threaded
    workers per job, each leaving 10 % of the walltime (at most 5 min) before it ends."""
    walltime_s = settings.walltime_s()
    lifetime_s = max(1, walltime_s - min(_LEAVE_EARLY_S, walltime_s // 10))
    scheduler_options: dict[str, Any] = {"dashboard_address": None}
    if settings.interface:
        scheduler_options["interface"] = settings.interface
    return dict(
        cores=settings.cores, processes=settings.cores, memory=settings.memory, walltime=settings.walltime,
        queue=settings.queue or None, account=settings.account or None,
        job_extra_directives=list(settings.job_extra_directives), job_script_prologue=list(settings.prologue),
        worker_extra_args=["--lifetime", f"{lifetime_s}s", "--lifetime-stagger", f"{min(60, lifetime_s // 10)}s"],
        log_directory=str(log_dir), scheduler_options=scheduler_options, name="moodflow-extract",
    )


def slurm_cluster(settings: SlurmSettings, log_dir: str | Path):
    """A started dask-jobqueue ``SLURMCluster`` of ``settings.jobs`` jobs (kept at that number:
    a job that ends is replaced) with ``settings.cores`` single-threaded workers each."""
    from dask_jobqueue import SLURMCluster

    Path(log_dir).mkdir(parents=True, exist_ok=True)
    cluster = SLURMCluster(**slurm_cluster_options(settings, log_dir))
    cluster.adapt(minimum_jobs=settings.jobs, maximum_jobs=settings.jobs)
    log.info("dask: SLURMCluster at %s, %d job(s) of %d core(s), %s, walltime %s; job logs in %s",
             cluster.scheduler_address, settings.jobs, settings.cores, settings.memory, settings.walltime, log_dir)
    return cluster


def dask_client(scheduler: str = "", n_workers: int = 0, *, cluster: str = "local",
                slurm: SlurmSettings | None = None, log_dir: str | Path = "slurm-logs"):
    """(client, cluster) for ``scheduler``; an empty address starts the ``cluster`` kind.

    ``local``: a LocalCluster of ``n_workers`` single-threaded worker processes (0: one per
    core); ``slurm``: :func:`slurm_cluster` of ``slurm`` (job logs in ``log_dir``).
    ``cluster`` comes back None when connecting to an existing scheduler.
    """
    from dask.distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler), None
    if cluster == "slurm":
        started = slurm_cluster(slurm or SlurmSettings(), log_dir)
    else:
        from moodflow.extract.worker import default_workers

        started = LocalCluster(
            n_workers=default_workers(n_workers), threads_per_worker=1, processes=True,
            dashboard_address=None, silence_logs=logging.WARNING,
        )
    try:
        return Client(started), started
    except BaseException:
        started.close()
        raise


def run_on_dask(
    job: dict[str, Any], items: list[tuple[str, str]], *, scheduler: str = "", n_workers: int = 0, client=None,
    cluster: str = "local", slurm: SlurmSettings | None = None, log_dir: str | Path = "slurm-logs",
) -> Iterator[tuple[tuple[str, str], str | None]]:
    """Extract every (track_id, audio hash) item into the job's cache on Dask workers.

    Yields (item, error text or None) as tasks finish. ``client``: an existing
    ``dask.distributed.Client`` to use (then the other placement arguments are ignored and the
    client is left open); else see :func:`dask_client`.
    """
    if not items:
        return
    from dask.distributed import as_completed

    from moodflow.extract.worker import extract_track_to_cache

    own = client is None
    started = None
    if own:
        client, started = dask_client(scheduler, n_workers, cluster=cluster, slurm=slurm, log_dir=log_dir)
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
            if started is not None:
                started.close()
