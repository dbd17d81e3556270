"""The `check` stage with real DVC in a fresh clone: it validates the whole params.yaml (as
`moodflow check` does), so a typo in an experiment fails there, before prepare, with the way to
undo it; and its output is a constant marker, so passing it never re-runs anything downstream."""

from __future__ import annotations

import pytest
import yaml

from tests.helpers.pipeline_helpers import TINY, dvc, git, make_clone

pytestmark = pytest.mark.slow


def _params(repo):
    return yaml.safe_load((repo / "params.yaml").read_text())


def test_a_typo_in_an_experiment_fails_in_check_before_prepare(tmp_path):
    """Issue 25 item 3. Before: `check` looked at names only, so `+train.svm.c=3` passed it and
    failed later in train@…, after prepare, decode and extract had run."""
    repo = make_clone(tmp_path / "repo", TINY)
    proc = dvc(repo, "exp", "run", "-S", "+train.svm.c=3", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "moodflow: error: train.svm.c: unknown setting (did you mean 'C'?); valid: " in out
    assert "`git checkout params.yaml` restores the committed values" in out
    assert "Running stage 'check'" in out and "Running stage 'prepare'" not in out
    assert not (repo / "data" / "prepared").exists() and "Traceback" not in out
    # DVC 3.67 leaves the failed experiment's value in the workspace's params.yaml, as the error says
    assert _params(repo)["train"]["svm"]["c"] == 3
    git(repo, "checkout", "params.yaml")
    assert "c" not in _params(repo)["train"]["svm"]


def test_passing_check_never_reruns_what_follows(tmp_path):
    repo = make_clone(tmp_path / "repo", TINY)
    dvc(repo, "repro", "prepare")
    marker = (repo / "data" / "checked.txt").read_bytes()
    params = _params(repo)
    params["train"]["ridge"]["alpha"] = 50.0  # a setting prepare does not read
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    proc = dvc(repo, "repro", "prepare")
    assert "Running stage 'check'" in proc.stdout  # it reads the whole file
    assert "Running stage 'prepare'" not in proc.stdout and "Stage 'prepare' didn't change" in proc.stdout
    assert (repo / "data" / "checked.txt").read_bytes() == marker
    assert "up to date" in dvc(repo, "status", "prepare").stdout
