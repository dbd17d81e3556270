"""Limits said once, before any audio is decoded (the `limits` stage), class names in every
message, and a stratified protocol that works whatever the other label kinds are."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

from tests.helpers.pipeline_helpers import dvc, make_clone
from tests.helpers.signals import tone
from tests.helpers.synthetic_data import FEW_TRACKS, make_run

from moodflow.core.config import build
from moodflow.evaluation.limits import Minima, PartTracks, plan_limits
from moodflow.evaluation.protocols import InsufficientData
from moodflow.prepare.run import prepare_dataset
from moodflow.train.limits import check_limits
from moodflow.train.run import train_and_evaluate
from moodflow.train.settings import TrainSettings


def _study(root, n=12):
    """``n`` generated clips of a folder study: valence/arousal on 1–9 and a quadrant class."""
    music = root / "music"
    music.mkdir(parents=True)
    rows = []
    for i in range(n):
        q = i % 4
        sf.write(music / f"clip{i:02d}.wav", tone(220.0 + 40 * i, seconds=1.0), 22050)
        rows.append({"file": f"clip{i:02d}.wav", "valence": (6.5 if q in (0, 3) else 3.0) + 0.1 * i,
                     "arousal": (6.5 if q in (0, 1) else 3.0) - 0.05 * i, "quadrant": f"Q{q + 1}"})
    pd.DataFrame(rows).to_csv(root / "labels.csv", index=False)
    return {"name": "folder", "root": str(music),
            "folder": {"labels": str(root / "labels.csv"), "scale": [1, 9], "class_column": "quadrant",
                       "targets": ["valence", "arousal"]}}


def test_every_limit_of_a_twelve_clip_study_in_one_message(tmp_path):
    prepare_dataset(_study(tmp_path), tmp_path / "prepared")
    with pytest.raises(InsufficientData) as info:
        check_limits(tmp_path / "prepared", build(TrainSettings, {}, "train"), ["chroma"], tmp_path / "marker")
    text = str(info.value)
    assert text.startswith("limits: this run would score nothing, so it stops before decoding any audio. "
                           "12 labelled tracks (Q1 3, Q2 3, Q3 3, Q4 3); train.protocol auto, 5 folds × 1 repeat")
    assert ("static valence, arousal (kfold): 5 folds of 12 tracks train on 9–10 tracks < train.min_train 20 and "
            "test 2–3 tracks < train.min_test 5: lower train.min_train to 9 and train.min_test to 2, or add tracks "
            "(5 folds need ≥ 25 tracks)") in text
    assert "class Q1 has 3" in text and "train on only 2 tracks of Q1, 2 of Q2, 2 of Q3, 2 of Q4 < " \
                                       "train.min_per_class 3" in text
    assert "class 0" not in text
    assert ("settings that score every part: -S train.protocol.folds=3 -S train.min_train=8 -S train.min_test=4 "
            "-S train.min_per_class=2") in text
    assert "-S train.on_insufficient=extract" in text and not (tmp_path / "marker").exists()
    # opting in decodes anyway; the fixed settings pass
    check_limits(tmp_path / "prepared", build(TrainSettings, {"on_insufficient": "extract"}, "train"), ["chroma"],
                 tmp_path / "marker")
    assert (tmp_path / "marker").exists()
    fixed = {"protocol": {"folds": 3}, "min_train": 8, "min_test": 4, "min_per_class": 2}
    assert check_limits(tmp_path / "prepared", build(TrainSettings, fixed, "train"), ["chroma"]).ok


def test_tracks_counted_are_those_with_audio_unless_a_set_imports_features(tmp_path):
    from moodflow.stores.prepared import PreparedDataset
    from moodflow.train.limits import audio_free, usable_tracks

    config = _study(tmp_path)
    for clip in ("clip00.wav", "clip01.wav", "clip02.wav"):
        (tmp_path / "music" / clip).unlink()
    prepare_dataset(config, tmp_path / "prepared")
    prepared = PreparedDataset.read(tmp_path / "prepared")
    assert audio_free(["provided"]) and not audio_free(["chroma", "compare"])
    assert len(usable_tracks(prepared, tmp_path / "prepared", any_track=False)) == 9
    fixed = {"protocol": {"folds": 3}, "min_train": 8, "min_test": 4, "min_per_class": 2}
    with pytest.raises(InsufficientData, match=r"^limits: .* 9 labelled tracks \(Q1 2, Q2 2, Q3 2, Q4 3\)"):
        check_limits(tmp_path / "prepared", build(TrainSettings, fixed, "train"), ["chroma"])


def test_stratified_works_whatever_the_other_label_kinds_are(tmp_path):
    """Regression targets, classes and tags in one dataset: a stratified protocol stratifies the
    regression and tag parts on the class column (it used to refuse: 'needs class labels')."""
    store, prepared = make_run(tmp_path / "data", task="multitask", n_tracks=36, dynamic=False)
    out = tmp_path / "ridge"
    metrics = train_and_evaluate(**FEW_TRACKS, store_path=store, prepared_dir=prepared, feature_set="synthetic",
                                 model_name="ridge", model_config={"alpha": 1.0}, out_dir=out, seed=0,
                                 protocol={"kind": "stratified", "folds": 3}, importance={"repeats": 0})
    assert set(metrics) == {"static", "classification", "tagging"}
    manifest = json.loads((out / "model.json").read_text())
    assert {p["kind"] for p in manifest["protocol_run"].values()} == {"stratified"}
    labels = pd.read_csv(prepared / "labels_static.csv").set_index("track_id")["quadrant"]
    preds = pd.read_csv(out / "predictions.csv")
    static = preds[(preds["task"] == "static") & (preds["target"] == "valence")]
    overall = labels.value_counts(normalize=True)
    for _, fold in static.groupby("fold"):  # each held-out fold keeps the class balance
        shares = labels[fold["track_id"]].value_counts(normalize=True)
        assert (shares.reindex(overall.index, fill_value=0) - overall).abs().max() < 0.12


def test_a_refused_fold_names_its_class(tmp_path):
    store, prepared = make_run(tmp_path / "data", task="classification", n_tracks=24, dynamic=False)
    train_and_evaluate(store_path=store, prepared_dir=prepared, feature_set="synthetic", model_name="ridge",
                       model_config={}, out_dir=tmp_path / "m", seed=0, protocol={"kind": "stratified", "folds": 2},
                       min_train=2, min_test=1, min_per_class=5)
    status = json.loads((tmp_path / "m/model.json").read_text())["status"]
    assert re.fullmatch(r"insufficient data: fold r0f0 trains on \d tracks of class Q\d, fewer than "
                        r"train.min_per_class \(5\)", status)


def test_groups_and_a_published_split_in_the_plan():
    ids = np.array([f"t{i}" for i in range(30)])
    groups = {t: f"g{i % 3}" for i, t in enumerate(ids)}
    plan = plan_limits([PartTracks("static valence", ids)], kind="kfold", folds=5, repeats=1, seed=0,
                       minima=Minima(20, 5, 3), groups=groups)
    (part,) = plan.parts
    assert part.problems[0].startswith("5-fold group CV needs at least 5 groups, this run has 3")
    assert plan.settings == {"train.protocol.folds": 3}  # 3 folds of whole groups: 20 train, 10 test
    splits = pd.DataFrame({"track_id": ids, "split": ["train"] * 26 + ["test"] * 4})
    plan = plan_limits([PartTracks("static valence", ids)], kind="auto", folds=5, repeats=1, seed=0,
                       minima=Minima(20, 5, 3), splits=splits)
    assert plan.parts[0].problems == ["the published split test 4 tracks < train.min_test 5"]
    assert plan.settings == {"train.min_test": 4}


@pytest.mark.slow
def test_the_limits_stage_stops_before_decoding_and_its_settings_never_rerun_decode(tmp_path):
    """Real DVC: the 12-clip study stops at `limits` (nothing decoded), opting in decodes and
    extracts, and the settings the message names then score every part without decoding again."""
    study = _study(tmp_path / "study")
    repo = make_clone(tmp_path / "repo", {"dataset": study, "features": {"sets": ["chroma"], "workers": 1},
                                          "train": {"models": ["ridge"], "importance": {"repeats": 0}}})
    proc = dvc(repo, "repro", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Running stage 'decode'" not in out and not (repo / "data/audio.h5").exists()
    errors = [line for line in out.splitlines() if line.startswith("moodflow: error")]
    assert errors == ["moodflow: error: limits: this run would score nothing, so it stops before decoding any "
                      "audio. 12 labelled tracks (Q1 3, Q2 3, Q3 3, Q4 3); train.protocol auto, 5 folds × 1 repeat; "
                      "train.min_train 20, train.min_test 5, train.min_per_class 3:"]
    assert "Traceback" not in out
    fixes = dict(re.findall(r"-S (train\.[a-z_.]+)=(\d+)", out.split("settings that score every part:")[1]
                            .splitlines()[0]))

    def set_params(**values):
        params = yaml.safe_load((repo / "params.yaml").read_text())
        for key, value in values.items():
            node = params
            *path, last = key.split(".")
            for name in path:
                node = node[name]
            node[last] = value
        (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    set_params(**{"train.on_insufficient": "extract"})
    out = dvc(repo, "repro").stdout
    assert "Running stage 'decode'" in out and "Running stage 'extract@chroma'" in out
    assert json.loads((repo / "models/chroma/ridge/model.json").read_text())["status"].startswith("insufficient data")
    set_params(**{"train.on_insufficient": "stop"}, **{k: int(v) for k, v in fixes.items()})
    changed = set(json.loads(dvc(repo, "status", "--json").stdout or "{}"))
    assert changed == {"check", "limits", "train@chroma-ridge", "report"}  # never decode nor extract
    out = dvc(repo, "repro").stdout
    assert "Running stage 'limits'" in out and "Running stage 'decode'" not in out
    metrics = json.loads((repo / "reports/metrics.json").read_text())["chroma"]["ridge"]
    assert {"valence", "arousal"} <= set(metrics) and "quadrant" in metrics["classification"]
    base = pd.read_csv(repo / "models/chroma/ridge/baseline_predictions.csv")
    assert set(base["baseline"]) == {"mean", "majority", "prior"}
