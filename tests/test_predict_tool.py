"""``moodflow predict`` as a tool: inputs (folders, globs, bad files) checked before the model,
per-file errors, provenance and scale in every format, zero-shot mood tags, class
probabilities, the Python API, and model bundles (export → predict elsewhere, refusals)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from moodflow.app.predict import PredictorNote
from tests.helpers.synthetic_data import FEW_TRACKS
from tests.test_predict import project  # noqa: F401 - the trained tiny demo project (module fixture)

REPO = Path(__file__).resolve().parents[1]


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(REPO), "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "moodflow", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=300)


def _wavs(project: Path) -> list[Path]:
    return sorted((project / "data/prepared").rglob("*.wav"))


def test_inputs_expand_folders_globs_and_name_each_bad_input(tmp_path):
    from moodflow.app.inputs import expand_inputs

    (tmp_path / "lib/sub").mkdir(parents=True)
    for name in ("lib/a.wav", "lib/sub/b.FLAC", "lib/.hidden.wav", "lib/notes.txt", "odd.bin"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "x.mp3").mkdir()
    (tmp_path / "empty").mkdir()
    files, errors = expand_inputs([tmp_path / "lib", str(tmp_path / "**/*.FLAC"), tmp_path / "odd.bin",
                                   tmp_path / "missing.mp3", tmp_path / "x.mp3", tmp_path / "empty",
                                   str(tmp_path / "*.ogg"), tmp_path / "lib/a.wav"])
    assert [f.relative_to(tmp_path).as_posix() for f in files] == ["lib/a.wav", "lib/sub/b.FLAC", "odd.bin"]
    problems = dict(errors)
    assert problems[str(tmp_path / "missing.mp3")].endswith("file not found")
    assert problems[str(tmp_path / "x.mp3")].endswith("is a directory, not an audio file")
    assert "no audio files" in problems[str(tmp_path / "empty")]
    assert "no audio file matches" in problems[str(tmp_path / "*.ogg")]


def test_input_errors_come_before_loading_any_model(tmp_path):
    (tmp_path / "y.mp3").mkdir()
    out = _cli(["predict", str(tmp_path / "nothing.mp3"), str(tmp_path / "y.mp3"), "--model", str(tmp_path / "no-model")],
               cwd=tmp_path)
    assert out.returncode == 2
    assert "nothing.mp3: file not found" in out.stderr and "y.mp3: is a directory" in out.stderr
    assert "no-model" not in out.stderr and "Traceback" not in out.stderr


def test_bad_files_never_lose_the_good_ones(project, tmp_path):  # noqa: F811
    from moodflow import Predictor

    good = _wavs(project)[:2]
    text = tmp_path / "notes.mp3"
    text.write_text("not audio")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    (tmp_path / "dir.mp3").mkdir()
    predictor = Predictor(project / "models/compare/ridge", mood_tags=False)
    rows = predictor.predict([good[0], text, tmp_path / "dir.mp3", empty, good[1]])
    assert [r["path"] for r in rows] == [str(good[0]), str(good[1])]
    assert [p for p, _ in predictor.errors] == [str(tmp_path / "dir.mp3"), str(text), str(empty)]
    assert all(str(tmp_path) in e for _, e in predictor.errors)
    single = predictor.predict_file(good[1])
    assert rows[1]["valence"] == single.values["valence"]
    assert rows[0]["scale"] == "1-9" and rows[0]["model"]["dataset"] == "demo" and rows[0]["model"]["toy_model"]
    frame = predictor.predict_frame(good)
    assert isinstance(frame, pd.DataFrame) and len(frame) == 2
    assert {"valence", "arousal", "scale", "dataset", "feature_set", "model", "heldout", "toy_model"} <= set(frame.columns)


def test_every_format_has_scale_provenance_and_the_toy_label(project, tmp_path):  # noqa: F811
    wavs = [str(w) for w in _wavs(project)[:2]]
    out = _cli(["predict", *wavs, "--no-tags", "--model", "models/compare/ridge", "-o", str(tmp_path / "out.json")],
               cwd=project)
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("toy model") == 1  # said once
    doc = json.loads((tmp_path / "out.json").read_text())
    m = doc["model"]
    assert doc["scale"] == "1-9" and m["scale"] == "1-9" and m["scale_range"] == [1.0, 9.0]
    assert (m["dataset"], m["feature_set"], m["model"]) == ("demo", "compare", "ridge")
    assert m["protocol"]["folds"] == 4 and m["toy_model"] is True and "toy model" in m["warning"]
    assert set(m["heldout"]["static"]) == {"valence", "arousal"} and m["heldout"]["static"]["valence"]["metric"] == "r2"
    assert len(doc["predictions"]) == 2 and doc["errors"] == []

    from moodflow import Predictor
    from moodflow.app.output import render

    with pytest.warns(PredictorNote, match="toy model"):  # named explicitly: used, and said once
        predictor = Predictor(project / "models/compare/ridge", mood_tags=False)
    predictor.predict(wavs)
    (tmp_path / "out.csv").write_text(render("csv", predictor, predictor.last, [], False))
    table = pd.read_csv(tmp_path / "out.csv")
    assert list(table.columns[:4]) == ["path", "time_s", "valence", "arousal"]
    assert (table["scale"] == "1-9").all() and (table["dataset"] == "demo").all() and table["toy_model"].all()
    assert table["heldout"].str.contains("valence r2").all()
    assert np.allclose(table["valence"], [p["valence"] for p in doc["predictions"]], rtol=0, atol=1e-12)
    text = render("table", predictor, predictor.last, [], False)
    assert text.startswith("model: TOY MODEL") and "values on the 1-9 scale" in text and "WARNING" not in text
    frame = predictor.predict_frame(wavs)
    assert frame["toy_model"].tolist() == [True, True]
    # the table on stdout carries the label, stderr the warning: once each
    out = _cli(["predict", wavs[0], "--no-tags", "--model", "models/compare/ridge"], cwd=project)
    assert out.returncode == 0 and out.stdout.count("TOY MODEL") == 1 and out.stderr.count("toy model") == 1
    out = _cli(["predict", wavs[0], "--no-tags", "--model", "models/compare/ridge", "--format", "csv"], cwd=project)
    assert pd.read_csv(io.StringIO(out.stdout))["toy_model"].tolist() == [True]


def test_zero_shot_mood_tags_without_any_trained_model(project, tmp_path):  # noqa: F811
    from moodflow.app.mood import MoodTagger
    from moodflow.decode.audio import load_audio
    from moodflow.features.musicnn.tags import MSD_MOOD_TAGS

    wav = _wavs(project)[0]
    out = _cli(["predict", str(wav), "--format", "json"], cwd=tmp_path)  # no pipeline ran here
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("mood tags only") == 1 and "train on a real dataset" in out.stderr
    doc = json.loads(out.stdout)
    tags = doc["predictions"][0]["mood_tags"]
    assert set(tags) == set(MSD_MOOD_TAGS) and all(0.0 <= v <= 1.0 for v in tags.values())
    assert list(tags.values()) == sorted(tags.values(), reverse=True)
    expected = MoodTagger().tags(load_audio(wav, 16000), 16000)
    assert tags == pytest.approx(expected, abs=1e-7)
    assert "valence" not in doc["predictions"][0] and "musicnn" in doc["mood_tagger"]
    out = _cli(["predict", str(wav), "--no-tags"], cwd=tmp_path)
    assert out.returncode == 2 and "train on a real dataset" in out.stderr


def test_default_gives_mood_tags_only_after_the_demo_and_says_so_once(project):  # noqa: F811
    from moodflow import Predictor
    from moodflow.app.predict import PredictError
    from moodflow.features.musicnn.tags import MSD_MOOD_TAGS

    wav = _wavs(project)[0]
    where = {"reports_dir": project / "reports", "models_dir": project / "models"}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        p = Predictor(**where)
    notes = [w for w in caught if issubclass(w.category, PredictorNote)]
    assert len(notes) == 1 and str(notes[0].message) == p.note
    assert "demo's toy" in p.note and "train on a real dataset" in p.note and "NAME.moodflow" in p.note
    assert not p.manifest and p.folder is None
    row = p.predict(wav)[0]
    assert "valence" not in row and "model" not in row and row["scale"] is None
    assert isinstance(row["mood_tags"], dict) and set(row["mood_tags"]) == set(MSD_MOOD_TAGS)  # the scores,
    assert list(row["mood_tags"].values()) == sorted(row["mood_tags"].values(), reverse=True)  # highest first
    assert row["mood_tagger"].startswith("musicnn MSD_musicnn")  # their provenance, under its own key
    with pytest.raises(PredictError, match="nothing to predict without mood tags: .*train on a real dataset"):
        Predictor(**where, mood_tags=False)
    out = _cli(["predict", str(wav), "--format", "json"], cwd=project)
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("moodflow: note: mood tags only") == 1 and "toy model" not in out.stderr
    assert "valence" not in json.loads(out.stdout)["predictions"][0]


def test_default_takes_the_best_model_trained_on_a_real_dataset(project, tmp_path):  # noqa: F811
    from moodflow import Predictor
    from moodflow.app.predict import PredictError
    from moodflow.stores.prepared import PreparedDataset
    from moodflow.train.run import train_and_evaluate

    demo = PreparedDataset.read(project / "data/prepared")  # the same clips as a dataset of one's own
    PreparedDataset("folder", demo.manifest, demo.static_labels, demo.spec).write(tmp_path / "prepared")
    train_and_evaluate(**FEW_TRACKS, store_path=project / "features/compare.h5", prepared_dir=tmp_path / "prepared",
                       feature_set="compare", model_name="ridge", model_config={"alpha": 100.0},
                       protocol={"folds": 2}, seed=0, out_dir=tmp_path / "models/compare/ridge")
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports/metrics.json").write_text(json.dumps({"best": {"feature_set": "compare", "model": "ridge"}}))
    where = {"reports_dir": tmp_path / "reports", "models_dir": tmp_path / "models"}
    with warnings.catch_warnings():
        warnings.simplefilter("error", PredictorNote)  # nothing to say
        p = Predictor(**where, mood_tags=False)
    assert p.folder == tmp_path / "models/compare/ridge" and not p.is_toy and p.note == ""
    row = p.predict(_wavs(project)[0])[0]
    assert np.isfinite(row["valence"]) and row["model"]["dataset"] == "folder" and row["model"]["toy_model"] is False
    tags_only = Predictor(None, **where)  # None: mood tags only, whatever was trained
    assert not tags_only.manifest and tags_only.note == "mood tags only (no model asked for)"
    with pytest.raises(PredictError, match="nothing to predict"):
        Predictor(None, mood_tags=False)


def test_info_prints_the_frame_shape_and_help_is_plain_text(project):  # noqa: F811
    out = _cli(["info", "features/compare.h5"], cwd=project)
    assert out.returncode == 0, out.stderr
    lines = dict(map(str.strip, line.split(": ", 1)) for line in out.stdout.splitlines() if ": " in line)
    assert lines["frame_shape"] == "260" and "problem" not in out.stdout
    out = _cli(["info", "--check", "features/compare.h5"], cwd=project)
    assert out.returncode == 0 and "check: ok" in out.stdout
    for command in ([], ["info"], ["predict"], ["extract"], ["datasets", "verify"]):
        text = _cli([*command, "--help"], cwd=project).stdout
        assert "``" not in text and ":func:" not in text, text
    assert "Opening a store checks its structure" in _cli(["info", "--help"], cwd=project).stdout


def _classifier(project: Path, tmp: Path, model: str, config: dict) -> Path:
    from moodflow.stores.prepared import LabelSpec, PreparedDataset
    from moodflow.train.run import train_and_evaluate

    demo = PreparedDataset.read(project / "data/prepared")
    labels = demo.static_labels[["track_id"]].assign(
        energy=np.where(demo.static_labels["arousal"] > demo.static_labels["arousal"].median(), "high", "low"))
    spec = LabelSpec(task="classification", class_column="energy", classes=["high", "low"])
    manifest = demo.manifest.assign(audio_path=[str(project / "data/prepared" / p) for p in demo.manifest["audio_path"]])
    PreparedDataset("demo", manifest, labels, spec).write(tmp / "prepared")
    train_and_evaluate(**FEW_TRACKS, store_path=project / "features/compare.h5", prepared_dir=tmp / "prepared",
                       feature_set="compare",
                       model_name=model, model_config=config, protocol={"kind": "stratified", "folds": 2},
                       seed=0, out_dir=tmp / model)
    return tmp / model


def test_classifiers_report_class_probabilities(project, tmp_path):  # noqa: F811
    from moodflow import Predictor

    wav = _wavs(project)[0]
    knn = Predictor(_classifier(project, tmp_path, "knn", {"n_neighbors": 3}), mood_tags=False).predict(wav)[0]
    assert knn["model"]["heldout"]["classification"]["energy"]["metric"] == "macro_f1"
    probs = knn["class_probabilities"]
    assert set(probs) == {"high", "low"} and sum(probs.values()) == pytest.approx(1.0)
    assert knn["class"] == max(probs, key=probs.get)
    svm_predictor = Predictor(_classifier(project, tmp_path, "svm", {}), mood_tags=False)
    svm = svm_predictor.predict(wav)[0]
    assert "class_probabilities" not in svm and set(svm["class_scores"]) == {"high", "low"}  # decision values
    # a class has no scale: the output says what the class and its scores are instead
    from moodflow.app.output import render

    assert svm["scale"] is None
    text = render("table", svm_predictor, svm_predictor.last, [], False)
    assert "scale" not in text and "class: the predicted energy; score_*: decision values, not probabilities" in text


def test_bundle_predicts_identically_in_another_place(project, tmp_path):  # noqa: F811
    from moodflow import Predictor
    from moodflow.app.bundle import export_bundle

    folder = project / "models/compare/ridge"
    out = _cli(["export", str(folder), "-o", str(tmp_path / "a.moodflow")], cwd=project)
    assert out.returncode == 0, out.stderr
    export_bundle(folder, tmp_path / "b.moodflow")
    assert (tmp_path / "a.moodflow").read_bytes() == (tmp_path / "b.moodflow").read_bytes()
    with zipfile.ZipFile(tmp_path / "a.moodflow") as zf:
        names = set(zf.namelist())
    assert {"bundle.json", "metrics.json", "model.json", "model.skops"} <= names and "predictions.csv" not in names
    assert all(n.startswith("dynamic/") for n in names - {"bundle.json", "metrics.json", "model.json", "model.skops"})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(tmp_path / "a.moodflow", elsewhere / "shared.moodflow")
    wavs = [str(w) for w in _wavs(project)[:3]]
    out = _cli(["predict", *wavs, "--model", "shared.moodflow", "--no-tags", "--format", "json", "--dynamic"],
               cwd=elsewhere)
    assert out.returncode == 0, out.stderr
    from_bundle = json.loads(out.stdout)["predictions"]
    direct = Predictor(folder, mood_tags=False).predict(wavs, dynamic=True)
    for b, d in zip(from_bundle, direct):
        assert (b["valence"], b["arousal"], b["dynamic"]) == (d["valence"], d["arousal"], d["dynamic"])
    assert json.loads(out.stdout)["model"]["source"] == "shared.moodflow"


def _rewrite(src: Path, dst: Path, edit) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        members = {n: zin.read(n) for n in zin.namelist()}
        for name, data in edit(members).items():
            zout.writestr(name, data)
    return dst


def test_bundle_refused_with_the_reason(project, tmp_path):  # noqa: F811
    from moodflow.app.bundle import BundleError, export_bundle, open_bundle

    good = export_bundle(project / "models/compare/ridge", tmp_path / "good.moodflow")

    def meta_edit(change):
        def edit(members):
            meta = json.loads(members["bundle.json"])
            change(meta)
            return {**members, "bundle.json": json.dumps(meta).encode()}
        return edit

    cases = {
        "config differs from the bundle's in ['extractor']": meta_edit(lambda m: m["features"]["config"]["extractor"].update(n_fft=4096)),
        "extractor version 0": meta_edit(lambda m: m["features"].update(extractor_version="0")),
        "extractor 'essentia'": meta_edit(lambda m: m["features"].update(extractor="essentia")),
        "does not match its SHA-256": lambda ms: {**ms, "model.skops": ms["model.skops"] + b"\0"},
        "is not a plain file listed": lambda ms: {**ms, "../evil.txt": b"x"},
    }
    for i, (reason, edit) in enumerate(cases.items()):
        with pytest.raises(BundleError, match=reason.replace("[", r"\[").replace("]", r"\]")):
            open_bundle(_rewrite(good, tmp_path / f"bad{i}.moodflow", edit))
    (tmp_path / "plain.moodflow").write_text("hello")
    with pytest.raises(BundleError, match="not a ZIP"):
        open_bundle(tmp_path / "plain.moodflow")
    out = _cli(["predict", str(_wavs(project)[0]), "--model", str(tmp_path / "bad0.moodflow"), "--no-tags"], cwd=tmp_path)
    assert out.returncode == 2 and "refused" in out.stderr and "Traceback" not in out.stderr
