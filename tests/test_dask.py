"""``features.executor: dask``: per-track tasks on a LocalCluster give the local run's store."""

from __future__ import annotations

import pytest
from test_cache import assert_same_store, make_audio_store, run

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
    from test_cache import chord

    bad = chord(2)
    bad[10] = np.inf
    with AudioStoreWriter(tmp_path / "audio.h5", sample_rate=22050, dataset="synthetic") as writer:
        writer.append("good", chord(1))
        writer.append("bad", bad)
    counts = run(tmp_path, tmp_path / "audio.h5", "x.h5", tmp_path / "cache", executor="dask",
                 scheduler=cluster.scheduler_address)
    assert counts["failed"] == 1 and counts["tracks"] == 1
