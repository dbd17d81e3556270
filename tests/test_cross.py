"""``train.protocol.kind: cross``: train on one member of a joint run, test on another (the
cross-corpus protocol), the within-dataset CV on the diagonal, the matrix in cross.csv,
metrics.json and the report; settings checked; the limits stage knows the protocol."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import r2_score

from moodflow.core.errors import SettingsError
from moodflow.evaluation.cross import check_cross_settings
from moodflow.evaluation.protocols import make_folds
from moodflow.report.run import write_report
from moodflow.train.limits import plan_for
from moodflow.train.run import train_and_evaluate
from moodflow.train.settings import TrainSettings
from moodflow.core.config import build
from tests.helpers.joint_real import first_tracks, prepare_joint, store_for_tracks
from tests.helpers.real_data import SHARED, needs_shared

CROSS = {"kind": "cross", "folds": 3, "train_on": ["deam", "pmemo"], "test_on": ["deam", "pmemo"]}
FEW = {"min_train": 10, "min_test": 5, "jobs": 1, "importance": {"repeats": 0}}


def test_cross_folds_hold_out_whole_datasets_and_cv_each_test_set():
    ids = np.array([f"a/{i}" for i in range(12)] + [f"b/{i}" for i in range(9)] + [f"c/{i}" for i in range(6)])
    run = make_folds(ids, kind="cross", folds=3, seed=0, train_on=["a", "b"], test_on=["b", "c"])
    by = {f.name: f for f in run.folds}
    assert set(by) == {"x-a", "x-b", *(f"w-{m}-r0f{k}" for m in "bc" for k in range(3))}
    assert set(by["x-a"].train) == {f"a/{i}" for i in range(12)}
    assert set(by["x-a"].test) == {*(f"b/{i}" for i in range(9)), *(f"c/{i}" for i in range(6))}
    assert set(by["x-b"].test) == {f"c/{i}" for i in range(6)}  # never tested on its own tracks
    for m in "bc":
        within = [by[f"w-{m}-r0f{k}"] for k in range(3)]
        assert all(set(f.train) | set(f.test) <= {t for t in ids if t.startswith(m)} for f in within)
        assert sorted(t for f in within for t in f.test) == sorted(t for t in ids if t.startswith(m))


@pytest.mark.parametrize("protocol, names, problem", [
    ({"kind": "cross", "train_on": ["deam"], "test_on": ["pmemo"]}, "deam", "needs a joint run"),
    ({"kind": "cross", "train_on": ["deam"], "test_on": ["emomusic"]}, ["deam", "pmemo"], r"\['emomusic'\] are not in"),
    ({"kind": "cross", "train_on": [], "test_on": ["pmemo"]}, ["deam", "pmemo"], "train_on: empty"),
    ({"kind": "cross", "train_on": ["deam"], "test_on": ["deam"]}, ["deam", "pmemo"], "a pair of different"),
    ({"kind": "kfold", "train_on": ["deam"], "test_on": []}, ["deam", "pmemo"], "apply to kind cross only"),
])
def test_cross_settings_are_checked(protocol, names, problem):
    with pytest.raises(SettingsError, match=problem):
        check_cross_settings(protocol, names)


def test_the_check_stage_refuses_a_member_not_in_the_run():
    from moodflow.check.names import check_names

    params = {"dataset": {"name": ["deam", "pmemo"]}, "features": {"sets": ["chroma"], "chroma": {}},
              "train": {"models": ["ridge"], "ridge": {}, "protocol": {"kind": "cross", "train_on": ["deam"],
                                                                        "test_on": ["jamendo"]}}}
    with pytest.raises(SettingsError, match=r"test_on: \['jamendo'\] are not in dataset.name"):
        check_names(params)


@pytest.fixture(scope="module")
def crossed(tmp_path_factory) -> dict:
    """deam + pmemo from the shared layouts, 40 tracks of each with features; ridge and multitask
    trained under the cross protocol both ways."""
    if SHARED is None:
        pytest.skip("MOODFLOW_SHARED_DATA is not set (CI sets it to ../shared/data)")
    root = tmp_path_factory.mktemp("cross")
    prepared = prepare_joint(SHARED, root / "prepared", ["deam", "pmemo"])
    ids = first_tracks(prepared, 40, with_columns=["valence"])
    store = store_for_tracks(prepared, root / "features/synthetic.h5", ids, ["valence", "arousal"])
    out = {}
    for model, config in (("ridge", {"alpha": 1.0}), ("multitask", {"epochs": 40})):
        out[model] = root / "models/synthetic" / model
        train_and_evaluate(store_path=store, prepared_dir=root / "prepared", feature_set="synthetic",
                           model_name=model, model_config=config, protocol=CROSS, seed=0, out_dir=out[model], **FEW)
    return {"root": root, "prepared": prepared, **out}


@needs_shared
@pytest.mark.parametrize("model", ["ridge", "multitask"])
def test_the_matrix_is_written_and_each_cell_is_on_the_test_set_s_own_scale(crossed, model):
    folder = crossed[model]
    metrics = json.loads((folder / "metrics.json").read_text())
    table = pd.read_csv(folder / "cross.csv")
    assert table.to_dict("records") == pd.DataFrame(metrics["cross"]["cells"]).to_dict("records")
    cells = table.set_index(["train", "test", "target"])
    assert set(cells.index) == {(t, u, v) for t in ("deam", "pmemo") for u in ("deam", "pmemo")
                                for v in ("valence", "arousal")}
    assert set(cells.loc[("deam", "deam", "valence"), ["kind"]]) == {"within"} or \
        cells.loc[("deam", "deam", "valence"), "kind"] == "within"
    assert cells.loc[("deam", "pmemo", "valence"), "kind"] == "cross"
    assert cells.loc[("deam", "pmemo", "valence"), "n_tracks"] == 40
    # recomputed by hand: the deam-trained fold's rows of pmemo tracks, mapped back to 0-1
    preds = pd.read_csv(folder / "predictions.csv", dtype={"track_id": str})
    rows = preds[(preds["fold"] == "x-deam") & preds["track_id"].str.startswith("pmemo/") & (preds["target"] == "valence")]
    assert len(rows) == 40
    y_true, y_pred = (rows["y_true"] - 1) / 8, (rows["y_pred"] - 1) / 8
    truth = pd.read_csv(SHARED / "PMEmo2019/annotations/static_annotations.csv").set_index("musicId")
    np.testing.assert_allclose(y_true, truth.loc[rows["track_id"].str[6:].astype(int), "Valence(mean)"], atol=1e-9)
    assert cells.loc[("deam", "pmemo", "valence"), "value"] == pytest.approx(r2_score(y_true, y_pred), abs=1e-9)
    # features carry the labels on the joint scale, so the model transfers; without the scale map it could not
    assert cells.loc[("deam", "pmemo", "valence"), "value"] > 0.5
    # the headline numbers are the cross folds' only
    assert metrics["static"]["valence"]["n_folds"] == 2 and metrics["static"]["valence"]["n_tracks"] == 80


@needs_shared
def test_the_report_shows_the_matrix(crossed):
    params = {"dataset": {"name": ["deam", "pmemo"]}, "features": {"sets": ["synthetic"]},
              "train": {"models": ["ridge", "multitask"], "protocol": CROSS, "seed": 0}}
    write_report(params, crossed["root"] / "models", crossed["root"] / "reports")
    text = (crossed["root"] / "reports/comparison.md").read_text()
    assert "## Cross-corpus evaluation" in text and "synthetic/ridge: valence R²" in text
    table = pd.read_csv(crossed["ridge"] / "cross.csv").set_index(["train", "test", "target"])
    assert f"{table.loc[('deam', 'pmemo', 'valence'), 'value']:.3f} (n 40)" in text
    assert " CV" in text and "## Joint training" not in text


@needs_shared
def test_the_limits_stage_knows_the_cross_protocol(crossed):
    settings = build(TrainSettings, {"protocol": CROSS, "min_train": 10, "min_test": 5}, "train")
    # every labelled track counts (as with imported features): the shared folder has little audio
    plan, text = plan_for(crossed["root"] / "prepared", settings, ["provided"])
    assert plan.ok, text
    settings = build(TrainSettings, {"protocol": CROSS, "min_train": 5000, "min_test": 5}, "train")
    plan, text = plan_for(crossed["root"] / "prepared", settings, ["provided"])
    assert plan.blocking and "the cross-corpus folds train on" in text, text
