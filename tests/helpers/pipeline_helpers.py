"""Copy the project into a temporary git repository and run real DVC commands there; the one
reproduced demo tree every pipeline test shares; the tiny parameters those tests use."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
# The demo at its smallest: 6 clips of 3 s, one cheap extractor, one model, 3-fold CV.
TINY = {
    "dataset": {"name": "demo", "demo": {"n_clips": 6, "duration_s": 3.0}},
    "features": {"sets": ["chroma"], "workers": 1},
    "train": {"models": ["ridge"], "protocol": {"kind": "kfold", "folds": 3}, "min_train": 2, "min_test": 1},
}
# Where conftest.py builds the shared demo tree (set by the controlling pytest process).
DEMO_TREE_ENV = "MOODFLOW_TEST_DEMO_TREE"
TRACES = "param-traces"  # beside the tree: one JSON per stage process (moodflow.core.params)


def project_files() -> list[str]:
    """Tracked and untracked-but-not-ignored files of the project (what a clone would hold)."""
    out = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split("\n")
    return [f for f in out if f and (REPO / f).is_file()]


def make_clone(dest: Path, params_update: dict | None = None, *, keep_lock: bool = False) -> Path:
    """A fresh git repo at ``dest`` holding the project, with params.yaml updated and committed.

    ``keep_lock``: keep the committed dvc.lock and reports (a clone exactly as git gives it);
    by default they are removed, as the run's own parameters differ from the committed ones.
    """
    for rel in project_files():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, target)
    if not keep_lock:
        (dest / "dvc.lock").unlink(missing_ok=True)
        shutil.rmtree(dest / "reports", ignore_errors=True)
    if params_update:
        params = yaml.safe_load((dest / "params.yaml").read_text())
        deep_update(params, params_update)
        (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-qm", "clone")
    return dest


def deep_update(base: dict, update: dict) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_update(base[key], value)
        else:
            base[key] = value


def env(cwd: Path | None = None) -> dict[str, str]:
    """Environment where ``python`` and ``dvc`` are this interpreter's (and ``cwd``'s package
    comes first on the import path)."""
    bin_dir = str(Path(sys.executable).parent)
    e = dict(os.environ)
    e["PATH"] = bin_dir + os.pathsep + e.get("PATH", "")
    e["DVC_NO_ANALYTICS"] = "1"
    e["GIT_AUTHOR_NAME"] = e["GIT_COMMITTER_NAME"] = "moodflow-test"
    e["GIT_AUTHOR_EMAIL"] = e["GIT_COMMITTER_EMAIL"] = "test@moodflow"
    if cwd is not None:
        e["PYTHONPATH"] = str(cwd) + os.pathsep + e.get("PYTHONPATH", "")
    return e


def dvc_bin() -> str:
    return str(Path(sys.executable).parent / "dvc")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True, env=env()).stdout


def dvc(cwd: Path, *args: str, check: bool = True, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``dvc ARGS`` in ``cwd`` with the clone's own package first on the import path."""
    proc = subprocess.run([dvc_bin(), *args], cwd=cwd, capture_output=True, text=True,
                          env={**env(cwd), **(extra_env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(f"dvc {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


# -- the shared demo tree -----------------------------------------------------------------------
def build_demo_tree(root: Path) -> None:
    """``root/repo``: a clone as git gives it, reproduced with the committed params (``make run``'s
    ``dvc repro``, forced so that every stage runs, even one whose inputs all match the committed
    lock), every stage process tracing the params it reads into ``root/param-traces``; then the
    run is committed (experiments start from it). ``root/done`` holds the outcome."""
    repo = root / "repo"
    try:
        make_clone(repo, keep_lock=True)
        proc = dvc(repo, "repro", "--force", check=False, extra_env={"MOODFLOW_TRACE_PARAMS": str(root / TRACES)})
        (root / "repro.log").write_text(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            raise RuntimeError(f"dvc repro failed ({proc.returncode}), see {root / 'repro.log'}")
        (root / "status-after-run.txt").write_text(git(repo, "status", "--porcelain"))
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "demo run", "--allow-empty")
        (root / "done").write_text("ok\n")
    except Exception as exc:  # noqa: BLE001 - reported to every test that waits for the tree
        (root / "done").write_text(f"failed: {exc}\n")


def wait_for_demo_tree(timeout_s: float = 900) -> Path:
    """The shared tree's root (``repo``, ``param-traces``, …) once its build has finished."""
    value = os.environ.get(DEMO_TREE_ENV)
    if not value:
        raise RuntimeError(f"{DEMO_TREE_ENV} is not set (conftest.py starts the build)")
    root = Path(value)
    deadline = time.monotonic() + timeout_s
    while not (root / "done").exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the shared demo tree at {root} was not built within {timeout_s:.0f} s")
        time.sleep(0.5)
    outcome = (root / "done").read_text().strip()
    if outcome != "ok":
        raise RuntimeError(f"the shared demo tree could not be built: {outcome}")
    return root


def copy_tree(src: Path, dest: Path) -> Path:
    """A private copy of a reproduced repository (git, DVC cache and per-track cache included)."""
    shutil.copytree(src, dest, symlinks=True)
    return dest


if __name__ == "__main__":
    build_demo_tree(Path(sys.argv[1]))
