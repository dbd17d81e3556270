"""Interrupted and repeated pipeline runs, with real DVC in temporary git repositories.

- ``dvc repro`` killed (SIGKILL to its process group) during extraction leaves no store that
  looks finished, and the next ``dvc repro`` writes the same values as an uninterrupted run.
- Two runs from clean clones give the same feature values, predictions and metrics, and the
  same ``dvc.lock`` entries for prepare/decode/extract (with ``SOURCE_DATE_EPOCH`` pinning the
  stores' ``created`` attribute; skops model files are not byte-stable, see
  docs/troubleshooting.md).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from pipeline_helpers import dvc, env, make_clone

TINY = {
    "dataset": {"name": "demo", "demo": {"n_clips": 6, "duration_s": 3.0}},
    "features": {"sets": ["chroma"], "workers": 1},
    "train": {"models": ["ridge"], "protocol": {"kind": "kfold", "folds": 3}},
}
EPOCH = "1700000000"


def _env(cwd: Path) -> dict[str, str]:
    e = env()
    e["PYTHONPATH"] = str(cwd) + os.pathsep + e.get("PYTHONPATH", "")
    e["SOURCE_DATE_EPOCH"] = EPOCH
    return e


def _repro(cwd: Path) -> subprocess.CompletedProcess:
    dvc_bin = str(Path(env()["PATH"].split(os.pathsep)[0]) / "dvc")
    proc = subprocess.run([dvc_bin, "repro"], cwd=cwd, capture_output=True, text=True, env=_env(cwd))
    assert proc.returncode == 0, f"dvc repro failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def _store_values(path: Path) -> dict[str, np.ndarray]:
    with h5py.File(path) as h:
        return {k: h[k][:] for k in ("tracks/id", "static/values", "frames/values", "frames/offsets", "frames/start_s")}


@pytest.fixture(scope="module")
def clean_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    a = make_clone(base / "a", TINY)
    b = make_clone(base / "b", TINY)
    _repro(a)
    _repro(b)
    return a, b


def test_two_clean_runs_are_identical(clean_runs):
    a, b = clean_runs
    va, vb = _store_values(a / "features/chroma.h5"), _store_values(b / "features/chroma.h5")
    for key in va:
        np.testing.assert_array_equal(va[key], vb[key], err_msg=key)  # exact: no tolerance needed
    assert json.loads((a / "reports/metrics.json").read_text()) == json.loads((b / "reports/metrics.json").read_text())
    assert (a / "models/chroma/ridge/predictions.csv").read_bytes() == (b / "models/chroma/ridge/predictions.csv").read_bytes()
    # dvc.lock: identical for every data and feature stage. skops model files are not
    # byte-stable (they embed object ids and zip times), so the train/report hashes differ.
    lock_a, lock_b = (yaml.safe_load((r / "dvc.lock").read_text())["stages"] for r in (a, b))
    for stage in ("prepare", "decode", "extract@chroma"):
        assert lock_a[stage] == lock_b[stage], stage
    assert lock_a["train@chroma-ridge"]["deps"] == lock_b["train@chroma-ridge"]["deps"]


def test_store_and_model_record_versions_and_config(clean_runs):
    a, _ = clean_runs
    with h5py.File(a / "features/chroma.h5") as h:
        versions = json.loads(h.attrs["versions"])
        config = json.loads(h.attrs["config"])
        assert {"numpy", "librosa", "h5py"} <= set(versions)
        assert config["extractor"]["kind"] == "cqt" and config["grid"] == {"win_s": 1.0, "hop_s": 0.5}
        pinned = datetime.fromtimestamp(int(EPOCH), timezone.utc).date().isoformat()
        assert h.attrs["created"].startswith(pinned)  # SOURCE_DATE_EPOCH pinned it
    manifest = json.loads((a / "models/chroma/ridge/model.json").read_text())
    assert {"numpy", "scikit-learn"} <= set(manifest["versions"])
    alpha = yaml.safe_load((a / "params.yaml").read_text())["train"]["ridge"]["alpha"]
    assert manifest["feature_config"] == config and manifest["params"]["alpha"] == alpha


def test_killed_extraction_leaves_no_finished_looking_store(clean_runs, tmp_path):
    reference, _ = clean_runs
    # without the cache the store is written while tracks are extracted, so the kill lands in
    # the middle of writing it (with the cache that lasts milliseconds and the poll can miss it)
    repo = make_clone(tmp_path / "k", {**TINY, "features": {**TINY["features"], "cache_dir": ""}})
    store = repo / "features/chroma.h5"
    dvc_bin = str(Path(env()["PATH"].split(os.pathsep)[0]) / "dvc")
    proc = subprocess.Popen([dvc_bin, "repro"], cwd=repo, env=_env(repo), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    try:
        while not list((repo / "features").glob(".chroma.h5.partial*")):
            assert proc.poll() is None, "dvc repro ended before extraction could be interrupted"
            assert time.monotonic() < deadline, "extraction never started"
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not store.exists(), "a killed extraction left features/chroma.h5 behind"
    status = dvc(repo, "status", "--json").stdout
    assert "extract@chroma" in status  # DVC knows the stage must run again

    _repro(repo)
    got, want = _store_values(store), _store_values(reference / "features/chroma.h5")
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    assert json.loads((repo / "reports/metrics.json").read_text()) == json.loads(
        (reference / "reports/metrics.json").read_text())
