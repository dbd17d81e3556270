"""Sharded extraction (`moodflow extract SET --shard i/N`): parts in separate processes fill the
cache, the stage then only consolidates, and the store is the unsharded run's bytes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.helpers.killing import kill_after_cached
from tests.helpers.stores import assert_same_store, make_audio_store, run

from moodflow.extract.cache import TrackCache
from moodflow.extract.shard import parse_shard, shard_items
from moodflow.features import build_extractor

REPO = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def write_params(path: Path, cache: Path, kind: str) -> Path:
    path.write_text(f"features:\n  cache_dir: {cache}\n  workers: 1\n  chroma:\n    kind: {kind}\n")
    return path


def shard_cmd(params: Path, audio: Path, shard: str) -> list[str]:
    return [sys.executable, "-m", "moodflow", "extract", "chroma", "--shard", shard, "--params", str(params),
            "--audio", str(audio)]


def test_parts_are_disjoint_deterministic_and_cover_every_hash():
    ids = [f"t{i}" for i in range(10)]
    keys = ["k0", "k1", "k2", "k1", "k3", "k4", "k5", "k6", "k7", "k8"]  # t3 has t1's audio
    parts = [shard_items(ids, keys, i, 3) for i in range(3)]
    flat = [key for part in parts for _, key in part]
    assert sorted(flat) == sorted(set(keys)) and len(flat) == len(set(keys))
    assert [len(p) for p in parts] == [3, 3, 3]
    assert ("t1", "k1") in parts[1] and all(tid != "t3" for p in parts for tid, _ in p)
    assert parts == [shard_items(ids, keys, i, 3) for i in range(3)]
    assert parse_shard("2/3") == (2, 3)
    for bad in ("3/3", "-1/2", "1", "a/b", "0/0"):
        with pytest.raises(ValueError, match="--shard"):
            parse_shard(bad)


def test_three_shard_processes_then_consolidation_equal_one_run(tmp_path):
    audio = make_audio_store(tmp_path / "audio.h5", list(range(9)))
    cache_root = tmp_path / "cache"
    params = write_params(tmp_path / "params.yaml", cache_root, "stft")
    procs = [subprocess.Popen(shard_cmd(params, audio, f"{i}/3"), env=ENV, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(3)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    reports = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
    assert [r["extracted"] for r in reports] == [3, 3, 3] and all(r["failed"] == 0 for r in reports)
    cache = TrackCache.for_extractor(cache_root, build_extractor("chroma", {"kind": "stft"}))
    assert len(list(cache.keys())) == 9

    counts = run(tmp_path, audio, "sharded.h5", cache_root)  # what `dvc repro` does next
    assert counts == {"tracks": 9, "failed": 0, "cached": 9, "extracted": 0}
    run(tmp_path, audio, "plain.h5", None)
    assert_same_store(tmp_path / "plain.h5", tmp_path / "sharded.h5")
    assert (tmp_path / "plain.h5").read_bytes() == (tmp_path / "sharded.h5").read_bytes()

    again = subprocess.run(shard_cmd(params, audio, "1/3"), env=ENV, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout.strip().splitlines()[-1])["cached"] == 3  # nothing done twice


def test_killed_shard_resumes_where_it_stopped(tmp_path):
    n = 24
    audio = make_audio_store(tmp_path / "audio.h5", list(range(n)))
    cache_root = tmp_path / "cache"
    params = write_params(tmp_path / "params.yaml", cache_root, "cqt")  # slow enough to kill halfway
    cache = TrackCache.for_extractor(cache_root, build_extractor("chroma", {"kind": "cqt"}))
    proc = subprocess.Popen(shard_cmd(params, audio, "0/1"), env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    done = kill_after_cached(proc, cache)
    assert 3 <= done < n, done
    resumed = subprocess.run(shard_cmd(params, audio, "0/1"), env=ENV, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert report == {"set": "chroma", "shard": "0/1", "tracks": n, "cached": done, "extracted": n - done, "failed": 0}
    counts = run(tmp_path, audio, "resumed.h5", cache_root, config={"kind": "cqt"})
    assert counts["extracted"] == 0 and counts["cached"] == n


def test_shard_errors_are_one_line(tmp_path):
    audio = make_audio_store(tmp_path / "audio.h5", [1])
    params = write_params(tmp_path / "params.yaml", tmp_path / "cache", "stft")
    for argv, needle in (
        (["extract", "chroma", "--shard", "3/2"], "0 ≤ i < N"),
        (["extract", "chromaa", "--shard", "0/2"], "not a feature set"),
        (["extract", "chroma", "--audio", str(tmp_path / "none.h5")], "no decoded audio store"),
    ):
        res = subprocess.run([sys.executable, "-m", "moodflow", *argv, "--params", str(params),
                              *([] if "--audio" in argv else ["--audio", str(audio)])],
                             env=ENV, capture_output=True, text=True, timeout=120)
        assert res.returncode == 2 and needle in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr


def test_a_full_disk_fails_the_shard_with_75_keeping_nothing_partial(tmp_path):
    import resource

    audio = make_audio_store(tmp_path / "audio.h5", [1, 2], seconds=20.0)  # entries of ~4.5 kB
    cache_root = tmp_path / "cache"
    params = write_params(tmp_path / "params.yaml", cache_root, "stft")

    def small_files() -> None:  # writes past 3 kB fail with EFBIG, as on a full disk (Python ignores SIGXFSZ)
        resource.setrlimit(resource.RLIMIT_FSIZE, (3000, 3000))

    res = subprocess.run(shard_cmd(params, audio, "0/1"), env={**ENV, "PYTHONDONTWRITEBYTECODE": "1"},
                         capture_output=True, text=True, timeout=120, preexec_fn=small_files)
    assert res.returncode == 75, res.stderr
    assert "failure of the machine" in res.stderr and "run the same part again" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert not [p for p in cache_root.rglob("*") if ".partial-" in p.name or p.suffix == ".arrays"]
