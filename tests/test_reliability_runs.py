"""Interrupted and repeated pipeline runs, with real DVC in temporary git repositories.

- Two fresh clones reproduce the pipeline to the same bytes (every hash in dvc.lock, every
  report file), although the second run was killed while writing a store and resumed: the kill
  leaves no store that looks finished and DVC knows the stage must run again.
- The committed dvc.lock is the lock of the committed code and params.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import h5py
import numpy as np
import yaml

from tests.helpers.pipeline_helpers import REPO, TINY, dvc, dvc_bin, env, make_clone

REPORT_FILES = ("reports/metrics.json", "reports/comparison.md", "reports/comparison.html")


def _store_values(path: Path) -> dict[str, np.ndarray]:
    with h5py.File(path) as h:
        return {k: h[k][:] for k in ("tracks/id", "static/values", "frames/values", "frames/offsets", "frames/start_s")}


def _kill_when(repo: Path, ready, timeout_s: float = 300) -> None:
    """Start `dvc repro` in ``repo`` and SIGKILL its whole process group once ``ready()``."""
    proc = subprocess.Popen([dvc_bin(), "repro"], cwd=repo, env=env(repo), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout_s
    try:
        while not ready():
            assert proc.poll() is None, "dvc repro ended before it could be interrupted"
            assert time.monotonic() < deadline, "the moment to interrupt never came"
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _report_bytes(repo: Path) -> dict[str, bytes]:
    files = [repo / f for f in REPORT_FILES] + sorted((repo / "reports").glob("*/**/*.*"))
    return {str(p.relative_to(repo)): p.read_bytes() for p in files if p.is_file()}


def test_two_fresh_clones_reproduce_the_same_bytes_after_a_kill(tmp_path):
    """Two fresh clones of the same commit, one run straight through and one killed (SIGKILL to
    its whole process group) while a store is being written and then resumed, end with
    byte-identical outputs: dvc.lock hashes every one (stores, model files, predictions,
    figures) and the report files match. Without the per-track cache the store is written
    while tracks are extracted, so the kill lands inside the write."""
    params = {**TINY, "features": {**TINY["features"], "cache_dir": ""}}
    first = make_clone(tmp_path / "first", params)
    dvc(first, "repro")
    second = make_clone(tmp_path / "second", params)
    _kill_when(second, lambda: bool(list((second / "features").glob(".*.h5.partial*"))))
    assert not list((second / "features").glob("*.h5")), "a killed extraction left a store behind"
    assert "extract@chroma" in json.loads(dvc(second, "status", "--json").stdout)
    dvc(second, "repro")
    assert (second / "dvc.lock").read_text() == (first / "dvc.lock").read_text()
    assert _report_bytes(second) == _report_bytes(first)
    got, want = _store_values(second / "features/chroma.h5"), _store_values(first / "features/chroma.h5")
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)


def test_store_and_model_record_versions_and_config(demo_tree):
    repo = demo_tree / "repo"
    with h5py.File(repo / "features/chroma.h5") as h:
        versions = json.loads(h.attrs["versions"])
        config = json.loads(h.attrs["config"])
        assert {"numpy", "librosa", "h5py"} <= set(versions)
        assert config["extractor"]["kind"] == "cqt" and config["grid"] == {"win_s": 1.0, "hop_s": 0.5}
        assert "created" not in h.attrs  # no wall-clock time (SOURCE_DATE_EPOCH is unset)
    manifest = json.loads((repo / "models/chroma/ridge/model.json").read_text())
    assert {"numpy", "scikit-learn"} <= set(manifest["versions"])
    alpha = yaml.safe_load((repo / "params.yaml").read_text())["train"]["ridge"]["alpha"]
    assert manifest["feature_config"] == config and manifest["params"]["alpha"] == alpha


def test_committed_lock_is_the_lock_of_the_committed_code(demo_tree):
    """Every code dependency and parameter recorded in the committed dvc.lock is what a fresh
    clone's run records: the lock was regenerated after the last change to code or params.
    (Output hashes are compared between two runs above; that they also equal the committed ones
    on another machine depends on its floating-point paths, so it is checked where the lock is
    made, not here.)"""
    committed = yaml.safe_load((REPO / "dvc.lock").read_text())["stages"]
    fresh = yaml.safe_load((demo_tree / "repo/dvc.lock").read_text())["stages"]
    assert set(committed) == set(fresh)
    code = lambda deps: [d for d in deps if d["path"].startswith(("moodflow", "stages"))]  # noqa: E731
    for stage, entry in fresh.items():
        assert committed[stage]["cmd"] == entry["cmd"], stage
        assert committed[stage].get("params") == entry.get("params"), stage
        assert code(committed[stage]["deps"]) == code(entry["deps"]), stage
