"""Parameters that used to make every track "fail" (all-NaN stores from a stage that succeeded)
or slip through: each is refused in one line naming the key and what is allowed, before any
work — by `moodflow check` and by the stage itself. (Fold and repeat counts are checked with the
protocols, tests/test_protocols.py.)"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from moodflow.check.validate import validate_params
from moodflow.core.errors import SettingsError

REPO = Path(__file__).resolve().parents[1]
PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())


def _with(key: str, value):
    params = copy.deepcopy(PARAMS)
    node = params
    *path, last = key.split(".")
    for part in path:
        node = node[part]
    node[last] = value
    return params


CASES = [
    ("features.grid.hop_s", 0, "features.grid.hop_s: 0 must be greater than 0"),
    ("features.grid.win_s", -1, "features.grid.win_s: -1 must be greater than 0"),
    ("features.workers", -3, "features.workers: -3 is below the minimum 0"),
    ("features.workers", "two", "features.workers: 'two' is not an integer"),
    ("decode.sample_rate", 22050.7, "decode.sample_rate: 22050.7 is not an integer"),
    ("decode.sample_rate", 1000, "decode.sample_rate: 1000 is below the minimum 4000"),
    ("decode.sample_rate", 10_000_000, "decode.sample_rate: 10000000 is above the maximum 384000"),
    ("train.protocol.folds", "five", "train.protocol.folds: 'five' is not an integer"),
    ("features.chroma.n_fft", 0, "features.chroma.n_fft: 0 is below the minimum 16"),
    ("features.chroma.hop_length", 0, "features.chroma.hop_length: 0 is below the minimum 1"),
    ("features.chroma.bins_per_octave", 30, "features.chroma.bins_per_octave: 30 is not a multiple of 12"),
    ("features.chroma.tuning", 5.0, "features.chroma.tuning: 5.0 is above the maximum 0.5"),
    ("features.chroma.kind", "cqtt", "features.chroma.kind: 'cqtt' is not allowed (did you mean 'cqt'?)"),
    ("features.provided.frame_win_s", -1, "features.provided.frame_win_s: -1 is below the minimum 0.0"),
    ("features.mert.batch_size", 0, "features.mert: batch_size 0 must be ≥ 1"),
    ("features.mert.window_s", -1, "features.mert: window_s -1.0 must be > 0"),
    ("features.mert.loader_workers", -2, "features.mert: loader_workers -2 must be auto or an integer ≥ 0"),
    ("features.mert.dtype", "int8", "features.mert: dtype 'int8' not one of"),
]


@pytest.mark.parametrize("key, value, message", CASES, ids=[f"{k}={v}" for k, v, _ in CASES])
def test_a_bad_parameter_is_one_line_naming_the_key(key, value, message):
    with pytest.raises((SettingsError, ValueError)) as info:
        validate_params(_with(key, value))
    assert str(info.value).startswith(message), str(info.value)
    assert "\n" not in str(info.value)


def test_the_extract_stage_refuses_a_zero_hop_before_any_work(tmp_path):
    """Before: `hop_s: 0` made every track fail and the stage succeed with an all-NaN store."""
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(_with("features.grid.hop_s", 0)))
    proc = subprocess.run([sys.executable, str(REPO / "stages/extract.py"), "chroma", "prepared", "audio.h5",
                           "features/chroma.h5", "features/chroma.failures.csv"], cwd=tmp_path, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "moodflow: error: features.grid.hop_s: 0 must be greater than 0"
    assert not (tmp_path / "features").exists()  # the inputs were not even opened
