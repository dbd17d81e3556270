"""Loading a trained model folder from its manifest alone (used by ``moodflow predict``).

The manifest (``model.json``) names the model, its params and where each part's weights are
(``tasks.static.path`` = ``.``, ``tasks.dynamic.path`` = ``dynamic``); the class comes from
the model registry and reads its own weights: skops with trusted types only, XGBoost JSON/UBJ,
or safetensors, each checked before use (tree indices, network sizes); the model's input
width must be the one the manifest declares. Nothing is ever unpickled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from moodflow.core.paths import resolve_inside
from moodflow.models import MODELS
from moodflow.models.base import Model


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """The model folder's ``model.json``, checked against its schema (:mod:`moodflow.core.schema`)."""
    from moodflow.core.schema import read_json_file

    path = Path(folder) / "model.json"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no model manifest (is {folder} a trained model folder?)")
    return read_json_file(path, "model")


def load_model(folder: str | Path, part: str = "static") -> Model:
    """The fitted model of ``part`` in ``folder``: ``static`` (the main task), ``dynamic``, or
    another static label kind a single-task model also learned (``classification``, ``tagging``)."""
    manifest = read_manifest(folder)
    if manifest.get("status", "ok") != "ok":
        raise ValueError(f"{Path(folder) / 'model.json'}: no trained model here ({manifest['status']})")
    tasks = manifest.get("tasks") or {"static": {"task": manifest["task"], "path": "."}}
    if part not in tasks:
        raise KeyError(f"{Path(folder) / 'model.json'}: no {part} model (has {sorted(tasks)})")
    entry = tasks[part]
    cls = MODELS.get(manifest["model"])
    data = manifest.get("data") or {}
    where = Path(folder) if entry.get("path", ".") == "." else resolve_inside(
        folder, entry["path"], source=Path(folder) / "model.json", what=f"tasks.{part}.path")
    model = cls.load(where, entry["task"], manifest.get("params") or {},
                     input_shape=data.get("input_shape"), n_classes=entry.get("n_classes", data.get("n_classes")))
    model.seed = int(manifest.get("seed", 0))
    declared = manifest.get("n_features") if part == "static" else int(np.prod(manifest.get("frame_shape") or [0]))
    takes = model.n_inputs()
    if declared and takes is not None and takes != int(declared):
        from moodflow.models.safe_load import UntrustedModelError

        raise UntrustedModelError(f"{Path(folder) / 'model.json'}: declares {declared} input features but the "
                                  f"{part} model takes {takes}; refusing it")
    return model
