"""``features.executor: dask``: per-track tasks on a LocalCluster give the local run's store."""

from __future__ import annotations

import pytest
from tests.helpers.stores import assert_same_store, make_audio_store, run

distributed = pytest.importorskip("dask.distributed")


@pytest.fixture(scope="module")
def cluster():
    """Two single-thread workers inside this process (fast to start; the tasks are the same)."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as c:
        yield c


def test_dask_store_equals_local_store(tmp_path, cluster):
    audio = make_audio_store(tmp_path / "audio.h5", list(range(8)))
    local = run(tmp_path, audio, "local.h5", None)
    cache = tmp_path / "cache"
    counts = run(tmp_path, audio, "dask.h5", cache, executor="dask", scheduler=cluster.scheduler_address)
    assert counts == local == {"tracks": 8, "failed": 0, "cached": 0, "extracted": 8}
    assert_same_store(tmp_path / "local.h5", tmp_path / "dask.h5")
    # the cache the workers filled is the one a local run reads
    again = run(tmp_path, audio, "again.h5", cache)
    assert again["cached"] == 8 and again["extracted"] == 0
    assert_same_store(tmp_path / "local.h5", tmp_path / "again.h5")


def test_dask_without_cache_dir_uses_a_temporary_one(tmp_path, cluster):
    audio = make_audio_store(tmp_path / "audio.h5", [1, 2, 3])
    counts = run(tmp_path, audio, "out/dask.h5", None, executor="dask", scheduler=cluster.scheduler_address)
    assert counts["extracted"] == 3
    run(tmp_path, audio, "local.h5", None)
    assert_same_store(tmp_path / "local.h5", tmp_path / "out/dask.h5")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["dask.h5"]  # temporary cache removed


def test_dask_reports_failed_tracks(tmp_path, cluster):
    import numpy as np

    from moodflow.stores.audio_store import AudioStoreWriter
    from tests.helpers.stores import chord

    bad = chord(2)
    bad[10] = np.inf
    with AudioStoreWriter(tmp_path / "audio.h5", sample_rate=22050, dataset="synthetic") as writer:
        writer.append("good", chord(1))
        writer.append("bad", bad)
    counts = run(tmp_path, tmp_path / "audio.h5", "x.h5", tmp_path / "cache", executor="dask",
                 scheduler=cluster.scheduler_address)
    assert counts["failed"] == 1 and counts["tracks"] == 1


def _dask_cli() -> str | None:
    import shutil
    import sys
    from pathlib import Path

    beside = Path(sys.executable).parent / "dask"  # the venv's own, even when its bin is not on PATH
    return str(beside) if beside.is_file() else shutil.which("dask")


def _worker_has_extracted(dask_worker) -> bool:
    """Run on each worker (``client.run``): whether it computed an extraction task."""
    return any("extract_track_to_cache" in str(entry[0]) for entry in dask_worker.state.log)


def test_dask_real_scheduler_and_two_worker_processes(tmp_path):
    """`dask scheduler` + two `dask worker` processes on localhost, as on a cluster."""
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    cli = _dask_cli()
    if cli is None:
        pytest.skip("the `dask` command line is not installed (pip install 'dask[distributed]')")
    repo = Path(__file__).resolve().parents[1]
    path = os.pathsep.join([str(repo), str(repo / "tests"), os.environ.get("PYTHONPATH", "")])  # tests: for client.run
    env = dict(os.environ, PYTHONPATH=path,
               DASK_DISTRIBUTED__WORKER__DAEMON="False")
    sched_file = tmp_path / "scheduler.json"
    log = open(tmp_path / "dask.log", "w")
    procs = [subprocess.Popen([cli, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(sched_file)], env=env, stdout=log, stderr=log)]
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists():
            assert procs[0].poll() is None, (tmp_path / "dask.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "the dask scheduler did not start within 60 s"
            time.sleep(0.1)
        for name in ("w1", "w2"):
            procs.append(subprocess.Popen(
                [cli, "worker", "--scheduler-file", str(sched_file), "--nthreads", "1", "--no-dashboard",
                 "--name", name, "--local-directory", str(tmp_path / name)], env=env, stdout=log, stderr=log))
        with distributed.Client(scheduler_file=str(sched_file), timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
            address = client.scheduler.address
            audio = make_audio_store(tmp_path / "audio.h5", list(range(12)))
            counts = run(tmp_path, audio, "dask.h5", tmp_path / "cache", executor="dask", scheduler=address)
            assert counts == {"tracks": 12, "failed": 0, "cached": 0, "extracted": 12}
            ran = client.run(_worker_has_extracted)
            worker_pids = client.run(os.getpid)
        assert sorted(ran.values()) == [True, True], ran  # both worker processes extracted tracks
        assert os.getpid() not in worker_pids.values()
        run(tmp_path, audio, "local.h5", None)
        assert_same_store(tmp_path / "local.h5", tmp_path / "dask.h5")
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()
