"""Sharing stores and models through a DVC remote (docs/sharing.md), with real git and DVC:
push from one repository, clone + pull in a fresh folder, and find every stage up to date."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

from tests.helpers.pipeline_helpers import copy_tree, dvc, env, git


@pytest.fixture(scope="module")
def shared(tmp_path_factory, demo_tree):
    base = tmp_path_factory.mktemp("share")
    origin = copy_tree(demo_tree / "repo", base / "origin")
    remote = base / "remote"
    dvc(origin, "remote", "add", "-d", "team", str(remote))
    dvc(origin, "push")
    git(origin, "add", "-A")
    git(origin, "commit", "-qm", "results")
    other = base / "other"
    git(base, "clone", "-q", str(origin), str(other))
    assert not (other / "features/chroma.h5").exists()  # git carries no data, only pointers
    dvc(other, "pull")
    return origin, other, remote


def test_pull_brings_identical_stores_and_models(shared):
    origin, other, remote = shared
    assert any(remote.rglob("*"))
    for rel in ("features/chroma.h5", "data/audio.h5", "models/chroma/ridge/model.json",
                "models/chroma/ridge/model.skops"):
        assert (other / rel).read_bytes() == (origin / rel).read_bytes(), rel
    with h5py.File(other / "features/chroma.h5") as h:
        assert h["static/values"].shape == (40, 24) and np.isfinite(h["static/values"][:]).all()


def test_pulled_pipeline_is_up_to_date(shared):
    _, other, _ = shared
    status = json.loads(dvc(other, "status", "--json").stdout or "{}")
    assert status == {}, status
    out = dvc(other, "repro").stdout
    assert "Running stage" not in out, out


def test_info_on_a_pulled_store_shows_provenance(shared):
    _, other, _ = shared
    e = env()
    e["PYTHONPATH"] = str(other) + os.pathsep + e.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, "-m", "moodflow", "info", "features/chroma.h5"], cwd=other,
                          capture_output=True, text=True, env=e, check=True)
    info = dict(line.strip().split(": ", 1) for line in proc.stdout.splitlines() if ": " in line)
    assert info["dataset"] == "demo" and info["extractor"].startswith("chroma")
    assert info["tracks"] == "40" and info["failed_tracks"] == "0"
    assert json.loads(info["config"])["grid"] == {"win_s": 1.0, "hop_s": 0.5}
    assert "librosa" in json.loads(info["versions"]) and "created" not in info


def test_pulled_model_loads_without_pickle(shared):
    _, other, _ = shared
    from moodflow.models.io import load_model

    model = load_model(other / "models/chroma/ridge")
    with h5py.File(other / "features/chroma.h5") as h:
        pred = model.predict(h["static/values"][:].astype(np.float64))
    assert pred.shape == (40, 2) and np.isfinite(pred).all()
