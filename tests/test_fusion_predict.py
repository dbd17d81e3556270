"""A ``stack`` model is a model like any other for ``moodflow export`` and ``predict --model``:
its bundle (bases, meta-model, stack.json) predicts what the model folder predicts."""

from __future__ import annotations

import json

import numpy as np
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


def test_a_combined_set_model_predicts_from_audio_and_round_trips(project, tmp_path):  # noqa: F811
    """compare+chroma: predict runs both extractors on the file and joins them as training joined
    the stores (the features of a training clip equal its joined store row); a concatenated and
    a stacked model each predict the same from a bundle elsewhere as from their folder."""
    from moodflow import Predictor
    from moodflow.app.bundle import export_bundle
    from moodflow.decode.audio import load_audio
    from moodflow.extract.run import extract_store
    from moodflow.stores.prepared import PreparedDataset
    from moodflow.train.combined import open_features
    from moodflow.train.run import train_and_evaluate

    chroma = tmp_path / "chroma.h5"
    extract_store(name="chroma", config={}, grid={"win_s": 1.0, "hop_s": 0.5}, audio_path=project / "data/audio.h5",
                  prepared_dir=project / "data/prepared", out_path=chroma, dataset="demo", workers=1)
    stores = [project / "features/compare.h5", chroma]
    wavs = [str(w) for w in _wavs(project)[:2]]
    for model, config in (("ridge", {"alpha": 100.0}), ("stack", {"base_settings": {"alpha": 100.0},
                                                                  "inner_folds": 3})):
        folder = tmp_path / "models" / "compare+chroma" / model
        train_and_evaluate(**FEW_TRACKS, store_path=stores, prepared_dir=project / "data/prepared",
                           feature_set="compare+chroma", model_name=model, model_config=config, dynamic=True,
                           protocol={"folds": 4}, seed=0, out_dir=folder,
                           importance={"repeats": 0, "max_features": 0})
        predictor = Predictor(folder, mood_tags=False)
        if model == "ridge":  # the joined features of a training clip are its joined store row
            demo = PreparedDataset.read(project / "data/prepared")
            track = demo.manifest["track_id"].iloc[0]
            clip = project / "data/prepared" / demo.manifest["audio_path"].iloc[0]
            feats = predictor.features(load_audio(clip, predictor.sample_rate))
            with open_features(stores, "compare+chroma") as store:
                row = store.static([track])[0]
                values, start, _ = store.frames(track)
            assert feats.static.shape == row.shape and feats.frames.shape[1] == values.shape[1]
            np.testing.assert_allclose(feats.static, row, rtol=1e-3, atol=1e-3)
        bundle = export_bundle(folder, tmp_path / f"{model}.moodflow")
        elsewhere = tmp_path / f"elsewhere-{model}"
        elsewhere.mkdir()
        shutil.copy(bundle, elsewhere / "shared.moodflow")
        out = _cli(["predict", *wavs, "--model", "shared.moodflow", "--no-tags", "--format", "json", "--dynamic"],
                   cwd=elsewhere)
        assert out.returncode == 0, out.stderr
        from_bundle = json.loads(out.stdout)["predictions"]
        direct = predictor.predict(wavs, dynamic=True)
        assert len(from_bundle) == len(direct) == 2
        for b, d in zip(from_bundle, direct):
            assert (b["valence"], b["arousal"], b["dynamic"]) == (d["valence"], d["arousal"], d["dynamic"])
        assert json.loads(out.stdout)["model"]["feature_set"] == "compare+chroma"
