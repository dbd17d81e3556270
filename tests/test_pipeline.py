"""The whole pipeline with real DVC: the shared demo tree (a fresh clone after `dvc repro`, as
`make run` leaves it) and copies of it for experiments."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml

from moodflow.features import EXTRACTORS

from tests.helpers.pipeline_helpers import dvc, env, git, make_clone


def test_repro_builds_every_output(demo_tree):
    repo = demo_tree / "repo"
    params = yaml.safe_load((repo / "params.yaml").read_text())
    n = params["dataset"]["demo"]["n_clips"]
    assert (repo / "data/prepared/manifest.csv").exists()
    with h5py.File(repo / "data/audio.h5") as h:
        assert len(h["tracks/id"]) == n
    for name in params["features"]["sets"]:
        with h5py.File(repo / f"features/{name}.h5") as h:
            assert h.attrs["extractor"] == name
            assert h["static/values"].shape[0] == n
            assert h["frames/offsets"][-1] > 0
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    for name in params["features"]["sets"]:
        for model in params["train"]["models"]:
            assert (repo / f"models/{name}/{model}/model.json").exists()
            assert {"r2", "rmse", "pearson"} <= set(metrics[name][model]["valence"])


def test_make_run_leaves_no_untracked_files(demo_tree):
    """Everything a fresh clone's `dvc repro` writes is either git-ignored or committed."""
    status = (demo_tree / "status-after-run.txt").read_text().splitlines()
    assert [line for line in status if not line.startswith(" M ")] == []


def test_h5dump_reads_every_store(demo_tree):
    """A non-Python HDF5 tool (the real h5dump binary) reads what the pipeline wrote."""
    if shutil.which("h5dump") is None:
        pytest.skip("h5dump is not installed (Debian package hdf5-tools; .ci/run installs it)")
    repo = demo_tree / "repo"
    for store in sorted((repo / "features").glob("*.h5")) + [repo / "data/audio.h5"]:
        out = subprocess.run(["h5dump", "-A", "-H", str(store)], capture_output=True, text=True)
        assert out.returncode == 0, f"{store}: {out.stderr}"
        assert "schema" in out.stdout or "sample_rate" in out.stdout


def test_nothing_to_do_after_repro_predict_and_imports(demo_repo):
    """Running the code (imports write __pycache__ beside it) never makes DVC re-run a stage."""
    wav = sorted((demo_repo / "data/prepared/audio").glob("*.wav"))[0]
    e = {k: v for k, v in env(demo_repo).items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-m", "moodflow", "predict", str(wav)], cwd=demo_repo, env=e,
                   check=True, capture_output=True)
    subprocess.run([sys.executable, "-c", "import moodflow.check.validate, moodflow.report.run, moodflow.train.run"],
                   cwd=demo_repo, env=e, check=True)
    assert list(demo_repo.glob("moodflow/**/__pycache__"))
    assert json.loads(dvc(demo_repo, "status", "--json").stdout or "{}") == {}
    out = dvc(demo_repo, "repro").stdout
    assert "Running stage" not in out


def _changed_stages(repo) -> set[str]:
    return set(json.loads(dvc(repo, "status", "--json").stdout or "{}"))


def test_editing_code_reruns_exactly_the_stages_that_import_it(demo_repo):
    stages = set(yaml.safe_load((demo_repo / "dvc.lock").read_text())["stages"])
    trains = {s for s in stages if s.startswith("train@")}
    expected = {  # limits reads the train settings and the feature sets' classes (a constant marker: decode stays);
        # check too: it builds every settings class, train's ProtocolSettings included (its marker
        # stays the same, so nothing after it re-runs for that)
        "moodflow/models/knn.py": {"check", "limits"} | trains,
        "moodflow/evaluation/metrics.py": {"check", "limits", "report"} | trains,
        "moodflow/features/chroma.py": {"check", "limits", "extract@compare", "extract@chroma"},
        "moodflow/stores/grid.py": stages,  # report too: it maps joint labels back (stores/labelspace.py)
    }
    for path, want in expected.items():
        original = (demo_repo / path).read_text()
        (demo_repo / path).write_text(original + "\n# edited\n")
        assert _changed_stages(demo_repo) == want, path
        (demo_repo / path).write_text(original)
    assert _changed_stages(demo_repo) == set()


def test_a_changed_setting_reruns_only_its_stages(demo_repo):
    params = yaml.safe_load((demo_repo / "params.yaml").read_text())
    params["train"]["ridge"]["alpha"] = 0.001
    (demo_repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert _changed_stages(demo_repo) == {"check", "train@compare-ridge", "train@chroma-ridge"}


def test_experiment_reshapes_the_dag_and_trains_dynamic_models(demo_repo):
    """One `dvc exp run`: a changed ridge setting, a model added to the list and the dynamic
    switch (a declared param of every train stage) re-run the train stages and reuse the stores;
    metrics, the experiment table and the plots compare it with the baseline."""
    # importance off (about a quarter of a demo train stage's CPU time): all six train stages run
    # here, and held-out importance is tested on the shared tree (test_report) and in test_explanations
    out = dvc(demo_repo, "exp", "run", "-n", "lowalpha", "-S", "train.ridge.alpha=0.001",
              "-S", "train.models=[ridge,svm,knn]", "-S", "train.dynamic=true", "-S", "train.importance.repeats=0").stdout
    for stage in ("train@chroma-ridge", "train@compare-knn", "train@chroma-svm"):
        assert f"Running stage '{stage}'" in out
    assert "Running stage 'extract@chroma'" not in out and "Running stage 'decode'" not in out
    metrics = json.loads((demo_repo / "reports/metrics.json").read_text())
    for name in ("compare", "chroma"):
        for model in ("ridge", "svm", "knn"):
            assert {"kendall_tau", "rmse_song"} <= set(metrics[name][model]["dynamic"]["arousal"])
    model = json.loads((demo_repo / "models/chroma/ridge/model.json").read_text())
    assert set(model["tasks"]) == {"static", "dynamic"}
    diff = dvc(demo_repo, "metrics", "diff", "--json").stdout
    changed = json.loads(diff)["reports/metrics.json"]
    assert any(key.startswith("chroma.ridge.") and v.get("diff") not in (0, None) for key, v in changed.items())
    table = dvc(demo_repo, "exp", "show", "--md", "--only-changed").stdout
    assert "train.ridge.alpha" in table and "train.dynamic" in table
    plots = json.loads(dvc(demo_repo, "plots", "diff", "HEAD", "lowalpha", "--json").stdout)["data"]
    key = next(k for k in plots if k.endswith("predictions.csv"))
    assert plots[key][0]["revisions"] == ["HEAD", "lowalpha"]
    points = pd.DataFrame(plots[key][0]["content"]["data"]["values"])
    by_rev = points.groupby("rev")["y_pred"].apply(lambda s: np.round(s.astype(float), 6).tolist())
    assert by_rev["HEAD"] != by_rev["lowalpha"]  # the experiment changed the predictions


def test_misspelt_feature_set_gets_moodflows_message(demo_repo):
    proc = dvc(demo_repo, "exp", "run", "-S", "features.sets=[egemap]", check=False)
    assert proc.returncode != 0
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.startswith("moodflow: error")]
    assert lines == ["moodflow: error: features.sets: unknown feature set 'egemap' (did you mean 'egemaps'?); "
                     f"known: {', '.join(EXTRACTORS.names())} — this `dvc exp run` wrote the value into params.yaml "
                     "and leaves it there: `git checkout params.yaml` restores the committed values "
                     "(`git diff params.yaml` shows them)"]
    assert "are missing from" not in proc.stdout + proc.stderr  # DVC never got to look the params up
    assert "Traceback" not in proc.stdout + proc.stderr


def test_targeted_experiment_in_a_fresh_clone(tmp_path):
    """`dvc exp run … <stage>` in a clone with no outputs at all: the report's outputs live in git
    (cache: false), so DVC finds every directory it lists."""
    repo = make_clone(tmp_path / "fresh", keep_lock=True)
    proc = dvc(repo, "exp", "run", "-S", "dataset.demo.n_clips=3", "-S", "dataset.demo.duration_s=2.0",
               "-S", "train.on_insufficient=extract", "extract@chroma")  # 3 clips score nothing: extract anyway
    assert "Running stage 'extract@chroma'" in proc.stdout
    with h5py.File(repo / "features/chroma.h5") as h:
        assert h["static/values"].shape[0] == 3
    git(repo, "status")
