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



# --- stacking (the ``stack`` model) ---------------------------------------------------------

def _stack_problem(n=60, seed=0):
    """Two stores, each with half of the signal; targets unique per track (they identify the
    rows a fit received)."""
    from moodflow.train.problems import ColumnsProblem

    rng = np.random.default_rng(seed)
    A, B = rng.normal(size=(n, 12)), rng.normal(size=(n, 3))
    Y = np.column_stack([A[:, 0] + B[:, 0], A[:, 1] - B[:, 1]]) + 0.01 * rng.normal(size=(n, 2))
    ids = np.array([f"t{i:03d}" for i in range(n)])
    return ColumnsProblem("regression", np.hstack([A, B]), Y, ids, ["valence", "arousal"])


def _stack_recipe(blocks=(12, 3), **settings):
    from moodflow.core.config import build
    from moodflow.models.base import ModelRecipe

    return ModelRecipe("stack", build(MODELS.get("stack").Config, settings, "train.stack"), blocks=list(blocks))


def test_held_out_tracks_never_reach_a_base_or_the_meta_fit(monkeypatch):
    """Leak detector (as tuning's): every fit a fold makes — each store's base on every inner
    split and refitted, and the meta-model — sees only that fold's training tracks, all of them
    together, and the meta-model learns from out-of-fold predictions."""
    from moodflow.models.ridge import RidgeModel
    from moodflow.train import crossval
    from moodflow.train.crossval import cross_validate

    problem = _stack_problem()
    by_target = {round(float(y), 9): t for y, t in zip(problem.Y[:, 0], problem.track_ids)}
    folds = make_folds(problem.track_ids, kind="kfold", folds=4, seed=0).folds
    fits: dict[str, list[tuple[int, set]]] = {}
    current = {}
    real_fold, real_fit = crossval._one_fold, RidgeModel.fit

    def one_fold(recipe, prob, fold, *args):
        current["fold"] = fold
        return real_fold(recipe, prob, fold, *args)

    def fit(self, X, Y, groups=None):
        ids = {by_target[round(float(y), 9)] for y in np.asarray(Y)[:, 0]}
        fits.setdefault(current["fold"].name, []).append((X.shape[1], ids))
        return real_fit(self, X, Y, groups)

    monkeypatch.setattr(crossval, "_one_fold", one_fold)
    monkeypatch.setattr(RidgeModel, "fit", fit)
    predictions, tuning, *_ = cross_validate(_stack_recipe(inner_folds=3), problem, folds, seed=0, jobs=1)
    for fold in folds:
        made = fits[fold.name]
        assert len(made) == 2 * (3 + 1) + 1  # per store: 3 inner fits + the refit; then the meta-model
        assert [w for w, _ in made] == [12] * 4 + [3] * 4 + [4]  # each base its own store; meta: 2 stores × 2 targets
        train = set(fold.train)
        assert all(ids <= train for _, ids in made) and not set().union(*(i for _, i in made)) & set(fold.test)
        inner = [ids for _, ids in made[:3]]
        assert set().union(*inner) == train and sum(map(len, inner)) == 2 * len(train)  # each row held out once
        assert made[3][1] == train and made[-1][1] == train
    assert set(predictions["track_id"]) == set(problem.track_ids)
    assert (tuning["settings"].str.contains("meta_alpha")).any()


def test_stacking_combines_the_halves_and_reproduces_itself(tmp_path):
    from moodflow.train.crossval import cross_validate

    problem = _stack_problem(n=80)
    folds = make_folds(problem.track_ids, kind="kfold", folds=4, seed=0).folds
    runs = [cross_validate(_stack_recipe(), problem, folds, seed=0, jobs=j).predictions for j in (1, 2)]
    assert runs[0].to_csv(index=False) == runs[1].to_csv(index=False)  # same bytes on one core or two
    stacked = runs[0]
    base = cross_validate(_stack_recipe(blocks=(12,)), _sub(problem, slice(0, 12)), folds, seed=0).predictions
    r2 = {name: 1 - ((p.y_true - p.y_pred) ** 2).sum() / ((p.y_true - p.y_true.mean()) ** 2).sum()
          for name, p in (("stack", stacked), ("first store", base))}
    assert r2["stack"] > 0.8 and r2["stack"] > r2["first store"] + 0.3, r2
    mean = cross_validate(_stack_recipe(meta="mean"), problem, folds, seed=0).predictions
    assert not np.allclose(mean["y_pred"], stacked["y_pred"])


def _sub(problem, cols):
    from moodflow.train.problems import ColumnsProblem

    return ColumnsProblem(problem.kind, problem.X[:, cols], problem.Y, problem.track_ids, problem.columns)


def test_stack_refuses_a_base_that_cannot_be_one():
    from moodflow.core.errors import SettingsError

    with pytest.raises((ValueError, SettingsError), match="base"):
        MODELS.get("stack")("regression", {"base": "seq"}, 0)


@pytest.mark.parametrize("base, settings", [("ridge", {}), ("svm", {"C": 4.0})])
def test_a_stack_trains_saves_and_loads_on_every_task(pair, tmp_path, base, settings):
    """Regression, classes, tags and dynamic frames of a combined pair: twice the same bytes, and
    the saved model (bases + meta, each in its own format) predicts what the trained one did."""
    from moodflow.models.io import load_model

    a, b, prepared = pair
    runs = []
    for i in range(2):
        out = tmp_path / f"run{i}" / "synthetic+extra" / "stack"
        train_and_evaluate(**FEW_TRACKS, store_path=[a, b], prepared_dir=prepared, feature_set="synthetic+extra",
                           model_name="stack", model_config={"base": base, "base_settings": settings,
                                                             "inner_folds": 3},
                           protocol=PROTOCOL, seed=0, out_dir=out, dynamic=True, importance=NO_IMPORTANCE)
        runs.append(out)
    files = sorted(p.relative_to(runs[0]) for p in runs[0].rglob("*") if p.is_file())
    assert {"stack.json", "base0/model.skops", "base1/model.skops", "meta/model.skops"} <= {str(f) for f in files}
    for f in files:
        assert (runs[0] / f).read_bytes() == (runs[1] / f).read_bytes(), f
    manifest = json.loads((runs[0] / "model.json").read_text())
    assert set(manifest["tasks"]) >= {"static", "dynamic"}
    from moodflow.train.combined import open_features
    from moodflow.train.data import static_data
    from moodflow.stores.prepared import PreparedDataset

    with open_features([a, b], "synthetic+extra") as store:
        data = static_data(store, PreparedDataset.read(prepared))
    model = load_model(runs[0])
    assert model.blocks == [4, 3] and model.n_inputs() == 7
    again = load_model(runs[1])
    np.testing.assert_array_equal(model.predict(data.X), again.predict(data.X))
    for part, info in manifest["tasks"].items():
        if part != "dynamic":
            assert load_model(runs[0], part).predict(data.X).shape[0] == len(data.X)


def test_a_stack_on_classes_and_tags(tmp_path):
    """Classes (logistic meta on the stores' class probabilities) and tags, beside regression."""
    a, prepared = make_run(tmp_path / "c", n_tracks=40, n_feat=4, task="multitask", dynamic=False, seed=1)
    ids = [f"t{i:03d}" for i in range(40)]
    b = extra_store(tmp_path / "extra.h5", ids)
    out = tmp_path / "m"
    metrics = train_and_evaluate(**{**FEW_TRACKS, "min_per_class": 3}, store_path=[a, b], prepared_dir=prepared,
                                 feature_set="synthetic+extra", model_name="stack",
                                 model_config={"inner_folds": 3, "base_settings": {"alpha": 1.0}},
                                 protocol={"kind": "stratified", "folds": 3, "repeats": 1}, seed=0, out_dir=out,
                                 importance=NO_IMPORTANCE)
    assert {"static", "classification", "tagging"} <= set(metrics)
    predictions = pd.read_csv(out / "predictions.csv")
    tags = predictions[predictions["task"] == "tagging"]
    assert set(tags["target"]) == {"happy", "calm"} and pd.to_numeric(tags["y_pred"]).between(0, 1).all()
    scores = predictions[predictions["task"] == "classification"].filter(like="score_")
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-6)


def test_a_stack_stage_declares_what_it_reads(pair, tmp_path):
    """``stack`` in train.models: dvc.yaml's train_combined@<base>-<add>-stack runs it on the two
    stores; every key its script reads (train.stack, train.combine.block_weight …) is declared."""
    import os
    import subprocess
    import sys

    import yaml

    from tests.helpers.contract import REPO, stages, undeclared_imports, undeclared_params

    a, b, prepared = pair
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["train"]["models"] = ["stack"]
    params["train"]["combine"].update(base=["compare"], add=["chords"])
    stage = next(s for s in stages(REPO, params) if s.name == "train_combined@compare-chords-stack")
    assert undeclared_imports(stage) == []
    params["train"].update(min_train=2, min_test=1, min_per_class=1, protocol=PROTOCOL, importance=NO_IMPORTANCE)
    params["train"]["stack"].update(inner_folds=2)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    env = dict(os.environ, PYTHONPATH=str(REPO), MOODFLOW_TRACE_PARAMS=str(tmp_path / "traces"))
    subprocess.run([sys.executable, str(REPO / "stages" / "train.py"), "synthetic+extra", "stack", str(prepared),
                    str(a), str(tmp_path / "m"), "--join", str(b)], cwd=tmp_path, env=env, check=True,
                   capture_output=True)
    read = set().union(*(json.loads(p.read_text())["read"] for p in (tmp_path / "traces").glob("*.json")))
    assert "train.stack" in read and "train.combine.block_weight" in read
    assert undeclared_params(read, stage.params) == []
    assert (tmp_path / "m" / "stack.json").exists()


def test_the_report_tests_fusion_against_its_best_base_and_the_concatenation(pair, tmp_path):
    """Each store alone, the concatenation and the stack on the same folds, beside the trivial
    predictors; significance.csv holds the fused runs' tests against their best base and the stack's
    against the concatenation."""
    from moodflow.report.run import write_report

    a, b, prepared = pair
    models = tmp_path / "models"
    common = dict(**FEW_TRACKS, prepared_dir=prepared, protocol=PROTOCOL, seed=0, importance=NO_IMPORTANCE)
    for paths, fset, model, config in (([a], "synthetic", "ridge", {}), ([b], "extra", "ridge", {}),
                                       ([a, b], "synthetic+extra", "ridge", {}),
                                       ([a, b], "synthetic+extra", "stack", {"inner_folds": 2})):
        train_and_evaluate(store_path=paths, feature_set=fset, model_name=model, model_config=config,
                           out_dir=models / fset / model, **common)
    params = {"dataset": {"name": "synthetic"}, "features": {"sets": ["synthetic", "extra"]},
              "train": {"models": ["ridge", "stack"], "protocol": PROTOCOL, "seed": 0,
                        "combine": {"base": ["synthetic"], "add": ["extra"]}}}
    write_report(params, models, tmp_path / "reports")
    table = pd.read_csv(tmp_path / "reports" / "significance.csv")
    fusion = table[(table["role"] == "fusion") & (table["target"] == "valence")]
    pairs = set(zip(fusion["model"], fusion["versus"]))
    best_base = max(("synthetic", "extra"), key=lambda s: json.loads(
        (models / s / "ridge" / "metrics.json").read_text())["static"]["valence"]["r2"])
    assert pairs == {("synthetic+extra/ridge", f"{best_base}/ridge (best base)"),
                     ("synthetic+extra/stack", f"{best_base}/ridge (best base)"),
                     ("synthetic+extra/stack", "synthetic+extra/ridge (concatenation)")}
    assert fusion["p"].notna().all() and (fusion["method"] == "corrected t").all()
    text = (tmp_path / "reports" / "comparison.md").read_text()
    assert "best base" in text and "synthetic+extra" in text and "baseline (mean)" in text


def test_on_complementary_stores_the_stack_beats_each_store_and_the_concatenation(tmp_path):
    """A small copy of benchmarks/fusion.py: a wide store (100 columns, arousal in 10) and a narrow
    one (8 columns, valence in 3); kNN alone on either knows one target, kNN on the concatenation
    is swamped by the wide store's noise; the stack of the two kNNs beats each of them and the
    concatenation on held-out folds, significantly (corrected resampled t-test, 5-fold × 2)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from fusion import compare, complementary_task, run_rows

    stores, prepared = complementary_task(tmp_path / "data", n=120, seed=0, wide=100, task="regression")
    table = compare(run_rows(stores, prepared, tmp_path / "models", "knn", seed=0, folds=5, repeats=2,
                             inner_folds=3))
    assert table["stack"]["n_folds"] == 10
    for row in ("wide", "narrow", "concatenation", "chance (mean)"):
        assert table[row]["stack_gain"] > 0 and table[row]["p"] < 0.05, (row, table[row])


def test_a_tampered_stack_folder_is_refused(tmp_path):
    """stack.json comes from others too: its blocks must be small positive counts that match each
    base's input width, and its base/meta those model.json names."""
    X, _, _ = _two_blocks(n=40, big=6, small=3)
    model = MODELS.get("stack")("regression", {}, 0, blocks=[6, 3]).fit(X, X[:, :1] + X[:, -1:])
    model.save(tmp_path)
    cls = MODELS.get("stack")
    np.testing.assert_array_equal(cls.load(tmp_path, "regression", {}).predict(X), model.predict(X))
    good = (tmp_path / "stack.json").read_text()
    for text, message in ((good.replace('"blocks": [6, 3]', '"blocks": [3, 6]'), "takes 6 columns"),
                          (good.replace('"blocks": [6, 3]', '"blocks": [6, -3]'), "positive column counts"),
                          (good.replace('"blocks": [6, 3]', '"blocks": "6"'), "positive column counts"),
                          (good.replace('"meta": "linear"', '"meta": "mean"'), "differ from model.json"),
                          ("{not json", "not JSON"), ("x" * 70000, "larger than 64 KiB")):
        (tmp_path / "stack.json").write_text(text)
        with pytest.raises(ValueError, match=message):
            cls.load(tmp_path, "regression", {})
