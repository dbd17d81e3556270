"""The whole pipeline, with real DVC, in a temporary git repository on a tiny demo dataset."""

from __future__ import annotations

import json
import shutil
import subprocess

import h5py
import pytest

from pipeline_helpers import dvc, git, make_clone

TINY = {
    "dataset": {"name": "demo", "demo": {"n_clips": 8, "duration_s": 3.0}},
    "features": {"sets": ["chroma"]},
    "train": {"models": ["ridge"], "protocol": {"folds": 4}},
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    path = make_clone(tmp_path_factory.mktemp("pipeline") / "repo", TINY)
    dvc(path, "repro")
    return path


def test_repro_builds_every_output(repo):
    assert (repo / "data/prepared/manifest.csv").exists()
    with h5py.File(repo / "data/audio.h5") as h:
        assert len(h["tracks/id"]) == 8
    with h5py.File(repo / "features/chroma.h5") as h:
        assert h.attrs["extractor"] == "chroma"
        assert h["static/values"].shape[0] == 8
        assert h["frames/offsets"][-1] > 0
    assert (repo / "models/chroma/ridge/model.json").exists()
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    assert set(metrics["chroma"]["ridge"]) >= {"valence", "arousal"}
    assert {"r2", "rmse", "pearson"} <= set(metrics["chroma"]["ridge"]["valence"])


def test_h5dump_reads_every_store(repo):
    """A non-Python HDF5 tool (the real h5dump binary) reads what the pipeline wrote."""
    if shutil.which("h5dump") is None:
        pytest.skip("h5dump is not installed (Debian package hdf5-tools; .ci/run installs it)")
    for store in sorted((repo / "features").glob("*.h5")) + [repo / "data/audio.h5"]:
        out = subprocess.run(["h5dump", "-A", "-H", str(store)], capture_output=True, text=True)
        assert out.returncode == 0, f"{store}: {out.stderr}"
        assert "schema" in out.stdout or "sample_rate" in out.stdout


def test_second_repro_does_nothing(repo):
    out = dvc(repo, "repro").stdout
    assert "didn't change" in out or "up to date" in out
    assert "Running stage" not in out


def test_experiment_changes_metrics(repo):
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "baseline run")
    out = dvc(repo, "exp", "run", "-S", "train.ridge.alpha=0.001").stdout
    assert "Running stage 'train@chroma-ridge'" in out
    assert "Running stage 'extract@chroma'" not in out  # only what changed re-runs
    diff = dvc(repo, "metrics", "diff", "--json").stdout
    changed = json.loads(diff)["reports/metrics.json"]
    assert any(key.startswith("chroma.ridge.") and v["diff"] not in (0, None) for key, v in changed.items())
    table = dvc(repo, "exp", "show", "--md", "--only-changed").stdout
    assert "train.ridge.alpha" in table


def test_models_list_reshapes_dag(repo):
    out = dvc(repo, "exp", "run", "-S", "train.models=[ridge,svm]").stdout
    assert "Running stage 'train@chroma-svm'" in out
    assert "Running stage 'train@chroma-ridge'" not in out
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    assert "svm" in metrics["chroma"] and "ridge" in metrics["chroma"]
