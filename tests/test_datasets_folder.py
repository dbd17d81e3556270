"""The ``folder`` adapter, on folders the tests write."""

import json
import logging

import numpy as np
import pandas as pd

import pytest

from moodflow.datasets import DATASETS


def _tree(root, files):
    for rel in files:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def test_unlabelled_recursive_folder(tmp_path):
    _tree(tmp_path, ["a.mp3", "album/01 song.FLAC", "album/02.wav", "x/y/z.ogg", "notes.txt", "album/.hidden.mp3"])
    prepared = DATASETS.get("folder")(tmp_path, {}).load(None)
    assert prepared.manifest["track_id"].tolist() == ["a", "album/01 song", "album/02", "x/y/z"]
    assert prepared.manifest.set_index("track_id").loc["album/02", "audio_path"] == str(tmp_path / "album/02.wav")
    assert prepared.spec.task == "regression" and prepared.spec.static_targets == []
    assert len(prepared.static_labels) == 0


def test_regression_labels_with_scale_file_column_and_bad_rows(tmp_path, caplog):
    _tree(tmp_path, ["a.mp3", "b/c.wav", "d.mp3", "e.mp3"])
    (tmp_path / "labels.csv").write_text(
        "file,valence,arousal\na.mp3,5,6\nb/c.wav,1,9\nd.mp3,,4\ne.mp3,10,2\nnot_here.mp3,3,3\n")
    with caplog.at_level(logging.WARNING, logger="moodflow.datasets"):
        prepared = DATASETS.get("folder")(tmp_path, {"labels": "labels.csv", "scale": "1..9"}).load(None)
    labels = prepared.static_labels.set_index("track_id")
    # an empty or out-of-scale value loses only that label: d and e keep their arousal
    assert sorted(labels.index) == ["a", "b/c", "d", "e"]
    assert labels["valence"].isna().tolist() == [False, False, True, True] and labels.loc["e", "arousal"] == 2
    assert prepared.spec.scale == (1.0, 9.0) and prepared.spec.static_targets == ["valence", "arousal"]
    assert "labels.csv" in caplog.text and "d" in caplog.text and "outside the scale" in caplog.text
    assert "not_here" in caplog.text
    assert len(prepared.manifest) == 4  # unlabelled/badly labelled audio stays for extraction


def test_classification_and_dynamic_labels(tmp_path):
    _tree(tmp_path, ["s1.mp3", "s2.mp3"])
    (tmp_path / "cls.csv").write_text("track_id,mood\ns1,happy\ns2,sad\n")
    (tmp_path / "dyn.csv").write_text("track_id,time_s,valence,arousal\ns1,1.0,0.1,0.2\ns1,0.5,0.0,0.1\ns2,0.5,-0.2,0.3\n")
    config = {"labels": str(tmp_path / "cls.csv"), "class_column": "mood", "dynamic_labels": "dyn.csv",
              "scale": [-1, 1]}
    prepared = DATASETS.get("folder")(tmp_path, config).load(None)
    assert prepared.spec.task == "classification" and prepared.spec.classes == ["happy", "sad"]
    dyn = prepared.dynamic_labels
    assert dyn[dyn.track_id == "s1"]["time_s"].tolist() == [0.5, 1.0]
    assert prepared.spec.dynamic_hop_s == 0.5 and prepared.spec.dynamic_scale == (-1.0, 1.0)


def test_bad_config_errors_name_the_problem(tmp_path):
    _tree(tmp_path, ["a.mp3"])
    (tmp_path / "l.csv").write_text("name,score\na,1\n")
    with pytest.raises(ValueError, match="l.csv needs a 'track_id' or 'file' column"):
        DATASETS.get("folder")(tmp_path, {"labels": "l.csv"}).load(None)
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        DATASETS.get("folder")(tmp_path, {"labels": "missing.csv"}).load(None)
    with pytest.raises(ValueError, match="scale"):
        DATASETS.get("folder")(tmp_path, {"labels": "l.csv", "scale": "high"}).load(None)
    with pytest.raises(FileNotFoundError, match="dataset.root"):
        DATASETS.get("folder")(tmp_path / "nope", {}).load(None)


def _study(root, n=30, seed=0):
    """A study's folder: n clips, three scales of their own, free mood tags, a genre column."""
    import numpy as np

    rng = np.random.default_rng(seed)
    _tree(root, [f"clips/s{i:02d}.wav" for i in range(n)])
    rows = ["file,tension,energy,valence,mood,genre"]
    for i in range(n):
        tags = ";".join(t for t, on in (("happy", i % 2 == 0), ("calm", i % 3 == 0), ("dark", i % 5 == 0)) if on)
        rows.append(f"clips/s{i:02d}.wav,{rng.uniform(1, 7):.3f},{rng.uniform(0, 10):.3f},{rng.uniform(-1, 1):.3f},"
                    f"{tags},{'rock' if i % 2 else 'jazz'}")
    (root / "study.csv").write_text("\n".join(rows) + "\n")
    return {"labels": "study.csv", "targets": ["tension", "energy", "valence"], "scale": [-1, 1],
            "scales": {"tension": [1, 7], "energy": "0..10"}, "tags_column": "mood", "metadata": ["genre"]}


def test_any_targets_with_own_scales_tags_column_and_metadata(tmp_path, caplog):
    config = _study(tmp_path)
    lines = (tmp_path / "study.csv").read_text().splitlines()
    parts = lines[4].split(",")  # clips/s03
    parts[1] = "9.5"  # tension beyond its 1..7
    lines[4] = ",".join(parts)
    (tmp_path / "study.csv").write_text("\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING, logger="moodflow.datasets"):
        prepared = DATASETS.get("folder")(tmp_path, config).load(None)
    spec = prepared.spec
    assert spec.task == "regression" and spec.static_targets == ["tension", "energy", "valence"]
    assert spec.target_scales == {"tension": (1.0, 7.0), "energy": (0.0, 10.0)} and spec.scale == (-1.0, 1.0)
    assert spec.tags == ["calm", "dark", "happy"] and spec.class_column is None
    labels = prepared.static_labels.set_index("track_id")
    assert list(labels.columns) == ["tension", "energy", "valence", "calm", "dark", "happy"]
    assert labels.loc["clips/s00", ["calm", "dark", "happy"]].tolist() == [1.0, 1.0, 1.0]
    assert labels.loc["clips/s01", ["calm", "dark", "happy"]].tolist() == [0.0, 0.0, 0.0]
    # the off-scale tension loses only that value: the song keeps its other labels and tags
    assert "'tension' outside the scale [1, 7]" in caplog.text and "clips/s03" in caplog.text
    assert np.isnan(labels.loc["clips/s03", "tension"]) and labels.loc["clips/s03", "calm"] == 1.0
    assert prepared.manifest.set_index("track_id").loc["clips/s01", "genre"] == "rock"
    prepared.write(tmp_path / "out")
    assert type(prepared).read(tmp_path / "out").spec == spec


def test_class_column_tag_columns_and_targets_in_one_csv(tmp_path):
    _tree(tmp_path, ["a.mp3", "b.mp3", "c.mp3"])
    (tmp_path / "l.csv").write_text("track_id,arousal,quadrant,sad,epic\na,0.5,Q1,0,1\nb,,Q3,1,0\nc,0.1,,1,2\n")
    config = {"labels": "l.csv", "targets": ["arousal"], "class_column": "quadrant", "tags": ["sad", "epic"]}
    prepared = DATASETS.get("folder")(tmp_path, config).load(None)
    spec = prepared.spec
    assert (spec.task, spec.static_targets, spec.class_column, spec.classes, spec.tags) == (
        "regression", ["arousal"], "quadrant", ["Q1", "Q3"], ["sad", "epic"])
    labels = prepared.static_labels.set_index("track_id")
    assert labels.loc["b", "quadrant"] == "Q3" and np.isnan(labels.loc["b", "arousal"])
    assert np.isnan(labels.loc["c", "epic"]) and labels.loc["c", "arousal"] == 0.1
    with pytest.raises(ValueError, match=r"scales: \['tenson'\] are not among the targets"):
        DATASETS.get("folder")(tmp_path, {**config, "scales": {"tenson": [1, 7]}}).load(None)
    with pytest.raises(ValueError, match="has no tags column 'moods'"):
        DATASETS.get("folder")(tmp_path, {"labels": "l.csv", "tags_column": "moods"}).load(None)


def test_dynamic_labels_of_any_target(tmp_path):
    _tree(tmp_path, ["s1.mp3"])
    (tmp_path / "dyn.csv").write_text("track_id,time_s,tension,energy\ns1,0.5,3,0.2\ns1,1.0,4,0.4\ns1,1.5,9,0.5\n")
    prepared = DATASETS.get("folder")(tmp_path, {"dynamic_labels": "dyn.csv", "scales": {"tension": [1, 7]}}).load(None)
    assert prepared.spec.dynamic_targets == ["tension", "energy"] and prepared.spec.has_labels
    assert prepared.dynamic_labels["time_s"].tolist() == [0.5, 1.0]  # tension 9 is off its scale
    assert prepared.spec.scale_of("tension", dynamic=True) == (1.0, 7.0)


def test_three_targets_and_tags_train_report_and_predict(tmp_path):
    from tests.helpers.synthetic_data import store_for_prepared

    from moodflow.app.predict import Predictor
    from moodflow.prepare.run import prepare_dataset
    from moodflow.report.run import write_report
    from moodflow.train.run import train_and_evaluate

    config = {**_study(tmp_path / "study"), "class_column": "genre"}  # three targets, tags and classes
    prepare_dataset({"name": "folder", "root": str(tmp_path / "study"), "folder": config}, tmp_path / "prepared")
    store = store_for_prepared(tmp_path / "prepared", tmp_path / "chroma.h5", noise=0.02, n_noise=0,
                               extractor="chroma")
    model_dir = tmp_path / "models/chroma/ridge"
    metrics = train_and_evaluate(store_path=store, prepared_dir=tmp_path / "prepared", feature_set="chroma",
                                 model_name="ridge", model_config={"alpha": 1.0}, out_dir=model_dir,
                                 importance={"repeats": 0})
    assert sorted(metrics["static"]) == ["energy", "tension", "valence"]
    assert metrics["tagging"]["tags"]["pr_auc"] > 0.9  # macro over the tags, as for Jamendo
    assert metrics["classification"]["genre"]["macro_f1"] > 0.9
    assert sorted(json.loads((model_dir / "model.json").read_text())["tasks"]) == ["classification", "static", "tagging"]
    predictions = pd.read_csv(model_dir / "predictions.csv")
    assert sorted(predictions[predictions["task"] == "tagging"]["target"].unique()) == ["calm", "dark", "happy"]
    params = {"dataset": {"name": "folder"}, "features": {"sets": ["chroma"]}, "train": {"models": ["ridge"]}}
    report = write_report(params, tmp_path / "models", tmp_path / "reports")
    entry = report["chroma"]["ridge"]
    assert {"energy", "tension", "valence"} <= set(entry) and entry["tagging"]["tags"]["pr_auc"] > 0.9
    assert report["best"] == {**report["best"], "model": "ridge", "metric": "r2"} and report["best"]["score"] > 0.5
    text = (tmp_path / "reports/comparison.md").read_text()
    assert "targets tension (1-7), energy (0-10), valence on -1..1; classes of genre (jazz, rock); 3 tags" in text
    assert "| chroma | ridge | tension | 1-7 |" in text and "| chroma | ridge | valence | -1..1 |" in text and "| chroma | ridge | tags |" in text
    predictor = Predictor(model_dir, mood_tags=False)
    labels = pd.read_csv(tmp_path / "prepared/labels_static.csv").set_index("track_id").loc["clips/s04"]
    vector = np.asarray([labels[c] for c in ["tension", "energy", "valence", "calm", "dark", "happy"]]
                        + [labels["genre"] == "jazz", labels["genre"] == "rock"], float)
    out = predictor.predict_static(vector)
    assert out["class"] == labels["genre"] and sorted(out["class_scores"]) == ["jazz", "rock"]
    assert sorted(out["values"]) == ["energy", "tension", "valence"] and sorted(out["tags"]) == ["calm", "dark", "happy"]
    assert abs(out["values"]["tension"] - labels["tension"]) < 1.0


def test_unlabelled_folder_trains_nothing_and_the_report_says_so(tmp_path):
    from tests.helpers.synthetic_data import store_for_prepared

    from moodflow.prepare.run import prepare_dataset
    from moodflow.report.run import write_report
    from moodflow.train.run import train_and_evaluate

    _tree(tmp_path / "music", [f"a/{i}.mp3" for i in range(4)])
    prepare_dataset({"name": "folder", "root": str(tmp_path / "music")}, tmp_path / "prepared")
    store = store_for_prepared(tmp_path / "prepared", tmp_path / "s.h5")
    for model in ("ridge", "seq"):
        assert train_and_evaluate(store_path=store, prepared_dir=tmp_path / "prepared", feature_set="synthetic",
                                  model_name=model, model_config={}, out_dir=tmp_path / f"models/synthetic/{model}",
                                  dynamic=True) == {}
        manifest = json.loads((tmp_path / f"models/synthetic/{model}/model.json").read_text())
        assert manifest["status"] == "no labels: nothing to train"
    params = {"dataset": {"name": "folder"}, "features": {"sets": ["synthetic"]}, "train": {"models": ["ridge", "seq"]}}
    report = write_report(params, tmp_path / "models", tmp_path / "reports")
    assert report["synthetic"]["ridge"] == {"status": "no labels: nothing to train"} and report["best"] == {}
    text = (tmp_path / "reports/comparison.md").read_text()
    assert "- labels: none (extraction-only: nothing to train)" in text
    assert "has no labels: it is extraction-only" in text and "## Not scored" not in text


def test_dynamic_only_labels_of_own_targets_train(tmp_path):
    from tests.helpers.synthetic_data import store_for_prepared

    from moodflow.prepare.run import prepare_dataset
    from moodflow.train.run import train_and_evaluate

    _tree(tmp_path / "m", [f"s{i:02d}.wav" for i in range(30)])
    rows = ["track_id,time_s,tension,energy"] + [f"s{i:02d},{t / 2},{(i + t) % 7 + 1},{t / 10}"
                                                 for i in range(30) for t in range(1, 8)]
    (tmp_path / "m/dyn.csv").write_text("\n".join(rows) + "\n")
    prepare_dataset({"name": "folder", "root": str(tmp_path / "m"), "folder": {"dynamic_labels": "dyn.csv"}},
                    tmp_path / "prepared")
    store = store_for_prepared(tmp_path / "prepared", tmp_path / "s.h5", n_noise=4)
    metrics = train_and_evaluate(store_path=store, prepared_dir=tmp_path / "prepared", feature_set="synthetic",
                                 model_name="ridge", model_config={}, out_dir=tmp_path / "model", dynamic=True,
                                 importance={"repeats": 0})
    assert list(metrics) == ["dynamic"] and sorted(metrics["dynamic"]) == ["energy", "tension"]
    assert metrics["dynamic"]["tension"]["n_tracks"] == 30
    with pytest.raises(ValueError, match="has only dynamic labels and train.dynamic is false"):
        train_and_evaluate(store_path=store, prepared_dir=tmp_path / "prepared", feature_set="synthetic",
                           model_name="ridge", model_config={}, out_dir=tmp_path / "model2")
