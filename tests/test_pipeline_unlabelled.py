"""An unlabelled folder (your own music, no labels) through `dvc repro` in a real git+DVC repo:
prepare, decode and extract run; train finishes with "no labels: nothing to train"; the report
says so in words."""

from __future__ import annotations

import json

import h5py
import pytest
import soundfile as sf

from tests.helpers.signals import tone
from tests.helpers.pipeline_helpers import dvc, make_clone

pytestmark = pytest.mark.slow


def test_unlabelled_folder_runs_dvc_repro_to_the_end(tmp_path):
    music = tmp_path / "my music"
    for i, rel in enumerate(["a.wav", "album/01 intro.wav", "album/02.flac"]):
        (music / rel).parent.mkdir(parents=True, exist_ok=True)
        sf.write(music / rel, tone(330.0 + 110 * i, seconds=2.0), 22050)
    repo = make_clone(tmp_path / "repo", {
        "dataset": {"name": "folder", "root": str(music)},
        "features": {"sets": ["chroma"], "workers": 1},
        "train": {"models": ["ridge", "seq"], "dynamic": True},
    })
    proc = dvc(repo, "repro")
    assert "no labels: nothing to train" in proc.stdout + proc.stderr
    with h5py.File(repo / "features/chroma.h5") as h:
        assert sorted(h["tracks/id"].asstr()[:]) == ["a", "album/01 intro", "album/02"]
        assert h["static/values"].shape[0] == 3
    for model in ("ridge", "seq"):
        manifest = json.loads((repo / f"models/chroma/{model}/model.json").read_text())
        assert manifest["status"] == "no labels: nothing to train"
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    assert metrics == {"chroma": {"ridge": {"status": "no labels: nothing to train"},
                                  "seq": {"status": "no labels: nothing to train"}}, "best": {}}
    text = (repo / "reports/comparison.md").read_text()
    assert "- labels: none (extraction-only: nothing to train)" in text and "it is extraction-only" in text
    assert "nothing to run" in dvc(repo, "status").stdout.lower() or "up to date" in dvc(repo, "status").stdout.lower()
