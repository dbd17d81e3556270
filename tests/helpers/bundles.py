"""A small trained project for the safe-edges tests (bundles, weights, error boundaries): the
demo dataset (8 clips of 2 s), chroma features and a ridge, an XGBoost and an MLP model, built
once per test session (a file lock shares it between workers) and only read by the tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODELS = {"ridge": {"alpha": 10.0}, "xgboost": {"n_estimators": 5, "device": "cpu"},
          "mlp": {"epochs": 3, "hidden": 8, "device": "cpu"}}


def build_project(root: Path) -> Path:
    """``root`` with data/prepared, data/audio.h5, features/chroma.h5 and models/chroma/<model>."""
    from moodflow.decode.run import decode_dataset
    from moodflow.extract.run import extract_store
    from moodflow.prepare.run import prepare_dataset
    from moodflow.train.run import train_and_evaluate
    from tests.helpers.synthetic_data import FEW_TRACKS

    prepare_dataset({"name": "demo", "demo": {"n_clips": 8, "duration_s": 2.0}}, root / "data/prepared")
    decode_dataset(root / "data/prepared", root / "data/audio.h5", root / "data/decode_errors.csv", sample_rate=22050)
    extract_store(name="chroma", config={}, grid={"win_s": 1.0, "hop_s": 0.5}, audio_path=root / "data/audio.h5",
                  prepared_dir=root / "data/prepared", out_path=root / "features/chroma.h5", dataset="demo", workers=1)
    for name, config in MODELS.items():
        train_and_evaluate(**FEW_TRACKS, store_path=root / "features/chroma.h5", prepared_dir=root / "data/prepared",
                           feature_set="chroma", model_name=name, model_config=config, dynamic=False,
                           protocol={"kind": "kfold", "folds": 2}, seed=0, jobs=1, out_dir=root / f"models/chroma/{name}")
    return root


def shared_project(base: Path) -> Path:
    """The project under ``base`` (a pytest basetemp's parent), built by the first caller."""
    from filelock import FileLock

    root = base / "safe-edges-project"
    with FileLock(str(root) + ".lock"):
        if not (root / "done").exists():
            build_project(root)
            (root / "done").write_text("ok\n")
    return root


def cli(args: list[str], cwd: Path, env: dict | None = None, timeout: int = 300, **kwargs) -> subprocess.CompletedProcess:
    """``python -m moodflow ARGS`` in a child process with this checkout first on its path."""
    full = {"PYTHONPATH": str(REPO), "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
            "HOME": os.environ.get("HOME", "/tmp"), **(env or {})}
    return subprocess.run([sys.executable, "-m", "moodflow", *args], cwd=cwd, capture_output=True, text=True,
                          env=full, timeout=timeout, **kwargs)


def wavs(project: Path) -> list[Path]:
    return sorted((project / "data/prepared").rglob("*.wav"))
