"""Copy the project into a temporary git repository and run real DVC commands there."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def project_files() -> list[str]:
    """Tracked and untracked-but-not-ignored files of the project (what a clone would hold)."""
    out = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split("\n")
    return [f for f in out if f and (REPO / f).is_file()]


def make_clone(dest: Path, params_update: dict | None = None) -> Path:
    """A fresh git repo at ``dest`` holding the project, with params.yaml updated and committed."""
    for rel in project_files():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, target)
    for stale in ("dvc.lock", "reports/metrics.json"):
        (dest / stale).unlink(missing_ok=True)
    if params_update:
        params = yaml.safe_load((dest / "params.yaml").read_text())
        deep_update(params, params_update)
        (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "clone")
    return dest


def deep_update(base: dict, update: dict) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_update(base[key], value)
        else:
            base[key] = value


def env() -> dict[str, str]:
    """Environment where ``python`` and ``dvc`` are this interpreter's."""
    bin_dir = str(Path(sys.executable).parent)
    e = dict(os.environ)
    e["PATH"] = bin_dir + os.pathsep + e.get("PATH", "")
    e["DVC_NO_ANALYTICS"] = "1"
    e["GIT_AUTHOR_NAME"] = e["GIT_COMMITTER_NAME"] = "moodflow-test"
    e["GIT_AUTHOR_EMAIL"] = e["GIT_COMMITTER_EMAIL"] = "test@moodflow"
    return e


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True, env=env()).stdout


def dvc(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``dvc ARGS`` in ``cwd`` with the clone's own package first on the import path."""
    e = env()
    e["PYTHONPATH"] = str(cwd) + os.pathsep + e.get("PYTHONPATH", "")
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "dvc"), *args], cwd=cwd, capture_output=True, text=True, env=e
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"dvc {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc
