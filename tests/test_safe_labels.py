"""Label CSVs from someone else (issue 24, case 10): a non-finite target (``inf``, ``1e309``,
``-inf``) is refused at prepare, naming the file, the column and the track ids (before: it
passed prepare and failed in train with scikit-learn's "Input y contains infinity", naming no
file or track); a NaN in one target keeps the track's other labels, as docs/datasets.md says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from moodflow.datasets._common import read_wide_dynamic
from moodflow.prepare.run import prepare_dataset
from tests.helpers.bundles import REPO

SR = 22050


def _folder(tmp: Path, labels: str, **settings) -> dict:
    root = tmp / "music"
    root.mkdir()
    for name in ("a", "b", "c", "d"):
        sf.write(root / f"{name}.wav", 0.1 * np.sin(np.arange(SR) * 0.05), SR)
    (tmp / "labels.csv").write_text(labels)
    return {"name": "folder", "root": str(root), "folder": {"labels": str(tmp / "labels.csv"), **settings}}


@pytest.mark.parametrize("bad", ["inf", "1e309", "-inf", "Infinity"])
def test_a_non_finite_target_is_refused_at_prepare(tmp_path, bad):
    dataset = _folder(tmp_path, f"track_id,valence,arousal\na,0.5,0.5\nb,{bad},0.2\nc,0.1,{bad}\nd,0.3,0.3\n")
    (tmp_path / "params.yaml").write_text(json.dumps({"dataset": dataset}))
    proc = subprocess.run([sys.executable, str(REPO / "stages/prepare.py"), "data/prepared"], cwd=tmp_path,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"moodflow: error: dataset 'folder': {tmp_path / 'labels.csv'} column 'valence': 1 non-finite value(s) "
        f"[{bad!r}] (track ids: b); a label must be a finite number")
    assert not (tmp_path / "data/prepared").exists()


def test_a_nan_in_one_target_keeps_the_tracks_other_labels(tmp_path):
    dataset = _folder(tmp_path, "track_id,valence,arousal,mood\na,0.5,0.5,calm\nb,,0.2,sad\nc,0.1,nan,\nd,,,\n",
                      class_column="mood", targets=["valence", "arousal"])
    prepared = prepare_dataset(dataset, tmp_path / "prepared")
    labels = prepared.static_labels.set_index("track_id")
    assert sorted(labels.index) == ["a", "b", "c"]  # d has no usable label at all
    assert np.isnan(labels.loc["b", "valence"]) and labels.loc["b", "arousal"] == 0.2 and labels.loc["b", "mood"] == "sad"
    assert labels.loc["c", "valence"] == 0.1 and np.isnan(labels.loc["c", "arousal"])
    written = pd.read_csv(tmp_path / "prepared/labels_static.csv", dtype={"track_id": str}).set_index("track_id")
    assert written.loc["b", "arousal"] == 0.2


def test_a_nan_in_one_target_keeps_the_other_target_without_a_class(tmp_path):
    prepared = prepare_dataset(_folder(tmp_path, "track_id,valence,arousal\na,0.5,0.5\nb,,0.2\n"), tmp_path / "p")
    labels = prepared.static_labels.set_index("track_id")
    assert sorted(labels.index) == ["a", "b"] and labels.loc["b", "arousal"] == 0.2


def test_a_non_finite_dynamic_label_names_file_line_and_track(tmp_path):
    path = tmp_path / "arousal.csv"
    path.write_text("song_id,sample_15000ms,sample_15500ms\n7,0.1,0.2\n8,0.3,1e309\n")
    with pytest.raises(ValueError, match=rf"{path} line 3 column 'sample_15500ms': non-finite value '1e309' "
                                         r"\(track id '8'\); a label must be a finite number"):
        read_wide_dynamic(path, "deam", "arousal")
    path.write_text("song_id,sample_15000ms\n7,abc\n")
    with pytest.raises(ValueError, match=r"line 2 column 'sample_15000ms': not a number: 'abc'"):
        read_wide_dynamic(path, "deam", "arousal")
