"""Music2Emo's experiment grid (``python -m moodflow.report.grid``): the queued runs are valid
experiments of this project's params.yaml, and the table takes each run's numbers from the right
place of its reports/metrics.json, beside Music2Emo's published ones."""

from __future__ import annotations

import copy
import json
import shlex
from pathlib import Path

import numpy as np
import pytest
import yaml

from moodflow.check.validate import validate_params
from moodflow.report.grid import grid, grid_table, main, queue_commands

REPO = Path(__file__).resolve().parents[1]
ROOTS = {"jamendo": "/d/mtg", "deam": "/d/DEAM", "emomusic": "/d/emoMusic", "pmemo": "/d/PMEmo2019"}


def _apply(params: dict, assignment: str) -> dict:
    """What ``dvc exp run -S key=value`` does to params.yaml (``+`` adds a key)."""
    key, value = assignment.split("=", 1)
    path = key.lstrip("+").split(".")
    node = params
    for part in path[:-1]:
        node = node.setdefault(part, {})
    if not key.startswith("+"):
        assert path[-1] in node, f"{key}: DVC needs a + to add a key"
    node[path[-1]] = yaml.safe_load(value)
    return params


def test_the_grid_is_music2emo_s_five_regimes():
    table = grid()
    assert list(table["regime"].drop_duplicates()) == ["single dataset", "J+D", "J+E", "J+P", "J+D+E+P"]
    assert sorted(map(tuple, table[table["regime"] == "single dataset"]["datasets"])) == [
        ("deam",), ("emomusic",), ("jamendo",), ("pmemo",)]


def test_every_queued_run_is_a_valid_experiment():
    lines = queue_commands(ROOTS, ["features.sets=[chroma]", "train.models=[multitask]"], derive=True)
    assert len(lines) == 8 and all(line.startswith("dvc exp run --queue -n m2e-") for line in lines)
    base = yaml.safe_load((REPO / "params.yaml").read_text())
    for line in lines:
        args = shlex.split(line)
        params = copy.deepcopy(base)
        for i, arg in enumerate(args):
            if arg == "-S":
                _apply(params, args[i + 1])
        validate_params(params)  # the check stage's own validation: every key and name
        names = params["dataset"]["name"]
        if isinstance(names, list):
            assert set(params["dataset"]["roots"]) == set(names)
            assert params["dataset"]["jamendo"]["derive_va"] == "tags"
        else:
            assert params["dataset"]["root"] == ROOTS[names]
    with pytest.raises(ValueError, match="no --root"):
        queue_commands({"deam": "/d"})


def _entry(**datasets):
    return {"datasets": datasets}


def test_the_table_reads_each_run_beside_the_published_numbers(tmp_path, capsys):
    metrics = {
        "P": {"mert": {"multitask": {"valence": {"r2": 0.41}, "arousal": {"r2": 0.62}}}},
        "J": {"mert": {"multitask": {"tagging": {"tags": {"pr_auc": 0.11, "roc_auc": 0.71}}}}},
        "J+P": {"mert": {"multitask": _entry(pmemo={"valence": {"r2": 0.45}, "arousal": {"r2": 0.66}},
                                             jamendo={"tagging": {"tags": {"pr_auc": 0.12, "roc_auc": 0.72}}})}},
    }
    table = grid_table(metrics, "mert", "multitask").set_index("training")
    assert table.loc["ours: mert/multitask, single dataset", "pmemo V R²"] == 0.41
    assert table.loc["ours: mert/multitask, single dataset", "jamendo PR-AUC"] == 0.11
    assert np.isnan(table.loc["ours: mert/multitask, single dataset", "deam V R²"])  # not run
    assert table.loc["ours: mert/multitask, J+P", "pmemo A R²"] == 0.66
    assert table.loc["ours: mert/multitask, J+P", "jamendo ROC-AUC"] == 0.72
    assert table.loc["Music2Emo, single dataset (published)", "emomusic V R²"] == pytest.approx(0.5957)
    assert table.loc["Music2Emo, J+D+E+P (published)", "emomusic V R²"] == pytest.approx(0.6512)
    assert "ours: mert/multitask, J+D" not in table.index  # no experiment, no row
    for label, m in metrics.items():
        (tmp_path / f"{label}.json").write_text(json.dumps(m))
    assert main(["table", "--set", "mert", "--model", "multitask", *(str(p) for p in sorted(tmp_path.glob("*.json")))]) == 0
    out = capsys.readouterr().out
    assert "| ours: mert/multitask, J+P |" in out and "0.660" in out and "0.651" in out
