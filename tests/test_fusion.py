"""Fusion of several stores: block-weighted concatenation (``train.combine.block_weight``) and
stacking (the ``stack`` model): equal weighting inside the fitted pipeline, the default left
byte-identical, stacking strictly inside each training fold (leak test), seeded and saved."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from tests.helpers.synthetic_data import FEW_TRACKS, make_run
from tests.test_training_combined import extra_store

from moodflow.evaluation.protocols import make_folds
from moodflow.models import MODELS
from moodflow.models.blocks import block_edges, block_scale
from moodflow.models.safe_load import dump_skops, load_skops
from moodflow.train.run import train_and_evaluate

PROTOCOL = {"kind": "kfold", "folds": 3, "repeats": 1}
NO_IMPORTANCE = {"repeats": 0, "max_features": 300}


def _two_blocks(n=90, big=40, small=3, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, big)) * rng.uniform(0.5, 5.0, size=big) + 3.0
    B = rng.normal(size=(n, small)) * 10.0
    return np.hstack([A, B]), A, B


def test_block_edges_refuse_widths_that_do_not_add_up():
    assert block_edges([3, 2], 5) == [(0, 3), (3, 5)]
    np.testing.assert_allclose(block_scale([4, 1], 5), [2, 2, 2, 2, 1])
    with pytest.raises(ValueError, match="do not add up"):
        block_edges([3, 3], 5)


@pytest.mark.parametrize("name", ["ridge", "svm", "knn"])
def test_equal_weight_gives_every_store_the_same_variance_on_the_training_rows(name):
    X, _, _ = _two_blocks()
    y = X[:, 0] - X[:, -1]
    model = MODELS.get(name)("regression", {}, 0, blocks=[40, 3], block_weight="equal").fit(X, y[:, None])
    upto = Pipeline(model.pipeline.steps[:[n for n, _ in model.pipeline.steps].index("scale") + 1])
    Z = upto.transform(X)
    variance = Z.var(axis=0)
    assert variance[:40].sum() == pytest.approx(1.0, rel=1e-6) and variance[40:].sum() == pytest.approx(1.0, rel=1e-6)
    # saved as plain scikit-learn steps (no new type in the skops file): same predictions after loading
    model.save(tmp := __import__("pathlib").Path(__import__("tempfile").mkdtemp()))
    loaded = MODELS.get(name).load(tmp, "regression", {})
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


@pytest.mark.parametrize("name", ["ridge", "svm"])
def test_no_weighting_is_byte_identical_to_a_plain_fit(name, tmp_path):
    X, _, _ = _two_blocks()
    y = (X[:, 0] > X[:, 0].mean()).astype(int)
    plain = MODELS.get(name)("classification", {}, 0, n_classes=2).fit(X, y)
    told = MODELS.get(name)("classification", {}, 0, n_classes=2, blocks=[40, 3], block_weight="none").fit(X, y)
    dump_skops(plain.pipeline, tmp_path / "a.skops")
    dump_skops(told.pipeline, tmp_path / "b.skops")
    assert (tmp_path / "a.skops").read_bytes() == (tmp_path / "b.skops").read_bytes()
    weighted = MODELS.get(name)("classification", {}, 0, n_classes=2, blocks=[40, 3], block_weight="equal").fit(X, y)
    assert not np.array_equal(weighted.predict(X), plain.predict(X))
    assert load_skops(tmp_path / "a.skops") is not None


@pytest.fixture
def pair(tmp_path):
    store, prepared = make_run(tmp_path / "data", n_tracks=24, n_feat=4)
    ids = [f"t{i:03d}" for i in range(24)]
    return store, extra_store(tmp_path / "extra.h5", ids), prepared


def test_block_weight_is_applied_inside_training_and_recorded(pair, tmp_path):
    a, b, prepared = pair
    run = dict(**FEW_TRACKS, store_path=[a, b], prepared_dir=prepared, feature_set="synthetic+extra",
               model_config={}, protocol=PROTOCOL, seed=0, importance=NO_IMPORTANCE)
    out = {}
    for model, weight in (("svm", "none"), ("svm", "equal"), ("random_forest", "equal")):
        out[model, weight] = tmp_path / f"{model}-{weight}"
        train_and_evaluate(**run, model_name=model, out_dir=out[model, weight],
                           combine={"base": [], "add": [], "block_weight": weight})
    manifest = {k: json.loads((v / "model.json").read_text()) for k, v in out.items()}
    assert "block_weight" not in manifest["svm", "none"]  # the default writes what it wrote before
    assert manifest["svm", "equal"]["block_weight"] == "equal"
    assert manifest["random_forest", "equal"]["block_weight"] == "none"  # a tree does not see scales
    none, equal = (pd.read_csv(out["svm", w] / "predictions.csv") for w in ("none", "equal"))
    assert list(none["track_id"]) == list(equal["track_id"]) and not np.allclose(none["y_pred"], equal["y_pred"])

