"""A ``stack`` model is a model like any other for ``moodflow export`` and ``predict --model``:
its bundle (bases, meta-model, stack.json) predicts what the model folder predicts."""

from __future__ import annotations

import json
import shutil
import zipfile

from tests.helpers.synthetic_data import FEW_TRACKS
from tests.test_predict import project  # noqa: F401 - the trained tiny demo project (module fixture)
from tests.test_predict_tool import _cli, _wavs


def test_a_stack_round_trips_through_export_and_predict(project, tmp_path):  # noqa: F811
    from moodflow import Predictor
    from moodflow.app.bundle import export_bundle
    from moodflow.train.run import train_and_evaluate

    folder = tmp_path / "models" / "compare" / "stack"
    train_and_evaluate(**FEW_TRACKS, store_path=project / "features/compare.h5", prepared_dir=project / "data/prepared",
                       feature_set="compare", model_name="stack",
                       model_config={"base_settings": {"alpha": 100.0}, "inner_folds": 3}, dynamic=True,
                       protocol={"folds": 4}, seed=0, out_dir=folder, importance={"repeats": 0, "max_features": 0})
    bundle = export_bundle(folder, tmp_path / "stack.moodflow")
    with zipfile.ZipFile(bundle) as zf:
        names = set(zf.namelist())
    assert {"stack.json", "base0/model.skops", "meta/model.skops", "dynamic/stack.json"} <= names
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(bundle, elsewhere / "shared.moodflow")
    wavs = [str(w) for w in _wavs(project)[:3]]
    out = _cli(["predict", *wavs, "--model", "shared.moodflow", "--no-tags", "--format", "json", "--dynamic"],
               cwd=elsewhere)
    assert out.returncode == 0, out.stderr
    from_bundle = json.loads(out.stdout)["predictions"]
    direct = Predictor(folder, mood_tags=False).predict(wavs, dynamic=True)
    assert len(from_bundle) == len(direct) == 3
    for b, d in zip(from_bundle, direct):
        assert (b["valence"], b["arousal"], b["dynamic"]) == (d["valence"], d["arousal"], d["dynamic"])
