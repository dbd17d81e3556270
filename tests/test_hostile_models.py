"""Model files from others: a file of trusted types with indices that point outside its arrays
must be refused before anything predicts with it (before this check, a crafted tree or booster
made `moodflow predict` segfault, and `hidden: 3e9` in network.json asked for 48 GB).

Every crafted file is made from a real trained model by changing one number."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.helpers.hostile_files import edit_skops_array, ubjson
from moodflow.models.io import load_model
from moodflow.models.safe_load import UntrustedModelError, load_skops
from moodflow.models.xgb_check import parse_model, read_booster
from tests.helpers.synthetic_data import make_run, train_each

MODELS = {
    "random_forest": {"n_estimators": 3},
    "xgboost": {"n_estimators": 3, "device": "cpu"},
    "svm": {},
    "knn": {"n_neighbors": 3},
    "mlp": {"epochs": 2, "hidden": 8, "device": "cpu"},
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile")
    store, prepared = make_run(folder, n_tracks=12, n_feat=4, dynamic=False)
    return train_each(store, prepared, MODELS, folder / "models")


def _copy(trained: dict[str, Path], name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(trained[name], tmp_path / name))


X = np.random.default_rng(1).normal(size=(3, 4))


@pytest.mark.parametrize("name", list(MODELS))
def test_untouched_models_load_and_predict(trained, name):
    pred = load_model(trained[name]).predict(X)
    assert pred.shape == (3, 2) and np.isfinite(pred).all()


# -- scikit-learn trees and libsvm in skops files ------------------------------------------------
def _set(field: str, node: int, value: int):
    def edit(nodes):
        nodes[field][node] = value
        return nodes
    return edit


TREE_CASES = {
    "left child 5e10": (_set("left_child", 0, 50_000_000_000), r"node 0's left child 50000000000 is outside 1\.\.\d"),
    "right child -7": (_set("right_child", 0, -7), r"node 0's right child -7 is outside"),
    "a leaf with one child": (_set("left_child", 1, 1), r"node 1 has one child|node 1's left child|do not form a tree"),
    "feature 1e9": (_set("feature", 0, 1_000_000_000), r"node 0 splits on feature 1000000000 of a model with 4 features"),
    "negative feature": (_set("feature", 0, -3), r"splits on feature -3"),
    "a cycle back to the root": (_set("left_child", 0, 0), r"node 0's left child 0 is outside"),
    "two parents": (lambda n: (n.__setitem__("right_child", np.where(np.arange(len(n)) == 0, n["left_child"][0],
                                                                     n["right_child"])), n)[1],
                    r"do not form a tree"),
}


@pytest.mark.parametrize("case", list(TREE_CASES))
def test_crafted_forest_tree_is_refused(trained, tmp_path, case):
    edit, problem = TREE_CASES[case]
    folder = _copy(trained, "random_forest", tmp_path)
    edit_skops_array(trained["random_forest"] / "model.skops", folder / "model.skops", "Tree", "nodes", edit)
    with pytest.raises(UntrustedModelError, match=problem) as info:
        load_model(folder)
    assert str(folder / "model.skops") in str(info.value) and "estimators_[0].tree_" in str(info.value)


def test_crafted_svm_support_vectors_are_refused(trained, tmp_path):
    """libsvm reads as many support vectors as _n_support says: one more than stored is an
    out-of-bounds read (sklearn checks only the total of n_support_, not the arrays' shapes)."""
    folder = _copy(trained, "svm", tmp_path)
    edit_skops_array(trained["svm"] / "model.skops", folder / "model.skops", "SVR", "support_",
                     lambda s: (s.__setitem__(0, 10_000), s)[1], which=1)
    with pytest.raises(UntrustedModelError, match=r"support_ indexes outside the \d+ training rows"):
        load_model(folder)
    edit_skops_array(trained["svm"] / "model.skops", folder / "model.skops", "SVR", "_dual_coef_",
                     lambda d: d[:, :-1].copy(), which=1)
    with pytest.raises(UntrustedModelError, match=r"_dual_coef_ has shape \(1, \d+\), expected \(1, \d+\)"):
        load_model(folder)


def test_crafted_knn_row_count_is_refused(trained, tmp_path):
    folder = _copy(trained, "knn", tmp_path)
    edit_skops_array(trained["knn"] / "model.skops", folder / "model.skops", "KNeighborsRegressor", "_fit_X",
                     lambda x: x[:, :3].copy())
    with pytest.raises(UntrustedModelError, match=r"_fit_X has shape \(12, 3\), expected \(\?, 4\)"):
        load_model(folder)


def test_a_declared_width_the_model_does_not_take_is_refused(trained, tmp_path):
    folder = _copy(trained, "random_forest", tmp_path)
    manifest = json.loads((folder / "model.json").read_text())
    manifest["n_features"] = 6373
    (folder / "model.json").write_text(json.dumps(manifest))
    with pytest.raises(UntrustedModelError, match=r"declares 6373 input features but the static model takes 4"):
        load_model(folder)


def test_a_skops_file_holding_a_booster_is_refused(trained, tmp_path):
    """A Booster inside a skops file would reach XGBoost's parser unchecked: no longer trusted."""
    import skops.io as sio
    import xgboost

    est = xgboost.XGBRegressor(n_estimators=2).fit(X, X[:, 0])
    path = tmp_path / "model.skops"
    sio.dump(est, path)
    with pytest.raises(UntrustedModelError, match=r"untrusted types .*xgboost\.core\.Booster"):
        load_skops(path)


def test_an_estimator_moodflow_cannot_check_is_refused(tmp_path):
    """Trusted types only (trees), but an estimator whose fitted state moodflow does not check."""
    import skops.io as sio
    from sklearn.ensemble import ExtraTreesRegressor

    path = tmp_path / "model.skops"
    sio.dump(ExtraTreesRegressor(n_estimators=2).fit(X, X[:, 0]), path)
    with pytest.raises(UntrustedModelError, match=r"cannot check a fitted .*ExtraTreesRegressor"):
        load_skops(path)


# -- XGBoost boosters --------------------------------------------------------------------------------
def _booster(trained: dict[str, Path]) -> dict:
    return parse_model((trained["xgboost"] / "model.ubj").read_bytes())


def _tree(model: dict, i: int = 0) -> dict:
    return model["learner"]["gradient_booster"]["model"]["trees"][i]


def _edit_tree(key: str, node: int, value: int):
    def edit(model):
        _tree(model)[key][node] = value
    return edit


def _edit_param(key: str, value: str):
    def edit(model):
        model["learner"]["learner_model_param"][key] = value
    return edit


XGB_CASES = {
    "child 5e8": (_edit_tree("left_children", 0, 500_000_000), r"tree 0: node 0's left child 500000000 is outside 1\.\.\d+"),
    "feature 1e9": (_edit_tree("split_indices", 0, 1_000_000_000), r"node 0 splits on feature 1000000000 of a model with 4 features"),
    "self loop": (_edit_tree("right_children", 0, 0), r"node 0's right child 0 is outside"),
    "num_nodes beyond the arrays": (lambda m: _tree(m)["tree_param"].__setitem__("num_nodes", "99"),
                                    r"tree 0.left_children has \d+ entries for 99 nodes"),
    "num_feature 1e6": (_edit_param("num_feature", "1000000"), r"takes 1000000 features but its preprocessing gives 4"),
    "tree output 9": (lambda m: m["learner"]["gradient_booster"]["model"]["tree_info"].__setitem__(0, 9),
                      r"tree_info does not give each of the \d+ trees an output below 2"),
    "gblinear": (lambda m: m["learner"]["gradient_booster"].__setitem__("name", "gblinear"), r"'gblinear' is not gbtree"),
    "categorical split": (lambda m: _tree(m)["split_type"].__setitem__(0, 1), r"categorical splits"),
}


@pytest.mark.parametrize("case", list(XGB_CASES))
def test_crafted_xgboost_booster_is_refused(trained, tmp_path, case):
    edit, problem = XGB_CASES[case]
    model = _booster(trained)
    edit(model)
    folder = _copy(trained, "xgboost", tmp_path)
    (folder / "model.ubj").write_bytes(ubjson(model))
    with pytest.raises(UntrustedModelError, match=problem) as info:
        load_model(folder)
    assert str(folder / "model.ubj") in str(info.value)


def test_the_crafting_itself_is_faithful(trained, tmp_path):
    """Re-encoding an untouched booster with the test's writer loads and predicts identically,
    so the refusals above come from the edits, not from the writer."""
    folder = _copy(trained, "xgboost", tmp_path)
    (folder / "model.ubj").write_bytes(ubjson(_booster(trained)))
    np.testing.assert_array_equal(load_model(folder).predict(X), load_model(trained["xgboost"]).predict(X))


@pytest.mark.parametrize("damage, problem", [
    (lambda b: b[: len(b) // 2], "ends early"),
    (lambda b: b + b"{}", "bytes after the end of the model"),
    (lambda b: b.replace(b"num_trees", b"num_treez", 1), "no gbtree_model_param.num_trees"),
    (lambda b: b"{" + b"L" + (2**60).to_bytes(8, "big") + b"x}", "ends early"),
])
def test_damaged_ubjson_is_refused(trained, tmp_path, damage, problem):
    path = tmp_path / "model.ubj"
    path.write_bytes(damage((trained["xgboost"] / "model.ubj").read_bytes()))
    with pytest.raises(UntrustedModelError, match=problem):
        read_booster(path, 4)


def test_json_boosters_are_checked_too(trained, tmp_path):
    import xgboost

    booster = xgboost.Booster()
    booster.load_model(read_booster(trained["xgboost"] / "model.ubj", 4))
    path = tmp_path / "model.json"
    path.write_bytes(bytes(booster.save_raw("json")))
    read_booster(path, 4)
    model = json.loads(path.read_text())
    _tree(model)["left_children"][0] = 12345
    path.write_text(json.dumps(model))
    with pytest.raises(UntrustedModelError, match="left child 12345"):
        read_booster(path, 4)
    path.write_text('{"learner": {}, "learner": {}}')
    with pytest.raises(UntrustedModelError, match="appears twice"):
        read_booster(path, 4)


# -- neural networks ---------------------------------------------------------------------------------
@pytest.mark.parametrize("hidden, problem", [
    (3_000_000_000, r"network.hidden is 3000000000, beyond any network moodflow trains"),
    (100_000, r"network.json describes a network of 700,018 values but model.safetensors holds 74"),  # clip: +2 x 4 inputs
    (4.5, r"refusing this network"),
])
def test_network_config_must_match_its_weights(trained, tmp_path, hidden, problem):
    folder = _copy(trained, "mlp", tmp_path)
    config = json.loads((folder / "network.json").read_text())
    config["hidden"] = hidden
    (folder / "network.json").write_text(json.dumps(config))
    with pytest.raises(UntrustedModelError, match=problem):
        load_model(folder)


def test_predict_refuses_a_crafted_model_without_crashing(trained, tmp_path):
    """The command line a user runs: one error line, exit 2 — not a segfault (rc -11/139)."""
    from moodflow.features import build_extractor

    folder = _copy(trained, "random_forest", tmp_path)
    edit_skops_array(trained["random_forest"] / "model.skops", folder / "model.skops", "Tree", "nodes",
                     _set("feature", 0, 1_000_000_000))
    manifest = json.loads((folder / "model.json").read_text())  # as if trained on an audio feature set
    manifest.update(feature_extractor="chroma", feature_config=build_extractor("chroma", {}, {}).config_dict())
    (folder / "model.json").write_text(json.dumps(manifest))
    audio = tmp_path / "a.wav"
    sf.write(audio, np.zeros(22050, dtype=np.float32), 22050)
    proc = subprocess.run([sys.executable, "-m", "moodflow", "predict", "--model", str(folder), str(audio)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "refusing this model" in proc.stderr and "splits on feature 1000000000" in proc.stderr
