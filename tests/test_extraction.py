"""The extract stage runner: resuming after a kill, ordering, workers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.helpers.killing import kill_after_cached
from tests.helpers.stores import assert_same_store, make_audio_store, run

from moodflow.extract.cache import TrackCache
from moodflow.features import build_extractor

REPO = Path(__file__).resolve().parents[1]
N = 24
CQT = {"kind": "cqt"}  # slower per track than stft: room to kill the run halfway

CHILD = """
import sys
from moodflow.extract.run import extract_store
extract_store(name="chroma", config={"kind": "cqt"}, grid={}, audio_path=sys.argv[1], prepared_dir=".",
              out_path=sys.argv[2], dataset="synthetic", workers=1, cache_dir=sys.argv[3])
"""


def test_killed_run_resumes_and_equals_an_uninterrupted_one(tmp_path):
    audio = make_audio_store(tmp_path / "audio.h5", list(range(N)))
    out = tmp_path / "features" / "chroma.h5"
    cache_root = tmp_path / "cache"
    cache = TrackCache.for_extractor(cache_root, build_extractor("chroma", CQT))
    out.parent.mkdir()  # so that a half-written store (or its temporary) would show up here
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(audio), str(out), str(cache_root)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done = kill_after_cached(proc, cache)
    assert 3 <= done < N, done
    assert list(out.parent.iterdir()) == []  # no store, not even a half-written one
    for entry in cache.dir.glob("??/*.arrays"):
        assert cache.load(entry.stem) is not None  # every entry is whole

    counts = run(tmp_path, audio, "features/chroma.h5", cache_root, config=CQT)
    assert counts == {"tracks": N, "failed": 0, "cached": done, "extracted": N - done}
    run(tmp_path, audio, "plain.h5", None, config=CQT)
    assert_same_store(out, tmp_path / "plain.h5")


@pytest.mark.parametrize("workers", [1, 2])
def test_store_keeps_audio_store_order_and_durations(tmp_path, workers):
    seeds = [5, 1, 9, 3, 7]
    audio = make_audio_store(tmp_path / "audio.h5", seeds, seconds=1.5)
    run(tmp_path, audio, "x.h5", tmp_path / "cache", workers=workers)
    from moodflow.stores.feature_store import FeatureStore

    with FeatureStore(tmp_path / "x.h5") as store:
        assert store.ids == [f"t{s:03d}" for s in seeds]
        assert list(store.durations) == [1.5] * 5
        assert store.attrs["sample_rate"] == 22050 and store.extractor == "chroma"
        assert store.config["extractor"]["kind"] == "stft"


def test_store_values_do_not_depend_on_the_number_of_workers(tmp_path):
    """One in-process worker (BLAS free to use both cores) and a pool of two single-thread
    workers write the same values: BLAS's thread count changed chroma in the last float32 bit."""
    audio = make_audio_store(tmp_path / "audio.h5", list(range(6)))
    run(tmp_path, audio, "one.h5", None, workers=1)
    run(tmp_path, audio, "two.h5", None, workers=2)
    assert_same_store(tmp_path / "one.h5", tmp_path / "two.h5")
