"""``moodflow predict``: a tiny demo pipeline trained in the test, then real clips predicted
through the library and the CLI, checked against the pipeline's own decode/extract path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from moodflow.stores.prepared import LabelSpec, PreparedDataset
from moodflow.decode.run import decode_dataset
from moodflow.extract.run import extract_store
from moodflow.models.io import load_model
from moodflow.app.predict import PredictError, Predictor, best_model_dir, default_model, predict_files
from moodflow.prepare.run import prepare_dataset
from moodflow.report.run import write_report
from moodflow.stores.feature_store import FeatureStore
from moodflow.train.run import train_and_evaluate
from tests.helpers.synthetic_data import FEW_TRACKS

REPO = Path(__file__).resolve().parents[1]
CLIPS = ["emoMusic/clips_45seconds/2.mp3", "PMEmo2019/chorus/108.mp3"]
PARAMS = {"dataset": {"name": "demo"}, "features": {"sets": ["compare"]},
          "train": {"models": ["ridge"], "protocol": {"folds": 4}, "seed": 0}}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A trained demo project: data/, features/compare.h5, models/compare/ridge (static + dynamic), reports/."""
    root = tmp_path_factory.mktemp("predict")
    prepare_dataset({"name": "demo", "demo": {"n_clips": 16, "duration_s": 3.0}}, root / "data/prepared")
    decode_dataset(root / "data/prepared", root / "data/audio.h5", root / "data/decode_errors.csv", sample_rate=22050)
    extract_store(name="compare", config={}, grid={"win_s": 1.0, "hop_s": 0.5}, audio_path=root / "data/audio.h5",
                  prepared_dir=root / "data/prepared", out_path=root / "features/compare.h5", dataset="demo", workers=1)
    train_and_evaluate(**FEW_TRACKS, store_path=root / "features/compare.h5", prepared_dir=root / "data/prepared", feature_set="compare",
                       model_name="ridge", model_config={"alpha": 100.0}, dynamic=True, protocol={"folds": 4},
                       seed=0, out_dir=root / "models/compare/ridge")
    write_report(PARAMS, root / "models", root / "reports")
    return root


@pytest.fixture
def clips(shared_data) -> list[Path]:
    paths = [shared_data / c for c in CLIPS]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        pytest.skip(f"shared clips missing: {missing}")
    return paths


def _store_static(paths: list[Path], tmp: Path, sample_rate: int) -> dict[str, np.ndarray]:
    """Static vectors of ``paths`` computed by the pipeline's own decode + extract stages."""
    manifest = pd.DataFrame({"track_id": [f"t{i}" for i in range(len(paths))], "audio_path": [str(p) for p in paths]})
    labels = manifest[["track_id"]].assign(valence=5.0, arousal=5.0)
    spec = LabelSpec(static_targets=["valence", "arousal"], scale=(1.0, 9.0), scale_name="1-9")
    PreparedDataset("clips", manifest, labels, spec).write(tmp / "prepared")
    decode_dataset(tmp / "prepared", tmp / "audio.h5", tmp / "errors.csv", sample_rate=sample_rate)
    extract_store(name="compare", config={}, grid={"win_s": 1.0, "hop_s": 0.5}, audio_path=tmp / "audio.h5",
                  prepared_dir=tmp / "prepared", out_path=tmp / "compare.h5", dataset="clips", workers=1)
    with FeatureStore(tmp / "compare.h5") as store:
        return {str(paths[int(tid[1:])]): store.static()[i] for i, tid in enumerate(store.ids)}


def test_predict_matches_pipeline_path(project, clips, tmp_path):
    folder = project / "models/compare/ridge"
    predictor = Predictor(folder, mood_tags=False)
    assert predictor.sample_rate == 22050 and predictor.scale_name == "1-9"
    done, failed = predict_files(predictor, clips, dynamic=True)
    assert failed == [] and len(done) == 2
    reference = _store_static(clips, tmp_path, predictor.sample_rate)
    model = load_model(folder)
    for pred in done:
        values = np.array([pred.values["valence"], pred.values["arousal"]])
        assert np.all(np.isfinite(values))
        assert np.all((values > -1.0) & (values < 11.0)), values  # 1-9 scale, a tiny ridge may overshoot a bit
        expected = model.predict(reference[pred.path].astype(np.float64)[None, :])[0]
        np.testing.assert_allclose(values, expected, rtol=0, atol=1e-9)
        # the curve covers the song at the 0.5 s hop, finite, on the same scale
        assert pred.duration_s > 20
        times = np.array(pred.times_s)
        assert np.allclose(np.diff(times), 0.5) and times[-1] <= pred.duration_s + 0.5
        for target in ("valence", "arousal"):
            curve = np.array(pred.curve[target])
            # finite on the grid; values on real music are whatever a 16-clip demo model extrapolates
            assert len(curve) == len(times) and np.all(np.isfinite(curve))


def test_default_model_is_the_reports_best_unless_a_toy(project, tmp_path):
    assert best_model_dir(project / "reports", project / "models") == project / "models/compare/ridge"
    with pytest.raises(PredictError, match="metrics.json: not found"):
        best_model_dir(tmp_path / "reports", tmp_path / "models")
    folder, why = default_model(project / "reports", project / "models")
    assert folder is None and "demo's toy" in why and "models/compare/ridge" in why
    folder, why = default_model(tmp_path / "reports", tmp_path / "models")
    assert folder is None and why.startswith("no trained model here")


def test_static_only_model_refuses_dynamic(project, tmp_path):
    train_and_evaluate(**FEW_TRACKS, store_path=project / "features/compare.h5", prepared_dir=project / "data/prepared",
                       feature_set="compare", model_name="ridge", model_config={"alpha": 1.0}, protocol={"folds": 4},
                       seed=0, out_dir=tmp_path / "static_only")
    predictor = Predictor(tmp_path / "static_only", mood_tags=False)
    assert predictor.dynamic is None
    audio = project / "data/prepared"
    wav = sorted(audio.rglob("*.wav"))[0]
    with pytest.raises(PredictError, match="no dynamic part"):
        predictor.predict_file(wav, dynamic=True)
    assert set(predictor.predict_file(wav).values) == {"valence", "arousal"}


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(REPO), "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "moodflow", "predict", *args], cwd=cwd, capture_output=True,
                          text=True, env=env, timeout=300)


def test_cli_json_csv_and_bad_file(project, clips, tmp_path):
    bad = tmp_path / "broken.mp3"
    bad.write_bytes(b"not audio at all" * 100)
    out = _cli([str(bad), str(clips[1]), "--format", "json", "--dynamic", "--no-tags", "--model", "models/compare/ridge"],
               cwd=project)
    assert out.returncode == 1, out.stderr
    assert "broken.mp3" in out.stderr
    doc = json.loads(out.stdout)
    assert doc["scale"] == "1-9" and doc["model"]["source"] == "models/compare/ridge" and doc["model"]["toy_model"]
    assert [p["path"] for p in doc["predictions"]] == [str(clips[1])]
    assert [e["path"] for e in doc["errors"]] == [str(bad)]
    lib = Predictor(project / "models/compare/ridge", mood_tags=False).predict_file(clips[1])
    assert doc["predictions"][0]["valence"] == pytest.approx(lib.values["valence"], abs=1e-12)
    assert len(doc["predictions"][0]["dynamic"]["valence"]) == len(doc["predictions"][0]["dynamic"]["time_s"]) > 40

    wav = sorted((project / "data/prepared").rglob("*.wav"))[0]
    out = _cli([str(wav), "--format", "csv", "--no-tags", "--model", str(project / "models/compare/ridge")], cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    from io import StringIO

    table = pd.read_csv(StringIO(out.stdout))
    assert list(table.columns)[:4] == ["path", "time_s", "valence", "arousal"] and len(table) == 1
    assert table["scale"].tolist() == ["1-9"] and table["model"].tolist() == ["ridge"]
    assert np.isfinite(table[["valence", "arousal"]].to_numpy()).all()

    out = _cli([str(wav), "--no-tags"], cwd=tmp_path)  # no pipeline ran here (mood tags: test_predict_tool)
    assert out.returncode == 2 and "no trained model here" in out.stderr and "train on a real dataset" in out.stderr
    out = _cli([str(wav), "--no-tags"], cwd=project)  # the reports' best is the demo's toy: never a default
    assert out.returncode == 2 and "demo's toy" in out.stderr and "Traceback" not in out.stderr


def test_values_outside_the_training_scale_are_noted_not_clipped():
    from moodflow.app.predict import Prediction, outside_scale_notes

    inside = Prediction(path="a.mp3", duration_s=3.0, values={"valence": 5.0, "arousal": 1.0})
    outside = Prediction(path="b.mp3", duration_s=3.0, values={"valence": 9.5, "arousal": -1.44})
    notes = outside_scale_notes([inside, outside], [1.0, 9.0], "1-9")
    assert len(notes) == 1
    assert notes[0].startswith("b.mp3: valence 9.50, arousal -1.44 outside the 1-9 range")
    assert outside.values["arousal"] == -1.44  # kept as predicted
    assert outside_scale_notes([outside], None) == []


def test_targets_with_scales_of_their_own_are_checked_each_on_its_own():
    from moodflow.app.predict import Prediction, outside_scale_notes

    p = Prediction(path="c.wav", duration_s=3.0, values={"tension": 7.4, "energy": 9.0, "valence": 0.2})
    notes = outside_scale_notes([p], [-1.0, 1.0], "-1..1", {"tension": [1, 7], "energy": [0, 10]})
    assert notes == ["c.wav: tension 7.40 (range 1..7) outside the ranges of the training labels: the model "
                     "extrapolates (this music is unlike its training data)"]
