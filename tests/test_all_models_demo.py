"""Every registered model trains and is evaluated on the (tiny) demo dataset, static and dynamic."""

from __future__ import annotations

import json
import math

import pytest

from moodflow.decode.run import decode_dataset
from moodflow.extract.run import extract_store
from moodflow.models import MODELS
from moodflow.prepare.run import prepare_dataset
from moodflow.train.run import train_and_evaluate
from tests.helpers.synthetic_data import FEW_TRACKS

FAST = {  # small networks and few epochs: the test checks the path, not the accuracy
    "mlp": {"hidden": 32, "epochs": 30, "patience": 5},
    "seq": {"hidden": 16, "epochs": 20, "patience": 5},
    "multitask": {"hidden": 32, "epochs": 30, "patience": 5},
    "random_forest": {"n_estimators": 30},
    "xgboost": {"n_estimators": 30},
    "knn": {"n_neighbors": 3},
}


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    prepare_dataset({"name": "demo", "demo": {"n_clips": 10, "duration_s": 3.0}}, root / "prepared")
    decode_dataset(root / "prepared", root / "audio.h5", root / "errors.csv", sample_rate=22050)
    extract_store(name="chroma", config={}, grid={}, audio_path=root / "audio.h5", prepared_dir=root / "prepared",
                  out_path=root / "chroma.h5", dataset="demo", workers=1)
    return root


@pytest.mark.parametrize("model", MODELS.names())
def test_model_trains_on_demo(demo_store, model):
    out = demo_store / "models" / model
    metrics = train_and_evaluate(
        **FEW_TRACKS,
        store_path=demo_store / "chroma.h5", prepared_dir=demo_store / "prepared", feature_set="chroma",
        model_name=model, model_config=FAST.get(model, {}), protocol={"kind": "kfold", "folds": 3},
        seed=0, out_dir=out, dynamic=True,
    )
    assert json.loads((out / "metrics.json").read_text()) == json.loads(json.dumps(metrics))
    manifest = json.loads((out / "model.json").read_text())
    assert manifest["model"] == model
    sections = [s for s in ("static", "dynamic") if s in metrics]
    assert sections, f"{model} evaluated nothing"
    for section in sections:
        for target in ("valence", "arousal"):
            entry = metrics[section][target]
            assert math.isfinite(entry["rmse"]) and entry["n_folds"] == 3
    if "dynamic" in MODELS.get(model).tasks:
        assert "dynamic" in metrics and "kendall_tau" in metrics["dynamic"]["valence"]
