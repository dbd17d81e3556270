"""Parameters that used to make every track "fail" (all-NaN stores from a stage that succeeded)
or slip through: each is refused in one line naming the key and what is allowed, before any
work — by `moodflow check`, by the `check` stage and by the stage itself. Numbers are finite
and within their field's range, or within 1e12 where it declares none (issue 24 item 9:
`hop_s: .nan`, `win_s: 1e308`, `alpha: .nan`, `min_duration_s: 1e308` used to pass
`moodflow check`). A params.yaml with YAML anchors/aliases is refused before it is parsed.
(Fold and repeat counts are checked with the protocols, tests/test_protocols.py.)"""

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
    # issue 24 item 9: non-finite and absurd numbers, refused with the valid range
    ("features.grid.hop_s", float("nan"), "features.grid.hop_s: nan is not a finite number; valid: > 0 and ≤ 60"),
    ("features.grid.hop_s", "nan", "features.grid.hop_s: 'nan' is not a finite number; valid: > 0 and ≤ 60"),
    ("features.grid.win_s", 1e308, "features.grid.win_s: 1e+308 is above the maximum 60.0; valid: > 0 and ≤ 60"),
    ("features.grid.win_s", float("inf"), "features.grid.win_s: inf is not a finite number; valid: > 0 and ≤ 60"),
    ("train.ridge.alpha", float("nan"), "train.ridge.alpha: nan is not a finite number; valid: > 0 and ≤ 1e12"),
    ("train.ridge.alpha", 1e308, "train.ridge.alpha: 1e+308 is above the maximum 1e12; valid: > 0 and ≤ 1e12"),
    ("decode.min_duration_s", 1e308, "decode.min_duration_s: 1e+308 is above the maximum 3600.0; valid: ≥ 0 and ≤ 3600"),
    ("decode.min_duration_s", float("-inf"), "decode.min_duration_s: -inf is not a finite number; valid: ≥ 0 and ≤ 3600"),
    ("features.workers", float("inf"), "features.workers: inf is not a finite number; valid: ≥ 0 and ≤ 1e12"),
    ("features.workers", 10**30, "features.workers: 1000000000000000000000000000000 is above the maximum 1e12"),
    ("features.workers", True, "features.workers: True is not an integer"),
    ("train.seed", -1, "train.seed: -1 is below the minimum 0; valid: ≥ 0 and ≤ 4294967295"),
    ("train.seed", 2**32, "train.seed: 4294967296 is above the maximum 4294967295"),
    ("train.svm.C", float("nan"), "train.svm.C: nan is not a finite number; valid: > 0 and ≤ 1e12"),
    ("train.mlp.lr", -1e-3, "train.mlp.lr: -0.001 must be greater than 0"),
    ("train.mlp.layers", [0, float("nan")], "train.mlp.layers.1: nan is not a finite number"),
    ("features.mert.window_s", 1e308, "features.mert.window_s: 1e+308 is above the maximum 1e12"),
    ("features.musicnn.patch_hop_s", float("nan"), "features.musicnn.patch_hop_s: nan is not a finite number"),
    ("train.tune", "yes", "train.tune: 'yes' is not true or false"),
    ("train.svm.c", 3, "train.svm.c: unknown setting (did you mean 'C'?); valid: "),
    # a search grid's candidates are checked as the settings they replace, before any training
    ("train.ridge.search", {"alpha": [1.0, float("nan")]}, "train.ridge.search.alpha: nan is not a finite number"),
    ("train.svm.search", {"c": [1.0]}, "train.svm.search.c: unknown setting (did you mean 'C'?)"),
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
    assert proc.stderr.strip() == "moodflow: error: features.grid.hop_s: 0 must be greater than 0; valid: > 0 and ≤ 60"
    assert not (tmp_path / "features").exists()  # the inputs were not even opened


def _write(path: Path, params: dict, extra: str = "") -> Path:
    path.write_text(yaml.safe_dump(params, sort_keys=False) + extra)
    return path


def _run(args, cwd, extra_env=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DVC_EXP")}
    env.update({"PYTHONPATH": str(REPO), **(extra_env or {})})
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=300)


def test_moodflow_check_refuses_a_nan_hop_written_as_yaml(tmp_path):
    """Before: `moodflow check` said ok, and the NaN hop failed every track at extract."""
    text = yaml.safe_dump(PARAMS, sort_keys=False).replace("hop_s: 0.5", "hop_s: .nan")
    (tmp_path / "params.yaml").write_text(text)
    proc = _run(["-m", "moodflow", "check", "params.yaml"], tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == ("moodflow: error: features.grid.hop_s: nan is not a finite number; "
                                   "valid: > 0 and ≤ 60")
    assert proc.stdout == ""


def test_the_check_stage_refuses_an_absurd_window_before_any_work(tmp_path):
    """Before: the check stage looked at names only and passed `win_s: 1e308`."""
    _write(tmp_path / "params.yaml", _with("features.grid.win_s", 1e308))
    proc = _run([str(REPO / "stages/check.py"), "data/checked.txt"], tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == ("moodflow: error: features.grid.win_s: 1e+308 is above the maximum 60.0; "
                                   "valid: > 0 and ≤ 60")
    assert not (tmp_path / "data").exists()


def _alias_bomb(levels: int = 9) -> str:
    """YAML whose aliases expand to 10**levels values (the "billion laughs")."""
    lines = ["bomb:", "  l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def test_yaml_anchors_are_refused_before_they_are_expanded(tmp_path):
    """DVC would expand the aliases (10**9 values here) when it reads params.yaml; moodflow
    check refuses the file in one line naming the line, without building anything."""
    from moodflow.core.params import load_params

    path = _write(tmp_path / "params.yaml", PARAMS, extra=_alias_bomb())
    with pytest.raises(SettingsError) as info:
        load_params(path)
    message = str(info.value)
    assert message.startswith(f"{path}: line {len(path.read_text().splitlines()) - 8}: YAML anchor '&l0' refused: "
                              "DVC expands aliases")
    assert "\n" not in message
    proc = _run(["-m", "moodflow", "check", "params.yaml"], tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("moodflow: error: params.yaml: line ") and "YAML anchor '&l0' refused" in proc.stderr
    # an alias alone (its anchor in another document is not possible) and an anchor in a section
    for text in ("decode: &d {on_error: skip}\n", "train:\n  seed: &s 1\n"):
        (tmp_path / "params.yaml").write_text(text)
        with pytest.raises(SettingsError, match=r"line \d+: YAML anchor"):
            load_params(tmp_path / "params.yaml")


def test_the_check_stage_refuses_anchors_too(tmp_path):
    _write(tmp_path / "params.yaml", PARAMS, extra=_alias_bomb(3))
    proc = _run([str(REPO / "stages/check.py"), "data/checked.txt"], tmp_path)
    assert proc.returncode == 2 and "YAML anchor '&l0' refused" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "data").exists()


def test_deep_nesting_and_huge_files_are_refused_before_parsing(tmp_path):
    from moodflow.core.params import MAX_BYTES, load_params

    deep = tmp_path / "deep.yaml"
    deep.write_text("decode: " + "[" * 100_000 + "]" * 100_000 + "\n")  # a RecursionError in the parser before
    with pytest.raises(SettingsError, match=r"line 1: nested more than 32 levels deep"):
        load_params(deep)
    big = tmp_path / "big.yaml"
    big.write_text("decode: {}\n" + "#" * MAX_BYTES)
    with pytest.raises(SettingsError, match=r"bytes; a params file holds at most"):
        load_params(big)


def test_the_error_says_how_to_undo_a_failed_experiments_params(tmp_path, monkeypatch):
    """`dvc exp run -S` writes into the workspace's params.yaml and leaves the value there when
    the experiment fails (DVC 3.67; tests/test_check_stage.py shows it with real DVC); a
    --temp/--queue run works in a copy under .dvc/tmp/exps, so there is nothing to undo."""
    from moodflow.check.validate import check_params

    bad = _with("train.svm.c", 3)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DVC_EXP_NAME", raising=False)
    with pytest.raises(SettingsError) as plain:
        check_params(bad)
    assert "git checkout" not in str(plain.value)
    monkeypatch.setenv("DVC_EXP_NAME", "sharp-wolf")
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    with pytest.raises(SettingsError) as workspace:
        check_params(bad)
    assert str(workspace.value).startswith("train.svm.c: unknown setting (did you mean 'C'?); valid: ")
    assert str(workspace.value).endswith("`git checkout params.yaml` restores the committed values "
                                         "(`git diff params.yaml` shows them)")
    monkeypatch.setenv("DVC_ROOT", str(tmp_path / "elsewhere"))  # a temp copy of the workspace
    with pytest.raises(SettingsError) as temp:
        check_params(bad)
    assert "git checkout" not in str(temp.value)


def test_yaml_exponents_without_a_dot_stay_numbers():
    """PyYAML reads `1e-3` as a string; a number field (or a union that lists the number first,
    `gamma: float | str`) still takes it as a number, as before pydantic."""
    params = _with("train.svm.gamma", "1e-3")
    params["train"]["ridge"]["alpha"] = "1e2"
    from moodflow.core.config import build
    from moodflow.models import MODELS

    assert build(MODELS.get("svm").Config, params["train"]["svm"], "train.svm").gamma == 0.001
    assert build(MODELS.get("ridge").Config, params["train"]["ridge"], "train.ridge").alpha == 100.0
    validate_params(params)
